//! Enlist's admin console for an organization's Admins, served under
//! `/console`: server-rendered HTML (maud), no JavaScript build chain.
//! Sign-in is a one-time link (`enlist console-link ORG --email ADMIN`) or a
//! session the host starts for its own Admin; the session cookie is
//! `Secure` (unless disabled for plain-HTTP development), `HttpOnly` and
//! `SameSite=Strict`, and every form carries the session's CSRF token.
//!
//! Pages: Integrations (the SCIM URL, guided set-up for Entra ID and
//! Okta, API keys with their connection health: generate with the secret
//! shown once, rotate, revoke), People (the roster with effective roles
//! and their sources, search by text or SCIM filter, paged), Groups (role
//! mapping), Activity (what the identity provider sent and was told, with
//! the fix in the admin's terms), Domains (self-service DNS proof),
//! Webhooks (endpoints, deliveries, failures, test, replay) and the
//! Provisioning guard. Everything is in the host product's name, logo and
//! colour ([`Branding`]).

#![warn(missing_docs)]

mod domains;
mod guard;
mod health;
mod pages;
mod people;
mod setup;
mod webhooks;

use actix_web::cookie::{Cookie, SameSite};
use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use enlist_core::ports::{ActivityLog, EventFeed};
use enlist_core::service::SignedIn;
use enlist_core::{Actor, ApiKeyId, Branding, Caller, ConsoleSession, Error};
use serde::Deserialize;
use std::sync::Arc;
use subtle::ConstantTimeEq;

/// The session cookie's name over HTTPS. The `__Host-` prefix makes the
/// browser refuse it unless it is `Secure`, for the whole host (`Path=/`)
/// and without a `Domain`, so no sibling subdomain can plant or overwrite
/// a session.
pub const COOKIE: &str = "__Host-enlist_console";

/// The session cookie's name when [`ConsoleState::secure_cookies`] is off
/// (plain-HTTP development only: the prefix needs `Secure`).
pub const DEV_COOKIE: &str = "enlist_console";

/// The headers of every console answer, pages, redirects and refusals
/// alike, but the Content-Security-Policy ([`csp`]).
const SECURITY_HEADERS: [(&str, &str); 4] = [
    ("X-Frame-Options", "DENY"),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "no-referrer"),
    ("Cache-Control", "no-store"),
];

/// The Content-Security-Policy: scripts, styles and requests only from the
/// console's own files; images also from the logo's origin, if it has one.
fn csp(brand: &Branding) -> String {
    let img = match brand.logo_origin() {
        Some(origin) => format!("'self' {origin}"),
        None => "'self'".to_owned(),
    };
    format!(
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src {img}; connect-src 'self'; \
         form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    )
}

/// What the Webhooks page needs from the delivery adapter: a signing
/// secret for a new endpoint and a signed test sent now. The `enlist`
/// crate provides it with its `webhooks` feature; without one the page
/// lists endpoints and their deliveries but cannot add or test them.
#[async_trait::async_trait]
pub trait WebhookTools: Send + Sync {
    /// Registers an endpoint for the caller's organization; the result
    /// carries its signing secret, shown once.
    ///
    /// # Errors
    /// As `Webhooks::add`: `InvalidValue` naming what is wrong with the URL.
    async fn register(&self, caller: &Caller, url: &str) -> Result<enlist_core::Webhook, Error>;
    /// Sends a signed `webhook.test` message to one of the caller's
    /// organization's endpoints now: the receiver's status, or what failed.
    ///
    /// # Errors
    /// As `Webhooks::for_test` (`Forbidden`, `NotFound`).
    async fn test(&self, caller: &Caller, id: &enlist_core::WebhookId) -> Result<Result<u16, String>, Error>;
}

/// What the console needs.
pub struct ConsoleState {
    /// The services.
    pub enlist: enlist_core::Services,
    /// The activity log (read).
    pub activity: Arc<dyn ActivityLog>,
    /// The SCIM base URL shown on Integrations (`https://host/scim/v2`);
    /// derived from the request when `None`.
    pub scim_base: Option<String>,
    /// Mark the cookie `Secure` (leave on except for plain-HTTP development).
    pub secure_cookies: bool,
    /// The time (connection health counts the last 24 hours).
    pub clock: Arc<dyn enlist_core::ports::Clock>,
    /// Where each event consumer stands (the Webhooks page's deliveries).
    pub feed: Arc<dyn EventFeed>,
    /// Adding and testing webhook endpoints; `None` where this deployment
    /// delivers no webhooks.
    pub webhooks: Option<Arc<dyn WebhookTools>>,
    /// The host product's name, logo and colour.
    pub branding: Branding,
}

