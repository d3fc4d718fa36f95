//! Enlist's webhook delivery. Each registered endpoint is an event
//! consumer of its own (`webhook:<id>`), so it receives its organization's
//! change events (or every organization's) in order, at least once, from a
//! durable position; a slow or failing endpoint delays only itself.
//!
//! Requests follow the Standard Webhooks specification: the JSON of
//! `enlist_scim::events::event_json`, headers `webhook-id`,
//! `webhook-timestamp` and `webhook-signature` (`v1,` + base64 of
//! HMAC-SHA256 over `id.timestamp.body` with the `whsec_` secret). Any 2xx
//! is success; anything else is retried with backoff, and an endpoint that
//! has failed for [`GIVE_UP_AFTER`] is disabled with the reason.
//!
//! Destinations are checked on registration and again before every
//! delivery (DNS may change): HTTPS only, never a loopback, private,
//! link-local or otherwise internal address ([`enlist_core::service::is_internal_address`])
//! unless the operator allowed it (`--allow-private`, which also allows
//! plain HTTP, for development); redirects are not followed.

#![warn(missing_docs)]

mod http;

pub use http::Sender;

use base64::Engine;
use enlist_core::consumer::{Consumer, EventHandler, HandlerError};
use enlist_core::event::Event;
use enlist_core::ports::{Clock, EventFeed, IdGenerator};
use enlist_core::service::WebhookUrl;
use enlist_core::{Caller, Error, Webhook, WebhookId};
use enlist_jobs::{ConsumerJob, Job, Jobs, Next};
use hmac::{Hmac, Mac};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

/// An endpoint failing this long without one success is disabled.
pub const GIVE_UP_AFTER: Duration = Duration::from_secs(3 * 24 * 3600);

/// How long one delivery may take (connect, TLS, request, status line).
pub const DELIVERY_TIMEOUT: Duration = Duration::from_secs(15);

/// Events claimed per round. A round costs a claim and an acknowledgement
/// on the writer besides its deliveries: with 50, rounds took longer than
/// the events they carried arrived under `provision` (1,900 users/s), and
/// the backlog grew to 1.9 s. The lease is renewed as a round goes on, so
/// a slow receiver does not lose a long round's claim.
const BATCH: u32 = 500;

/// The default claim lease of an endpoint: two deliveries' worth.
pub const DEFAULT_LEASE: Duration = Duration::from_secs(30);

/// A new signing secret: `whsec_` + base64 of 32 random bytes.
pub fn new_secret(ids: &dyn IdGenerator) -> String {
    let hex = ids.secret();
    let bytes: Vec<u8> =
        (0..hex.len() / 2).filter_map(|i| u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok()).take(32).collect();
    format!("whsec_{}", base64::engine::general_purpose::STANDARD.encode(bytes))
}

/// The `webhook-signature` value for one request.
///
/// ```
/// // The Standard Webhooks specification's own test vector.
/// let sig = enlist_webhooks::sign(
///     "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
///     "msg_p5jXN8AQM9LWM0D4loKWxJek",
///     1614265330,
///     r#"{"test": 2432232314}"#,
/// )
/// .unwrap();
/// assert_eq!(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
/// ```
///
/// # Errors
/// When `secret` is not a `whsec_` base64 secret.
pub fn sign(secret: &str, msg_id: &str, timestamp: i64, body: &str) -> Result<String, String> {
    let key = base64::engine::general_purpose::STANDARD
        .decode(secret.strip_prefix("whsec_").unwrap_or(secret))
        .map_err(|_| "the webhook secret is not whsec_ base64".to_owned())?;
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(&key).map_err(|e| e.to_string())?;
    mac.update(format!("{msg_id}.{timestamp}.{body}").as_bytes());
    Ok(format!("v1,{}", base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())))
}

/// Registers an endpoint: the core checks the URL and where it resolves
/// (`Webhooks::add`); this makes the secret, returned once with the
/// endpoint.
///
/// # Errors
/// `InvalidValue` naming what is wrong with the URL or its address;
/// `Forbidden` as the core's `Webhooks::add`.
pub async fn register(
    services: &enlist_core::Services,
    ids: &dyn IdGenerator,
    caller: &Caller,
    url: &str,
    every_organization: bool,
    allow_private: bool,
) -> Result<Webhook, Error> {
    services.webhooks.add(caller, url, every_organization, allow_private, new_secret(ids)).await
}

