//! Discovery (`/ServiceProviderConfig`, `/ResourceTypes`, `/Schemas`)
//! and the search across both resource types at the root (`/.search`).

use super::{method_not_allowed, ok, project, Cx, Route};
use crate::HttpState;
use actix_web::http::Method;
use actix_web::HttpResponse;
use enlist_core::schema::{GROUP_RESOURCE, USER_RESOURCE};
use enlist_core::Caller;
use enlist_scim::{discovery, ListParams, ScimError};

pub(super) async fn handle(
    cx: &Cx<'_>,
    route: Route<'_>,
    payload: actix_web::dev::Payload,
) -> Result<HttpResponse, ScimError> {
    let base = &cx.base;
    let method = cx.req.method().clone();
    match (route, &method) {
        (Route::ServiceProviderConfig, &Method::GET) => Ok(ok(&discovery::service_provider_config(
            base,
            discovery::Capabilities { max_results: cx.state.config.max_count },
        ))),
        (Route::ResourceTypes, &Method::GET) => Ok(ok(&discovery::resource_types(base))),
        (Route::ResourceType(name), &Method::GET) => discovery::resource_type_by_name(base, name)
            .map(|j| ok(&j))
            .ok_or_else(|| ScimError::status(404, format!("no resource type '{name}'; there are User and Group"))),
        (Route::Schemas, &Method::GET) => Ok(ok(&discovery::schemas(base))),
        (Route::Schema(id), &Method::GET) => discovery::schema_by_id(base, id)
            .map(|j| ok(&j))
            .ok_or_else(|| ScimError::status(404, format!("no schema '{id}'; GET /Schemas lists them"))),
        (Route::RootSearch, &Method::POST) => {
            let params = ListParams::from_search_body(&cx.body(payload).await?)?;
            root_search(cx.state, &cx.caller, &params, base).await
        }
        (Route::RootSearch, _) => Ok(method_not_allowed("POST")),
        _ => Ok(method_not_allowed("GET")),
    }
}

/// `POST /.search` at the root: Users, then Groups, as one list with one
/// `totalResults` and one `startIndex`/`count` window across both. The
/// filter is read against each resource type; a type whose schema cannot
/// take it (a `members` filter for Users) contributes nothing, and when
/// neither can, the Users error is the answer. Sorting applies within
/// each type; cursor paging is for `/Users` and `/Groups`.
async fn root_search(
    state: &HttpState,
    caller: &Caller,
    params: &ListParams,
    base: &str,
) -> Result<HttpResponse, ScimError> {
    use enlist_core::query::Page;
    let cfg = &state.config;
    if params.cursor.is_some() {
        return Err(ScimError::value(
            "cursor paging is not available at the root; search /Users/.search and /Groups/.search",
        ));
    }
    let users = params.resolve(&USER_RESOURCE, cfg.default_count, cfg.max_count);
    let groups = params.resolve(&GROUP_RESOURCE, cfg.default_count, cfg.max_count);
    let (ulr, glr) = match (users, groups) {
        (Err(e), Err(_)) => return Err(e),
        (u, g) => (u.ok(), g.ok()),
    };
    let first = ulr.as_ref().or(glr.as_ref()).map(|l| (l.start_index, l.query.page.clone()));
    let (start, count) = match first {
        Some((s, Page::Index { count, .. })) => (s, count),
        _ => (1, cfg.default_count),
    };
    let mut resources = Vec::new();
    let mut total = 0;
    if let Some(mut lr) = ulr {
        lr.query.page = Page::Index { start_index: start, count };
        let with_groups = lr.projection.wants(&USER_RESOURCE, "groups");
        let page = state.enlist.users.list(caller, lr.query.clone(), with_groups).await?;
        total += page.total;
        resources.extend(
            page.items.iter().map(|v| project(enlist_scim::user_json(v, base), &lr.projection, &USER_RESOURCE)),
        );
    }
    if let Some(mut lr) = glr {
        // The window continues into the groups after the users it passed.
        let skipped_users = total.min(start.saturating_sub(1));
        let group_start = start.saturating_sub(skipped_users).max(1);
        let left = count.saturating_sub(resources.len() as u64);
        lr.query.page = Page::Index { start_index: group_start, count: left };
        let with_members = left > 0 && lr.projection.wants(&GROUP_RESOURCE, "members");
        let page = state.enlist.groups.list(caller, lr.query.clone(), with_members).await?;
        total += page.total;
        resources.extend(
            page.items.iter().map(|v| project(enlist_scim::group_json(v, base), &lr.projection, &GROUP_RESOURCE)),
        );
    }
    Ok(ok(&discovery::list_response(total, start, resources, None)))
}