impl ConsoleState {
    fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.clock.now()
    }
    /// The session cookie's name: [`COOKIE`], or [`DEV_COOKIE`] without
    /// `Secure`.
    pub fn cookie_name(&self) -> &'static str {
        if self.secure_cookies {
            COOKIE
        } else {
            DEV_COOKIE
        }
    }
}

/// Registers the console under `/console` on an app or scope.
pub fn configure(state: web::Data<ConsoleState>) -> impl FnOnce(&mut web::ServiceConfig) {
    move |cfg: &mut web::ServiceConfig| {
        let headers = SECURITY_HEADERS
            .iter()
            .fold(actix_web::middleware::DefaultHeaders::new(), |h, (k, v)| h.add((*k, *v)))
            .add(("Content-Security-Policy", csp(&state.branding)));
        let brand_css =
            format!(":root{{--accent:{};--on-accent:{}}}\n", state.branding.accent(), state.branding.on_accent());
        cfg.service(
            web::scope("/console")
                .wrap(headers)
                .app_data(state)
                .route("/assets/console.css", web::get().to(|| asset("text/css", pages::STYLE)))
                .route("/assets/console.js", web::get().to(|| asset("text/javascript", pages::SCRIPT)))
                .route(
                    "/assets/brand.css",
                    web::get().to(move || {
                        let css = brand_css.clone();
                        async move { asset("text/css", css).await }
                    }),
                )
                .route("/login", web::get().to(login_page))
                .route("/login", web::post().to(login))
                .route("", web::get().to(integrations))
                .service(web::resource("/").name(HOME).route(web::get().to(integrations)))
                .route("/keys", web::post().to(generate_key))
                .route("/keys/{id}/revoke", web::post().to(revoke_key))
                .route("/keys/{id}/rotate", web::post().to(rotate_key))
                .route("/keys/{id}/health", web::get().to(health::key_json))
                .route("/people", web::get().to(people::page))
                .route("/activity", web::get().to(activity))
                .route("/groups", web::get().to(groups))
                .route("/groups/{id}/role", web::post().to(set_group_role))
                .route("/domains", web::get().to(domains::page))
                .route("/domains/proof", web::post().to(domains::proof))
                .route("/domains/verify", web::post().to(domains::verify))
                .route("/webhooks", web::get().to(webhooks::page))
                .route("/webhooks", web::post().to(webhooks::add))
                .route("/webhooks/{id}/test", web::post().to(webhooks::test))
                .route("/webhooks/{id}/replay", web::post().to(webhooks::replay))
                .route("/webhooks/{id}/remove", web::post().to(webhooks::remove))
                .route("/guard", web::get().to(guard::page))
                .route("/guard/approve", web::post().to(guard::approve))
                .route("/guard/dismiss", web::post().to(guard::dismiss))
                .route("/logout", web::post().to(logout)),
        );
    }
}

fn html(status: actix_web::http::StatusCode, body: maud::Markup) -> HttpResponse {
    HttpResponse::build(status).content_type("text/html; charset=utf-8").body(body.into_string())
}

async fn asset(content_type: &'static str, body: impl actix_web::body::MessageBody + 'static) -> HttpResponse {
    HttpResponse::Ok().content_type(content_type).insert_header((header::CACHE_CONTROL, "max-age=3600")).body(body)
}

/// The resource whose URL tells where the console is mounted.
const HOME: &str = "enlist_console_home";

/// The console's path as the browser addressed it (`/console`, or under the
/// prefix a host mounted it at), read from the request so links, redirects
/// and the cookie's path follow any mount point.
fn base(req: &HttpRequest) -> String {
    match req.url_for_static(HOME) {
        Ok(url) => url.path().trim_end_matches('/').to_owned(),
        Err(_) => "/console".to_owned(),
    }
}

fn ctx<'a>(req: &HttpRequest, state: &'a ConsoleState, s: &'a SignedIn) -> pages::Ctx<'a> {
    pages::Ctx { base: base(req), brand: &state.branding, s }
}

/// The product's look for a page answered before the state is at hand.
fn brand(req: &HttpRequest) -> Branding {
    req.app_data::<web::Data<ConsoleState>>().map(|s| s.branding.clone()).unwrap_or_default()
}

