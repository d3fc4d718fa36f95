//! The SCIM routes: `Users`, `Groups` (GET by id and list, POST, PUT,
//! PATCH, DELETE, POST `.search`), `ServiceProviderConfig`,
//! `ResourceTypes`, `Schemas`.

use crate::activity::{subject_of, summarize, Draft};
use crate::{error_response, HttpState, SCIM_JSON};
use actix_web::http::header::{
    HeaderValue, ACCEPT, ALLOW, AUTHORIZATION, CONTENT_TYPE, ETAG, IF_MATCH, IF_NONE_MATCH, LOCATION,
};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use enlist_core::query::ListPage;
use enlist_core::schema::ResourceType;
use enlist_core::Caller;
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
pub(crate) async fn attribute_refusal(req: &HttpRequest, state: &HttpState, e: &ScimError, draft: &mut Draft) {
    if draft.org.is_none() && !matches!(e.status, 401 | 403) {
        // Authentication (which attributes what it can) has not run.
        if let Ok(token) = bearer(req) {
            attribute(state, token, draft).await;
        }
    }
    draft.refused(e);
}

/// Notes in `draft` whose real key `token` is (revoked or not, its
/// organization's SCIM on or off), so a refusal shows in that
/// organization's activity log. Never a reason to let a request through.
async fn attribute(state: &HttpState, token: &str, draft: &mut Draft) {
    if let Ok(Some(c)) = state.enlist.api_keys.attribute(token).await {
        draft.by(&c);
    }
}

/// Routes one request. `caller` is the key the front already checked
/// (requests with a body); `draft` gathers what the activity log will
/// keep of it.
pub(crate) async fn dispatch(
    req: &HttpRequest,
    payload: actix_web::dev::Payload,
    state: &HttpState,
    caller: Option<Caller>,
    draft: &mut Draft,
) -> Routed {
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
    let resp = match handle(req, payload, state, route, caller, draft).await {
        Ok(r) => {
            // The resource: the one addressed, or the one just created.
            let created = r.headers().get(LOCATION).and_then(|l| l.to_str().ok()).and_then(|l| l.rsplit('/').next());
            draft.resource_id = route.id().or(created).map(str::to_owned);
            r
        }
        Err(e) => {
            draft.resource_id = route.id().map(str::to_owned);
            draft.refused(&e);
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

/// The caller a request's key names, noted in `draft`; a real key that is
/// refused (revoked, SCIM off) is attributed to its organization too, so
/// the refusal shows in its activity log.
pub(crate) async fn authenticate(req: &HttpRequest, state: &HttpState, draft: &mut Draft) -> Result<Caller, ScimError> {
    let token = bearer(req)?;
    match state.enlist.api_keys.authenticate(token).await {
        Ok(c) => {
            draft.by(&c);
            Ok(c)
        }
        Err(e) => {
            attribute(state, token, draft).await;
            Err(e.into())
        }
    }
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

fn base_url(req: &HttpRequest, state: &HttpState) -> String {
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
async fn body(req: &HttpRequest, mut payload: actix_web::dev::Payload, state: &HttpState) -> Result<Json, ScimError> {
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
    serde_json::from_slice(&bytes).map_err(|e| ScimError::syntax(format!("the body is not valid JSON: {e}")))
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
    ok(&enlist_scim::discovery::list_response(page.total, lr.start_index, resources, page.next_cursor.as_deref()))
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

/// What every route handler needs: the request, the state, who is asking,
/// the base URL resources are named under, and the query's list
/// parameters.
pub(crate) struct Cx<'a> {
    pub(crate) req: &'a HttpRequest,
    pub(crate) state: &'a HttpState,
    pub(crate) caller: Caller,
    pub(crate) base: String,
    pub(crate) params: ListParams,
    /// What the activity log keeps: the body read notes what was sent.
    draft: std::cell::RefCell<&'a mut Draft>,
}

impl Cx<'_> {
    /// The `attributes`/`excludedAttributes` of the query for `rt`.
    pub(crate) fn projection(&self, rt: &ResourceType) -> Projection {
        Projection::parse(rt, self.params.attributes.as_deref(), self.params.excluded_attributes.as_deref())
    }
    /// The request's JSON body, noted (redacted) for the activity log.
    pub(crate) async fn body(&self, payload: actix_web::dev::Payload) -> Result<Json, ScimError> {
        let json = body(self.req, payload, self.state).await?;
        let mut draft = self.draft.borrow_mut();
        draft.summary = summarize(&json);
        draft.subject = subject_of(&json);
        Ok(json)
    }
    /// The list parameters: the query's, or a `.search` body's.
    pub(crate) async fn list_params(
        &self,
        search: bool,
        payload: actix_web::dev::Payload,
    ) -> Result<ListParams, ScimError> {
        if search {
            ListParams::from_search_body(&self.body(payload).await?)
        } else {
            Ok(self.params.clone())
        }
    }
}

async fn handle(
    req: &HttpRequest,
    payload: actix_web::dev::Payload,
    state: &HttpState,
    route: Route<'_>,
    caller: Option<Caller>,
    draft: &mut Draft,
) -> Result<HttpResponse, ScimError> {
    if !accepts_json(req) {
        return Err(ScimError::status(
            406,
            "this endpoint answers application/scim+json; accept it (or application/json)",
        ));
    }
    let caller = match caller {
        Some(c) => c,
        None => authenticate(req, state, draft).await?,
    };
    let pairs = query_pairs(req)?;
    let params = ListParams::from_pairs(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    let cx = Cx { req, state, caller, base: base_url(req, state), params, draft: std::cell::RefCell::new(draft) };
    match route {
        Route::Users | Route::UsersSearch | Route::User(_) => users::handle(&cx, route, payload).await,
        Route::Groups | Route::GroupsSearch | Route::Group(_) => groups::handle(&cx, route, payload).await,
        _ => discovery::handle(&cx, route, payload).await,
    }
}

mod discovery;
mod groups;
mod users;

#[cfg(test)]
mod tests;
