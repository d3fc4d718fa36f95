//! `/Users`, `/Users/.search` and `/Users/{id}`: list, create, read,
//! replace, patch and delete memberships as SCIM Users.

use super::{if_match, json, list_body, method_not_allowed, not_modified, ok, project, with_version, Cx, Route};
use actix_web::http::{Method, StatusCode};
use actix_web::HttpResponse;
use enlist_core::change::UserChange;
use enlist_core::schema::USER_RESOURCE;
use enlist_core::service::NewUser;
use enlist_core::UserId;
use enlist_scim::ScimError;

pub(super) async fn handle(
    cx: &Cx<'_>,
    route: Route<'_>,
    payload: actix_web::dev::Payload,
) -> Result<HttpResponse, ScimError> {
    let (users, base, caller, cfg) = (&cx.state.enlist.users, &cx.base, &cx.caller, &cx.state.config);
    let method = cx.req.method().clone();
    match (route, &method) {
        (Route::Users, &Method::GET) | (Route::UsersSearch, &Method::POST) => {
            let params = cx.list_params(route == Route::UsersSearch, payload).await?;
            let lr = params.resolve(&USER_RESOURCE, cfg.default_count, cfg.max_count)?;
            let with_groups = lr.projection.wants(&USER_RESOURCE, "groups");
            let page = users.list(caller, lr.query.clone(), with_groups).await?;
            Ok(list_body(page, &lr, &USER_RESOURCE, |v| enlist_scim::user_json(v, base)))
        }
        (Route::Users, &Method::POST) => {
            let input = enlist_scim::user_from_json(&cx.body(payload).await?)?;
            let view = users.create(caller, NewUser { attrs: input.attrs, password: input.password }).await?;
            let j = project(enlist_scim::user_json(&view, base), &cx.projection(&USER_RESOURCE), &USER_RESOURCE);
            let loc = format!("{base}/Users/{}", view.user.id);
            Ok(with_version(json(StatusCode::CREATED, &j), view.user.version, Some(loc)))
        }
        (Route::User(id), m) => {
            let id = UserId::new(id);
            match *m {
                Method::GET => {
                    let projection = cx.projection(&USER_RESOURCE);
                    let view = users.get(caller, &id, projection.wants(&USER_RESOURCE, "groups")).await?;
                    if not_modified(cx.req, view.user.version) {
                        return Ok(with_version(HttpResponse::NotModified().finish(), view.user.version, None));
                    }
                    let j = project(enlist_scim::user_json(&view, base), &projection, &USER_RESOURCE);
                    Ok(with_version(ok(&j), view.user.version, Some(format!("{base}/Users/{id}"))))
                }
                Method::PUT | Method::PATCH => {
                    let expected = if_match(cx.req)?;
                    let b = cx.body(payload).await?;
                    let change = if *m == Method::PUT {
                        let input = enlist_scim::user_from_json(&b)?;
                        UserChange::Replace { attrs: input.attrs, password: input.password }
                    } else {
                        UserChange::Patch(enlist_scim::user_patch(&b, id.as_str())?)
                    };
                    let view = users.change(caller, &id, change, expected).await?;
                    let j =
                        project(enlist_scim::user_json(&view, base), &cx.projection(&USER_RESOURCE), &USER_RESOURCE);
                    Ok(with_version(ok(&j), view.user.version, Some(format!("{base}/Users/{id}"))))
                }
                Method::DELETE => {
                    users.delete(caller, &id, if_match(cx.req)?).await?;
                    Ok(HttpResponse::NoContent().finish())
                }
                _ => Ok(method_not_allowed("GET, PUT, PATCH, DELETE")),
            }
        }
        (Route::Users, _) => Ok(method_not_allowed("GET, POST")),
        _ => Ok(method_not_allowed("POST")),
    }
}
