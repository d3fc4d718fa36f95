//! The work a process running Enlist does besides answering requests, each
//! an `enlist_jobs::Job` on one runner: sending notification mail,
//! delivering webhooks, writing provisioning activity, pruning what has
//! outlived its retention, and running the host's event consumers. Each
//! runs until [`Background::stop`].

use crate::Enlist;
use enlist_core::consumer::{Consumer, EventHandler};
use enlist_jobs::{ConsumerJob, Job, Jobs, Next};
use std::sync::Arc;
use std::time::Duration;

/// Running background jobs; stop them before the process exits.
pub struct Background {
    jobs: Jobs,
}

impl Background {
    /// Asks every job to stop and waits for them: a notification or an
    /// event being handled finishes first, and queued activity is written.
    pub async fn stop(self) {
        self.jobs.stop().await;
    }
}

/// A running event consumer; see [`Enlist::subscribe`].
pub struct Subscription {
    inner: Background,
}

impl Subscription {
    /// Stops after the event being handled.
    pub async fn stop(self) {
        self.inner.stop().await;
    }
}

/// Hourly: deletes change events, activity, sent mail, used or expired
/// console links and sessions, and removals the deprovisioning guard no
/// longer counts, past their retention. Each failure is
/// logged and tried again the next hour.
struct Pruning {
    db: enlist_diesel::Database,
    services: enlist_core::Services,
    clock: Arc<dyn enlist_core::ports::Clock>,
    events_keep_days: u32,
    activity_keep_days: u32,
}

impl Pruning {
    fn log(what: &str, outcome: Result<u64, enlist_core::Error>) {
        match outcome {
            Ok(n) if n > 0 => tracing::info!(deleted = n, "pruned {what}"),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "could not prune {what}; will try again in an hour"),
        }
    }
}

#[async_trait::async_trait]
impl Job for Pruning {
    fn name(&self) -> String {
        "pruning".into()
    }
    async fn round(&self) -> Next {
        use enlist_core::ports::{ActivityLog, OutboxQueue};
        let days = |d: u32| self.clock.now() - chrono::Duration::days(i64::from(d));
        Self::log("change events", self.db.prune_events(days(self.events_keep_days)).await);
        Self::log("provisioning activity", ActivityLog::prune(&self.db, days(self.activity_keep_days)).await);
        let sent = days(u32::try_from(enlist_mail::KEEP_SENT_DAYS).unwrap_or(30));
        Self::log("sent notifications", OutboxQueue::prune(&self.db, sent).await);
        Self::log("used or expired console links and sessions", self.services.console.prune().await);
        Self::log("removals past every deprovisioning guard window", self.services.guard.prune().await);
        Next::After(Duration::from_secs(3600))
    }
}

impl Enlist {
    /// Starts the mail worker (when a mailer was given), webhook delivery
    /// to every registered endpoint (feature `webhooks`), the writer of provisioning activity,
    /// and the hourly pruning of change events, activity, sent mail and
    /// console sessions past their retention, on the current tokio runtime.
    pub fn start_background(&self) -> Background {
        let mut jobs = Jobs::new();
        match &self.mailer {
            Some(mailer) => jobs.spawn(Arc::new(enlist_mail::Worker {
                queue: Arc::new(self.db.clone()),
                mailer: mailer.clone(),
                clock: self.clock.clone(),
                batch: 50,
                idle: Duration::from_secs(5),
                rate: Arc::new(enlist_mail::OrgRate::new(self.mail_rate.0, self.mail_rate.1)),
            })),
            None => tracing::warn!(
                "mail is not configured: notifications stay queued in the outbox until it is \
                 (enlist serve: --smtp-url or ENLIST_SMTP_URL; a host: Builder::mailer)"
            ),
        }
        #[cfg(feature = "webhooks")]
        {
            let mut dispatcher = enlist_webhooks::Dispatcher::new(
                self.services.clone(),
                Arc::new(self.db.clone()),
                self.clock.clone(),
                self.ids.clone(),
            );
            dispatcher.lease = self.webhook_lease;
            jobs.spawn(Arc::new(dispatcher));
        }
        if let Some(queue) = self.activity_rx.lock().ok().and_then(|mut r| r.take()) {
            jobs.spawn(Arc::new(enlist_jobs::activity::ActivityWriter::new(queue, Arc::new(self.db.clone()))));
        }
        jobs.spawn(Arc::new(Pruning {
            db: self.db.clone(),
            services: self.services.clone(),
            clock: self.clock.clone(),
            events_keep_days: self.events_keep_days,
            activity_keep_days: self.activity_keep_days,
        }));
        Background { jobs }
    }

    /// Delivers every organization's change events to `handler`, in order
    /// per organization and at least once, from a position stored under
    /// `name` (a new name starts from the oldest kept event). Several
    /// processes may subscribe under one name: each organization's events
    /// go to one of them at a time. A failing event is retried with backoff
    /// and holds back only its own organization. `/metrics` shows the lag.
    pub fn subscribe(&self, name: &str, handler: Arc<dyn EventHandler>) -> Subscription {
        if let Ok(mut names) = self.consumers.lock() {
            if !names.iter().any(|n| n == name) {
                names.push(name.to_owned());
            }
        }
        let consumer = Consumer {
            name: name.to_owned(),
            feed: Arc::new(self.db.clone()),
            handler,
            clock: self.clock.clone(),
            ids: self.ids.clone(),
            batch: 100,
            scope: None,
            lease: Duration::from_secs(60),
        };
        let mut jobs = Jobs::new();
        jobs.spawn(Arc::new(ConsumerJob { consumer, idle: Duration::from_millis(500) }));
        Subscription { inner: Background { jobs } }
    }
}
