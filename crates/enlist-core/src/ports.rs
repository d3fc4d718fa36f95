//! The ports: what the core needs from the outside world. Storage adapters
//! implement the repositories and [`Store`]; the mail adapter implements
//! [`Mailer`]; the binary supplies a [`Clock`] and an [`IdGenerator`].
//!
//! Repositories are synchronous and live inside a [`Transaction`]: a use
//! case runs as one closure, on the adapter's blocking pool, inside one
//! database transaction, so no connection or transaction is ever held
//! across an `.await` and a use case commits whole or not at all. The
//! boundary itself, [`Store`], is async.

use crate::error::{Error, RepoError};
use crate::event::Event;
use crate::model::*;
use crate::query::{ListPage, ListQuery};
use crate::types::*;
use chrono::{DateTime, Utc};

mod feed;
mod guard;
pub use feed::*;
pub use guard::*;

/// Result of a repository call.
pub type RepoResult<T> = std::result::Result<T, RepoError>;

/// What offboarding an organization removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Offboarded {
    /// Memberships (SCIM Users).
    pub users: u64,
    /// Groups.
    pub groups: u64,
    /// API keys.
    pub keys: u64,
    /// Accounts no other organization held.
    pub accounts: u64,
}

/// Organizations and their domains.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
pub trait OrganizationRepo: Send {
    /// The organization, with its domains.
    fn get(&mut self, id: &OrganizationId) -> RepoResult<Option<Organization>>;
    /// By exact name.
    fn by_name(&mut self, name: &str) -> RepoResult<Option<Organization>>;
    /// All, by name.
    fn list(&mut self) -> RepoResult<Vec<Organization>>;
    /// # Errors
    /// [`RepoError::Unique`]`(OrganizationName)` when the name is taken.
    fn insert(&mut self, org: &Organization) -> RepoResult<()>;
    /// Writes name, SCIM switch and default role (not domains).
    fn update(&mut self, org: &Organization) -> RepoResult<()>;
    /// Locks the organization row until the transaction ends, serialising
    /// changes to its Admin set across processes.
    fn lock(&mut self, id: &OrganizationId) -> RepoResult<()>;
    /// # Errors
    /// [`RepoError::Unique`]`(Domain)` when any organization has it.
    fn add_domain(&mut self, id: &OrganizationId, domain: &DomainName) -> RepoResult<()>;
    /// Whether it was registered.
    fn remove_domain(&mut self, id: &OrganizationId, domain: &DomainName) -> RepoResult<bool>;
    /// Offboarding: removes the organization's members, groups, keys,
    /// domains, webhooks, activity, console links and sessions, pending
    /// and sent mail, change events and consumer positions, and every
    /// account no other organization holds; keeps its audit log; leaves
    /// the organization row as a tombstone (renamed, SCIM off, invisible
    /// to every read) so that one last event, `organization.deleted`, can
    /// be delivered. What was removed, counted.
    fn offboard(&mut self, id: &OrganizationId, at: DateTime<Utc>) -> RepoResult<Offboarded>;
}

/// Global accounts.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
pub trait AccountRepo: Send {
    /// By email, case-insensitively.
    fn by_email(&mut self, email: &Email) -> RepoResult<Option<Account>>;
    /// By id.
    fn get(&mut self, id: &AccountId) -> RepoResult<Option<Account>>;
    /// # Errors
    /// [`RepoError::Unique`]`(AccountEmail)` when the email has an account.
    fn insert(&mut self, account: &Account) -> RepoResult<()>;
    /// The account of `account.email`, inserting `account` when there is
    /// none; whether it was inserted. An adapter may do both in one
    /// statement.
    ///
    /// # Errors
    /// [`RepoError::Unique`]`(AccountEmail)` when another transaction
    /// inserted the email's account meanwhile (run the unit again).
    fn get_or_insert(&mut self, account: &Account) -> RepoResult<(Account, bool)> {
        match self.by_email(&account.email)? {
            Some(found) => Ok((found, false)),
            None => self.insert(account).map(|()| (account.clone(), true)),
        }
    }
    /// # Errors
    /// [`RepoError::Unique`]`(AccountEmail)` when the email has an account.
    fn set_email(&mut self, id: &AccountId, email: &Email) -> RepoResult<()>;
    /// Deletes the account if no membership refers to it; whether it did.
    fn delete_if_orphan(&mut self, id: &AccountId) -> RepoResult<bool>;
}

