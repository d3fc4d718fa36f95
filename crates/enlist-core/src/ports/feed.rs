//! Event consumers' durable positions over the change events (the
//! webhook endpoints and the host's subscriptions), and where each stands.

use crate::error::Error;
use crate::event::Event;
use crate::types::OrganizationId;
use chrono::{DateTime, Utc};

/// Events claimed for one consumer in one organization.
#[derive(Debug, Clone, PartialEq)]
pub struct ClaimedEvents {
    /// The organization.
    pub organization_id: OrganizationId,
    /// Proves the claim when acknowledging: a claim that expired and was
    /// taken over cannot move the position any more.
    pub token: String,
    /// The events after the consumer's position, in `seq` order.
    pub events: Vec<Event>,
    /// Failed attempts at the first of them so far.
    pub attempts: u32,
}

/// Where one consumer stands in one organization's events: what the
/// console's Webhooks page shows per endpoint.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Standing {
    /// The last event handled (0: none yet).
    pub delivered: u64,
    /// The organization's newest event.
    pub newest: u64,
    /// Failed attempts at the next event so far.
    pub attempts: u32,
    /// When the next attempt is due, while failing.
    pub retry_at: Option<DateTime<Utc>>,
    /// Since when it has been failing without a success.
    pub failing_since: Option<DateTime<Utc>>,
    /// The latest failures, newest first (at most 20 are kept).
    pub failures: Vec<ConsumerFailure>,
}

impl Standing {
    /// Events not yet handled.
    pub fn lag(&self) -> u64 {
        self.newest.saturating_sub(self.delivered)
    }
}

/// One failed delivery: when, of which event, and what went wrong (for a
/// webhook: what the receiver answered).
#[derive(Debug, Clone, PartialEq)]
pub struct ConsumerFailure {
    /// When it failed.
    pub at: DateTime<Utc>,
    /// The event it failed at.
    pub seq: u64,
    /// What went wrong.
    pub error: String,
}

/// How many failures per consumer and organization [`EventFeed::retry_later`]
/// keeps for [`Standing::failures`].
pub const KEPT_FAILURES: usize = 20;

/// Durable consumer positions over the change events: each named consumer
/// reads each organization's events in order, from where it acknowledged.
/// Several processes may run one consumer: a claim (per consumer and
/// organization, for a lease) hands an organization's events to one of them
/// at a time, so no event goes to two handlers at once and order holds.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait::async_trait]
pub trait EventFeed: Send + Sync {
    /// Claims, for `consumer`, one organization with events after its
    /// position that no one else holds and that is not waiting for a retry;
    /// up to `limit` of them, leased until `lease_until`. `None` when there
    /// is nothing to do.
    /// `scope` limits the claim to one organization (an organization's
    /// webhook); `None` considers every organization.
    async fn claim(
        &self,
        consumer: &str,
        scope: Option<OrganizationId>,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        token: &str,
        limit: u32,
    ) -> Result<Option<ClaimedEvents>, Error>;
    /// Whether [`EventFeed::claim`] would find anything at `now`, read
    /// without writing: an idle consumer polls with this, so it costs the
    /// database (and SQLite's one writer) no write.
    async fn pending(&self, consumer: &str, scope: Option<OrganizationId>, now: DateTime<Utc>) -> Result<bool, Error>;
    /// Extends a held claim to `lease_until` (handlers that take long keep
    /// their claim; a crashed process's claim runs out soon); whether the
    /// claim was still held.
    async fn extend(
        &self,
        consumer: &str,
        org: &OrganizationId,
        token: &str,
        lease_until: DateTime<Utc>,
    ) -> Result<bool, Error>;
    /// Moves the position to `seq` (forward only) and ends the claim;
    /// whether the claim was still held.
    async fn ack(&self, consumer: &str, org: &OrganizationId, token: &str, seq: u64) -> Result<bool, Error>;
    /// Ends the claim after a handler failed at `now`: the position moves
    /// to `handled` (the last event handled before the failure, if any),
    /// the failed event is offered again at `retry_at`, and the error is
    /// kept for the operator. The first failure since the last success is
    /// remembered ([`EventFeed::failing_since`]).
    #[allow(clippy::too_many_arguments)]
    async fn retry_later(
        &self,
        consumer: &str,
        org: &OrganizationId,
        token: &str,
        handled: Option<u64>,
        now: DateTime<Utc>,
        retry_at: DateTime<Utc>,
        error: &str,
    ) -> Result<(), Error>;
    /// Since when `consumer` has been failing without a success, in any
    /// organization, with the last error; `None` when it is not failing.
    async fn failing_since(&self, consumer: &str) -> Result<Option<(DateTime<Utc>, String)>, Error>;
    /// Events not yet acknowledged by `consumer`, over all organizations.
    async fn lag(&self, consumer: &str) -> Result<u64, Error>;
    /// Where `consumer` stands in `org`'s events, with its latest failures.
    async fn standing(&self, consumer: &str, org: &OrganizationId) -> Result<Standing, Error>;
    /// Makes `consumer`'s next event in `org` the one numbered `from`
    /// (at least 1), backwards or forwards, at once: any claim ends (its
    /// holder's acknowledgement no longer moves the position) and a
    /// pending retry is dropped. A replay.
    async fn rewind(&self, consumer: &str, org: &OrganizationId, from: u64) -> Result<(), Error>;
}