/// An endpoint's URL as delivery uses it: parsed once, and held to the
/// rule it was registered under (an address literal is checked here; a
/// name is checked by the [`Sender`]'s resolver whenever it connects).
///
/// # Errors
/// The core's sentence on what is wrong with the URL.
pub fn destination(webhook: &Webhook) -> Result<WebhookUrl, String> {
    enlist_core::service::check_webhook_url(&webhook.url, webhook.allow_private).map_err(|e| e.to_string())
}

/// Sends one signed message to an endpoint, as every delivery and
/// `enlist webhook test` do: the body is signed per Standard Webhooks with
/// the endpoint's secret, and only a 2xx answer is success.
///
/// # Errors
/// A sentence saying what failed, without the URL's query.
pub async fn deliver(
    sender: &Sender,
    webhook: &Webhook,
    url: &WebhookUrl,
    msg_id: &str,
    timestamp: i64,
    body: &str,
) -> Result<u16, String> {
    let signature = sign(&webhook.secret, msg_id, timestamp, body)?;
    let headers = [
        ("webhook-id", msg_id.to_owned()),
        ("webhook-timestamp", timestamp.to_string()),
        ("webhook-signature", signature),
    ];
    match sender.post(url, webhook.allow_private, &headers, body).await {
        Ok((status, _)) if (200..300).contains(&status) => Ok(status),
        Ok((status, said)) if said.is_empty() => {
            Err(format!("the endpoint answered HTTP {status}; it must answer 2xx to a valid signed request"))
        }
        Ok((status, said)) => {
            Err(format!("the endpoint answered HTTP {status} ({said:?}); it must answer 2xx to a valid signed request"))
        }
        Err(e) => Err(e),
    }
}

/// Delivers events to one endpoint.
pub struct WebhookHandler {
    sender: Sender,
    webhook: Webhook,
    url: Result<WebhookUrl, String>,
    clock: Arc<dyn Clock>,
}

#[async_trait::async_trait]
impl EventHandler for WebhookHandler {
    async fn handle(&self, event: &Event) -> Result<(), HandlerError> {
        let body = enlist_scim::events::event_json(event).to_string();
        let timestamp = self.clock.now().timestamp();
        let url = self.url.as_ref().map_err(|e| HandlerError(e.clone()))?;
        deliver(&self.sender, &self.webhook, url, event.id.as_str(), timestamp, &body)
            .await
            .map(|_| ())
            .map_err(HandlerError)
    }
}

/// Runs every enabled endpoint's delivery: a job that reads the enabled
/// endpoints each round and keeps one [`EndpointJob`] running per endpoint,
/// picking endpoints up (and dropping them) as they are registered.
pub struct Dispatcher {
    /// The services (enabled endpoints, disabling).
    pub services: enlist_core::Services,
    /// Positions and claims.
    pub feed: Arc<dyn EventFeed>,
    /// Time.
    pub clock: Arc<dyn Clock>,
    /// Claim tokens.
    pub ids: Arc<dyn IdGenerator>,
    /// How often the endpoint list is read again.
    pub refresh: Duration,
    /// Pause of an endpoint with nothing to deliver.
    pub idle: Duration,
    /// Failing this long disables an endpoint.
    pub give_up_after: Duration,
    /// How long an endpoint's claim lasts without renewal: after a crash,
    /// another process takes over the endpoint's organizations this late.
    /// One delivery may take at most half of it.
    pub lease: Duration,
    /// The running endpoints, by id.
    running: tokio::sync::Mutex<HashMap<WebhookId, Jobs>>,
    /// The client every endpoint shares, made at the first round (its
    /// timeout follows `lease`).
    sender: std::sync::OnceLock<Result<Sender, String>>,
}

impl Dispatcher {
    /// A dispatcher with the production pacing: endpoints read every 5 s,
    /// an idle endpoint asks again after 500 ms, [`GIVE_UP_AFTER`],
    /// [`DEFAULT_LEASE`]. Adjust the public fields before running it.
    pub fn new(
        services: enlist_core::Services,
        feed: Arc<dyn EventFeed>,
        clock: Arc<dyn Clock>,
        ids: Arc<dyn IdGenerator>,
    ) -> Self {
        Self {
            services,
            feed,
            clock,
            ids,
            refresh: Duration::from_secs(5),
            idle: Duration::from_millis(500),
            give_up_after: GIVE_UP_AFTER,
            lease: DEFAULT_LEASE,
            running: tokio::sync::Mutex::new(HashMap::new()),
            sender: std::sync::OnceLock::new(),
        }
    }

