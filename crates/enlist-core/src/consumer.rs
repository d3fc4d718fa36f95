//! In-process event consumers: a host's handler receives each
//! organization's change events in order, at least once, from a position
//! kept in the database ([`EventFeed`]). A failing handler is retried with
//! backoff and nothing is skipped; it delays only its own consumer. The
//! loop that calls [`Consumer::run_once`] (and sleeps) belongs to the
//! runtime that hosts it: the core has none.

use crate::error::Error;
use crate::event::Event;
use crate::ports::{Clock, EventFeed, IdGenerator};
use std::sync::Arc;
use std::time::Duration;

/// Why a handler could not take an event; it will be offered again.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct HandlerError(pub String);

/// What a host runs for each event.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait::async_trait]
pub trait EventHandler: Send + Sync {
    /// Handles one event. Deliveries are at least once: an event may come
    /// again after a crash or a lost claim, so deduplicate on `event.id`.
    ///
    /// # Errors
    /// [`HandlerError`]: the event is offered again after a backoff, and no
    /// later event of its organization is delivered before it.
    async fn handle(&self, event: &Event) -> Result<(), HandlerError>;
}

/// Delay before retry `attempts` (1-based): 1 s doubling, at most 10 min.
pub fn retry_delay(attempts: u32) -> Duration {
    Duration::from_secs((1u64 << attempts.saturating_sub(1).min(20)).min(600))
}

/// One named consumer over every organization's events.
pub struct Consumer {
    /// The consumer's name: its positions are stored under it. Renaming
    /// starts from each organization's first kept event.
    pub name: String,
    /// Where positions and claims live.
    pub feed: Arc<dyn EventFeed>,
    /// The host's handler.
    pub handler: Arc<dyn EventHandler>,
    /// Time.
    pub clock: Arc<dyn Clock>,
    /// Claim tokens.
    pub ids: Arc<dyn IdGenerator>,
    /// Only this organization's events (`None`: every organization's).
    pub scope: Option<crate::types::OrganizationId>,
    /// Events per claim.
    pub batch: u32,
    /// How long a claim is held without renewal: longer than one event's
    /// handling takes. The claim is renewed while a batch is handled, so
    /// this bounds how long a crashed process holds its organizations.
    pub lease: Duration,
}

/// What one round did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Round {
    /// Events handled and acknowledged.
    pub delivered: usize,
    /// Whether a handler failed (its organization waits for a retry).
    pub failed: bool,
    /// Whether a claim was found at all (false: nothing to do, sleep).
    pub claimed: bool,
    /// Whether the claim expired while the handler ran: another process
    /// may deliver those events again (at least once). Log it, and lengthen
    /// the lease or shorten the batch.
    pub lost_claim: bool,
}

