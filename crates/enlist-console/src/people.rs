//! The People page: the roster, searched by text (any part of a name or
//! address, through the trigram index) or a SCIM filter, paged, counted up
//! to a bound.

use crate::{ctx, detail, html, pages, signed_in, ConsoleState, PAGE};
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

#[derive(Deserialize)]
pub(crate) struct PeopleQuery {
    q: Option<String>,
    filter: Option<String>,
    page: Option<u64>,
}

/// How far past the page the People list counts.
pub(crate) const COUNTED_AHEAD: u64 = 1000;

pub(crate) async fn page(req: HttpRequest, q: web::Query<PeopleQuery>, state: web::Data<ConsoleState>) -> HttpResponse {
    let (session, caller) = match signed_in(&req, &state).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    // Text search is a filter the database evaluates, like any other: any
    // part of a name or address from three characters on (a trigram index
    // serves it: "mith" finds Smith), the start of one below that.
    let text = q.q.as_deref().map(str::trim).filter(|t| !t.is_empty());
    let filter_src = match (q.filter.as_deref().map(str::trim).filter(|f| !f.is_empty()), text) {
        (Some(f), _) => Some(f.to_owned()),
        (None, Some(t)) => {
            let op = if t.chars().count() >= 3 { "co" } else { "sw" };
            let t = t.replace('\\', "\\\\").replace('"', "\\\"");
            Some(format!(
                r#"userName {op} "{t}" or emails.value {op} "{t}" or displayName {op} "{t}" or name.givenName {op} "{t}" or name.familyName {op} "{t}""#
            ))
        }
        (None, None) => None,
    };
    let filter = match filter_src.as_deref().map(|f| enlist_scim::parse_filter(&enlist_core::schema::USER_RESOURCE, f))
    {
        Some(Ok(f)) => Some(f),
        Some(Err(e)) => {
            return html(
                actix_web::http::StatusCode::BAD_REQUEST,
                pages::people(&ctx(&req, &state, &session), &q_state(&q), None, Some(&e.detail)),
            )
        }
        None => None,
    };
    let page = q.page.unwrap_or(1).max(1);
    let query = enlist_core::query::ListQuery {
        filter,
        sort: None,
        // Counted up to 1,000 past this page: "more than N people" is
        // what a person browsing needs, and counting every match of a
        // broad search cost more than the page.
        page: enlist_core::query::Page::Capped {
            start_index: (page - 1) * PAGE + 1,
            count: PAGE,
            total_up_to: page * PAGE + COUNTED_AHEAD,
        },
    };
    match state.enlist.users.list(&caller, query, true).await {
        Ok(list) => html(
            actix_web::http::StatusCode::OK,
            pages::people(&ctx(&req, &state, &session), &q_state(&q), Some((&list, page, PAGE)), None),
        ),
        Err(e) => html(
            actix_web::http::StatusCode::BAD_REQUEST,
            pages::people(&ctx(&req, &state, &session), &q_state(&q), None, Some(&detail(&e))),
        ),
    }
}

fn q_state(q: &PeopleQuery) -> pages::PeopleSearch {
    pages::PeopleSearch { q: q.q.clone().unwrap_or_default(), filter: q.filter.clone().unwrap_or_default() }
}
