//! Reading an organization's change events back: replay for
//! reconciliation, and what event consumers read from.

use super::*;

/// Most events one call returns.
pub const MAX_EVENTS_PER_READ: u64 = 1000;

/// The event use cases.
#[derive(Clone)]
pub struct Events {
    deps: Deps,
}

impl Events {
    pub(crate) fn new(deps: Deps) -> Self {
        Self { deps }
    }

    /// The caller's organization's events after `after` (0 for the first),
    /// oldest first, at most `limit` (capped at [`MAX_EVENTS_PER_READ`]).
    /// Only the operator or an Admin: events name every person.
    ///
    /// # Errors
    /// `Forbidden` for API keys and non-Admins.
    pub async fn list(&self, caller: &Caller, after: u64, limit: u64) -> Result<Vec<Event>> {
        let caller = caller.clone();
        let limit = limit.clamp(1, MAX_EVENTS_PER_READ);
        transact(&*self.deps.store, Mode::Read, move |tx| {
            require_admin(tx, &caller, "read the change events")?;
            Ok(tx.events().list(&caller.organization_id, after, limit)?)
        })
        .await
    }
}
