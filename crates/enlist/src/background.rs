//! The work a process running Enlist does besides answering requests:
//! sending notification mail, pruning old change events, and running the
//! host's event consumers. Each runs until [`Background::stop`].

use crate::Enlist;
use enlist_core::consumer::{Consumer, EventHandler};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Running background tasks; stop them before the process exits.
pub struct Background {
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl Background {
    /// Asks every task to stop and waits for them: a notification or an
    /// event being handled finishes first.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        for t in self.tasks {
            let _ = t.await;
        }
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

/// Sleeps `d` unless told to stop; whether to go on.
async fn pause(stop: &mut watch::Receiver<bool>, d: Duration) -> bool {
    if *stop.borrow() {
        return false;
    }
    tokio::select! {
        _ = tokio::time::sleep(d) => !*stop.borrow(),
        _ = stop.changed() => false,
    }
}

impl Enlist {
    /// Starts the mail worker (when a mailer was given), webhook delivery
    /// to every registered endpoint, the writer of provisioning activity,
    /// and the hourly pruning of change events and activity older than
    /// their retention, on the current tokio runtime.
    pub fn start_background(&self) -> Background {
        let (stop, rx) = watch::channel(false);
        let mut tasks = Vec::new();
        match &self.mailer {
            Some(mailer) => {
                let worker = enlist_mail::Worker {
                    queue: Arc::new(self.db.clone()),
                    mailer: mailer.clone(),
                    clock: self.clock.clone(),
                    batch: 50,
                    idle: Duration::from_secs(5),
                    rate: Arc::new(enlist_mail::OrgRate::new(self.mail_rate.0, self.mail_rate.1)),
                };
                tasks.push(tokio::spawn(worker.run(rx.clone())));
            }
            None => tracing::warn!(
                "mail is not configured: notifications stay queued in the outbox until it is \
                 (enlist serve: --smtp-url or ENLIST_SMTP_URL; a host: Builder::mailer)"
            ),
        }
        let dispatcher = enlist_webhooks::Dispatcher {
            services: self.services.clone(),
            feed: Arc::new(self.db.clone()),
            clock: self.clock.clone(),
            ids: self.ids.clone(),
            refresh: Duration::from_secs(5),
            idle: Duration::from_millis(500),
            give_up_after: enlist_webhooks::GIVE_UP_AFTER,
            lease: self.webhook_lease,
        };
        tasks.push(tokio::spawn(dispatcher.run(rx.clone())));
        if let Some(rx_activity) = self.activity_rx.lock().ok().and_then(|mut r| r.take()) {
            tasks.push(tokio::spawn(enlist_actix::write_batches(rx_activity, Arc::new(self.db.clone()), rx.clone())));
        }
        let (db, clock, keep) = (self.db.clone(), self.clock.clone(), self.events_keep_days);
        let activity_keep = self.activity_keep_days;
        let console = self.services.console.clone();
        let mut prune_stop = rx;
        tasks.push(tokio::spawn(async move {
            loop {
                let before = clock.now() - chrono::Duration::days(i64::from(keep));
                match db.prune_events(before).await {
                    Ok(n) if n > 0 => tracing::info!(deleted = n, keep_days = keep, "pruned change events"),
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "could not prune change events; will try again in an hour"),
                }
                let before = clock.now() - chrono::Duration::days(i64::from(activity_keep));
                match enlist_core::ports::ActivityLog::prune(&db, before).await {
                    Ok(n) if n > 0 => {
                        tracing::info!(deleted = n, keep_days = activity_keep, "pruned provisioning activity")
                    }
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "could not prune activity; will try again in an hour"),
                }
                match console.prune().await {
                    Ok(n) if n > 0 => tracing::info!(deleted = n, "pruned used or expired console links and sessions"),
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "could not prune console sessions; will try again in an hour"),
                }
                if !pause(&mut prune_stop, Duration::from_secs(3600)).await {
                    return;
                }
            }
        }));
        Background { stop, tasks }
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
        let (stop, mut rx) = watch::channel(false);
        let name = name.to_owned();
        let task = tokio::spawn(async move {
            loop {
                let idle = match consumer.run_once().await {
                    Ok(round) => {
                        if round.lost_claim {
                            tracing::warn!(consumer = %name, "a claim expired while its events were handled; they may be delivered again");
                        }
                        !round.claimed
                    }
                    Err(e) => {
                        tracing::warn!(consumer = %name, error = %e, "event feed unavailable; retrying");
                        true
                    }
                };
                let wait = if idle { Duration::from_millis(500) } else { Duration::ZERO };
                if !pause(&mut rx, wait).await {
                    return;
                }
            }
        });
        Subscription { inner: Background { stop, tasks: vec![task] } }
    }
}
