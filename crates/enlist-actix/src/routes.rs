//! The SCIM routes: `Users`, `Groups` (GET by id and list, POST, PUT,
//! PATCH, DELETE, POST `.search`), `ServiceProviderConfig`,
//! `ResourceTypes`, `Schemas`.

use crate::activity::{subject_of, summarize, Draft};
use crate::stream;
use crate::{error_response, Scim, SCIM_JSON};
use actix_web::http::header::{
    HeaderValue, ACCEPT, ALLOW, AUTHORIZATION, CONTENT_TYPE, ETAG, IF_MATCH, IF_NONE_MATCH, LOCATION,
};
use actix_web::http::{Method, StatusCode};
use actix_web::{web, HttpMessage, HttpRequest, HttpResponse};
use enlist_core::change::{GroupChange, UserChange};
use enlist_core::query::ListPage;
use enlist_core::schema::{ResourceType, GROUP_RESOURCE, USER_RESOURCE};
use enlist_core::service::{NewGroup, NewUser};
use enlist_core::{Caller, GroupId, UserId};
use enlist_scim::discovery;
use enlist_scim::resource::{etag, parse_etag, Projection};
use enlist_scim::{ListParams, ListRequest, ScimError};
use serde_json::Value as Json;

pub(crate) type Routed = (&'static str, HttpResponse);

/// An endpoint under the SCIM base, matched once: names case-insensitively,
/// ids and names as sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Route<'a> {
    /// `POST /.search` at the SCIM root (RFC 7644 §3.4.3).
    RootSearch,
    Users,
    UsersSearch,
    User(&'a str),
    Groups,
    GroupsSearch,
    Group(&'a str),
    ServiceProviderConfig,
    ResourceTypes,
    ResourceType(&'a str),
    Schemas,
    Schema(&'a str),
}

impl<'a> Route<'a> {
    fn parse(segments: &[&'a str]) -> Option<Self> {
        let first = segments.first()?.to_ascii_lowercase();
        Some(match (first.as_str(), segments.get(1).copied(), segments.len()) {
            (".search", None, 1) => Route::RootSearch,
            ("users", None, 1) => Route::Users,
            ("users", Some(".search"), 2) => Route::UsersSearch,
            ("users", Some(id), 2) => Route::User(id),
            ("groups", None, 1) => Route::Groups,
            ("groups", Some(".search"), 2) => Route::GroupsSearch,
            ("groups", Some(id), 2) => Route::Group(id),
            ("serviceproviderconfig", None, 1) => Route::ServiceProviderConfig,
            ("resourcetypes", None, 1) => Route::ResourceTypes,
            ("resourcetypes", Some(name), 2) => Route::ResourceType(name),
            ("schemas", None, 1) => Route::Schemas,
            ("schemas", Some(id), 2) => Route::Schema(id),
            _ => return None,
        })
    }

    /// The id or name a route addresses, if any.
    fn id(self) -> Option<&'a str> {
        match self {
            Route::User(id) | Route::Group(id) | Route::ResourceType(id) | Route::Schema(id) => Some(id),
            _ => None,
        }
    }

    /// The route's name in metrics and logs: ids never appear in it.
    fn label(self) -> &'static str {
        match self {
            Route::RootSearch => "/.search",
            Route::Users => "/Users",
            Route::UsersSearch => "/Users/.search",
            Route::User(_) => "/Users/{id}",
            Route::Groups => "/Groups",
            Route::GroupsSearch => "/Groups/.search",
            Route::Group(_) => "/Groups/{id}",
            Route::ServiceProviderConfig => "/ServiceProviderConfig",
            Route::ResourceTypes => "/ResourceTypes",
            Route::ResourceType(_) => "/ResourceTypes/{name}",
            Route::Schemas => "/Schemas",
            Route::Schema(_) => "/Schemas/{id}",
        }
    }
}

fn json(status: StatusCode, body: &Json) -> HttpResponse {
    HttpResponse::build(status).content_type(SCIM_JSON).body(body.to_string())
}

fn ok(body: &Json) -> HttpResponse {
    json(StatusCode::OK, body)
}

fn method_not_allowed(allow: &'static str) -> HttpResponse {
    let mut r = error_response(&ScimError::status(405, format!("this endpoint accepts {allow}")));
    r.headers_mut().insert(ALLOW, HeaderValue::from_static(allow));
    r
}

/// Routes one request; returns the route label (for metrics) and the
/// response.
/// The route a request is for, as metrics and the activity log name it.
pub(crate) fn route_label(req: &HttpRequest) -> &'static str {
    let (_, rest) = mount(req);
    let segments: Vec<&str> = rest.split('/').filter(|s| !s.is_empty()).collect();
    Route::parse(&segments).map_or("unknown", Route::label)
}

/// A request refused before routing (its body too large, too slow or
/// unreadable): when its token is a real key, the refusal is its
/// organization's to see in the activity log. The token is only
/// attributed, never accepted.
pub(crate) async fn attribute_refusal(req: &HttpRequest, state: &Scim, e: &ScimError) {
    if let Some(d) = req.extensions_mut().get_mut::<Draft>() {
        // Already known from authentication.
        d.scim_type = e.scim_type.map(str::to_owned);
        d.detail = Some(e.detail.clone());
        return;
    }
    if matches!(e.status, 401 | 403) {
        // Authentication refused it and attributed what it could.
        return;
    }
    let Ok(token) = bearer(req) else { return };
    if let Ok(Some(c)) = state.enlist.api_keys.attribute(token).await {
        req.extensions_mut().insert(Draft {
            org: Some(c.organization_id.clone()),
            key_label: c.actor.label(),
            scim_type: e.scim_type.map(str::to_owned),
            detail: Some(e.detail.clone()),
            ..Draft::default()
        });
    }
}

pub(crate) async fn dispatch(req: &HttpRequest, payload: actix_web::dev::Payload, state: &Scim) -> Routed {
    let (base, rest) = mount(req);
    let segments: Vec<&str> = rest.split('/').filter(|s| !s.is_empty()).collect();
    let Some(route) = Route::parse(&segments) else {
        let e =
            ScimError::status(404, format!("no SCIM endpoint at {}; use {base}/Users or {base}/Groups", req.path()));
        return ("unknown", error_response(&e));
    };
    // Enlist never issues an id with a control character, and PostgreSQL
    // refuses a NUL in any text: such an id is simply not found (it was a
    // 500 on PostgreSQL).
    if route.id().is_some_and(|id| id.chars().any(char::is_control)) {
        let e = ScimError::status(404, "no resource has this id (ids never contain control characters)");
        return ("unknown", error_response(&e));
    }
    let resp = match handle(req, payload, state, route).await {
        Ok(r) => {
            // The resource: the one addressed, or the one just created.
            if let Some(d) = req.extensions_mut().get_mut::<Draft>() {
                let created =
                    r.headers().get(LOCATION).and_then(|l| l.to_str().ok()).and_then(|l| l.rsplit('/').next());
                d.resource_id = route.id().or(created).map(str::to_owned);
            }
            r
        }
        Err(e) => {
            if let Some(d) = req.extensions_mut().get_mut::<Draft>() {
                d.resource_id = route.id().map(str::to_owned);
                d.scim_type = e.scim_type.map(str::to_owned);
                d.detail = Some(e.detail.clone());
            }
            if e.status >= 500 {
                // The cause goes to the log under the request's span (its
                // request id), never to the client; it holds no body or key.
                tracing::error!(cause = e.cause.as_deref().unwrap_or("-"), detail = %e.detail, "request failed");
            }
            error_response(&e)
        }
    };
    (route.label(), resp)
}

/// The credentials: `Bearer <key>` (scheme in any case) or, as Okta's
/// template app sends its API Token field verbatim, the bare key.
/// The token of the `Authorization` header.
fn bearer(req: &HttpRequest) -> Result<&str, ScimError> {
    let header = req.headers().get(AUTHORIZATION).and_then(|v| v.to_str().ok()).map(str::trim).unwrap_or_default();
    if header.is_empty() {
        return Err(ScimError::status(
            401,
            "missing Authorization header: send 'Authorization: Bearer <Enlist API key>'",
        ));
    }
    match header.split_once(' ') {
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("bearer") => Ok(rest.trim()),
        Some(_) => Err(ScimError::status(
            401,
            "unsupported Authorization scheme: send 'Authorization: Bearer <Enlist API key>' \
             (a blank Secret Token makes Entra send its own token; paste the Enlist key)",
        )),
        None => Ok(header),
    }
}

/// The caller a request's key names. Requests with a body are
/// authenticated before it is read (by the front, which leaves the
/// [`Caller`] in the request's extensions); the rest here.
pub(crate) async fn authenticate(req: &HttpRequest, state: &Scim) -> Result<Caller, ScimError> {
    if let Some(c) = req.extensions().get::<Caller>().cloned() {
        return Ok(c);
    }
    let token = bearer(req)?;
    let caller = match state.enlist.api_keys.authenticate(token).await {
        Ok(c) => c,
        Err(e) => {
            // A real key refused (revoked, SCIM switched off) is the
            // organization's to see in its activity log.
            if let Ok(Some(c)) = state.enlist.api_keys.attribute(token).await {
                req.extensions_mut().insert(Draft {
                    org: Some(c.organization_id.clone()),
                    key_label: c.actor.label(),
                    ..Draft::default()
                });
            }
            return Err(e.into());
        }
    };
    req.extensions_mut().insert(Draft {
        org: Some(caller.organization_id.clone()),
        key_label: caller.actor.label(),
        ..Draft::default()
    });
    Ok(caller)
}

/// Where the SCIM base is mounted, as the client addressed it, and the
/// rest of the path. Read from the request, so the endpoint works under
/// any prefix a host mounts it at (`web::scope("/idp").configure(…)`).
fn mount(req: &HttpRequest) -> (&str, &str) {
    let path = req.path();
    let rest = req.match_info().unprocessed();
    let base = path.get(..path.len().saturating_sub(rest.len())).unwrap_or_default();
    (base.trim_end_matches('/'), rest)
}

fn base_url(req: &HttpRequest, state: &Scim) -> String {
    let (base, _) = mount(req);
    match &state.config.public_url {
        Some(u) => format!("{}{base}", u.trim_end_matches('/')),
        None => {
            let info = req.connection_info();
            format!("{}://{}{base}", info.scheme(), info.host())
        }
    }
}

/// The query parameters. A query string that is not valid URL encoding is
/// refused: ignoring it would drop a filter and answer the whole roster.
fn query_pairs(req: &HttpRequest) -> Result<Vec<(String, String)>, ScimError> {
    web::Query::<Vec<(String, String)>>::from_query(req.query_string()).map(|q| q.into_inner()).map_err(|_| {
        ScimError::syntax("the query string is not valid URL encoding; encode spaces as + or %20 and quotes as %22")
    })
}

fn accepts_json(req: &HttpRequest) -> bool {
    let Some(accept) = req.headers().get(ACCEPT).and_then(|v| v.to_str().ok()) else { return true };
    accept.split(',').any(|part| {
        let t = part.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
        matches!(t.as_str(), "application/scim+json" | "application/json" | "application/*" | "*/*" | "")
    })
}

/// Reads and parses a JSON body: media type, size and depth checked first.
async fn body(req: &HttpRequest, mut payload: actix_web::dev::Payload, state: &Scim) -> Result<Json, ScimError> {
    let ct = req.headers().get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default();
    let media = ct.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    if !media.is_empty() && media != "application/scim+json" && media != "application/json" {
        return Err(ScimError::status(
            415,
            format!("Content-Type '{ct}' is not accepted; send application/scim+json or application/json"),
        ));
    }
    // Already in memory (read by the front before admission); bounded again
    // for a caller that dispatches directly.
    let bytes = crate::read_limited(&mut payload, state.config.max_body_bytes).await?;
    if bytes.is_empty() {
        return Err(ScimError::syntax("the request needs a JSON body"));
    }
    if let Some(depth) = too_deep(&bytes, state.config.max_json_depth) {
        return Err(ScimError::syntax(format!("the JSON body nests deeper than {depth} levels")));
    }
    let json: Json =
        serde_json::from_slice(&bytes).map_err(|e| ScimError::syntax(format!("the body is not valid JSON: {e}")))?;
    if let Some(d) = req.extensions_mut().get_mut::<Draft>() {
        d.summary = summarize(&json);
        d.subject = subject_of(&json);
    }
    Ok(json)
}

/// Whether the JSON text nests deeper than `max` (checked before parsing,
/// so a hostile body costs a linear scan).
fn too_deep(bytes: &[u8], max: usize) -> Option<usize> {
    let (mut depth, mut in_str, mut esc) = (0usize, false, false);
    for &b in bytes {
        if in_str {
            match (esc, b) {
                (true, _) => esc = false,
                (false, b'\\') => esc = true,
                (false, b'"') => in_str = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_str = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > max {
                    return Some(max);
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    None
}

fn if_match(req: &HttpRequest) -> Result<Option<u64>, ScimError> {
    match req.headers().get(IF_MATCH).and_then(|v| v.to_str().ok()).map(str::trim) {
        None | Some("*") => Ok(None),
        Some(tag) => parse_etag(tag).map(Some).ok_or_else(|| {
            ScimError::status(
                412,
                format!("If-Match '{tag}' is not a version of this resource; read it again and retry"),
            )
        }),
    }
}

fn not_modified(req: &HttpRequest, version: u64) -> bool {
    req.headers()
        .get(IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == "*" || parse_etag(t) == Some(version)))
}

/// A rendered resource with `attributes`/`excludedAttributes` applied.
fn project(mut j: Json, projection: &Projection, rt: &ResourceType) -> Json {
    projection.apply(rt, &mut j);
    j
}

/// A ListResponse of rendered, projected resources.
fn list_body<T>(page: ListPage<T>, lr: &ListRequest, rt: &ResourceType, render: impl Fn(&T) -> Json) -> HttpResponse {
    let resources = page.items.iter().map(|v| project(render(v), &lr.projection, rt)).collect();
    ok(&discovery::list_response(page.total, lr.start_index, resources, page.next_cursor.as_deref()))
}

fn with_version(mut resp: HttpResponse, version: u64, location: Option<String>) -> HttpResponse {
    if let Ok(v) = HeaderValue::from_str(&etag(version)) {
        resp.headers_mut().insert(ETAG, v);
    }
    if let Some(l) = location.and_then(|l| HeaderValue::from_str(&l).ok()) {
        resp.headers_mut().insert(LOCATION, l);
    }
    resp
}

async fn handle(
    req: &HttpRequest,
    payload: actix_web::dev::Payload,
    state: &Scim,
    route: Route<'_>,
) -> Result<HttpResponse, ScimError> {
    if !accepts_json(req) {
        return Err(ScimError::status(
            406,
            "this endpoint answers application/scim+json; accept it (or application/json)",
        ));
    }
    let caller = authenticate(req, state).await?;
    let base = base_url(req, state);
    let method = req.method().clone();
    let pairs = query_pairs(req)?;
    let params = ListParams::from_pairs(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    let cfg = &state.config;
    let users = &state.enlist.users;
    let groups = &state.enlist.groups;
    let user_projection =
        || Projection::parse(&USER_RESOURCE, params.attributes.as_deref(), params.excluded_attributes.as_deref());
    let group_projection =
        || Projection::parse(&GROUP_RESOURCE, params.attributes.as_deref(), params.excluded_attributes.as_deref());
    match (route, &method) {
        (Route::Users, &Method::GET) | (Route::UsersSearch, &Method::POST) => {
            let params = if route == Route::Users {
                params.clone()
            } else {
                ListParams::from_search_body(&body(req, payload, state).await?)?
            };
            let lr = params.resolve(&USER_RESOURCE, cfg.default_count, cfg.max_count)?;
            let with_groups = lr.projection.wants(&USER_RESOURCE, "groups");
            let page = users.list(&caller, lr.query.clone(), with_groups).await?;
            Ok(list_body(page, &lr, &USER_RESOURCE, |v| enlist_scim::user_json(v, &base)))
        }
        (Route::Users, &Method::POST) => {
            let input = enlist_scim::user_from_json(&body(req, payload, state).await?)?;
            let view = users.create(&caller, NewUser { attrs: input.attrs, password: input.password }).await?;
            let j = project(enlist_scim::user_json(&view, &base), &user_projection(), &USER_RESOURCE);
            let loc = format!("{base}/Users/{}", view.user.id);
            Ok(with_version(json(StatusCode::CREATED, &j), view.user.version, Some(loc)))
        }
        (Route::User(id), m) => {
            let id = UserId::new(id);
            match *m {
                Method::GET => {
                    let projection = user_projection();
                    let view = users.get(&caller, &id, projection.wants(&USER_RESOURCE, "groups")).await?;
                    if not_modified(req, view.user.version) {
                        return Ok(with_version(HttpResponse::NotModified().finish(), view.user.version, None));
                    }
                    let j = project(enlist_scim::user_json(&view, &base), &projection, &USER_RESOURCE);
                    Ok(with_version(ok(&j), view.user.version, Some(format!("{base}/Users/{id}"))))
                }
                Method::PUT | Method::PATCH => {
                    let expected = if_match(req)?;
                    let b = body(req, payload, state).await?;
                    let change = if *m == Method::PUT {
                        let input = enlist_scim::user_from_json(&b)?;
                        UserChange::Replace { attrs: input.attrs, password: input.password }
                    } else {
                        UserChange::Patch(enlist_scim::user_patch(&b, id.as_str())?)
                    };
                    let view = users.change(&caller, &id, change, expected).await?;
                    let j = project(enlist_scim::user_json(&view, &base), &user_projection(), &USER_RESOURCE);
                    Ok(with_version(ok(&j), view.user.version, Some(format!("{base}/Users/{id}"))))
                }
                Method::DELETE => {
                    users.delete(&caller, &id, if_match(req)?).await?;
                    Ok(HttpResponse::NoContent().finish())
                }
                _ => Ok(method_not_allowed("GET, PUT, PATCH, DELETE")),
            }
        }
        (Route::Groups, &Method::GET) | (Route::GroupsSearch, &Method::POST) => {
            let params = if route == Route::Groups {
                params.clone()
            } else {
                ListParams::from_search_body(&body(req, payload, state).await?)?
            };
            let lr = params.resolve(&GROUP_RESOURCE, cfg.default_count, cfg.max_count)?;
            let with_members = lr.projection.wants(&GROUP_RESOURCE, "members");
            if with_members {
                // Members streamed, a page at a time (Okta's import lists
                // groups with every member).
                let page = groups.list(&caller, lr.query.clone(), false).await?;
                let pieces: Option<Vec<_>> =
                    page.items.iter().map(|v| stream::split(v, &base, &lr.projection)).collect();
                let frame =
                    stream::list_frame(page.total, lr.start_index, page.items.len(), page.next_cursor.as_deref());
                if let (Some(pieces), Some((head, tail))) = (pieces, frame) {
                    return Ok(stream::response(groups.clone(), caller.clone(), base.clone(), head, pieces, tail));
                }
            }
            let page = groups.list(&caller, lr.query.clone(), with_members).await?;
            Ok(list_body(page, &lr, &GROUP_RESOURCE, |v| enlist_scim::group_json(v, &base)))
        }
        (Route::Groups, &Method::POST) => {
            let input = enlist_scim::group_from_json(&body(req, payload, state).await?)?;
            let new = NewGroup {
                display_name: input.display_name,
                external_id: input.external_id,
                members: input.members.unwrap_or_default(),
            };
            let view = groups.create(&caller, new).await?;
            let j = project(enlist_scim::group_json(&view, &base), &group_projection(), &GROUP_RESOURCE);
            let loc = format!("{base}/Groups/{}", view.group.id);
            Ok(with_version(json(StatusCode::CREATED, &j), view.group.version, Some(loc)))
        }
        (Route::Group(id), m) => {
            let id = GroupId::new(id);
            match *m {
                Method::GET => {
                    let projection = group_projection();
                    let wants_members = projection.wants(&GROUP_RESOURCE, "members");
                    let view = groups.get(&caller, &id, false).await?;
                    if not_modified(req, view.group.version) {
                        return Ok(with_version(HttpResponse::NotModified().finish(), view.group.version, None));
                    }
                    if wants_members {
                        if let Some(piece) = stream::split(&view, &base, &projection) {
                            let body = stream::response(
                                groups.clone(),
                                caller.clone(),
                                base.clone(),
                                String::new(),
                                vec![piece],
                                String::new(),
                            );
                            return Ok(with_version(body, view.group.version, Some(format!("{base}/Groups/{id}"))));
                        }
                    }
                    let view = if wants_members { groups.get(&caller, &id, true).await? } else { view };
                    let j = project(enlist_scim::group_json(&view, &base), &projection, &GROUP_RESOURCE);
                    Ok(with_version(ok(&j), view.group.version, Some(format!("{base}/Groups/{id}"))))
                }
                Method::PATCH => {
                    let expected = if_match(req)?;
                    let changes = enlist_scim::group_patch(&body(req, payload, state).await?, id.as_str())?;
                    let g = groups.change(&caller, &id, changes, expected).await?;
                    // Entra: a group PATCH answers 204 without a body.
                    Ok(with_version(HttpResponse::NoContent().finish(), g.version, None))
                }
                Method::PUT => {
                    let expected = if_match(req)?;
                    let input = enlist_scim::group_from_json(&body(req, payload, state).await?)?;
                    let mut changes =
                        vec![GroupChange::DisplayName(input.display_name), GroupChange::ExternalId(input.external_id)];
                    // A PUT without members leaves membership unchanged (Okta O16).
                    if let Some(m) = input.members {
                        changes.push(GroupChange::ReplaceMembers(m));
                    }
                    groups.change(&caller, &id, changes, expected).await?;
                    let projection = group_projection();
                    let view = groups.get(&caller, &id, projection.wants(&GROUP_RESOURCE, "members")).await?;
                    let j = project(enlist_scim::group_json(&view, &base), &projection, &GROUP_RESOURCE);
                    Ok(with_version(ok(&j), view.group.version, Some(format!("{base}/Groups/{id}"))))
                }
                Method::DELETE => {
                    groups.delete(&caller, &id, if_match(req)?).await?;
                    Ok(HttpResponse::NoContent().finish())
                }
                _ => Ok(method_not_allowed("GET, PUT, PATCH, DELETE")),
            }
        }
        (Route::ServiceProviderConfig, &Method::GET) => {
            Ok(ok(&discovery::service_provider_config(&base, discovery::Capabilities { max_results: cfg.max_count })))
        }
        (Route::ResourceTypes, &Method::GET) => Ok(ok(&discovery::resource_types(&base))),
        (Route::ResourceType(name), &Method::GET) => discovery::resource_type_by_name(&base, name)
            .map(|j| ok(&j))
            .ok_or_else(|| ScimError::status(404, format!("no resource type '{name}'; there are User and Group"))),
        (Route::Schemas, &Method::GET) => Ok(ok(&discovery::schemas(&base))),
        (Route::Schema(id), &Method::GET) => discovery::schema_by_id(&base, id)
            .map(|j| ok(&j))
            .ok_or_else(|| ScimError::status(404, format!("no schema '{id}'; GET /Schemas lists them"))),
        (Route::RootSearch, &Method::POST) => {
            let params = ListParams::from_search_body(&body(req, payload, state).await?)?;
            root_search(state, &caller, &params, &base).await
        }
        (Route::Users | Route::Groups, _) => Ok(method_not_allowed("GET, POST")),
        (Route::UsersSearch | Route::GroupsSearch | Route::RootSearch, _) => Ok(method_not_allowed("POST")),
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
    state: &Scim,
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

#[cfg(test)]
mod tests;
