//! `/Groups`, `/Groups/.search` and `/Groups/{id}`: list (members
//! streamed a page at a time), create, read, replace, patch and delete.

use super::{if_match, json, list_body, method_not_allowed, not_modified, ok, project, with_version, Cx, Route};
use crate::stream;
use actix_web::http::{Method, StatusCode};
use actix_web::HttpResponse;
use enlist_core::change::GroupChange;
use enlist_core::schema::GROUP_RESOURCE;
use enlist_core::service::NewGroup;
use enlist_core::GroupId;
use enlist_scim::ScimError;

pub(super) async fn handle(
    cx: &Cx<'_>,
    route: Route<'_>,
    payload: actix_web::dev::Payload,
) -> Result<HttpResponse, ScimError> {
    let (groups, base, caller, cfg) = (&cx.state.enlist.groups, &cx.base, &cx.caller, &cx.state.config);
    let method = cx.req.method().clone();
    match (route, &method) {
        (Route::Groups, &Method::GET) | (Route::GroupsSearch, &Method::POST) => {
            let params = cx.list_params(route == Route::GroupsSearch, payload).await?;
            let lr = params.resolve(&GROUP_RESOURCE, cfg.default_count, cfg.max_count)?;
            let with_members = lr.projection.wants(&GROUP_RESOURCE, "members");
            if with_members {
                // Members streamed, a page at a time (Okta's import lists
                // groups with every member).
                let page = groups.list(caller, lr.query.clone(), false).await?;
                let pieces: Option<Vec<_>> =
                    page.items.iter().map(|v| stream::split(v, base, &lr.projection)).collect();
                let frame =
                    stream::list_frame(page.total, lr.start_index, page.items.len(), page.next_cursor.as_deref());
                if let (Some(pieces), Some((head, tail))) = (pieces, frame) {
                    return Ok(stream::response(groups.clone(), caller.clone(), base.clone(), head, pieces, tail));
                }
            }
            let page = groups.list(caller, lr.query.clone(), with_members).await?;
            Ok(list_body(page, &lr, &GROUP_RESOURCE, |v| enlist_scim::group_json(v, base)))
        }
        (Route::Groups, &Method::POST) => {
            let input = enlist_scim::group_from_json(&cx.body(payload).await?)?;
            let new = NewGroup {
                display_name: input.display_name,
                external_id: input.external_id,
                members: input.members.unwrap_or_default(),
            };
            let view = groups.create(caller, new).await?;
            let j = project(enlist_scim::group_json(&view, base), &cx.projection(&GROUP_RESOURCE), &GROUP_RESOURCE);
            let loc = format!("{base}/Groups/{}", view.group.id);
            Ok(with_version(json(StatusCode::CREATED, &j), view.group.version, Some(loc)))
        }
        (Route::Group(id), m) => {
            let id = GroupId::new(id);
            let location = || Some(format!("{base}/Groups/{id}"));
            match *m {
                Method::GET => {
                    let projection = cx.projection(&GROUP_RESOURCE);
                    let wants_members = projection.wants(&GROUP_RESOURCE, "members");
                    let view = groups.get(caller, &id, false).await?;
                    if not_modified(cx.req, view.group.version) {
                        return Ok(with_version(HttpResponse::NotModified().finish(), view.group.version, None));
                    }
                    if wants_members {
                        if let Some(piece) = stream::split(&view, base, &projection) {
                            let body = stream::response(
                                groups.clone(),
                                caller.clone(),
                                base.clone(),
                                String::new(),
                                vec![piece],
                                String::new(),
                            );
                            return Ok(with_version(body, view.group.version, location()));
                        }
                    }
                    let view = if wants_members { groups.get(caller, &id, true).await? } else { view };
                    let j = project(enlist_scim::group_json(&view, base), &projection, &GROUP_RESOURCE);
                    Ok(with_version(ok(&j), view.group.version, location()))
                }
                Method::PATCH => {
                    let expected = if_match(cx.req)?;
                    let changes = enlist_scim::group_patch(&cx.body(payload).await?, id.as_str())?;
                    let g = groups.change(caller, &id, changes, expected).await?;
                    // Entra: a group PATCH answers 204 without a body.
                    Ok(with_version(HttpResponse::NoContent().finish(), g.version, None))
                }
                Method::PUT => {
                    let expected = if_match(cx.req)?;
                    let input = enlist_scim::group_from_json(&cx.body(payload).await?)?;
                    let mut changes =
                        vec![GroupChange::DisplayName(input.display_name), GroupChange::ExternalId(input.external_id)];
                    // A PUT without members leaves membership unchanged (Okta O16).
                    if let Some(m) = input.members {
                        changes.push(GroupChange::ReplaceMembers(m));
                    }
                    groups.change(caller, &id, changes, expected).await?;
                    let projection = cx.projection(&GROUP_RESOURCE);
                    let view = groups.get(caller, &id, projection.wants(&GROUP_RESOURCE, "members")).await?;
                    let j = project(enlist_scim::group_json(&view, base), &projection, &GROUP_RESOURCE);
                    Ok(with_version(ok(&j), view.group.version, location()))
                }
                Method::DELETE => {
                    groups.delete(caller, &id, if_match(cx.req)?).await?;
                    Ok(HttpResponse::NoContent().finish())
                }
                _ => Ok(method_not_allowed("GET, PUT, PATCH, DELETE")),
            }
        }
        (Route::Groups, _) => Ok(method_not_allowed("GET, POST")),
        _ => Ok(method_not_allowed("POST")),
    }
}
