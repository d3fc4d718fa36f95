//! The entities: organizations, global accounts, memberships (SCIM Users),
//! groups, API keys, audit records and queued notifications.

use crate::types::*;
use crate::value::{Complex, Value};
use chrono::{DateTime, Utc};

mod profile;
pub use profile::{check_indexed, Profile, MAX_INDEXED_BYTES, MAX_VALUES};
pub(crate) use profile::{password_refused, too_many_values};

/// A tenant.
#[derive(Debug, Clone, PartialEq)]
pub struct Organization {
    /// Id.
    pub id: OrganizationId,
    /// Unique name.
    pub name: String,
    /// Registered email domains, each in this organization only.
    pub domains: Vec<DomainName>,
    /// The SCIM add-on: when off, the organization's API keys get 403.
    pub scim_enabled: bool,
    /// The role of users provisioned without one.
    pub default_role: Role,
    /// Creation time.
    pub created_at: DateTime<Utc>,
}

impl Organization {
    /// Whether `email`'s domain is one of the registered domains (exact
    /// match: subdomains count only when registered themselves).
    pub fn owns(&self, email: &Email) -> bool {
        self.domains.iter().any(|d| d == email.domain())
    }
    /// Why this organization's API keys are refused on SCIM routes, with
    /// the fix; `None` while SCIM works. SCIM needs the add-on switched on
    /// and a registered domain (email changes and account linking are
    /// decided by domains); the trial [`DEFAULT_ORGANIZATION`] of a first
    /// start is the one organization that works without a domain.
    ///
    /// [`DEFAULT_ORGANIZATION`]: crate::service::DEFAULT_ORGANIZATION
    pub fn scim_refusal(&self) -> Option<String> {
        if self.lacks_scim_domain() {
            return Some(format!(
                "SCIM is off for organization '{}' because it has no registered email domain (email changes and \
                 account linking are decided by domains). Ask the operator to register one \
                 (enlist domain add '{}' example.com, then enlist org scim '{}' on), or prove one as an Admin \
                 with a DNS TXT record in the console",
                self.name, self.name, self.name
            ));
        }
        (!self.scim_enabled).then(|| {
            format!(
                "SCIM provisioning is an Enterprise add-on and is not enabled for organization '{}'; ask your \
                 Enlist account manager to enable it",
                self.name
            )
        })
    }
    /// Whether SCIM is refused for want of a registered domain: none is
    /// registered, and this is not the trial [`DEFAULT_ORGANIZATION`].
    ///
    /// [`DEFAULT_ORGANIZATION`]: crate::service::DEFAULT_ORGANIZATION
    pub fn lacks_scim_domain(&self) -> bool {
        lacks_scim_domain(&self.name, &self.domains)
    }
    /// The domains as a human list, for details.
    pub fn domain_list(&self) -> String {
        if self.domains.is_empty() {
            "none registered".to_owned()
        } else {
            self.domains.iter().map(DomainName::as_str).collect::<Vec<_>>().join(", ")
        }
    }
}

/// The rule of [`Organization::lacks_scim_domain`], for an organization
/// being created.
pub(crate) fn lacks_scim_domain(name: &str, domains: &[DomainName]) -> bool {
    domains.is_empty() && name != crate::service::DEFAULT_ORGANIZATION
}

/// A person: one global account per email address.
#[derive(Debug, Clone, PartialEq)]
pub struct Account {
    /// Id.
    pub id: AccountId,
    /// The account's email, unique case-insensitively across Enlist.
    pub email: Email,
    /// Creation time.
    pub created_at: DateTime<Utc>,
}

/// A person's membership in one organization: the SCIM User resource.
#[derive(Debug, Clone, PartialEq)]
pub struct User {
    /// The SCIM `id`.
    pub id: UserId,
    /// The organization.
    pub organization_id: OrganizationId,
    /// The global account.
    pub account_id: AccountId,
    /// What the identity provider sent.
    pub profile: Profile,
    /// The role the user holds.
    pub effective_role: Role,
    /// Where it comes from.
    pub role_source: RoleSource,
    /// `meta.created`.
    pub created_at: DateTime<Utc>,
    /// `meta.lastModified`.
    pub updated_at: DateTime<Utc>,
    /// `meta.version`, incremented by every write.
    pub version: u64,
}

impl User {
    /// Active and holding the Admin role.
    pub fn is_active_admin(&self) -> bool {
        self.profile.active() && self.effective_role == Role::Admin
    }
}