/// Memberships, seen as SCIM Users.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
pub trait UserRepo: Send {
    /// A user of the organization; `None` for another organization's.
    fn get(&mut self, org: &OrganizationId, id: &UserId) -> RepoResult<Option<User>>;
    /// The account's membership in the organization.
    fn by_account(&mut self, org: &OrganizationId, account: &AccountId) -> RepoResult<Option<User>>;
    /// Locks the rows of `ids` until the transaction ends, in a fixed order
    /// (by id) so two lockers never deadlock. Every unit of work that
    /// computes an effective role locks the user first, then reads its roles
    /// and memberships, so what it computes is what commits. An adapter
    /// whose write transactions are already serial (SQLite) may do nothing.
    fn lock(&mut self, org: &OrganizationId, ids: &[UserId]) -> RepoResult<()>;
    /// The user with its groups, locked as [`UserRepo::lock`] locks it
    /// (what a change answers with). An adapter may do it all in one
    /// statement (a row lock taken by the read itself).
    fn get_locked(&mut self, org: &OrganizationId, id: &UserId) -> RepoResult<Option<(User, Vec<GroupRef>)>> {
        self.lock(org, std::slice::from_ref(id))?;
        self.get_with_groups(org, id)
    }
    /// The user with its groups, in group creation order (what a read by
    /// id answers with). An adapter may read both in one statement.
    fn get_with_groups(&mut self, org: &OrganizationId, id: &UserId) -> RepoResult<Option<(User, Vec<GroupRef>)>> {
        let Some(user) = self.get(org, id)? else { return Ok(None) };
        let groups = self.groups_of(org, std::slice::from_ref(id))?.into_iter().map(|(_, g)| g).collect();
        Ok(Some((user, groups)))
    }
    /// The organization's users among `ids` (others left out).
    fn get_many(&mut self, org: &OrganizationId, ids: &[UserId]) -> RepoResult<Vec<User>>;
    /// Which of `ids` are the organization's users. An adapter may answer
    /// without reading their profiles.
    fn existing(&mut self, org: &OrganizationId, ids: &[UserId]) -> RepoResult<Vec<UserId>> {
        Ok(self.get_many(org, ids)?.into_iter().map(|u| u.id).collect())
    }
    /// The names the organization's users among `ids` are shown by (the
    /// displayName, else the userName), as a manager reference shows them.
    /// An adapter may answer without reading whole profiles.
    fn display_names(&mut self, org: &OrganizationId, ids: &[UserId]) -> RepoResult<Vec<(UserId, String)>> {
        Ok(self
            .get_many(org, ids)?
            .into_iter()
            .map(|u| {
                let name = u.profile.display_name().unwrap_or_else(|| u.profile.user_name().as_str()).to_owned();
                (u.id, name)
            })
            .collect())
    }
    /// A filtered, sorted page, evaluated by the database.
    fn list(&mut self, org: &OrganizationId, query: &ListQuery) -> RepoResult<ListPage<User>>;
    /// [`UserRepo::list`] with each user's groups (as `groups_of` gives
    /// them): what a SCIM query answers with by default, Entra ID's
    /// lookup before every create among them. An adapter may read the
    /// page and the groups in one statement.
    fn list_with_groups(
        &mut self,
        org: &OrganizationId,
        query: &ListQuery,
    ) -> RepoResult<ListPage<(User, Vec<GroupRef>)>> {
        let page = self.list(org, query)?;
        let ids: Vec<UserId> = page.items.iter().map(|u| u.id.clone()).collect();
        let mut groups: std::collections::HashMap<UserId, Vec<GroupRef>> = std::collections::HashMap::new();
        for (user, group) in self.groups_of(org, &ids)? {
            groups.entry(user).or_default().push(group);
        }
        let items = page
            .items
            .into_iter()
            .map(|u| {
                let g = groups.remove(&u.id).unwrap_or_default();
                (u, g)
            })
            .collect();
        Ok(ListPage { total: page.total, items, next_cursor: page.next_cursor })
    }
    /// # Errors
    /// [`RepoError::Unique`]`(UserName)` for a taken userName (case-
    /// insensitive), `(Membership)` when the account is already a member.
    fn insert(&mut self, user: &User) -> RepoResult<()>;
    /// Writes `user` over `previous`, the stored user it was computed from
    /// in this transaction, if the stored version is still
    /// `previous.version`. The adapter may write only what differs from
    /// `previous` (a PATCH of one attribute rewrote every value row).
    ///
    /// # Errors
    /// [`RepoError::VersionConflict`] otherwise; `Unique(UserName)`.
    fn update(&mut self, user: &User, previous: &User) -> RepoResult<()>;
    /// Deletes the membership and its group memberships; whether it existed.
    fn delete(&mut self, org: &OrganizationId, id: &UserId) -> RepoResult<bool>;
    /// Active users whose effective role is Admin.
    fn count_active_admins(&mut self, org: &OrganizationId) -> RepoResult<u64>;
    /// How many members are active.
    fn count_active(&mut self, org: &OrganizationId) -> RepoResult<u64>;
    /// Active Admins, oldest membership first, at most `limit` (the
    /// recipients of an organization's alerts).
    fn active_admins(&mut self, org: &OrganizationId, limit: u64) -> RepoResult<Vec<User>>;
    /// Writes recomputed effective roles (bumping each user's version).
    fn set_effective_roles<'a>(&mut self, org: &OrganizationId, updates: &[RoleUpdate<'a>]) -> RepoResult<()>;
    /// Users whose manager is `manager`.
    fn managed_by(&mut self, org: &OrganizationId, manager: &UserId) -> RepoResult<Vec<User>>;
    /// The groups each of `ids` is a member of, as (user, group) pairs in
    /// group creation order: one query for a whole page of users.
    fn groups_of(&mut self, org: &OrganizationId, ids: &[UserId]) -> RepoResult<Vec<(UserId, GroupRef)>>;
}

