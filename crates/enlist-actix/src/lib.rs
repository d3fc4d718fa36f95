//! Enlist's HTTP front: the SCIM 2.0 endpoint Entra ID and Okta connect to,
//! on actix-web. It parses (with `enlist-scim`), calls one core service and
//! maps the result; it holds no product rule.
//!
//! Routing is done by hand under the SCIM base so that route names are
//! case-insensitive and a trailing slash is tolerated (Entra rule 1), and so
//! every answer, including unknown routes and bad methods, is a SCIM body.

#![warn(missing_docs)]

mod activity;
mod metrics;
pub mod openapi;
mod routes;
mod stream;

pub use metrics::{Gauge, Metrics};

use actix_web::http::header::{HeaderValue, CONTENT_TYPE};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use enlist_core::ports::IdGenerator;
use enlist_core::Services;
use enlist_scim::ScimError;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The SCIM media type; every response carries it.
pub const SCIM_JSON: &str = "application/scim+json";

/// HTTP settings.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where the SCIM routes live.
    pub base_path: String,
    /// The public URL prefix used in `Location`, `meta.location` and `$ref`
    /// (`https://enlist.example.com`); derived from the request when unset.
    pub public_url: Option<String>,
    /// Largest request body, bytes (413 above).
    pub max_body_bytes: usize,
    /// Deepest JSON nesting accepted.
    pub max_json_depth: usize,
    /// Per-request deadline, well inside Entra's 60 s.
    pub request_timeout: Duration,
    /// Page size when `count` is absent.
    pub default_count: u64,
    /// Largest page (`filter.maxResults`).
    pub max_count: u64,
    /// Requests handled at once by this process; more wait in line.
    pub max_in_flight: usize,
    /// How long a request waits in line before a 503 with `Retry-After`.
    pub queue_timeout: Duration,
    /// How long a request body may take to arrive (408 after). Bodies are
    /// read before a request takes one of the `max_in_flight` places, so a
    /// client that trickles its body holds a connection, never a place.
    pub body_timeout: Duration,
    /// Bytes of request bodies this process holds in memory at once, all
    /// requests together; a body that would pass it is refused with 503.
    pub max_buffered_bytes: usize,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            base_path: "/scim/v2".into(),
            public_url: None,
            max_body_bytes: 1024 * 1024,
            max_json_depth: 64,
            request_timeout: Duration::from_secs(30),
            default_count: 100,
            max_count: 1000,
            max_in_flight: 256,
            queue_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(10),
            max_buffered_bytes: 64 * 1024 * 1024,
        }
    }
}

/// What the health and metrics endpoints ask of the process around them.
#[async_trait::async_trait]
pub trait Health: Send + Sync {
    /// `Ok` when this process can serve: the database answers and its
    /// schema is the one this build expects (`/readyz`); otherwise why not.
    async fn check(&self) -> Result<(), String>;
    /// Extra gauges for `/metrics`.
    async fn gauges(&self) -> Vec<Gauge>;
}

/// Everything a request needs.
pub struct HttpState {
    /// The core services.
    pub enlist: Services,
    /// Settings.
    pub config: Config,
    /// Health and gauges.
    pub health: Arc<dyn Health>,
    /// Request ids.
    pub ids: Arc<dyn IdGenerator>,
    /// Counters and latencies.
    pub metrics: Arc<Metrics>,
    /// Where provisioning activity goes (none: not recorded).
    pub activity: Option<Arc<enlist_jobs::activity::Recorder>>,
    limiter: tokio::sync::Semaphore,
    body_budget: tokio::sync::Semaphore,
}