/// A group of one organization's users.
#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    /// Id.
    pub id: GroupId,
    /// Organization.
    pub organization_id: OrganizationId,
    /// Unique per organization, case-insensitively; kept as sent.
    pub display_name: DisplayName,
    /// The identity provider's id.
    pub external_id: Option<String>,
    /// The role all members hold at least.
    pub role: Option<Role>,
    /// `meta.created`.
    pub created_at: DateTime<Utc>,
    /// `meta.lastModified`.
    pub updated_at: DateTime<Utc>,
    /// `meta.version`.
    pub version: u64,
}

/// A member as a group lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberRef {
    /// The user.
    pub id: UserId,
    /// Their `userName`, the member's `display`.
    pub user_name: String,
}

/// A group as a user lists it (`groups`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupRef {
    /// The group.
    pub id: GroupId,
    /// Its `displayName`.
    pub display_name: String,
}

/// A new effective role for a user, written by a recomputation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RoleUpdate<'a> {
    /// Whose.
    pub user: &'a UserId,
    /// The role.
    pub role: Role,
    /// Its source.
    pub source: RoleSource,
}

/// A signed-in console session of an organization's Admin.
#[derive(Debug, Clone, PartialEq)]
pub struct ConsoleSession {
    /// The organization.
    pub organization_id: OrganizationId,
    /// The Admin.
    pub user_id: UserId,
    /// The token every form of the session carries.
    pub csrf: String,
    /// When it ends.
    pub expires_at: DateTime<Utc>,
}

/// One provisioning request as the organization's admin sees it in the
/// activity log: what was asked, by which key, and what the identity
/// provider was told. Never a secret, a password or a token.
#[derive(Debug, Clone, PartialEq)]
pub struct ActivityRecord {
    /// Id.
    pub id: String,
    /// The organization the key belongs to.
    pub organization_id: OrganizationId,
    /// When the request arrived.
    pub at: DateTime<Utc>,
    /// The API key's label.
    pub key_label: String,
    /// `POST`, `PATCH`, …
    pub method: String,
    /// The route (`/Users/{id}`), never the raw path.
    pub route: String,
    /// The resource's id, where known.
    pub resource_id: Option<String>,
    /// Its userName or displayName, where known.
    pub subject: Option<String>,
    /// The HTTP status answered.
    pub status: u16,
    /// The SCIM error type, for a refusal.
    pub scim_type: Option<String>,
    /// The exact detail the identity provider received, for a refusal.
    pub detail: Option<String>,
    /// How long the request took.
    pub latency_ms: u64,
    /// The request id (`X-Request-Id`), to find it in the logs.
    pub request_id: String,
    /// What was sent, redacted: attribute names and short values, never a
    /// password.
    pub summary: String,
}

impl ActivityRecord {
    /// Most bytes stored of `subject` (a userName or displayName).
    pub const MAX_SUBJECT_BYTES: usize = 256;
    /// Most bytes stored of `detail` (a refusal echoes what was sent).
    pub const MAX_DETAIL_BYTES: usize = 1024;
    /// Most bytes stored of `summary`.
    pub const MAX_SUMMARY_BYTES: usize = 4096;
    /// Most bytes stored of `resource_id`, `request_id`, `key_label`,
    /// `method` and `route` (ids are 36 bytes; a longer one was sent by
    /// the client).
    pub const MAX_SHORT_BYTES: usize = 128;

    /// The record with every text cut to its cap, at a character
    /// boundary, marked with `…`. A client's text never stores more than
    /// about 6 KiB per request, whatever it sent.
    #[must_use]
    pub fn bounded(mut self) -> Self {
        for (s, max) in [
            (&mut self.key_label, Self::MAX_SHORT_BYTES),
            (&mut self.method, Self::MAX_SHORT_BYTES),
            (&mut self.route, Self::MAX_SHORT_BYTES),
            (&mut self.request_id, Self::MAX_SHORT_BYTES),
            (&mut self.summary, Self::MAX_SUMMARY_BYTES),
        ] {
            cut(s, max);
        }
        for (s, max) in [
            (&mut self.resource_id, Self::MAX_SHORT_BYTES),
            (&mut self.subject, Self::MAX_SUBJECT_BYTES),
            (&mut self.scim_type, Self::MAX_SHORT_BYTES),
            (&mut self.detail, Self::MAX_DETAIL_BYTES),
        ] {
            if let Some(s) = s {
                cut(s, max);
            }
        }
        self
    }

