//! An event consumer as a job: each round claims one organization's next
//! events and hands them to the handler ([`Consumer::run_once`]); an idle
//! or failed round waits. Subscriptions and webhook endpoints run this.

use crate::{Job, Next};
use enlist_core::consumer::{Consumer, Round};
use std::time::Duration;

/// A [`Consumer`] run as a [`Job`].
pub struct ConsumerJob {
    /// The consumer.
    pub consumer: Consumer,
    /// The pause after a round that found nothing or failed.
    pub idle: Duration,
}

impl ConsumerJob {
    /// One round, logged; the round itself for callers that act on it
    /// (a webhook endpoint that gives up after failing too long).
    pub async fn run_round(&self) -> Option<Round> {
        match self.consumer.run_once().await {
            Ok(round) => {
                if round.lost_claim {
                    tracing::warn!(consumer = %self.consumer.name,
                        "a claim expired while its events were handled; they may be delivered again");
                }
                Some(round)
            }
            Err(e) => {
                tracing::warn!(consumer = %self.consumer.name, error = %e, "event feed unavailable; retrying");
                None
            }
        }
    }

    /// When the next round is due after `round`: at once after a claim
    /// (a failed organization waits for its retry time in the feed, not
    /// here, so the others go on), else after the idle pause.
    pub fn next(&self, round: Option<Round>) -> Next {
        match round {
            Some(r) if r.claimed => Next::Now,
            _ => Next::After(self.idle),
        }
    }
}

#[async_trait::async_trait]
impl Job for ConsumerJob {
    fn name(&self) -> String {
        format!("consumer {}", self.consumer.name)
    }
    async fn round(&self) -> Next {
        let round = self.run_round().await;
        self.next(round)
    }
}