/// Groups and their memberships. Membership calls cost the batch, never
/// the group.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
pub trait GroupRepo: Send {
    /// A group of the organization.
    fn get(&mut self, org: &OrganizationId, id: &GroupId) -> RepoResult<Option<Group>>;
    /// By displayName, case-insensitively.
    fn by_display_name(&mut self, org: &OrganizationId, name: &str) -> RepoResult<Option<Group>>;
    /// A filtered, sorted page, never reading members.
    fn list(&mut self, org: &OrganizationId, query: &ListQuery) -> RepoResult<ListPage<Group>>;
    /// # Errors
    /// [`RepoError::Unique`]`(GroupDisplayName)`.
    fn insert(&mut self, group: &Group) -> RepoResult<()>;
    /// Writes name, externalId, role, timestamps if the stored version is
    /// still `expected_version`.
    ///
    /// # Errors
    /// [`RepoError::VersionConflict`]; `Unique(GroupDisplayName)`.
    fn update(&mut self, group: &Group, expected_version: u64) -> RepoResult<()>;
    /// Bumps version and lastModified after a membership change; the new
    /// version. With `expected`, only while the stored version is still
    /// that one, in the same statement (an `If-Match` held atomically).
    ///
    /// # Errors
    /// [`RepoError::VersionConflict`] when the group is gone or, with
    /// `expected`, its version moved.
    fn touch(
        &mut self,
        org: &OrganizationId,
        id: &GroupId,
        at: DateTime<Utc>,
        expected: Option<u64>,
    ) -> RepoResult<u64>;
    /// Deletes the group and its memberships; whether it existed.
    fn delete(&mut self, org: &OrganizationId, id: &GroupId) -> RepoResult<bool>;
    /// Adds members, skipping present ones; returns those newly added.
    ///
    /// # Errors
    /// [`RepoError::MissingReference`] when a user does not exist (the
    /// core checks first; this settles races with deletes).
    fn add_members(&mut self, org: &OrganizationId, group: &GroupId, users: &[UserId]) -> RepoResult<Vec<UserId>>;
    /// Removes members; returns those that were members.
    fn remove_members(&mut self, org: &OrganizationId, group: &GroupId, users: &[UserId]) -> RepoResult<Vec<UserId>>;
    /// Makes `users` exactly the members, diffing in the database; returns
    /// (added, removed).
    ///
    /// # Errors
    /// [`RepoError::MissingReference`] as for `add_members`.
    fn replace_members(
        &mut self,
        org: &OrganizationId,
        group: &GroupId,
        users: &[UserId],
    ) -> RepoResult<(Vec<UserId>, Vec<UserId>)>;
    /// Removes every member; returns them.
    fn clear_members(&mut self, org: &OrganizationId, group: &GroupId) -> RepoResult<Vec<UserId>>;
    /// Members after `after` (by user id), at most `limit`.
    // mockall needs the lifetime spelled out.
    #[allow(clippy::needless_lifetimes)]
    fn members<'a>(
        &mut self,
        org: &OrganizationId,
        group: &GroupId,
        after: Option<&'a UserId>,
        limit: u64,
    ) -> RepoResult<Vec<MemberRef>>;
    /// How many members each of `groups` has (groups without members may
    /// be left out): one query for a page of groups.
    fn member_counts(&mut self, org: &OrganizationId, groups: &[GroupId]) -> RepoResult<Vec<(GroupId, u64)>>;
    /// For each of `users` in any role-mapped group: the highest group role.
    fn group_role_floor(&mut self, org: &OrganizationId, users: &[UserId]) -> RepoResult<Vec<(UserId, Role)>>;
}

