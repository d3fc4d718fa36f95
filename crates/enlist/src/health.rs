//! `/readyz` and the gauges of `/metrics` for a process running Enlist:
//! the database answers with the schema this build expects, its pool, the
//! notification outbox, and how far each event consumer of this process
//! and each webhook endpoint is behind.

use enlist_actix::Gauge;
use enlist_core::ports::{EventFeed, OutboxQueue};
use enlist_diesel::Database;
use std::sync::{Arc, Mutex};

/// The [`enlist_actix::Health`] of a database-backed Enlist.
pub struct DatabaseHealth {
    /// The database.
    pub db: Database,
    /// Names of this process's event consumers, for their lag gauges.
    pub consumers: Arc<Mutex<Vec<String>>>,
    /// The services (webhook endpoints, whose lag is shown too).
    pub services: Option<enlist_core::Services>,
    /// The activity recorder, whose dropped records are counted.
    pub activity: Option<Arc<enlist_jobs::activity::Recorder>>,
}

#[async_trait::async_trait]
impl enlist_actix::Health for DatabaseHealth {
    async fn check(&self) -> Result<(), String> {
        self.db.ping().await.map_err(|e| format!("the database does not answer: {e}"))?;
        let db = self.db.clone();
        let pending = tokio::task::spawn_blocking(move || db.pending_migrations())
            .await
            .map_err(|e| format!("the schema check stopped: {e}"))?
            .map_err(|e| format!("cannot read the schema version: {e}"))?;
        match pending.first() {
            None => Ok(()),
            Some(first) => Err(format!(
                "{} migration(s) not applied yet (first: {first}); run `enlist migrate` (or start one `enlist serve`, \
                 which migrates)",
                pending.len()
            )),
        }
    }
    async fn gauges(&self) -> Vec<Gauge> {
        let (open, idle) = self.db.pool_state();
        let (pending, set_aside) = match self.db.stats().await {
            Ok(s) => (s.pending as f64, s.set_aside as f64),
            Err(_) => (f64::NAN, f64::NAN),
        };
        let mut out = vec![
            Gauge::new("enlist_db_pool_connections", "Open database connections.", f64::from(open)),
            Gauge::new("enlist_db_pool_idle", "Idle database connections.", f64::from(idle)),
            Gauge::new("enlist_outbox_depth", "Notifications waiting to be sent.", pending),
            Gauge::new(
                "enlist_deprovisioning_held_organizations",
                "Organizations whose deprovisioning guard holds removals until an Admin decides \
                 (held requests are answered 429: enlist_http_requests_total{status=\"429\"}).",
                self.db.held_guards().await.map_or(f64::NAN, |n| n as f64),
            ),
            Gauge::new(
                "enlist_outbox_set_aside",
                "Notifications set aside as undeliverable (see `enlist outbox`).",
                set_aside,
            ),
        ];
        if let Some(a) = &self.activity {
            let help = "Activity records dropped (provisioning was not slowed): the queue was full \
                        (reason=queue_full) or their organization spent its budget (reason=org_budget).";
            for (reason, n) in [("queue_full", a.dropped_full()), ("org_budget", a.dropped_over_budget())] {
                out.push(Gauge {
                    name: "enlist_activity_dropped",
                    help,
                    label: Some(("reason", reason.to_owned())),
                    value: n as f64,
                });
            }
            out.push(Gauge::new(
                "enlist_activity_queued_bytes",
                "Bytes of activity records waiting to be written.",
                a.queued_bytes() as f64,
            ));
        }
        let mut names = self.consumers.lock().unwrap_or_else(|p| p.into_inner()).clone();
        if let Some(s) = &self.services {
            if let Ok(hooks) = s.webhooks.enabled().await {
                names.extend(hooks.iter().map(|w| w.id.consumer_name()));
            }
        }
        for name in names {
            let lag = self.db.lag(&name).await.map(|n| n as f64).unwrap_or(f64::NAN);
            out.push(Gauge {
                name: "enlist_event_consumer_lag",
                help: "Change events a consumer has not yet handled.",
                label: Some(("consumer", name)),
                value: lag,
            });
        }
        out
    }
}
