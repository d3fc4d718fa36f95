//! The one HTTP client webhooks use: reqwest over rustls, shared by every
//! endpoint so connections are kept and reused (one TCP+TLS handshake per
//! endpoint, not per event).
//!
//! Where it connects is the core's rule, not this file's: the client's
//! resolver asks `Webhooks::addresses`, which refuses internal addresses
//! unless the endpoint was registered with the operator's allowance, so a
//! connection is only ever opened to a checked address (an IP literal in
//! the URL never reaches a resolver; `check_webhook_url` checked it when
//! the endpoint was loaded). Redirects are not followed: a 3xx is a
//! failure, so a destination cannot move somewhere unchecked.

use enlist_core::service::WebhookUrl;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

/// At most this much of an answer's body is read (then the connection is
/// dropped rather than reused): receivers answer 2xx with little or nothing.
const MAX_ANSWER_BODY: usize = 64 * 1024;

/// How much of an answer's body is kept to show why it refused.
const ANSWER_SHOWN: usize = 200;

/// Idle connections to an endpoint are kept this long.
const KEEP_IDLE: Duration = Duration::from_secs(60);

/// Shared webhook HTTP client: cheap to clone, connections pooled per
/// endpoint host.
#[derive(Clone)]
pub struct Sender {
    public: reqwest::Client,
    private: reqwest::Client,
}

struct CheckedResolver {
    services: enlist_core::Services,
    allow_private: bool,
}

impl Resolve for CheckedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let (services, allow_private) = (self.services.clone(), self.allow_private);
        Box::pin(async move {
            let ips = services.webhooks.addresses(name.as_str(), allow_private).await?;
            // Port 0: reqwest puts the URL's port in.
            let addrs: Addrs = Box::new(ips.into_iter().map(|ip| SocketAddr::new(ip, 0)));
            Ok(addrs)
        })
    }
}

impl Sender {
    /// A client whose resolver asks `services` where a host may be reached;
    /// each request times out after `timeout` (connect, TLS, answer).
    ///
    /// # Errors
    /// When TLS cannot be set up (a sentence saying so).
    pub fn new(services: &enlist_core::Services, timeout: Duration) -> Result<Self, String> {
        let client = |allow_private: bool| {
            reqwest::Client::builder()
                .dns_resolver(Arc::new(CheckedResolver { services: services.clone(), allow_private }))
                .redirect(reqwest::redirect::Policy::none())
                .no_proxy()
                .https_only(!allow_private)
                .user_agent("Enlist-Webhooks")
                .timeout(timeout)
                .connect_timeout(timeout)
                .pool_idle_timeout(KEEP_IDLE)
                .build()
                .map_err(|e| format!("cannot set up the webhook HTTP client: {e}"))
        };
        Ok(Self { public: client(false)?, private: client(true)? })
    }

    /// POSTs `body` as JSON with `headers`; the answer's status code and
    /// the start of its body.
    ///
    /// # Errors
    /// A sentence saying what failed (address refused, connect, TLS,
    /// timeout), without the URL's query.
    pub async fn post(
        &self,
        dest: &WebhookUrl,
        allow_private: bool,
        headers: &[(&str, String)],
        body: &str,
    ) -> Result<(u16, String), String> {
        let client = if allow_private { &self.private } else { &self.public };
        let mut request =
            client.post(dest.as_str()).header(reqwest::header::CONTENT_TYPE, "application/json").body(body.to_owned());
        for (k, v) in headers {
            request = request.header(*k, v);
        }
        let mut answer = request.send().await.map_err(|e| describe(dest, &e))?;
        let status = answer.status().as_u16();
        // Read a small answer to the end so the connection goes back to
        // the pool; a large one is not worth reading.
        // The start of it is kept: a receiver's refusal usually says why
        // ("invalid signature"), and the console shows it.
        let mut read = 0;
        let mut start = Vec::new();
        while read <= MAX_ANSWER_BODY {
            match answer.chunk().await {
                Ok(Some(chunk)) => {
                    read += chunk.len();
                    let room = ANSWER_SHOWN.saturating_sub(start.len());
                    start.extend(chunk.iter().take(room));
                }
                _ => break,
            }
        }
        let text: String = String::from_utf8_lossy(&start).chars().filter(|c| !c.is_control() || *c == ' ').collect();
        Ok((status, text.trim().to_owned()))
    }
}

/// What went wrong, in words, with the URL redacted (reqwest's own
/// messages carry the full URL, query included).
fn describe(dest: &WebhookUrl, e: &reqwest::Error) -> String {
    let mut cause = String::new();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        cause = s.to_string();
        source = s.source();
    }
    let host = dest.host();
    if e.is_timeout() {
        format!("no answer from {host} in time")
    } else if e.is_connect() {
        format!("cannot connect to {}: {cause}", dest.redacted())
    } else {
        format!("sending to {} failed: {cause}", dest.redacted())
    }
}
