//! An in-memory [`Store`] for scenario tests: every repository over plain
//! collections, with the storage contract the services rely on (the
//! uniqueness rules, version checks, members only of the organization,
//! a write that fails leaving nothing behind). A test drives the real
//! services through a whole story and reads the outcome back, instead of
//! scripting each port call. Filters, sorting and cursor pages are the
//! storage adapter's work and are tested against it; asked for here they
//! answer `Unsupported`.

mod guard;
mod ops;

use crate::error::{Error, RepoError, Uniqueness};
use crate::event::Event;
use crate::model::*;
use crate::ports::*;
use crate::query::{ListPage, ListQuery, Page};
use crate::types::*;
use chrono::{DateTime, Utc};
use std::collections::BTreeSet;
use std::sync::Mutex;

/// Everything stored, in creation order. Cloned per unit of work: a write
/// commits by replacing the state, so a failed one leaves no trace.
#[derive(Clone, Default)]
pub struct Memory {
    orgs: Vec<Organization>,
    accounts: Vec<Account>,
    users: Vec<User>,
    groups: Vec<Group>,
    /// (group, user)
    members: BTreeSet<(GroupId, UserId)>,
    keys: Vec<ApiKey>,
    audit: Vec<AuditRecord>,
    outbox: Vec<Notification>,
    events: Vec<Event>,
    webhooks: Vec<Webhook>,
    /// (hash, org, user, expires, used)
    links: Vec<(String, OrganizationId, UserId, DateTime<Utc>, bool)>,
    sessions: Vec<(String, ConsoleSession)>,
    guards: Vec<(OrganizationId, crate::guard::GuardState)>,
    /// Counted removals: (org, user, at).
    removals: Vec<(OrganizationId, UserId, DateTime<Utc>)>,
    held: Vec<crate::guard::HeldRemoval>,
}

impl Memory {
    /// Every audit record, oldest first.
    pub fn audit_records(&self) -> &[AuditRecord] {
        &self.audit
    }
    /// Every queued notification, oldest first.
    pub fn notifications(&self) -> &[Notification] {
        &self.outbox
    }
    /// Every account.
    pub fn accounts(&self) -> &[Account] {
        &self.accounts
    }
    /// Every change event, in commit order.
    pub fn events(&self) -> &[Event] {
        &self.events
    }
    /// Every membership (SCIM User), of every organization.
    pub fn users(&self) -> &[User] {
        &self.users
    }
}