    fn endpoint(&self, webhook: Webhook, sender: Sender) -> EndpointJob {
        let consumer = Consumer {
            name: webhook.id.consumer_name(),
            feed: self.feed.clone(),
            handler: Arc::new(WebhookHandler {
                sender,
                url: destination(&webhook),
                webhook: webhook.clone(),
                clock: self.clock.clone(),
            }),
            clock: self.clock.clone(),
            ids: self.ids.clone(),
            scope: webhook.organization_id.clone(),
            batch: BATCH,
            lease: self.lease,
        };
        EndpointJob {
            job: ConsumerJob { consumer, idle: self.idle },
            webhook,
            services: self.services.clone(),
            feed: self.feed.clone(),
            clock: self.clock.clone(),
            give_up_after: self.give_up_after,
            gave_up: std::sync::atomic::AtomicBool::new(false),
        }
    }
}

#[async_trait::async_trait]
impl Job for Dispatcher {
    fn name(&self) -> String {
        "webhook dispatcher".into()
    }
    async fn round(&self) -> Next {
        let sender = match self.sender.get_or_init(|| Sender::new(&self.services, DELIVERY_TIMEOUT.min(self.lease / 2)))
        {
            Ok(sender) => sender,
            Err(e) => {
                tracing::error!(error = %e, "webhooks cannot be delivered; events wait until a restart fixes this");
                return Next::After(self.refresh);
            }
        };
        match self.services.webhooks.enabled().await {
            Ok(enabled) => {
                let mut running = self.running.lock().await;
                let gone: Vec<WebhookId> =
                    running.keys().filter(|id| !enabled.iter().any(|w| &w.id == *id)).cloned().collect();
                for id in gone {
                    if let Some(jobs) = running.remove(&id) {
                        jobs.stop().await;
                    }
                }
                for w in enabled {
                    if !running.contains_key(&w.id) {
                        let id = w.id.clone();
                        let mut jobs = Jobs::new();
                        jobs.spawn(Arc::new(self.endpoint(w, sender.clone())));
                        running.insert(id, jobs);
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "cannot read webhook endpoints; retrying"),
        }
        Next::After(self.refresh)
    }
    async fn stopped(&self) {
        let running = std::mem::take(&mut *self.running.lock().await);
        for (_, jobs) in running {
            jobs.stop().await;
        }
    }
}

/// One endpoint's deliveries: its event consumer, and disabling the
/// endpoint once it has failed for `give_up_after`.
pub struct EndpointJob {
    job: ConsumerJob,
    webhook: Webhook,
    services: enlist_core::Services,
    feed: Arc<dyn EventFeed>,
    clock: Arc<dyn Clock>,
    give_up_after: Duration,
    gave_up: std::sync::atomic::AtomicBool,
}

impl EndpointJob {
    /// Disables the endpoint when it has failed for `give_up_after`;
    /// whether it did.
    async fn give_up_if_failing_too_long(&self) -> bool {
        let name = &self.job.consumer.name;
        let Ok(Some((since, error))) = self.feed.failing_since(name).await else { return false };
        let limit = chrono::Duration::from_std(self.give_up_after).unwrap_or(chrono::Duration::days(3));
        if self.clock.now() - since < limit {
            return false;
        }
        let reason = format!(
            "failing since {} ({error}); fix the endpoint, then register it again (enlist webhook add)",
            since.to_rfc3339()
        );
        let url = WebhookUrl::parse(&self.webhook.url).map(|d| d.redacted()).unwrap_or_default();
        tracing::warn!(webhook = %self.webhook.id, %url, %reason, "webhook disabled");
        self.services.webhooks.disable(&self.webhook.id, &reason).await.is_ok()
    }
}

#[async_trait::async_trait]
impl Job for EndpointJob {
    fn name(&self) -> String {
        format!("webhook {}", self.webhook.id)
    }
    async fn round(&self) -> Next {
        use std::sync::atomic::Ordering;
        if self.gave_up.load(Ordering::Relaxed) {
            // Disabled: the dispatcher stops this job at its next refresh.
            return Next::After(self.job.idle);
        }
        let round = self.job.run_round().await;
        if round.is_some_and(|r| r.failed) && self.give_up_if_failing_too_long().await {
            self.gave_up.store(true, Ordering::Relaxed);
        }
        self.job.next(round)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_matches_the_standard_webhooks_reference_vector() {
        // The specification's own example.
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let body = r#"{"test": 2432232314}"#;
        let sig = sign(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body).unwrap();
        assert_eq!(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
        assert!(sign("whsec_not base64!", "m", 1, "b").is_err());
    }
}