/// API keys.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
pub trait ApiKeyRepo: Send {
    /// By public id, in any organization.
    fn get(&mut self, id: &ApiKeyId) -> RepoResult<Option<ApiKey>>;
    /// A key and its organization in one read: every request authenticates,
    /// and on PostgreSQL each read is a round trip.
    fn get_with_organization(&mut self, id: &ApiKeyId) -> RepoResult<Option<(ApiKey, Organization)>>;
    /// The organization's keys, newest first.
    fn list(&mut self, org: &OrganizationId) -> RepoResult<Vec<ApiKey>>;
    /// Stores a new key.
    fn insert(&mut self, key: &ApiKey) -> RepoResult<()>;
    /// Marks revoked; whether it was an unrevoked key of the organization.
    fn revoke(&mut self, org: &OrganizationId, id: &ApiKeyId, at: DateTime<Utc>) -> RepoResult<bool>;
    /// Records a use.
    fn touch(&mut self, id: &ApiKeyId, at: DateTime<Utc>) -> RepoResult<()>;
}

/// The append-only audit log.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
pub trait AuditLog: Send {
    /// Appends.
    fn append(&mut self, record: &AuditRecord) -> RepoResult<()>;
    /// Records since `since`, oldest first, at most `limit`.
    fn list(&mut self, org: &OrganizationId, since: Option<DateTime<Utc>>, limit: u64) -> RepoResult<Vec<AuditRecord>>;
}

/// The notification outbox, written in the provisioning transaction.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
pub trait Outbox: Send {
    /// Queues a notification.
    fn enqueue(&mut self, n: &Notification) -> RepoResult<()>;
}