fn refusal(req: &HttpRequest, status: u16, message: &str) -> HttpResponse {
    let code = actix_web::http::StatusCode::from_u16(status).unwrap_or(actix_web::http::StatusCode::FORBIDDEN);
    html(code, pages::refused(&base(req), &brand(req), message))
}

/// The signed-in Admin, or the page that says how to sign in.
async fn signed_in(req: &HttpRequest, state: &ConsoleState) -> Result<(SignedIn, Caller), HttpResponse> {
    let Some(cookie) = req.cookie(state.cookie_name()) else {
        return Err(refusal(
            req,
            401,
            "You are not signed in. Open the console from your product's admin screen, or ask the people who run \
             this service for a sign-in link (it works once, for 15 minutes).",
        ));
    };
    match state.enlist.console.session(cookie.value()).await {
        Ok(s) => {
            let caller = Caller {
                organization_id: s.session.organization_id.clone(),
                actor: Actor::Member { user: s.session.user_id.clone() },
            };
            Ok((s, caller))
        }
        Err(e) => Err(refusal(req, 401, &detail(&e))),
    }
}

/// The signed-in Admin who sent a form: the session, and a CSRF token that
/// matches it; else the refusal to answer.
async fn form_sender(req: &HttpRequest, state: &ConsoleState, csrf: &str) -> Result<(SignedIn, Caller), HttpResponse> {
    let (session, caller) = signed_in(req, state).await?;
    if !csrf_ok(&session.session, csrf) {
        return Err(refusal(
            req,
            403,
            "This form is out of date or was not sent by the console; reload the page and try again.",
        ));
    }
    Ok((session, caller))
}

fn detail(e: &Error) -> String {
    match e {
        Error::Unexpected(_) => "Something failed unexpectedly; nothing was changed. Try again.".into(),
        other => other.to_string(),
    }
}

fn csrf_ok(session: &ConsoleSession, sent: &str) -> bool {
    bool::from(session.csrf.as_bytes().ct_eq(sent.as_bytes()))
}

#[derive(Deserialize)]
struct LoginQuery {
    token: String,
}

/// A sign-in link opens this page: it says who it signs in where and uses
/// nothing. Mail scanners that fetch every link (Safe Links and the like)
/// spend no link and get no session.
async fn login_page(req: HttpRequest, q: web::Query<LoginQuery>, state: web::Data<ConsoleState>) -> HttpResponse {
    match state.enlist.console.preview(&q.token).await {
        Ok(to) => {
            let current = match req.cookie(state.cookie_name()) {
                Some(c) => state.enlist.console.session(c.value()).await.ok(),
                None => None,
            };
            html(
                actix_web::http::StatusCode::OK,
                pages::confirm_sign_in(&base(&req), &state.branding, &q.token, &to, current.as_ref()),
            )
        }
        Err(e) => refusal(&req, 401, &detail(&e)),
    }
}

/// Whether a form post came from a page of this same site. Browsers send
/// `Sec-Fetch-Site` (and `Origin`) on every POST; a page elsewhere that
/// posts a link of its own Admin's here (login CSRF) is refused. A client
/// that sends neither is not a browser, and no one's session is at stake.
fn same_site(req: &HttpRequest) -> bool {
    let h = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok());
    if let Some(site) = h("sec-fetch-site") {
        return site == "same-origin" || site == "none";
    }
    match h("origin") {
        Some(origin) => {
            let host = req.connection_info().host().to_owned();
            origin.split_once("://").is_some_and(|(_, rest)| rest.eq_ignore_ascii_case(&host))
        }
        None => true,
    }
}

/// The sign-in page's form: uses the link once, ends the browser's
/// previous session (the page named it), and starts a new one.
async fn login(req: HttpRequest, form: web::Form<LoginQuery>, state: web::Data<ConsoleState>) -> HttpResponse {
    if !same_site(&req) {
        return refusal(
            &req,
            403,
            "This sign-in was sent from another site; open your console link again and sign in from its page.",
        );
    }
    match state.enlist.console.sign_in(&form.token).await {
        Ok((token, _)) => {
            if let Some(old) = req.cookie(state.cookie_name()) {
                let _ = state.enlist.console.sign_out(old.value()).await;
            }
            let cookie = Cookie::build(state.cookie_name(), token)
                .path(if state.secure_cookies { "/".to_owned() } else { base(&req) })
                .http_only(true)
                .secure(state.secure_cookies)
                .same_site(SameSite::Strict)
                .finish();
            let to = format!("{}/", base(&req));
            HttpResponse::SeeOther().cookie(cookie).insert_header((header::LOCATION, to)).finish()
        }
        Err(e) => refusal(&req, 401, &detail(&e)),
    }
}

