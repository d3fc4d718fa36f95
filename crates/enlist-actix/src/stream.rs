//! Groups with their members, streamed. A 50,000-member group rendered at
//! once cost tens of MiB per request, and Okta's import lists groups with
//! their members. The group's own JSON is rendered as usual and split where
//! its `members` go; the members follow in pages of 1,000 read one after
//! another, so memory stays bounded by a page whatever the group's size.
//! The members are read in their own short reads, not in the transaction
//! that read the group: a change committed meanwhile may show.

use crate::SCIM_JSON;
use actix_web::web::Bytes;
use actix_web::HttpResponse;
use enlist_core::schema::GROUP_RESOURCE;
use enlist_core::service::{GroupView, Groups};
use enlist_core::{Caller, GroupId, MemberRef, UserId};
use enlist_scim::resource::Projection;
use serde_json::Value as Json;

/// Members read per step of the stream.
const PAGE: u64 = 1000;

/// A user id that cannot occur: it marks where the members go.
const PROBE: &str = "\u{1}enlist-members\u{1}";

/// One group of the stream: its JSON before and after the members, and the
/// member attributes the projection keeps.
pub(crate) struct Piece {
    id: GroupId,
    prefix: String,
    suffix: String,
    keys: Vec<String>,
}

/// Splits a group's projected JSON where its members go; `None` when the
/// projection leaves no members (then there is nothing to stream).
pub(crate) fn split(view: &GroupView, base: &str, projection: &Projection) -> Option<Piece> {
    let mut probe = GroupView { group: view.group.clone(), members: None };
    probe.members = Some(vec![MemberRef { id: UserId::new(PROBE), user_name: PROBE.into() }]);
    let mut j = enlist_scim::group_json(&probe, base);
    projection.apply(&GROUP_RESOURCE, &mut j);
    let member = j.get("members")?.as_array()?.first()?.as_object()?.clone();
    let keys: Vec<String> = member.keys().cloned().collect();
    let text = j.to_string();
    let marker = format!("\"members\":[{}]", Json::Object(member));
    let at = text.find(&marker)?;
    Some(Piece {
        id: view.group.id.clone(),
        prefix: format!("{}\"members\":[", &text[..at]),
        suffix: format!("]{}", &text[at + marker.len()..]),
        keys,
    })
}

enum Step {
    Head,
    Group(usize),
    Members { group: usize, after: Option<UserId> },
    Tail,
    Done,
}

struct Feed {
    groups: Groups,
    caller: Caller,
    base: String,
    head: String,
    pieces: Vec<Piece>,
    tail: String,
}

/// A 200 whose body is `head`, the pieces with their members (comma
/// separated), then `tail`. A read failing midway ends the response early
/// (the client sees a truncated body and retries); it is logged.
pub(crate) fn response(
    groups: Groups,
    caller: Caller,
    base: String,
    head: String,
    pieces: Vec<Piece>,
    tail: String,
) -> HttpResponse {
    let feed = std::sync::Arc::new(Feed { groups, caller, base, head, pieces, tail });
    let stream = futures_util::stream::unfold(Step::Head, move |step| {
        let feed = feed.clone();
        async move {
            let (text, next) = match step {
                Step::Done => return None,
                Step::Head => (feed.head.clone(), if feed.pieces.is_empty() { Step::Tail } else { Step::Group(0) }),
                Step::Group(i) => {
                    let sep = if i > 0 { "," } else { "" };
                    (format!("{sep}{}", feed.pieces[i].prefix), Step::Members { group: i, after: None })
                }
                Step::Members { group, after } => {
                    let piece = &feed.pieces[group];
                    let first = after.is_none();
                    let page = match feed.groups.members_page(&feed.caller, &piece.id, after, PAGE).await {
                        Ok(p) => p,
                        Err(e) => {
                            tracing::error!(error = %e, group = %piece.id, "reading a group's members failed; the response is cut short");
                            return Some((Err(actix_web::error::ErrorInternalServerError("members")), Step::Done));
                        }
                    };
                    let mut text = String::with_capacity(page.len() * 120);
                    for (n, m) in page.iter().enumerate() {
                        if !(first && n == 0) {
                            text.push(',');
                        }
                        let mut j = enlist_scim::member_json(m, &feed.base);
                        if let Some(o) = j.as_object_mut() {
                            o.retain(|k, _| piece.keys.iter().any(|kept| kept == k));
                        }
                        text.push_str(&j.to_string());
                    }
                    let next = if (page.len() as u64) < PAGE {
                        text.push_str(&piece.suffix);
                        if group + 1 < feed.pieces.len() {
                            Step::Group(group + 1)
                        } else {
                            Step::Tail
                        }
                    } else {
                        Step::Members { group, after: page.last().map(|m| m.id.clone()) }
                    };
                    (text, next)
                }
                Step::Tail => (feed.tail.clone(), Step::Done),
            };
            Some((Ok::<_, actix_web::Error>(Bytes::from(text)), next))
        }
    });
    HttpResponse::Ok().content_type(SCIM_JSON).streaming(stream)
}

/// The list wrapper around `n` streamed resources: the text before and
/// after them.
pub(crate) fn list_frame(
    total: u64,
    start_index: u64,
    n: usize,
    next_cursor: Option<&str>,
) -> Option<(String, String)> {
    let mut j = enlist_scim::discovery::list_response(total, start_index, Vec::new(), next_cursor);
    j["itemsPerPage"] = Json::from(n);
    let text = j.to_string();
    let marker = "\"Resources\":[]";
    let at = text.find(marker)?;
    Some((format!("{}\"Resources\":[", &text[..at]), format!("]{}", &text[at + marker.len()..])))
}
