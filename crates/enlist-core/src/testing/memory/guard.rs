//! The in-memory store's deprovisioning guard: settings and state per
//! organization, counted removals and held requests, as the databases keep
//! them (units of work run one at a time here, so `lock` only reads).

use super::Memory;
use crate::guard::{GuardState, HeldRemoval};
use crate::ports::*;
use crate::types::*;
use chrono::{DateTime, Utc};

impl GuardRepo for Memory {
    fn lock(&mut self, org: &OrganizationId) -> RepoResult<GuardState> {
        GuardRepo::get(self, org)
    }
    fn get(&mut self, org: &OrganizationId) -> RepoResult<GuardState> {
        Ok(self.guards.iter().find(|(o, _)| o == org).map(|(_, g)| g.clone()).unwrap_or_default())
    }
    fn save(&mut self, org: &OrganizationId, state: &GuardState) -> RepoResult<()> {
        match self.guards.iter_mut().find(|(o, _)| o == org) {
            Some((_, g)) => *g = state.clone(),
            None => self.guards.push((org.clone(), state.clone())),
        }
        Ok(())
    }
    fn removals_since(&mut self, org: &OrganizationId, since: DateTime<Utc>) -> RepoResult<u64> {
        Ok(self.removals.iter().filter(|(o, _, at)| o == org && *at > since).count() as u64)
    }
    fn record_removal(&mut self, org: &OrganizationId, user: &UserId, at: DateTime<Utc>) -> RepoResult<()> {
        self.removals.push((org.clone(), user.clone(), at));
        Ok(())
    }
    fn hold(&mut self, held: &HeldRemoval) -> RepoResult<()> {
        let same = |h: &&mut HeldRemoval| h.organization_id == held.organization_id && h.user_id == held.user_id;
        match self.held.iter_mut().find(|h| same(h)) {
            Some(h) => {
                h.last_at = held.last_at;
                h.attempts += 1;
                h.removal = held.removal;
                h.key_label = held.key_label.clone();
            }
            None => self.held.push(held.clone()),
        }
        Ok(())
    }
    fn held(&mut self, org: &OrganizationId, limit: u64) -> RepoResult<Vec<HeldRemoval>> {
        let mut out: Vec<HeldRemoval> = self.held.iter().filter(|h| &h.organization_id == org).cloned().collect();
        out.sort_by(|a, b| (a.first_at, a.user_id.as_str()).cmp(&(b.first_at, b.user_id.as_str())));
        out.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
        Ok(out)
    }
    fn clear_held(&mut self, org: &OrganizationId) -> RepoResult<u64> {
        let before = self.held.len();
        self.held.retain(|h| &h.organization_id != org);
        Ok((before - self.held.len()) as u64)
    }
    fn prune(&mut self, before: DateTime<Utc>) -> RepoResult<u64> {
        let n = self.removals.len();
        self.removals.retain(|(_, _, at)| *at >= before);
        Ok((n - self.removals.len()) as u64)
    }
}