fn scim_base(req: &HttpRequest, state: &ConsoleState) -> String {
    state.scim_base.clone().unwrap_or_else(|| {
        let info = req.connection_info();
        format!("{}://{}/scim/v2", info.scheme(), info.host())
    })
}

async fn integrations(req: HttpRequest, state: web::Data<ConsoleState>) -> HttpResponse {
    let (session, caller) = match signed_in(&req, &state).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let keys = match state.enlist.api_keys.list(&caller).await {
        Ok(k) => k,
        Err(e) => return refusal(&req, 403, &detail(&e)),
    };
    let health = key_health(&state, &caller, &keys).await;
    html(
        actix_web::http::StatusCode::OK,
        pages::integrations(&ctx(&req, &state, &session), &scim_base(&req, &state), &keys, &health, None),
    )
}

/// Each key's connection health (none when it cannot be read: the page
/// still lists the keys).
async fn key_health(state: &ConsoleState, caller: &Caller, keys: &[enlist_core::ApiKey]) -> Vec<health::KeyHealth> {
    let Ok(org) = state.enlist.organizations.find(caller.organization_id.as_str()).await else { return Vec::new() };
    match health::inputs(state, &org).await {
        Ok((usage, refused)) => keys.iter().map(|k| health::of(k, &usage, &refused, &org)).collect(),
        Err(e) => {
            tracing::warn!(error = %e, "connection health could not be read");
            Vec::new()
        }
    }
}

#[derive(Deserialize)]
struct KeyForm {
    csrf: String,
    label: String,
}

async fn generate_key(req: HttpRequest, form: web::Form<KeyForm>, state: web::Data<ConsoleState>) -> HttpResponse {
    let (session, caller) = match form_sender(&req, &state, &form.csrf).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let created = state.enlist.api_keys.create(&caller, &form.label).await;
    let keys = state.enlist.api_keys.list(&caller).await.unwrap_or_default();
    let health = key_health(&state, &caller, &keys).await;
    match created {
        Ok(k) => html(
            actix_web::http::StatusCode::OK,
            pages::integrations(
                &ctx(&req, &state, &session),
                &scim_base(&req, &state),
                &keys,
                &health,
                Some(Ok((k.key.label, k.token, k.key.id))),
            ),
        ),
        Err(e) => html(
            actix_web::http::StatusCode::BAD_REQUEST,
            pages::integrations(
                &ctx(&req, &state, &session),
                &scim_base(&req, &state),
                &keys,
                &health,
                Some(Err(detail(&e))),
            ),
        ),
    }
}

#[derive(Deserialize)]
struct CsrfForm {
    pub(crate) csrf: String,
}

async fn revoke_key(
    req: HttpRequest,
    path: web::Path<String>,
    form: web::Form<CsrfForm>,
    state: web::Data<ConsoleState>,
) -> HttpResponse {
    let (_, caller) = match form_sender(&req, &state, &form.csrf).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    match state.enlist.api_keys.revoke(&caller, &ApiKeyId::new(path.into_inner())).await {
        Ok(()) => HttpResponse::SeeOther().insert_header((header::LOCATION, format!("{}/", base(&req)))).finish(),
        Err(e) => refusal(&req, 400, &detail(&e)),
    }
}

/// A new key with the same label; the old one keeps working until it is
/// revoked, so the identity provider can be switched over without a gap.
async fn rotate_key(
    req: HttpRequest,
    path: web::Path<String>,
    form: web::Form<CsrfForm>,
    state: web::Data<ConsoleState>,
) -> HttpResponse {
    let (session, caller) = match form_sender(&req, &state, &form.csrf).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let keys = state.enlist.api_keys.list(&caller).await.unwrap_or_default();
    let Some(old) = keys.iter().find(|k| k.id.as_str() == path.as_str() && k.revoked_at.is_none()) else {
        return refusal(&req, 404, "No active key with that id in this organization; reload the page.");
    };
    let created = state.enlist.api_keys.create(&caller, &old.label).await;
    let keys = state.enlist.api_keys.list(&caller).await.unwrap_or_default();
    let shown = created.map(|k| (k.key.label, k.token, k.key.id)).map_err(|e| detail(&e));
    let health = key_health(&state, &caller, &keys).await;
    html(
        actix_web::http::StatusCode::OK,
        pages::integrations(&ctx(&req, &state, &session), &scim_base(&req, &state), &keys, &health, Some(shown)),
    )
}

