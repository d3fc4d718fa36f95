//! The in-memory store's operational repositories: keys, audit log,
//! outbox, change events, webhooks and the console.

use super::Memory;
use crate::event::Event;
use crate::model::*;
use crate::ports::*;
use crate::types::*;
use chrono::{DateTime, Utc};

impl ApiKeyRepo for Memory {
    fn get(&mut self, id: &ApiKeyId) -> RepoResult<Option<ApiKey>> {
        Ok(self.keys.iter().find(|k| &k.id == id).cloned())
    }
    fn get_with_organization(&mut self, id: &ApiKeyId) -> RepoResult<Option<(ApiKey, Organization)>> {
        let Some(key) = ApiKeyRepo::get(self, id)? else { return Ok(None) };
        Ok(OrganizationRepo::get(self, &key.organization_id)?.map(|o| (key, o)))
    }
    fn list(&mut self, org: &OrganizationId) -> RepoResult<Vec<ApiKey>> {
        Ok(self.keys.iter().rev().filter(|k| &k.organization_id == org).cloned().collect())
    }
    fn insert(&mut self, key: &ApiKey) -> RepoResult<()> {
        self.keys.push(key.clone());
        Ok(())
    }
    fn revoke(&mut self, org: &OrganizationId, id: &ApiKeyId, at: DateTime<Utc>) -> RepoResult<bool> {
        match self.keys.iter_mut().find(|k| &k.organization_id == org && &k.id == id && k.revoked_at.is_none()) {
            Some(k) => {
                k.revoked_at = Some(at);
                Ok(true)
            }
            None => Ok(false),
        }
    }
    fn touch(&mut self, id: &ApiKeyId, at: DateTime<Utc>) -> RepoResult<()> {
        if let Some(k) = self.keys.iter_mut().find(|k| &k.id == id) {
            k.last_used_at = Some(at);
        }
        Ok(())
    }
}

impl AuditLog for Memory {
    fn append(&mut self, record: &AuditRecord) -> RepoResult<()> {
        self.audit.push(record.clone());
        Ok(())
    }
    fn list(&mut self, org: &OrganizationId, since: Option<DateTime<Utc>>, limit: u64) -> RepoResult<Vec<AuditRecord>> {
        Ok(self
            .audit
            .iter()
            .filter(|r| &r.organization_id == org && since.is_none_or(|s| r.at >= s))
            .take(limit.min(usize::MAX as u64) as usize)
            .cloned()
            .collect())
    }
}

impl Outbox for Memory {
    fn enqueue(&mut self, n: &Notification) -> RepoResult<()> {
        self.outbox.push(n.clone());
        Ok(())
    }
}

impl EventLog for Memory {
    fn append(&mut self, event: &Event) -> RepoResult<()> {
        // Units of work run one at a time: numbering now is numbering at commit.
        let last = self.events.iter().filter(|e| e.organization_id == event.organization_id).map(|e| e.seq).max();
        self.events.push(Event { seq: last.unwrap_or(0) + 1, ..event.clone() });
        Ok(())
    }
    fn list(&mut self, org: &OrganizationId, after: u64, limit: u64) -> RepoResult<Vec<Event>> {
        Ok(self
            .events
            .iter()
            .filter(|e| &e.organization_id == org && e.seq > after)
            .take(limit.min(usize::MAX as u64) as usize)
            .cloned()
            .collect())
    }
}

impl WebhookRepo for Memory {
    fn insert(&mut self, webhook: &Webhook) -> RepoResult<()> {
        self.webhooks.push(webhook.clone());
        Ok(())
    }
    fn get(&mut self, id: &WebhookId) -> RepoResult<Option<Webhook>> {
        Ok(self.webhooks.iter().find(|w| &w.id == id).cloned())
    }
    fn list(&mut self, org: Option<&OrganizationId>) -> RepoResult<Vec<Webhook>> {
        Ok(self.webhooks.iter().filter(|w| w.organization_id.as_ref() == org).cloned().collect())
    }
    fn enabled(&mut self) -> RepoResult<Vec<Webhook>> {
        Ok(self.webhooks.iter().filter(|w| w.disabled_at.is_none()).cloned().collect())
    }
    fn delete(&mut self, org: Option<&OrganizationId>, id: &WebhookId) -> RepoResult<bool> {
        let before = self.webhooks.len();
        self.webhooks.retain(|w| !(&w.id == id && w.organization_id.as_ref() == org));
        Ok(self.webhooks.len() < before)
    }
    fn disable(&mut self, id: &WebhookId, at: DateTime<Utc>, reason: &str) -> RepoResult<()> {
        if let Some(w) = self.webhooks.iter_mut().find(|w| &w.id == id) {
            w.disabled_at = Some(at);
            w.disabled_reason = Some(reason.to_owned());
        }
        Ok(())
    }
}

impl ConsoleRepo for Memory {
    fn insert_link(
        &mut self,
        hash: &str,
        org: &OrganizationId,
        user: &UserId,
        expires_at: DateTime<Utc>,
    ) -> RepoResult<()> {
        self.links.push((hash.to_owned(), org.clone(), user.clone(), expires_at, false));
        Ok(())
    }
    fn take_link(&mut self, hash: &str, now: DateTime<Utc>) -> RepoResult<Option<(OrganizationId, UserId)>> {
        Ok(self.links.iter_mut().find(|l| l.0 == hash && !l.4 && l.3 > now).map(|l| {
            l.4 = true;
            (l.1.clone(), l.2.clone())
        }))
    }
    fn link(&mut self, hash: &str, now: DateTime<Utc>) -> RepoResult<Option<(OrganizationId, UserId)>> {
        Ok(self.links.iter().find(|l| l.0 == hash && !l.4 && l.3 > now).map(|l| (l.1.clone(), l.2.clone())))
    }
    fn prune(&mut self, now: DateTime<Utc>) -> RepoResult<u64> {
        let before = self.links.len() + self.sessions.len();
        self.links.retain(|l| !l.4 && l.3 > now);
        self.sessions.retain(|s| s.1.expires_at > now);
        Ok((before - self.links.len() - self.sessions.len()) as u64)
    }
    fn insert_session(&mut self, hash: &str, session: &ConsoleSession) -> RepoResult<()> {
        self.sessions.push((hash.to_owned(), session.clone()));
        Ok(())
    }
    fn session(&mut self, hash: &str, now: DateTime<Utc>) -> RepoResult<Option<ConsoleSession>> {
        Ok(self.sessions.iter().find(|s| s.0 == hash && s.1.expires_at > now).map(|s| s.1.clone()))
    }
    fn delete_session(&mut self, hash: &str) -> RepoResult<()> {
        self.sessions.retain(|s| s.0 != hash);
        Ok(())
    }
}