impl HttpState {
    /// The request state.
    pub fn new(enlist: Services, config: Config, health: Arc<dyn Health>, ids: Arc<dyn IdGenerator>) -> Self {
        let limiter = tokio::sync::Semaphore::new(config.max_in_flight.max(1));
        let body_budget = tokio::sync::Semaphore::new(
            (config.max_buffered_bytes / BUDGET_UNIT).clamp(config.max_body_bytes.div_ceil(BUDGET_UNIT), 1 << 30),
        );
        let metrics = Arc::new(Metrics::default());
        Self { enlist, config, health, ids, metrics, activity: None, limiter, body_budget }
    }

    /// Records every request that changes something or is refused.
    pub fn with_activity(mut self, recorder: Arc<enlist_jobs::activity::Recorder>) -> Self {
        self.activity = Some(recorder);
        self
    }
}

/// Protects the whole service, never one tenant (Entra treats throttling
/// as failure): a request waits for a slot up to `queue_timeout`, then gets
/// 503 with `Retry-After`, which Okta retries by itself.
async fn admit<'a>(
    limiter: &'a tokio::sync::Semaphore,
    wait: Duration,
) -> Result<tokio::sync::SemaphorePermit<'a>, ScimError> {
    match tokio::time::timeout(wait, limiter.acquire()).await {
        Ok(Ok(permit)) => Ok(permit),
        _ => Err(ScimError::status(
            503,
            "Enlist is overloaded right now; nothing was changed. Retry after the Retry-After delay.",
        )),
    }
}

fn enlist_openapi(base: &str) -> String {
    openapi::document(if base.is_empty() { "/" } else { base }).to_string()
}

/// Registers the SCIM routes (and their OpenAPI description) on an app.
/// Health and metrics are [`configure_admin`]'s, to mount where only the
/// operator's monitoring reaches.
pub fn configure(state: web::Data<HttpState>) -> impl FnOnce(&mut web::ServiceConfig) {
    move |cfg: &mut web::ServiceConfig| {
        let base = state.config.base_path.trim_end_matches('/').to_owned();
        let described = enlist_openapi(&base);
        cfg.app_data(state)
            // The API description, next to the endpoint it describes; it
            // holds no data, so no key is needed.
            .route(
                &format!("{base}/openapi.json"),
                web::get().to(move || {
                    let body = described.clone();
                    async move { HttpResponse::Ok().content_type("application/json").body(body) }
                }),
            )
            .service(web::scope(&base).default_service(web::to(entry)))
            .default_service(web::to(not_found));
    }
}

/// Registers `/healthz` (liveness: the process answers; it never asks the
/// database, so an outage does not get every replica restarted), `/readyz`
/// (readiness: the database answers and the schema is current; 503 with
/// the reason otherwise) and `/metrics` (Prometheus text: request counts
/// and latencies, outbox, consumers' names and lag). None asks for a key:
/// serve them on an address only monitoring reaches (`enlist serve
/// --admin-bind`), not the public port.
pub fn configure_admin(state: web::Data<HttpState>) -> impl FnOnce(&mut web::ServiceConfig) {
    move |cfg: &mut web::ServiceConfig| {
        cfg.app_data(state)
            .route("/healthz", web::get().to(healthz))
            .route("/readyz", web::get().to(readyz))
            .route("/metrics", web::get().to(metrics));
    }
}