/// The change events of each organization, appended in the transaction of
/// the change they describe.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
pub trait EventLog: Send {
    /// Appends `event` (its `seq` is ignored). The store numbers the
    /// transaction's events after the organization's last one when it
    /// commits, and serialises numbering per organization until commit, so
    /// events become visible in `seq` order and a reader never skips one.
    /// Numbering last keeps the organization's counter out of every other
    /// lock order a unit of work takes.
    fn append(&mut self, event: &Event) -> RepoResult<()>;
    /// The organization's events after `after`, in `seq` order, at most
    /// `limit`.
    fn list(&mut self, org: &OrganizationId, after: u64, limit: u64) -> RepoResult<Vec<Event>>;
}

/// Webhook endpoints.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
pub trait WebhookRepo: Send {
    /// Stores a new endpoint.
    fn insert(&mut self, webhook: &Webhook) -> RepoResult<()>;
    /// One endpoint.
    fn get(&mut self, id: &WebhookId) -> RepoResult<Option<Webhook>>;
    /// An organization's endpoints (`Some`), or the every-organization ones
    /// (`None`), oldest first.
    // mockall needs the lifetimes spelled out.
    #[allow(clippy::needless_lifetimes)]
    fn list<'a>(&mut self, org: Option<&'a OrganizationId>) -> RepoResult<Vec<Webhook>>;
    /// Every endpoint not disabled, of every scope.
    fn enabled(&mut self) -> RepoResult<Vec<Webhook>>;
    /// Deletes one of `org`'s endpoints (`None`: an every-organization
    /// one); whether it existed.
    #[allow(clippy::needless_lifetimes)]
    fn delete<'a>(&mut self, org: Option<&'a OrganizationId>, id: &WebhookId) -> RepoResult<bool>;
    /// Disables an endpoint with a reason the operator sees.
    fn disable(&mut self, id: &WebhookId, at: DateTime<Utc>, reason: &str) -> RepoResult<()>;
}

/// Console sign-in links and sessions, stored by the SHA-256 of their
/// tokens only.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
pub trait ConsoleRepo: Send {
    /// Stores a one-time sign-in link.
    fn insert_link(
        &mut self,
        hash: &str,
        org: &OrganizationId,
        user: &UserId,
        expires_at: DateTime<Utc>,
    ) -> RepoResult<()>;
    /// Uses a link: the first use before it expires returns its Admin and
    /// marks it used; any other returns `None`.
    fn take_link(&mut self, hash: &str, now: DateTime<Utc>) -> RepoResult<Option<(OrganizationId, UserId)>>;
    /// A link not yet used nor expired at `now`, without using it.
    fn link(&mut self, hash: &str, now: DateTime<Utc>) -> RepoResult<Option<(OrganizationId, UserId)>>;
    /// Deletes links used or expired and sessions expired at `now`; how
    /// many rows went.
    fn prune(&mut self, now: DateTime<Utc>) -> RepoResult<u64>;
    /// Stores a session.
    fn insert_session(&mut self, hash: &str, session: &ConsoleSession) -> RepoResult<()>;
    /// A session not yet expired at `now`.
    fn session(&mut self, hash: &str, now: DateTime<Utc>) -> RepoResult<Option<ConsoleSession>>;
    /// Ends a session.
    fn delete_session(&mut self, hash: &str) -> RepoResult<()>;
}

/// One database transaction: every repository, on one connection.
pub trait Transaction: Send {
    /// Organizations.
    fn organizations(&mut self) -> &mut dyn OrganizationRepo;
    /// Accounts.
    fn accounts(&mut self) -> &mut dyn AccountRepo;
    /// Users.
    fn users(&mut self) -> &mut dyn UserRepo;
    /// Groups.
    fn groups(&mut self) -> &mut dyn GroupRepo;
    /// API keys.
    fn api_keys(&mut self) -> &mut dyn ApiKeyRepo;
    /// Audit log.
    fn audit(&mut self) -> &mut dyn AuditLog;
    /// Outbox.
    fn outbox(&mut self) -> &mut dyn Outbox;
    /// Change events.
    fn events(&mut self) -> &mut dyn EventLog;
    /// Webhook endpoints.
    fn webhooks(&mut self) -> &mut dyn WebhookRepo;
    /// Console links and sessions.
    fn console(&mut self) -> &mut dyn ConsoleRepo;
    /// The deprovisioning guard.
    fn guard(&mut self) -> &mut dyn GuardRepo;
}

