//! Recording provisioning activity without slowing provisioning: each
//! request that changed something or was refused becomes one
//! [`ActivityRecord`], handed to a bounded queue (a full queue drops the
//! record and counts it, never makes the request wait) and written in
//! batches by [`write_batches`], off every request's transaction.

use enlist_core::ports::{ActivityLog, Clock};
use enlist_core::{ActivityRecord, OrganizationId};
use serde_json::Value as Json;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch};

/// What a request learns about itself while it is handled: filled in by the
/// route once the key is known and the body read.
#[derive(Debug, Clone, Default)]
pub(crate) struct Draft {
    pub(crate) org: Option<OrganizationId>,
    pub(crate) key_label: String,
    pub(crate) resource_id: Option<String>,
    pub(crate) subject: Option<String>,
    pub(crate) summary: String,
    pub(crate) scim_type: Option<String>,
    pub(crate) detail: Option<String>,
}

/// The queue between requests and the writer.
pub struct Recorder {
    tx: mpsc::Sender<ActivityRecord>,
    dropped: AtomicU64,
    clock: Arc<dyn Clock>,
}

impl Recorder {
    /// A recorder holding at most `capacity` records not yet written, and
    /// the receiving end for [`write_batches`].
    pub fn new(capacity: usize, clock: Arc<dyn Clock>) -> (Arc<Self>, mpsc::Receiver<ActivityRecord>) {
        let (tx, rx) = mpsc::channel(capacity.max(1));
        (Arc::new(Self { tx, dropped: AtomicU64::new(0), clock }), rx)
    }

    /// The time, for a record's `at`.
    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.clock.now()
    }

    /// Queues a record, or drops and counts it when the queue is full.
    pub fn record(&self, r: ActivityRecord) {
        if self.tx.try_send(r).is_err() {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Records dropped because the queue was full (a metric).
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

/// Writes queued records in batches (up to 200, or whatever arrived within
/// half a second) until `stop`; what is queued at stop is written first.
pub async fn write_batches(
    mut rx: mpsc::Receiver<ActivityRecord>,
    log: Arc<dyn ActivityLog>,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        let mut batch = Vec::new();
        let stopping = tokio::select! {
            n = rx.recv_many(&mut batch, 200) => n == 0,
            _ = stop.changed() => true,
        };
        if !stopping {
            // Let a burst gather into one statement.
            tokio::time::sleep(Duration::from_millis(50)).await;
            while batch.len() < 200 {
                match rx.try_recv() {
                    Ok(r) => batch.push(r),
                    Err(_) => break,
                }
            }
        } else {
            while let Ok(r) = rx.try_recv() {
                batch.push(r);
            }
        }
        if !batch.is_empty() {
            let n = batch.len();
            if let Err(e) = log.append(batch).await {
                tracing::warn!(error = %e, records = n, "activity records could not be written and are lost");
            }
        }
        if stopping {
            return;
        }
    }
}

/// Most characters of a summary.
const SUMMARY_MAX: usize = 2000;

/// What was sent, for a person: attribute names and short values, with
/// passwords and anything token-like replaced by `***`.
pub(crate) fn summarize(body: &Json) -> String {
    fn redact(key: &str) -> bool {
        let k = key.rsplit(':').next().unwrap_or(key).to_ascii_lowercase();
        k.contains("password") || k.contains("secret") || k.contains("token")
    }
    fn walk(v: &Json, depth: usize) -> Json {
        match v {
            Json::Object(m) if depth < 6 => Json::Object(
                m.iter()
                    .map(|(k, v)| {
                        let v = if redact(k) { Json::String("***".into()) } else { walk(v, depth + 1) };
                        (k.clone(), v)
                    })
                    .collect(),
            ),
            Json::Array(a) if depth < 6 => {
                let mut out: Vec<Json> = a.iter().take(20).map(|x| walk(x, depth + 1)).collect();
                if a.len() > 20 {
                    out.push(Json::String(format!("… {} more", a.len() - 20)));
                }
                Json::Array(out)
            }
            Json::String(s) if s.chars().count() > 120 => {
                Json::String(format!("{}…", s.chars().take(120).collect::<String>()))
            }
            Json::Object(_) | Json::Array(_) => Json::String("…".into()),
            other => other.clone(),
        }
    }
    // A PATCH's path-addressed password: `{"path": "password", "value": …}`.
    let mut v = walk(body, 0);
    if let Some(ops) = v.get_mut("Operations").and_then(Json::as_array_mut) {
        for op in ops {
            let path = op.get("path").and_then(Json::as_str).is_some_and(redact);
            if path {
                if let Some(val) = op.get_mut("value") {
                    *val = Json::String("***".into());
                }
            }
        }
    }
    let s = v.to_string();
    if s.chars().count() > SUMMARY_MAX {
        format!("{}…", s.chars().take(SUMMARY_MAX).collect::<String>())
    } else {
        s
    }
}

/// The userName or displayName a body names, if any.
pub(crate) fn subject_of(body: &Json) -> Option<String> {
    let obj = body.as_object()?;
    obj.iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("userName") || k.eq_ignore_ascii_case("displayName"))
        .and_then(|(_, v)| v.as_str())
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn passwords_and_tokens_never_reach_the_summary() {
        let s = summarize(&json!({
            "userName": "ana@contoso.com", "password": "Hunter2!",
            "urn:ietf:params:scim:schemas:core:2.0:User:password": "x1",
            "urn:ietf:params:scim:schemas:core:2.0:User": {"password": "x2"},
            "Operations": [{"op": "replace", "path": "password", "value": "x3"}],
            "x_api_token": "t0k3n"
        }));
        for secret in ["Hunter2!", "x1", "x2", "x3", "t0k3n"] {
            assert!(!s.contains(secret), "{secret} leaked: {s}");
        }
        assert!(s.contains("ana@contoso.com"), "{s}");
    }

    #[test]
    fn summaries_stay_short() {
        let many: Vec<Json> = (0..1000).map(|i| json!({"value": format!("user-{i}")})).collect();
        let s = summarize(&json!({"members": many, "displayName": "x".repeat(500)}));
        assert!(s.chars().count() <= SUMMARY_MAX + 1, "{}", s.len());
        assert!(s.contains("980 more"), "{s}");
        assert_eq!(subject_of(&json!({"DisplayName": "Sales"})).as_deref(), Some("Sales"));
    }

    #[tokio::test]
    async fn a_full_queue_drops_and_counts_instead_of_waiting() {
        let (rec, _rx) = Recorder::new(1, Arc::new(enlist_core::testing::TickClock::default()));
        let r = |i: u64| ActivityRecord {
            id: format!("a{i}"),
            organization_id: OrganizationId::new("o"),
            at: chrono::DateTime::from_timestamp(1_800_000_000, 0).unwrap_or_default(),
            key_label: "Entra".into(),
            method: "POST".into(),
            route: "/Users".into(),
            resource_id: None,
            subject: None,
            status: 201,
            scim_type: None,
            detail: None,
            latency_ms: 1,
            request_id: "r".into(),
            summary: "{}".into(),
        };
        rec.record(r(1));
        rec.record(r(2));
        rec.record(r(3));
        assert_eq!(rec.dropped(), 2);
    }
}