async fn healthz() -> HttpResponse {
    HttpResponse::Ok().content_type("application/json").body(r#"{"status":"ok"}"#)
}

async fn readyz(state: web::Data<HttpState>) -> HttpResponse {
    match state.health.check().await {
        Ok(()) => HttpResponse::Ok().content_type("application/json").body(r#"{"status":"ready"}"#),
        Err(detail) => {
            tracing::warn!(%detail, "not ready");
            HttpResponse::ServiceUnavailable()
                .content_type("application/json")
                .body(serde_json::json!({"status": "unavailable", "detail": detail}).to_string())
        }
    }
}

async fn metrics(state: web::Data<HttpState>) -> HttpResponse {
    let gauges = state.health.gauges().await;
    HttpResponse::Ok().content_type("text/plain; version=0.0.4").body(state.metrics.render(&gauges))
}

async fn not_found(req: HttpRequest) -> HttpResponse {
    error_response(&ScimError::status(
        404,
        format!("{} is not an Enlist endpoint; the SCIM base is /scim/v2", req.path()),
    ))
}

/// A SCIM error as a response.
pub(crate) fn error_response(e: &ScimError) -> HttpResponse {
    let status = StatusCode::from_u16(e.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut resp = HttpResponse::build(status);
    resp.content_type(SCIM_JSON);
    if e.status == 401 {
        resp.insert_header(("WWW-Authenticate", "Bearer realm=\"Enlist SCIM\""));
    }
    match e.retry_after {
        Some(secs) => {
            resp.insert_header(("Retry-After", secs.to_string()));
        }
        None if e.status == 503 || e.status == 429 => {
            resp.insert_header(("Retry-After", "5"));
        }
        None => {}
    }
    resp.body(e.to_json().to_string())
}

fn request_id(req: &HttpRequest, ids: &dyn IdGenerator) -> String {
    req.headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            !v.is_empty() && v.len() <= 64 && v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
        .map(str::to_owned)
        .unwrap_or_else(|| ids.id())
}

/// The unit of the body budget's permits: a semaphore counts in u32, and
/// KiB keep a budget of gigabytes within it.
const BUDGET_UNIT: usize = 1024;

/// Reads a whole body like [`read_limited`], taking its bytes from the
/// process-wide `budget` as they arrive. When the budget is spent (many
/// large bodies at once) the request is refused at once with 503: waiting
/// while holding part of the budget could deadlock every reader.
async fn read_budgeted<'a>(
    payload: &mut actix_web::dev::Payload,
    limit: usize,
    budget: &'a tokio::sync::Semaphore,
) -> Result<(web::Bytes, Option<tokio::sync::SemaphorePermit<'a>>), ScimError> {
    use futures_util::StreamExt;
    let mut buf = web::BytesMut::new();
    let mut held: Option<tokio::sync::SemaphorePermit<'a>> = None;
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| ScimError::syntax(format!("the request body could not be read: {e}")))?;
        if buf.len() + chunk.len() > limit {
            return Err(too_large(limit));
        }
        let units = (buf.len() + chunk.len()).div_ceil(BUDGET_UNIT);
        let have = held.as_ref().map_or(0, |p| p.num_permits());
        if units > have {
            let more = u32::try_from(units - have).unwrap_or(u32::MAX);
            let permit = budget.try_acquire_many(more).map_err(|_| {
                ScimError::status(
                    503,
                    "Enlist is receiving too many large request bodies at once; nothing was changed. \
                     Retry after the Retry-After delay.",
                )
            })?;
            match &mut held {
                Some(h) => h.merge(permit),
                None => held = Some(permit),
            }
        }
        buf.extend_from_slice(&chunk);
    }
    Ok((buf.freeze(), held))
}

fn too_large(limit: usize) -> ScimError {
    ScimError::status(413, format!("the request body is larger than {limit} bytes; send smaller batches"))
}

/// Reads a whole body, refusing it past `limit` bytes.
pub(crate) async fn read_limited(payload: &mut actix_web::dev::Payload, limit: usize) -> Result<web::Bytes, ScimError> {
    use futures_util::StreamExt;
    let mut buf = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| ScimError::syntax(format!("the request body could not be read: {e}")))?;
        if buf.len() + chunk.len() > limit {
            return Err(too_large(limit));
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(buf.freeze())
}