/// A unit of work: runs on a blocking thread, inside one transaction.
pub type Work = Box<dyn FnOnce(&mut dyn Transaction) -> Result<(), Error> + Send>;

/// The transaction boundary.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait::async_trait]
pub trait Store: Send + Sync {
    /// Runs `work`, which only reads. An adapter may run it in one read
    /// transaction (SQLite: one snapshot) or statement by statement
    /// (PostgreSQL under READ COMMITTED: each statement its own snapshot);
    /// a use case that needs one snapshot across statements writes.
    async fn read(&self, work: Work) -> Result<(), Error>;
    /// Runs `work` in a write transaction: commits if it returns `Ok`,
    /// rolls back every write if it returns `Err` (or panics).
    async fn write(&self, work: Work) -> Result<(), Error>;
}

/// A queued notification with its delivery state.
#[derive(Debug, Clone, PartialEq)]
pub struct QueuedNotification {
    /// The message.
    pub notification: Notification,
    /// Delivery attempts so far.
    pub attempts: u32,
}

/// A notification set aside because it can never be sent.
#[derive(Debug, Clone, PartialEq)]
pub struct SetAside {
    /// The message.
    pub notification: Notification,
    /// Delivery attempts made.
    pub attempts: u32,
    /// When it was set aside.
    pub at: DateTime<Utc>,
    /// The last error (never containing the address).
    pub error: String,
}

/// The outbox's counts, for `/metrics` and the operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct OutboxStats {
    /// Waiting to be sent (or retried).
    pub pending: u64,
    /// Set aside: will not be tried again until requeued.
    pub set_aside: u64,
}

/// The outbox as the mail worker and the operator see it. Several
/// processes may drain one outbox: a claim hides a notification from the
/// others for a lease longer than one send takes, so the worker claims
/// one notification at a time and no claim outlives its send.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait::async_trait]
pub trait OutboxQueue: Send + Sync {
    /// Claims up to `limit` unsent, not set aside notifications due at
    /// `now`, oldest first, hiding them from other claimers for a lease.
    async fn due(&self, now: DateTime<Utc>, limit: u32) -> Result<Vec<QueuedNotification>, Error>;
    /// Marks sent.
    async fn mark_sent(&self, id: &str, at: DateTime<Utc>) -> Result<(), Error>;
    /// Records a failed attempt and when to try again.
    async fn mark_failed(&self, id: &str, attempts: u32, retry_at: DateTime<Utc>, error: &str) -> Result<(), Error>;
    /// Puts a claimed notification back, due at `until`, without counting
    /// an attempt (its organization is over its sending rate).
    async fn postpone(&self, id: &str, until: DateTime<Utc>) -> Result<(), Error>;
    /// Sets aside a notification that can never be sent: it stays for the
    /// operator and is not claimed again until [`OutboxQueue::requeue`].
    async fn set_aside(&self, id: &str, attempts: u32, at: DateTime<Utc>, error: &str) -> Result<(), Error>;
    /// Puts a set-aside notification back in line, due at `now`; whether
    /// one was set aside under that id.
    async fn requeue(&self, id: &str, now: DateTime<Utc>) -> Result<bool, Error>;
    /// The set-aside notifications, newest first, at most `limit`.
    async fn set_aside_list(&self, limit: u64) -> Result<Vec<SetAside>, Error>;
    /// Pending and set-aside counts.
    async fn stats(&self) -> Result<OutboxStats, Error>;
    /// Deletes notifications sent before `before`; how many.
    async fn prune(&self, before: DateTime<Utc>) -> Result<u64, Error>;
}

