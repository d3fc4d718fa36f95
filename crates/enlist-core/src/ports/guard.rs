//! The deprovisioning guard's storage: its settings and state per
//! organization, the removals it counts, and the requests it held.

use super::RepoResult;
use crate::guard::{GuardState, HeldRemoval};
use crate::types::{OrganizationId, UserId};
use chrono::{DateTime, Utc};

/// The deprovisioning guard's rows.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
pub trait GuardRepo: Send {
    /// The organization's guard, its row locked until the transaction
    /// ends (created with the defaults when missing): every removal of the
    /// organization counts against it one at a time, whichever process
    /// runs it.
    fn lock(&mut self, org: &OrganizationId) -> RepoResult<GuardState>;
    /// The organization's guard (the defaults when it has no row).
    fn get(&mut self, org: &OrganizationId) -> RepoResult<GuardState>;
    /// Saves settings and state (the row exists or is created).
    fn save(&mut self, org: &OrganizationId, state: &GuardState) -> RepoResult<()>;
    /// Removals counted since `since` (exclusive).
    fn removals_since(&mut self, org: &OrganizationId, since: DateTime<Utc>) -> RepoResult<u64>;
    /// Counts one removal.
    fn record_removal(&mut self, org: &OrganizationId, user: &UserId, at: DateTime<Utc>) -> RepoResult<()>;
    /// Records a held request: a new row per person, or one more attempt
    /// (`last_at`, `attempts`, the latest removal and key) on theirs.
    fn hold(&mut self, held: &HeldRemoval) -> RepoResult<()>;
    /// The held requests, oldest first, at most `limit`.
    fn held(&mut self, org: &OrganizationId, limit: u64) -> RepoResult<Vec<HeldRemoval>>;
    /// Empties the held list; how many it held.
    fn clear_held(&mut self, org: &OrganizationId) -> RepoResult<u64>;
    /// Deletes counted removals older than `before` (past every window).
    fn prune(&mut self, before: DateTime<Utc>) -> RepoResult<u64>;
}