    /// About how many bytes the record takes stored: its texts and a fixed
    /// allowance for the rest of the row.
    pub fn stored_bytes(&self) -> usize {
        let opt = |o: &Option<String>| o.as_ref().map_or(0, String::len);
        64 + self.id.len()
            + self.organization_id.as_str().len()
            + self.key_label.len()
            + self.method.len()
            + self.route.len()
            + self.request_id.len()
            + self.summary.len()
            + opt(&self.resource_id)
            + opt(&self.subject)
            + opt(&self.scim_type)
            + opt(&self.detail)
    }
}

/// Cuts `s` to at most `max` bytes at a character boundary, ending in `…`.
fn cut(s: &mut String, max: usize) {
    if s.len() <= max {
        return;
    }
    let mut end = max.saturating_sub('…'.len_utf8());
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s.truncate(end);
    s.push('…');
}

/// Which activity to read.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ActivityQuery {
    /// Only refused requests (status 400 and above).
    pub failed_only: bool,
    /// Only at or after this time.
    pub since: Option<DateTime<Utc>>,
    /// Only about this person or group (userName or displayName, any case).
    pub subject: Option<String>,
    /// Only through this API key (its label).
    pub key_label: Option<String>,
    /// At most this many, newest first.
    pub limit: u64,
}

/// A webhook endpoint: change events are POSTed to it, signed (Standard
/// Webhooks). `organization_id` `None`: every organization's events (the
/// operator's endpoint).
#[derive(Debug, Clone, PartialEq)]
pub struct Webhook {
    /// Id.
    pub id: WebhookId,
    /// Whose events; `None` for every organization.
    pub organization_id: Option<OrganizationId>,
    /// Where: `https://…` (or `http://` to a loopback host, for development).
    pub url: String,
    /// The signing secret (`whsec_…`); kept to sign, shown once.
    pub secret: String,
    /// Whether the operator allowed a private network address.
    pub allow_private: bool,
    /// When registered.
    pub created_at: DateTime<Utc>,
    /// When it was disabled (after failing for too long), if it was.
    pub disabled_at: Option<DateTime<Utc>>,
    /// Why, for the operator.
    pub disabled_reason: Option<String>,
}

/// An API key. The secret is never stored, only its hash.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiKey {
    /// Public id (part of the token).
    pub id: ApiKeyId,
    /// Organization it selects.
    pub organization_id: OrganizationId,
    /// What people see (notification mails, audit log).
    pub label: String,
    /// SHA-256 of the secret.
    pub secret_hash: Vec<u8>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last successful use (updated at most once a minute).
    pub last_used_at: Option<DateTime<Utc>>,
    /// Revocation time: a revoked key stops working at once.
    pub revoked_at: Option<DateTime<Utc>>,
}

/// Who performs a change.
#[derive(Debug, Clone, PartialEq)]
pub enum Actor {
    /// An identity provider, through an API key.
    ApiKey {
        /// The key.
        id: ApiKeyId,
        /// Its label.
        label: String,
    },
    /// The operator, through the CLI.
    Operator,
    /// A member of the organization (the admin console).
    Member {
        /// Who.
        user: UserId,
    },
}

impl Actor {
    /// The name shown in audit records and notification mails.
    pub fn label(&self) -> String {
        match self {
            Actor::ApiKey { label, .. } => label.clone(),
            Actor::Operator => "Enlist operator".to_owned(),
            Actor::Member { user } => format!("user {user}"),
        }
    }
}

/// An authenticated caller in one organization.
#[derive(Debug, Clone, PartialEq)]
pub struct Caller {
    /// The organization the credentials select.
    pub organization_id: OrganizationId,
    /// Who.
    pub actor: Actor,
}

impl Caller {
    /// The operator acting on `org` (the CLI, a host's own start-up code).
    pub fn operator(org: &OrganizationId) -> Self {
        Self { organization_id: org.clone(), actor: Actor::Operator }
    }
}

/// The kind of resource an audit record is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResourceKind {
    /// A user (membership).
    User,
    /// A group.
    Group,
    /// An API key.
    ApiKey,
    /// The organization itself (domains, settings).
    Organization,
}

impl ResourceKind {
    /// Stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::User => "User",
            Self::Group => "Group",
            Self::ApiKey => "ApiKey",
            Self::Organization => "Organization",
        }
    }
}