/// A routed request's answer, or the answer for a handler that panicked or
/// ran past the request deadline.
fn routed_or_error(
    outcome: Result<std::thread::Result<routes::Routed>, tokio::time::error::Elapsed>,
    state: &HttpState,
) -> routes::Routed {
    match outcome {
        Ok(Ok(r)) => r,
        Ok(Err(_)) => {
            tracing::error!("handler panicked");
            ("panic", error_response(&ScimError::from(enlist_core::Error::Unexpected("handler panicked".into()))))
        }
        Err(_) => (
            "timeout",
            // The store rolls back a write whose caller stopped waiting
            // and ends every write before its own, shorter deadline, so
            // this answer means nothing changed.
            error_response(&ScimError::status(
                503,
                format!(
                    "the request took longer than {} s and was abandoned; nothing was changed. Retry after the Retry-After delay.",
                    state.config.request_timeout.as_secs()
                ),
            )),
        ),
    }
}

/// What the front read of a request before routing it: the body in
/// memory (with its share of the buffered-bytes budget) and, for a request
/// with a body, the key already checked.
struct Read<'a> {
    payload: actix_web::dev::Payload,
    caller: Option<enlist_core::Caller>,
    _buffered: Option<tokio::sync::SemaphorePermit<'a>>,
}

/// Reads what a request sends before it takes a place among the requests
/// in flight, on its own deadline: a client trickling its body must not
/// hold a place others need. The key is checked from the headers before a
/// byte of the body is read: an unauthenticated client never makes Enlist
/// buffer anything.
async fn read<'a>(
    req: &HttpRequest,
    payload: actix_web::dev::Payload,
    state: &'a HttpState,
    draft: &mut activity::Draft,
) -> Result<Read<'a>, ScimError> {
    use actix_web::http::Method;
    if !matches!(*req.method(), Method::POST | Method::PUT | Method::PATCH) {
        return Ok(Read { payload, caller: None, _buffered: None });
    }
    let caller = routes::authenticate(req, state, draft).await?;
    let mut payload = payload;
    let limit = state.config.max_body_bytes;
    match tokio::time::timeout(state.config.body_timeout, read_budgeted(&mut payload, limit, &state.body_budget)).await
    {
        Ok(Ok((bytes, permit))) => {
            Ok(Read { payload: actix_web::dev::Payload::from(bytes), caller: Some(caller), _buffered: permit })
        }
        Ok(Err(e)) => Err(e),
        Err(_) => Err(ScimError::status(
            408,
            format!(
                "the request body did not arrive within {} s; nothing was changed. Send it again",
                state.config.body_timeout.as_secs()
            ),
        )),
    }
}

/// The request id and the SCIM media type on every answer.
fn finish_headers(resp: &mut HttpResponse, rid: &str) {
    if let Ok(v) = HeaderValue::from_str(rid) {
        resp.headers_mut().insert(actix_web::http::header::HeaderName::from_static("x-request-id"), v);
    }
    if resp.status() != StatusCode::NO_CONTENT
        && resp.status() != StatusCode::NOT_MODIFIED
        && !resp.headers().contains_key(CONTENT_TYPE)
    {
        resp.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static(SCIM_JSON));
    }
}

/// Changes and refusals of a known key go to its organization's activity
/// log; successful reads are only counted (metrics, the key's usage).
fn record(
    req: &HttpRequest,
    state: &HttpState,
    route: &str,
    status: u16,
    draft: activity::Draft,
    took: Duration,
    rid: &str,
) {
    let (Some(recorder), Some(org)) = (&state.activity, draft.org) else { return };
    // Every request of a key counts toward its connection health.
    if let Some(key) = &draft.key_id {
        recorder.count(key, &org, status < 400);
    }
    if req.method() == actix_web::http::Method::GET && status < 400 {
        return;
    }
    recorder.record(enlist_core::ActivityRecord {
        id: state.ids.id(),
        organization_id: org,
        at: recorder.now(),
        key_label: draft.key_label,
        method: req.method().to_string(),
        route: route.to_owned(),
        resource_id: draft.resource_id,
        subject: draft.subject,
        status,
        scim_type: draft.scim_type,
        detail: draft.detail,
        latency_ms: took.as_millis() as u64,
        request_id: rid.to_owned(),
        summary: draft.summary,
    });
}