/// The in-memory store: units of work run one at a time (as SQLite's
/// writers do), each on its own copy of the state.
#[derive(Default)]
pub struct MemoryStore {
    state: Mutex<Memory>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }
    /// A copy of what is committed now.
    pub fn snapshot(&self) -> Memory {
        self.state.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

#[async_trait::async_trait]
impl Store for MemoryStore {
    async fn read(&self, work: Work) -> Result<(), Error> {
        let mut copy = self.snapshot();
        work(&mut copy)
    }
    async fn write(&self, work: Work) -> Result<(), Error> {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let mut copy = state.clone();
        work(&mut copy)?;
        *state = copy;
        Ok(())
    }
}

fn page<T: Clone>(items: Vec<T>, query: &ListQuery) -> RepoResult<ListPage<T>> {
    if query.filter.is_some() || query.sort.is_some() {
        return Err(RepoError::Unsupported(
            "the in-memory store does not evaluate filters or sorting; test those against enlist-diesel".into(),
        ));
    }
    let (start_index, count, cap) = match query.page {
        Page::Index { start_index, count } => (start_index, count, u64::MAX),
        Page::Capped { start_index, count, total_up_to } => (start_index, count, total_up_to.saturating_add(1)),
        Page::Cursor { .. } => {
            return Err(RepoError::Unsupported("the in-memory store pages by startIndex only".into()));
        }
    };
    let total = (items.len() as u64).min(cap);
    let skip = start_index.saturating_sub(1).min(total) as usize;
    let items = items.into_iter().skip(skip).take(count.min(usize::MAX as u64) as usize).collect();
    Ok(ListPage { total, items, next_cursor: None })
}

impl Memory {
    fn user_mut(&mut self, org: &OrganizationId, id: &UserId) -> Option<&mut User> {
        self.users.iter_mut().find(|u| &u.organization_id == org && &u.id == id)
    }
    fn group_of(&self, org: &OrganizationId, id: &GroupId) -> bool {
        self.groups.iter().any(|g| &g.organization_id == org && &g.id == id)
    }
    fn in_org(&self, org: &OrganizationId, users: &[UserId]) -> Vec<UserId> {
        let mut seen = BTreeSet::new();
        users
            .iter()
            .filter(|u| self.users.iter().any(|x| &x.organization_id == org && &x.id == *u))
            .filter(|u| seen.insert((*u).clone()))
            .cloned()
            .collect()
    }
    fn user_name_taken(&self, user: &User) -> bool {
        self.users.iter().any(|u| {
            u.organization_id == user.organization_id
                && u.id != user.id
                && u.profile.user_name().folded() == user.profile.user_name().folded()
        })
    }
}

impl OrganizationRepo for Memory {
    fn get(&mut self, id: &OrganizationId) -> RepoResult<Option<Organization>> {
        Ok(self.orgs.iter().find(|o| &o.id == id).cloned())
    }
    fn by_name(&mut self, name: &str) -> RepoResult<Option<Organization>> {
        Ok(self.orgs.iter().find(|o| o.name == name).cloned())
    }
    fn list(&mut self) -> RepoResult<Vec<Organization>> {
        let mut all = self.orgs.clone();
        all.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(all)
    }
    fn insert(&mut self, org: &Organization) -> RepoResult<()> {
        if self.orgs.iter().any(|o| o.name == org.name) {
            return Err(RepoError::Unique(Uniqueness::OrganizationName));
        }
        self.orgs.push(Organization { domains: Vec::new(), ..org.clone() });
        Ok(())
    }
    fn update(&mut self, org: &Organization) -> RepoResult<()> {
        if self.orgs.iter().any(|o| o.name == org.name && o.id != org.id) {
            return Err(RepoError::Unique(Uniqueness::OrganizationName));
        }
        if let Some(o) = self.orgs.iter_mut().find(|o| o.id == org.id) {
            *o = Organization { domains: o.domains.clone(), ..org.clone() };
        }
        Ok(())
    }
    fn lock(&mut self, _id: &OrganizationId) -> RepoResult<()> {
        // Units of work already run one at a time.
        Ok(())
    }
    fn add_domain(&mut self, id: &OrganizationId, domain: &DomainName) -> RepoResult<()> {
        if self.orgs.iter().any(|o| o.domains.contains(domain)) {
            return Err(RepoError::Unique(Uniqueness::Domain));
        }
        let org = self.orgs.iter_mut().find(|o| &o.id == id).ok_or(RepoError::MissingReference)?;
        org.domains.push(domain.clone());
        org.domains.sort();
        Ok(())
    }
    fn remove_domain(&mut self, id: &OrganizationId, domain: &DomainName) -> RepoResult<bool> {
        let Some(org) = self.orgs.iter_mut().find(|o| &o.id == id) else { return Ok(false) };
        let before = org.domains.len();
        org.domains.retain(|d| d != domain);
        Ok(org.domains.len() < before)
    }
    fn offboard(&mut self, id: &OrganizationId, _at: DateTime<Utc>) -> RepoResult<Offboarded> {
        // No tombstone here: events do not hang off the organization.
        let ours = |o: &OrganizationId| o == id;
        let users: Vec<(UserId, AccountId)> = self
            .users
            .iter()
            .filter(|u| ours(&u.organization_id))
            .map(|u| (u.id.clone(), u.account_id.clone()))
            .collect();
        let groups: BTreeSet<GroupId> =
            self.groups.iter().filter(|g| ours(&g.organization_id)).map(|g| g.id.clone()).collect();
        let keys = self.keys.iter().filter(|k| ours(&k.organization_id)).count();
        self.members.retain(|(g, u)| !groups.contains(g) && !users.iter().any(|(id, _)| id == u));
        self.users.retain(|u| !ours(&u.organization_id));
        self.groups.retain(|g| !ours(&g.organization_id));
        self.keys.retain(|k| !ours(&k.organization_id));
        self.outbox.retain(|n| !ours(&n.organization_id));
        self.events.retain(|e| !ours(&e.organization_id));
        self.webhooks.retain(|w| w.organization_id.as_ref() != Some(id));
        self.links.retain(|l| !ours(&l.1));
        self.sessions.retain(|(_, s)| !ours(&s.organization_id));
        self.guards.retain(|(o, _)| !ours(o));
        self.removals.retain(|(o, _, _)| !ours(o));
        self.held.retain(|h| !ours(&h.organization_id));
        self.orgs.retain(|o| !ours(&o.id));
        let before = self.accounts.len();
        let held: BTreeSet<AccountId> = self.users.iter().map(|u| u.account_id.clone()).collect();
        self.accounts.retain(|a| held.contains(&a.id) || !users.iter().any(|(_, acc)| acc == &a.id));
        Ok(Offboarded {
            users: users.len() as u64,
            groups: groups.len() as u64,
            keys: keys as u64,
            accounts: (before - self.accounts.len()) as u64,
        })
    }
}

impl AccountRepo for Memory {
    fn by_email(&mut self, email: &Email) -> RepoResult<Option<Account>> {
        Ok(self.accounts.iter().find(|a| &a.email == email).cloned())
    }
    fn get(&mut self, id: &AccountId) -> RepoResult<Option<Account>> {
        Ok(self.accounts.iter().find(|a| &a.id == id).cloned())
    }
    fn insert(&mut self, account: &Account) -> RepoResult<()> {
        if self.accounts.iter().any(|a| a.email == account.email) {
            return Err(RepoError::Unique(Uniqueness::AccountEmail));
        }
        self.accounts.push(account.clone());
        Ok(())
    }
    fn set_email(&mut self, id: &AccountId, email: &Email) -> RepoResult<()> {
        if self.accounts.iter().any(|a| &a.email == email && &a.id != id) {
            return Err(RepoError::Unique(Uniqueness::AccountEmail));
        }
        if let Some(a) = self.accounts.iter_mut().find(|a| &a.id == id) {
            a.email = email.clone();
        }
        Ok(())
    }
    fn delete_if_orphan(&mut self, id: &AccountId) -> RepoResult<bool> {
        if self.users.iter().any(|u| &u.account_id == id) {
            return Ok(false);
        }
        let before = self.accounts.len();
        self.accounts.retain(|a| &a.id != id);
        Ok(self.accounts.len() < before)
    }
}

impl UserRepo for Memory {
    fn lock(&mut self, _org: &OrganizationId, _ids: &[UserId]) -> RepoResult<()> {
        Ok(())
    }
    fn get(&mut self, org: &OrganizationId, id: &UserId) -> RepoResult<Option<User>> {
        Ok(self.users.iter().find(|u| &u.organization_id == org && &u.id == id).cloned())
    }
    fn by_account(&mut self, org: &OrganizationId, account: &AccountId) -> RepoResult<Option<User>> {
        Ok(self.users.iter().find(|u| &u.organization_id == org && &u.account_id == account).cloned())
    }
    fn get_many(&mut self, org: &OrganizationId, ids: &[UserId]) -> RepoResult<Vec<User>> {
        Ok(self.users.iter().filter(|u| &u.organization_id == org && ids.contains(&u.id)).cloned().collect())
    }
    fn list(&mut self, org: &OrganizationId, query: &ListQuery) -> RepoResult<ListPage<User>> {
        page(self.users.iter().filter(|u| &u.organization_id == org).cloned().collect(), query)
    }
    fn insert(&mut self, user: &User) -> RepoResult<()> {
        if self.user_name_taken(user) {
            return Err(RepoError::Unique(Uniqueness::UserName));
        }
        if self.users.iter().any(|u| u.organization_id == user.organization_id && u.account_id == user.account_id) {
            return Err(RepoError::Unique(Uniqueness::Membership));
        }
        self.users.push(user.clone());
        Ok(())
    }
    fn update(&mut self, user: &User, previous: &User) -> RepoResult<()> {
        let expected_version = previous.version;
        if self.user_name_taken(user) {
            return Err(RepoError::Unique(Uniqueness::UserName));
        }
        match self.user_mut(&user.organization_id, &user.id) {
            Some(u) if u.version == expected_version => {
                *u = user.clone();
                Ok(())
            }
            _ => Err(RepoError::VersionConflict),
        }
    }
    fn delete(&mut self, org: &OrganizationId, id: &UserId) -> RepoResult<bool> {
        let before = self.users.len();
        self.users.retain(|u| !(&u.organization_id == org && &u.id == id));
        self.members.retain(|(_, u)| u != id);
        Ok(self.users.len() < before)
    }
    fn count_active_admins(&mut self, org: &OrganizationId) -> RepoResult<u64> {
        Ok(self.users.iter().filter(|u| &u.organization_id == org && u.is_active_admin()).count() as u64)
    }
    fn count_active(&mut self, org: &OrganizationId) -> RepoResult<u64> {
        Ok(self.users.iter().filter(|u| &u.organization_id == org && u.profile.active()).count() as u64)
    }
    fn active_admins(&mut self, org: &OrganizationId, limit: u64) -> RepoResult<Vec<User>> {
        let admins = self.users.iter().filter(|u| &u.organization_id == org && u.is_active_admin());
        Ok(admins.take(usize::try_from(limit).unwrap_or(usize::MAX)).cloned().collect())
    }
    fn set_effective_roles(&mut self, org: &OrganizationId, updates: &[RoleUpdate<'_>]) -> RepoResult<()> {
        for up in updates {
            if let Some(u) = self.user_mut(org, up.user) {
                u.effective_role = up.role;
                u.role_source = up.source;
                u.version += 1;
            }
        }
        Ok(())
    }
    fn managed_by(&mut self, org: &OrganizationId, manager: &UserId) -> RepoResult<Vec<User>> {
        Ok(self
            .users
            .iter()
            .filter(|u| &u.organization_id == org && u.profile.manager().as_ref() == Some(manager))
            .cloned()
            .collect())
    }
    fn groups_of(&mut self, org: &OrganizationId, ids: &[UserId]) -> RepoResult<Vec<(UserId, GroupRef)>> {
        let mut out = Vec::new();
        for g in self.groups.iter().filter(|g| &g.organization_id == org) {
            for id in ids {
                if self.members.contains(&(g.id.clone(), id.clone())) {
                    out.push((id.clone(), GroupRef { id: g.id.clone(), display_name: g.display_name.to_string() }));
                }
            }
        }
        Ok(out)
    }
}

impl GroupRepo for Memory {
    fn get(&mut self, org: &OrganizationId, id: &GroupId) -> RepoResult<Option<Group>> {
        Ok(self.groups.iter().find(|g| &g.organization_id == org && &g.id == id).cloned())
    }
    fn by_display_name(&mut self, org: &OrganizationId, name: &str) -> RepoResult<Option<Group>> {
        Ok(self.groups.iter().find(|g| &g.organization_id == org && g.display_name.folded() == fold(name)).cloned())
    }
    fn list(&mut self, org: &OrganizationId, query: &ListQuery) -> RepoResult<ListPage<Group>> {
        page(self.groups.iter().filter(|g| &g.organization_id == org).cloned().collect(), query)
    }
    fn insert(&mut self, group: &Group) -> RepoResult<()> {
        if self.by_display_name(&group.organization_id, group.display_name.as_str())?.is_some() {
            return Err(RepoError::Unique(Uniqueness::GroupDisplayName));
        }
        self.groups.push(group.clone());
        Ok(())
    }
    fn update(&mut self, group: &Group, expected_version: u64) -> RepoResult<()> {
        if self.by_display_name(&group.organization_id, group.display_name.as_str())?.is_some_and(|g| g.id != group.id)
        {
            return Err(RepoError::Unique(Uniqueness::GroupDisplayName));
        }
        match self.groups.iter_mut().find(|g| g.organization_id == group.organization_id && g.id == group.id) {
            Some(g) if g.version == expected_version => {
                *g = group.clone();
                Ok(())
            }
            _ => Err(RepoError::VersionConflict),
        }
    }
    fn touch(
        &mut self,
        org: &OrganizationId,
        id: &GroupId,
        at: DateTime<Utc>,
        expected: Option<u64>,
    ) -> RepoResult<u64> {
        let g = self
            .groups
            .iter_mut()
            .find(|g| &g.organization_id == org && &g.id == id && expected.is_none_or(|v| g.version == v))
            .ok_or(RepoError::VersionConflict)?;
        g.version += 1;
        g.updated_at = at;
        Ok(g.version)
    }
    fn delete(&mut self, org: &OrganizationId, id: &GroupId) -> RepoResult<bool> {
        let before = self.groups.len();
        self.groups.retain(|g| !(&g.organization_id == org && &g.id == id));
        self.members.retain(|(g, _)| g != id);
        Ok(self.groups.len() < before)
    }
    fn add_members(&mut self, org: &OrganizationId, group: &GroupId, users: &[UserId]) -> RepoResult<Vec<UserId>> {
        if !self.group_of(org, group) {
            return Ok(Vec::new());
        }
        let valid = self.in_org(org, users);
        Ok(valid.into_iter().filter(|u| self.members.insert((group.clone(), u.clone()))).collect())
    }
    fn remove_members(&mut self, org: &OrganizationId, group: &GroupId, users: &[UserId]) -> RepoResult<Vec<UserId>> {
        if !self.group_of(org, group) {
            return Ok(Vec::new());
        }
        let mut seen = BTreeSet::new();
        Ok(users
            .iter()
            .filter(|u| seen.insert((*u).clone()))
            .filter(|u| self.members.remove(&(group.clone(), (*u).clone())))
            .cloned()
            .collect())
    }
    fn replace_members(
        &mut self,
        org: &OrganizationId,
        group: &GroupId,
        users: &[UserId],
    ) -> RepoResult<(Vec<UserId>, Vec<UserId>)> {
        let current: Vec<UserId> = self.members.iter().filter(|(g, _)| g == group).map(|(_, u)| u.clone()).collect();
        let removed: Vec<UserId> = current.iter().filter(|u| !users.contains(u)).cloned().collect();
        self.remove_members(org, group, &removed)?;
        let added = self.add_members(org, group, users)?;
        Ok((added, removed))
    }
    fn clear_members(&mut self, org: &OrganizationId, group: &GroupId) -> RepoResult<Vec<UserId>> {
        let current: Vec<UserId> = self.members.iter().filter(|(g, _)| g == group).map(|(_, u)| u.clone()).collect();
        self.remove_members(org, group, &current)
    }
    fn members(
        &mut self,
        org: &OrganizationId,
        group: &GroupId,
        after: Option<&UserId>,
        limit: u64,
    ) -> RepoResult<Vec<MemberRef>> {
        if !self.group_of(org, group) {
            return Ok(Vec::new());
        }
        Ok(self
            .members
            .iter()
            .filter(|(g, u)| g == group && after.is_none_or(|a| u > a))
            .filter_map(|(_, u)| self.users.iter().find(|x| &x.id == u))
            .take(limit.min(usize::MAX as u64) as usize)
            .map(|u| MemberRef { id: u.id.clone(), user_name: u.profile.user_name().as_str().to_owned() })
            .collect())
    }
    fn member_counts(&mut self, org: &OrganizationId, groups: &[GroupId]) -> RepoResult<Vec<(GroupId, u64)>> {
        Ok(groups
            .iter()
            .filter(|g| self.group_of(org, g))
            .map(|g| (g.clone(), self.members.iter().filter(|(x, _)| x == g).count() as u64))
            .collect())
    }
    fn group_role_floor(&mut self, org: &OrganizationId, users: &[UserId]) -> RepoResult<Vec<(UserId, Role)>> {
        let mut out = Vec::new();
        for u in users {
            let best = self
                .groups
                .iter()
                .filter(|g| &g.organization_id == org && self.members.contains(&(g.id.clone(), u.clone())))
                .filter_map(|g| g.role)
                .max();
            out.extend(best.map(|r| (u.clone(), r)));
        }
        Ok(out)
    }
}

impl Transaction for Memory {
    fn organizations(&mut self) -> &mut dyn OrganizationRepo {
        self
    }
    fn accounts(&mut self) -> &mut dyn AccountRepo {
        self
    }
    fn users(&mut self) -> &mut dyn UserRepo {
        self
    }
    fn groups(&mut self) -> &mut dyn GroupRepo {
        self
    }
    fn api_keys(&mut self) -> &mut dyn ApiKeyRepo {
        self
    }
    fn audit(&mut self) -> &mut dyn AuditLog {
        self
    }
    fn outbox(&mut self) -> &mut dyn Outbox {
        self
    }
    fn events(&mut self) -> &mut dyn EventLog {
        self
    }
    fn webhooks(&mut self) -> &mut dyn WebhookRepo {
        self
    }
    fn console(&mut self) -> &mut dyn ConsoleRepo {
        self
    }
    fn guard(&mut self) -> &mut dyn GuardRepo {
        self
    }
}