/// What an audited change did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    /// Created.
    Create,
    /// Replaced (PUT).
    Replace,
    /// Patched.
    Patch,
    /// Deleted.
    Delete,
    /// Revoked (keys).
    Revoke,
    /// Settings changed (domains, group role, SCIM switch, guard).
    Configure,
    /// The deprovisioning guard tripped and held removals.
    Hold,
    /// Held removals were approved.
    Approve,
    /// A hold was dismissed (nothing approved; counting starts afresh).
    Dismiss,
}

impl Operation {
    /// Stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Create => "create",
            Self::Replace => "replace",
            Self::Patch => "patch",
            Self::Delete => "delete",
            Self::Revoke => "revoke",
            Self::Configure => "configure",
            Self::Hold => "hold",
            Self::Approve => "approve",
            Self::Dismiss => "dismiss",
        }
    }
}

/// One changed attribute.
#[derive(Debug, Clone, PartialEq)]
pub struct AttributeChange {
    /// Dotted attribute name.
    pub attribute: String,
    /// Before (absent: `None`).
    pub before: Option<Value>,
    /// After (absent: `None`).
    pub after: Option<Value>,
}

/// An append-only audit record.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditRecord {
    /// Id.
    pub id: AuditId,
    /// Organization.
    pub organization_id: OrganizationId,
    /// When.
    pub at: DateTime<Utc>,
    /// Who (API key label, operator, member).
    pub actor: String,
    /// What kind of resource.
    pub resource: ResourceKind,
    /// Which.
    pub resource_id: String,
    /// What was done.
    pub operation: Operation,
    /// Attributes changed, before and after.
    pub changes: Vec<AttributeChange>,
    /// Anything else worth recording (e.g. an ignored password).
    pub note: Option<String>,
}

/// One API key's traffic in one hour, for its connection health: every
/// request it authenticated, those refused, and when the latest request
/// and the latest success came. Counted in process and added up in the
/// database, so several processes' counts sum.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyUsage {
    /// The key.
    pub key_id: ApiKeyId,
    /// Its organization.
    pub organization_id: OrganizationId,
    /// The hour (its start).
    pub hour: DateTime<Utc>,
    /// Requests answered.
    pub requests: u64,
    /// Of them, answered with an error (4xx or 5xx).
    pub refusals: u64,
    /// The latest request.
    pub last_request_at: DateTime<Utc>,
    /// The latest request answered with success.
    pub last_success_at: Option<DateTime<Utc>>,
}

/// What a notification says.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum NotificationKind {
    /// "You were added": to a person just provisioned; `added_by` names
    /// the key.
    #[default]
    Added,
    /// To each active Admin: the deprovisioning guard held removals asked
    /// by the key `added_by` names.
    DeprovisioningHeld {
        /// Removals counted in the window when it tripped.
        removed: u64,
        /// The window's limit.
        limit: u64,
        /// The window, in seconds.
        window_secs: u32,
    },
}

/// A notification queued in the outbox, in the transaction of the change
/// it is about.
#[derive(Debug, Clone, PartialEq)]
pub struct Notification {
    /// Id.
    pub id: String,
    /// Organization.
    pub organization_id: OrganizationId,
    /// The organization's name.
    pub organization_name: String,
    /// Recipient address.
    pub recipient: String,
    /// Recipient's display name, if known.
    pub recipient_name: Option<String>,
    /// The label of the API key (or operator) that provisioned them, or
    /// whose removals were held.
    pub added_by: String,
    /// Queued at.
    pub created_at: DateTime<Utc>,
    /// What it says.
    pub kind: NotificationKind,
}

/// The differences between two profiles, attribute by attribute (extension
/// attributes one level down), for audit records.
pub fn diff(before: &Complex, after: &Complex) -> Vec<AttributeChange> {
    let mut out = Vec::new();
    let keys: std::collections::BTreeSet<&String> = before.keys().chain(after.keys()).collect();
    for k in keys {
        let (b, a) = (before.get(k), after.get(k));
        if b == a {
            continue;
        }
        if k.starts_with("urn:") {
            let empty = Complex::new();
            let bc = b.and_then(Value::as_complex).unwrap_or(&empty);
            let ac = a.and_then(Value::as_complex).unwrap_or(&empty);
            for mut c in diff(bc, ac) {
                c.attribute = format!("{k}:{}", c.attribute);
                out.push(c);
            }
        } else {
            out.push(AttributeChange { attribute: k.clone(), before: b.cloned(), after: a.cloned() });
        }
    }
    out
}

#[cfg(test)]
mod tests;