async fn entry(req: HttpRequest, payload: web::Payload, state: web::Data<HttpState>) -> HttpResponse {
    use tracing::Instrument;
    let started = Instant::now();
    let rid = request_id(&req, &*state.ids);
    let span = tracing::info_span!("request", request_id = %rid, method = %req.method(), path = %req.path());
    let mut draft = activity::Draft::default();
    let read = read(&req, payload.into_inner(), &state, &mut draft).instrument(span.clone()).await;
    let (route, mut resp) = match read {
        Err(e) => {
            // Answered without taking a place in flight, and recorded like
            // any refusal when the token is a real key.
            routes::attribute_refusal(&req, &state, &e, &mut draft).instrument(span.clone()).await;
            (routes::route_label(&req), error_response(&e))
        }
        Ok(read) => {
            let _permit = match admit(&state.limiter, state.config.queue_timeout).await {
                Ok(p) => p,
                Err(e) => {
                    // Not looked up or recorded: an overloaded server does
                    // no more work for a request it turns away.
                    state.metrics.record("overloaded", 503, started.elapsed());
                    return error_response(&e);
                }
            };
            // A panic in a handler becomes a SCIM 500 for this request
            // instead of a dropped connection; the unit of work it was in
            // has rolled back.
            let routed = routes::dispatch(&req, read.payload, &state, read.caller, &mut draft);
            let guarded = futures_util::FutureExt::catch_unwind(std::panic::AssertUnwindSafe(routed));
            let outcome = tokio::time::timeout(state.config.request_timeout, guarded).instrument(span.clone()).await;
            routed_or_error(outcome, &state)
        }
    };
    finish_headers(&mut resp, &rid);
    let status = resp.status().as_u16();
    state.metrics.record(route, status, started.elapsed());
    record(&req, &state, route, status, draft, started.elapsed(), &rid);
    // Never the Authorization header, never a body: ids, route, outcome.
    span.in_scope(|| tracing::info!(route, status, latency_ms = started.elapsed().as_millis() as u64, "handled"));
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[actix_web::test]
    async fn a_full_service_answers_503_with_retry_after() {
        let limiter = tokio::sync::Semaphore::new(1);
        let held = admit(&limiter, Duration::from_millis(10)).await.unwrap();
        let e = admit(&limiter, Duration::from_millis(10)).await.unwrap_err();
        assert_eq!(e.status, 503);
        let resp = error_response(&e);
        assert_eq!(resp.headers().get("retry-after").and_then(|v| v.to_str().ok()), Some("5"));
        drop(held);
        assert!(admit(&limiter, Duration::from_millis(10)).await.is_ok(), "a freed slot admits again");
    }

    fn payload(bytes: usize) -> actix_web::dev::Payload {
        actix_web::dev::Payload::from(web::Bytes::from(vec![b'x'; bytes]))
    }

    #[actix_web::test]
    async fn buffered_bodies_share_one_budget_and_give_it_back() {
        let budget = tokio::sync::Semaphore::new(8); // 8 KiB
        let (bytes, held) = read_budgeted(&mut payload(5000), 1 << 20, &budget).await.unwrap();
        assert_eq!((bytes.len(), budget.available_permits()), (5000, 3));
        // A second body that does not fit is refused at once, holding nothing.
        let e = read_budgeted(&mut payload(5000), 1 << 20, &budget).await.unwrap_err();
        assert_eq!(e.status, 503);
        assert_eq!(budget.available_permits(), 3);
        drop(held);
        assert_eq!(budget.available_permits(), 8, "a finished request returns its bytes");
        assert!(read_budgeted(&mut payload(5000), 1 << 20, &budget).await.is_ok());
        // The per-request limit still holds.
        assert_eq!(read_budgeted(&mut payload(5000), 4000, &budget).await.unwrap_err().status, 413);
    }
}