/// Members per page.
const PAGE: u64 = 50;

#[derive(Deserialize)]
struct ActivityQuery {
    failed: Option<String>,
    user: Option<String>,
}

async fn activity(req: HttpRequest, q: web::Query<ActivityQuery>, state: web::Data<ConsoleState>) -> HttpResponse {
    let (session, caller) = match signed_in(&req, &state).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let org = match state.enlist.organizations.find(caller.organization_id.as_str()).await {
        Ok(o) => o,
        Err(e) => return refusal(&req, 400, &detail(&e)),
    };
    let failed = q.failed.is_some();
    let user = q.user.clone().filter(|u| !u.trim().is_empty());
    let query = enlist_core::ActivityQuery {
        failed_only: failed,
        since: None,
        subject: user.clone(),
        key_label: None,
        limit: 200,
    };
    match state.activity.list(&caller.organization_id, query).await {
        Ok(records) => html(
            actix_web::http::StatusCode::OK,
            pages::activity(&ctx(&req, &state, &session), &org, &records, failed, user.as_deref()),
        ),
        Err(e) => refusal(&req, 500, &detail(&e)),
    }
}

#[derive(Deserialize)]
struct GroupsQuery {
    page: Option<u64>,
}

async fn groups(req: HttpRequest, q: web::Query<GroupsQuery>, state: web::Data<ConsoleState>) -> HttpResponse {
    let (session, caller) = match signed_in(&req, &state).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let page = q.page.unwrap_or(1).max(1);
    let query = enlist_core::query::ListQuery {
        filter: None,
        sort: None,
        page: enlist_core::query::Page::Index { start_index: (page - 1) * PAGE + 1, count: PAGE },
    };
    // Never reads members: a count per group, in one query.
    let list = match state.enlist.groups.list(&caller, query, false).await {
        Ok(l) => l,
        Err(e) => return refusal(&req, 400, &detail(&e)),
    };
    let ids: Vec<_> = list.items.iter().map(|v| v.group.id.clone()).collect();
    let counts = state.enlist.groups.member_counts(&caller, &ids).await.unwrap_or_default();
    html(actix_web::http::StatusCode::OK, pages::groups(&ctx(&req, &state, &session), &list, &counts, page, PAGE, None))
}

#[derive(Deserialize)]
struct RoleForm {
    csrf: String,
    role: String,
}

async fn set_group_role(
    req: HttpRequest,
    path: web::Path<String>,
    form: web::Form<RoleForm>,
    state: web::Data<ConsoleState>,
) -> HttpResponse {
    let (_, caller) = match form_sender(&req, &state, &form.csrf).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let role = match form.role.as_str() {
        "" => None,
        r => match enlist_core::Role::parse(r) {
            Ok(r) => Some(r),
            Err(e) => return refusal(&req, 400, &detail(&e)),
        },
    };
    // Audited by the service, like every change.
    match state.enlist.groups.set_role(&caller, &enlist_core::GroupId::new(path.into_inner()), role).await {
        Ok(_) => HttpResponse::SeeOther().insert_header((header::LOCATION, format!("{}/groups", base(&req)))).finish(),
        Err(e) => refusal(&req, 409, &detail(&e)),
    }
}

async fn logout(req: HttpRequest, form: web::Form<CsrfForm>, state: web::Data<ConsoleState>) -> HttpResponse {
    let (session, _) = match signed_in(&req, &state).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    if !csrf_ok(&session.session, &form.csrf) {
        return refusal(&req, 403, "This form is out of date; reload the page and try again.");
    }
    if let Some(c) = req.cookie(state.cookie_name()) {
        let _ = state.enlist.console.sign_out(c.value()).await;
    }
    let path = if state.secure_cookies { "/".to_owned() } else { base(&req) };
    let mut gone = Cookie::build(state.cookie_name(), "").path(path).secure(state.secure_cookies).finish();
    gone.make_removal();
    HttpResponse::Ok()
        .cookie(gone)
        .content_type("text/html; charset=utf-8")
        .body(pages::signed_out(&base(&req), &state.branding).into_string())
}
