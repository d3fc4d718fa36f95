//! One shape for Enlist's background work. A [`Job`] does one round of its
//! work and says when the next round is due ([`Next`]); [`Jobs`] runs each
//! job on the current tokio runtime until it is stopped, and stops them all
//! together, each after the round it is in. Mail, webhook endpoints, event
//! subscriptions, the activity writer and pruning are all jobs; none writes
//! its own loop, sleep or stop signal.

#![warn(missing_docs)]

pub mod activity;
mod consumer;

pub use consumer::ConsumerJob;

use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// When a job's next round is due.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// At once: the round found work, there may be more.
    Now,
    /// After this pause: the round found nothing, or must wait.
    After(Duration),
}

/// Background work, one round at a time.
#[async_trait::async_trait]
pub trait Job: Send + Sync + 'static {
    /// What the job is, for logs.
    fn name(&self) -> String;
    /// Does one round of work. Failures are the job's to log and retry:
    /// the round says when to try again.
    async fn round(&self) -> Next;
    /// Called once when the job is stopped, after its last round (a job
    /// that runs jobs of its own stops them here).
    async fn stopped(&self) {}
}

/// The stop signal every job of one [`Jobs`] shares.
#[derive(Clone)]
pub struct Stop(watch::Receiver<bool>);

impl Stop {
    /// Whether stopping was asked for.
    pub fn is_stopped(&self) -> bool {
        *self.0.borrow()
    }
    /// Sleeps `d`, or less when stopping is asked for; whether to go on.
    pub async fn pause(&mut self, d: Duration) -> bool {
        if self.is_stopped() {
            return false;
        }
        if d.is_zero() {
            return true;
        }
        tokio::select! {
            _ = tokio::time::sleep(d) => !self.is_stopped(),
            _ = self.0.changed() => false,
        }
    }
}

/// Runs `job` round after round until `stop`.
pub async fn run(job: Arc<dyn Job>, mut stop: Stop) {
    loop {
        let wait = match job.round().await {
            Next::Now => Duration::ZERO,
            Next::After(d) => d,
        };
        if !stop.pause(wait).await {
            break;
        }
    }
    job.stopped().await;
    tracing::debug!(job = %job.name(), "stopped");
}

/// Running jobs, stopped together.
pub struct Jobs {
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl Default for Jobs {
    fn default() -> Self {
        Self::new()
    }
}

impl Jobs {
    /// No jobs yet.
    pub fn new() -> Self {
        Self { stop: watch::channel(false).0, tasks: Vec::new() }
    }

    /// Starts `job` on the current tokio runtime.
    pub fn spawn(&mut self, job: Arc<dyn Job>) {
        let stop = Stop(self.stop.subscribe());
        self.tasks.push(tokio::spawn(run(job, stop)));
    }

    /// How many are running.
    pub fn len(&self) -> usize {
        self.tasks.len()
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.tasks.is_empty()
    }

    /// Asks every job to stop and waits for each to finish its round.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        for t in self.tasks {
            let _ = t.await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// Busy for `busy` rounds, then idle; counts rounds and stops.
    struct Counter {
        rounds: AtomicUsize,
        busy: usize,
        stopped: AtomicUsize,
    }

    #[async_trait::async_trait]
    impl Job for Counter {
        fn name(&self) -> String {
            "counter".into()
        }
        async fn round(&self) -> Next {
            let n = self.rounds.fetch_add(1, Ordering::SeqCst) + 1;
            if n <= self.busy {
                Next::Now
            } else {
                Next::After(Duration::from_secs(3600))
            }
        }
        async fn stopped(&self) {
            self.stopped.fetch_add(1, Ordering::SeqCst);
        }
    }

    #[tokio::test]
    async fn a_busy_job_runs_again_at_once_an_idle_one_waits_and_stop_ends_the_wait() {
        let job = Arc::new(Counter { rounds: AtomicUsize::new(0), busy: 3, stopped: AtomicUsize::new(0) });
        let mut jobs = Jobs::new();
        jobs.spawn(job.clone());
        for _ in 0..100 {
            if job.rounds.load(Ordering::SeqCst) >= 4 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        // Three busy rounds back to back, then the fourth waits an hour…
        assert_eq!(job.rounds.load(Ordering::SeqCst), 4);
        // …until stopped, which ends the wait at once.
        tokio::time::timeout(Duration::from_secs(5), jobs.stop()).await.expect("stopped within its pause");
        assert_eq!(job.stopped.load(Ordering::SeqCst), 1, "told once that it stopped");
        assert_eq!(job.rounds.load(Ordering::SeqCst), 4, "no round after stop");
    }
}