impl Consumer {
    /// Claims one organization's next events, hands them to the handler in
    /// order, and acknowledges up to the last one handled.
    ///
    /// # Errors
    /// When the feed cannot be read or written (the claim then expires and
    /// the events are offered again).
    pub async fn run_once(&self) -> Result<Round, Error> {
        let now = self.clock.now();
        let lease = chrono::Duration::from_std(self.lease).unwrap_or(chrono::Duration::seconds(60));
        let mut lease_until = now + lease;
        // Most rounds find nothing: ask with a read before claiming (a write).
        if !self.feed.pending(&self.name, self.scope.clone(), now).await? {
            return Ok(Round::default());
        }
        let token = self.ids.id();
        let scope = self.scope.clone();
        let Some(claim) = self.feed.claim(&self.name, scope, now, lease_until, &token, self.batch.max(1)).await? else {
            return Ok(Round::default());
        };
        let mut round = Round { claimed: true, ..Round::default() };
        let mut last_handled = None;
        let mut failure = None;
        for event in &claim.events {
            // Renew when half the lease is gone, so only a live process
            // holds the organization.
            let now = self.clock.now();
            if lease_until - now < lease / 2 {
                lease_until = now + lease;
                if !self.feed.extend(&self.name, &claim.organization_id, &claim.token, lease_until).await? {
                    round.lost_claim = true;
                    return Ok(round);
                }
            }
            match self.handler.handle(event).await {
                Ok(()) => {
                    last_handled = Some(event.seq);
                    round.delivered += 1;
                }
                Err(e) => {
                    failure = Some((event.seq, e));
                    break;
                }
            }
        }
        match failure {
            None => {
                if let Some(seq) = last_handled {
                    round.lost_claim = !self.feed.ack(&self.name, &claim.organization_id, &claim.token, seq).await?;
                }
            }
            Some((seq, e)) => {
                round.failed = true;
                // Attempts count from this event's first failure.
                let attempts = if last_handled.is_some() { 1 } else { claim.attempts + 1 };
                let now = self.clock.now();
                let retry_at = now + chrono::Duration::from_std(retry_delay(attempts)).unwrap_or_default();
                let error = format!("event {seq}: {e}");
                let org = &claim.organization_id;
                self.feed.retry_later(&self.name, org, &claim.token, last_handled, now, retry_at, &error).await?;
            }
        }
        Ok(round)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{EventData, EventKind};
    use crate::ports::{ClaimedEvents, MockEventFeed};
    use crate::testing::{SeqIds, TickClock};
    use crate::types::{ApiKeyId, OrganizationId};
    use std::sync::Mutex;

    fn ev(seq: u64) -> Event {
        Event {
            id: crate::types::EventId::new(format!("e{seq}")),
            organization_id: OrganizationId::new("o1"),
            seq,
            at: TickClock::default().now(),
            actor: "Entra".into(),
            kind: EventKind::ApiKeyCreated,
            data: EventData::ApiKey { id: ApiKeyId::new("k"), label: "x".into() },
        }
    }

    struct Recorder {
        seen: Mutex<Vec<u64>>,
        fail_at: Option<u64>,
    }
    #[async_trait::async_trait]
    impl EventHandler for Recorder {
        async fn handle(&self, event: &Event) -> Result<(), HandlerError> {
            if Some(event.seq) == self.fail_at {
                return Err(HandlerError("host database down".into()));
            }
            self.seen.lock().unwrap().push(event.seq);
            Ok(())
        }
    }

    fn consumer(feed: MockEventFeed, handler: Arc<Recorder>) -> Consumer {
        Consumer {
            name: "sessions".into(),
            feed: Arc::new(feed),
            handler,
            clock: Arc::new(TickClock::default()),
            ids: Arc::new(SeqIds::default()),
            scope: None,
            batch: 10,
            lease: Duration::from_secs(60),
        }
    }

    fn claimed(seqs: &[u64], attempts: u32) -> Option<ClaimedEvents> {
        Some(ClaimedEvents {
            organization_id: OrganizationId::new("o1"),
            token: "t".into(),
            events: seqs.iter().map(|s| ev(*s)).collect(),
            attempts,
        })
    }

    #[test]
    fn handled_events_are_acknowledged_up_to_the_last() {
        let mut feed = MockEventFeed::new();
        feed.expect_pending().returning(|_, _, _| Ok(true));
        feed.expect_claim().times(1).returning(|_, _, _, _, _, _| Ok(claimed(&[4, 5, 6], 0)));
        feed.expect_ack()
            .withf(|c, o, t, seq| c == "sessions" && o.as_str() == "o1" && t == "t" && *seq == 6)
            .times(1)
            .returning(|_, _, _, _| Ok(true));
        feed.expect_retry_later().never();
        let h = Arc::new(Recorder { seen: Mutex::new(vec![]), fail_at: None });
        let round = futures_executor::block_on(consumer(feed, h.clone()).run_once()).unwrap();
        assert_eq!(round, Round { delivered: 3, failed: false, claimed: true, lost_claim: false });
        assert_eq!(*h.seen.lock().unwrap(), [4, 5, 6]);
    }

    #[test]
    fn a_failing_handler_stops_its_organization_and_nothing_after_it_is_delivered() {
        let mut feed = MockEventFeed::new();
        feed.expect_pending().returning(|_, _, _| Ok(true));
        feed.expect_claim().times(1).returning(|_, _, _, _, _, _| Ok(claimed(&[4, 5, 6], 0)));
        // The position moves to 4; 5 waits for a retry; 6 is not delivered.
        feed.expect_ack().never();
        feed.expect_retry_later()
            .withf(|_, _, _, handled, _, _, err| {
                *handled == Some(4) && err.contains("event 5") && err.contains("host database down")
            })
            .times(1)
            .returning(|_, _, _, _, _, _, _| Ok(()));
        let h = Arc::new(Recorder { seen: Mutex::new(vec![]), fail_at: Some(5) });
        let round = futures_executor::block_on(consumer(feed, h.clone()).run_once()).unwrap();
        assert_eq!(round, Round { delivered: 1, failed: true, claimed: true, lost_claim: false });
        assert_eq!(*h.seen.lock().unwrap(), [4]);
    }

    #[test]
    fn nothing_pending_is_an_idle_round_without_a_claim_and_retries_back_off() {
        // Nothing pending: no claim, so an idle consumer never writes.
        let mut feed = MockEventFeed::new();
        feed.expect_pending().times(1).returning(|_, _, _| Ok(false));
        feed.expect_claim().never();
        let h = Arc::new(Recorder { seen: Mutex::new(vec![]), fail_at: None });
        assert_eq!(futures_executor::block_on(consumer(feed, h.clone()).run_once()).unwrap(), Round::default());
        // Pending, but another process claimed first: idle too.
        let mut feed = MockEventFeed::new();
        feed.expect_pending().returning(|_, _, _| Ok(true));
        feed.expect_claim().times(1).returning(|_, _, _, _, _, _| Ok(None));
        assert_eq!(futures_executor::block_on(consumer(feed, h).run_once()).unwrap(), Round::default());
        assert_eq!(retry_delay(1), Duration::from_secs(1));
        assert_eq!(retry_delay(4), Duration::from_secs(8));
        assert_eq!(retry_delay(30), Duration::from_secs(600));
    }
}