/// Why a mail could not be sent, and whether trying again can help.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct MailError {
    /// What went wrong, without the recipient's address.
    pub message: String,
    /// `true` when no retry can succeed (an address no server accepts, a
    /// permanent SMTP refusal): the notification is set aside.
    pub permanent: bool,
}

impl MailError {
    /// A failure worth retrying later (a server down, a 4xx reply).
    pub fn transient(message: impl Into<String>) -> Self {
        Self { message: message.into(), permanent: false }
    }
    /// A failure no retry can fix.
    pub fn permanent(message: impl Into<String>) -> Self {
        Self { message: message.into(), permanent: true }
    }
}

/// Sends notification mail.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait::async_trait]
pub trait Mailer: Send + Sync {
    /// Sends one notification.
    async fn send(&self, n: &Notification) -> Result<(), MailError>;
}

/// The provisioning activity log. Written off the request's transaction,
/// in batches (a refused request's transaction is rolled back, and
/// recording must never slow provisioning down).
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait::async_trait]
pub trait ActivityLog: Send + Sync {
    /// Appends a batch of records.
    async fn append(&self, records: Vec<ActivityRecord>) -> Result<(), Error>;
    /// An organization's records matching `query`, newest first.
    async fn list(&self, org: &OrganizationId, query: ActivityQuery) -> Result<Vec<ActivityRecord>, Error>;
    /// Deletes records (and key usage) older than `before`; how many
    /// records.
    async fn prune(&self, before: DateTime<Utc>) -> Result<u64, Error>;
    /// Adds counted traffic to the keys' hourly totals.
    async fn add_usage(&self, usage: Vec<KeyUsage>) -> Result<(), Error>;
    /// An organization's keys' hourly totals since `since`.
    async fn usage(&self, org: &OrganizationId, since: DateTime<Utc>) -> Result<Vec<KeyUsage>, Error>;
}

/// Why a DNS lookup could not be answered (not: "there is no record").
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct LookupError(pub String);

/// DNS: TXT lookups for an organization Admin proving control of a
/// domain, and address lookups for webhook destinations.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait::async_trait]
pub trait DomainVerifier: Send + Sync {
    /// The TXT records published at `name`, each record's strings joined.
    /// A name with no TXT record (or that does not exist) is an empty list.
    ///
    /// # Errors
    /// [`LookupError`] when the lookup itself failed (timeout, server
    /// failure): the caller tells the person to try again later.
    async fn txt(&self, name: &str) -> Result<Vec<String>, LookupError>;
    /// The IPv4 and IPv6 addresses of `host`; empty when it does not exist.
    ///
    /// # Errors
    /// [`LookupError`] when the lookup itself failed.
    async fn addresses(&self, host: &str) -> Result<Vec<std::net::IpAddr>, LookupError>;
}

/// A [`DomainVerifier`] for deployments without DNS verification: every
/// lookup fails, so only the operator registers domains.
pub struct NoDomainVerification;

#[async_trait::async_trait]
impl DomainVerifier for NoDomainVerification {
    async fn txt(&self, _name: &str) -> Result<Vec<String>, LookupError> {
        Err(LookupError(
            "DNS verification is not configured in this deployment; ask the operator to register the domain (enlist domain add)"
                .into(),
        ))
    }
    async fn addresses(&self, host: &str) -> Result<Vec<std::net::IpAddr>, LookupError> {
        Err(LookupError(format!(
            "no DNS resolver is configured in this deployment, so {host} cannot be looked up; \
             use the endpoint's IP address or configure DNS (/etc/resolv.conf)"
        )))
    }
}

/// The time. Nothing in the core or the adapters reads the wall clock.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
pub trait Clock: Send + Sync {
    /// Now.
    fn now(&self) -> DateTime<Utc>;
}

/// Identifiers and secrets.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
pub trait IdGenerator: Send + Sync {
    /// A new opaque, unique id.
    fn id(&self) -> String;
    /// A new secret with at least 256 bits of entropy, URL-safe text.
    fn secret(&self) -> String;
}
