//! The entities: organizations, global accounts, memberships (SCIM Users),
//! groups, API keys, audit records and queued notifications.

use crate::error::{Error, Result};
use crate::schema::ENTERPRISE_USER;
use crate::types::*;
use crate::value::{Complex, Value};
use chrono::{DateTime, Utc};

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
    /// The domains as a human list, for details.
    pub fn domain_list(&self) -> String {
        if self.domains.is_empty() {
            "none registered".to_owned()
        } else {
            self.domains.iter().map(DomainName::as_str).collect::<Vec<_>>().join(", ")
        }
    }
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

/// Longest value, in bytes of UTF-8, of an attribute that is looked up by
/// index (`displayName` and `externalId` of users and groups): databases
/// limit index entries in bytes, not characters.
pub const MAX_INDEXED_BYTES: usize = 1024;

/// The most values one multi-valued attribute of a user may hold (emails,
/// phoneNumbers, roles, …). Identity providers send a handful; the bound
/// keeps every pass over a profile's values small.
pub const MAX_VALUES: usize = 100;

/// The refusal for a multi-valued attribute over [`MAX_VALUES`].
pub(crate) fn too_many_values(name: &str, n: usize) -> Error {
    Error::invalid(format!(
        "{name} has {n} values; Enlist keeps at most {MAX_VALUES} per attribute. Send fewer values, or remove some first"
    ))
}

/// Refuses an indexed value longer than [`MAX_INDEXED_BYTES`].
///
/// # Errors
/// [`Error::InvalidValue`] naming the attribute and the limit.
pub fn check_indexed(name: &str, value: &str) -> Result<()> {
    if value.len() > MAX_INDEXED_BYTES {
        return Err(Error::invalid(format!(
            "{name} is {} bytes long; Enlist stores at most {MAX_INDEXED_BYTES} bytes (UTF-8) of it. Map a shorter value",
            value.len()
        )));
    }
    Ok(())
}

/// A user's profile as the identity provider sent it, validated: the
/// attributes that the product's rules read are parsed once, here.
#[derive(Debug, Clone, PartialEq)]
pub struct Profile {
    attrs: Complex,
    user_name: UserName,
    email: Email,
    active: bool,
    roles: Vec<Role>,
}

impl Profile {
    /// Validates a profile. `active` defaults to true when absent.
    ///
    /// # Errors
    /// [`Error::InvalidValue`] for a missing `userName`, an unknown role,
    /// no usable email, an invalid email, two `primary` values in one
    /// attribute; [`Error::Mutability`] for a `password`.
    pub fn parse(mut attrs: Complex) -> Result<Self> {
        if attrs.contains_key("password") {
            return Err(password_refused());
        }
        let user_name = match attrs.get("userName") {
            Some(Value::String(s)) => UserName::parse(s)?,
            Some(_) => return Err(Error::invalid("userName must be a string")),
            None => UserName::parse("")?,
        };
        for name in ["externalId", "displayName"] {
            if let Some(v) = attrs.get(name).and_then(Value::as_str) {
                check_indexed(name, v)?;
            }
        }
        let active = match attrs.get("active") {
            None => true,
            Some(Value::Bool(b)) => *b,
            Some(_) => return Err(Error::invalid("active must be a boolean (true or false)")),
        };
        attrs.insert("active".into(), Value::Bool(active));
        for (name, value) in &attrs {
            if let Value::Multi(elements) = value {
                if elements.len() > MAX_VALUES {
                    return Err(too_many_values(name, elements.len()));
                }
                let primaries = elements
                    .iter()
                    .filter(|e| e.as_complex().and_then(|c| c.get("primary")).and_then(Value::as_bool) == Some(true))
                    .count();
                if primaries > 1 {
                    return Err(Error::invalid(format!(
                        "{name} has {primaries} values marked primary; at most one may be primary"
                    )));
                }
            }
        }
        let mut roles = Vec::new();
        if let Some(v) = attrs.get("roles") {
            for element in v.elements() {
                let value =
                    element.as_complex().and_then(|c| c.get("value")).and_then(Value::as_str).ok_or_else(|| {
                        Error::invalid(concat!(
                            "each element of roles needs a string value: one of ",
                            crate::types::role_names!()
                        ))
                    })?;
                roles.push(Role::parse(value)?);
            }
        }
        let email = derive_email(&attrs, &user_name)?;
        Ok(Self { attrs, user_name, email, active, roles })
    }

    /// A profile read back from storage. It was validated by
    /// [`Profile::parse`] when it was written, so no rule runs again: a rule
    /// tightened later (a length, a role name) must not make stored users
    /// unreadable. What the rules read is derived the same way, leniently:
    /// an unknown role is skipped, a derived email is trusted.
    pub fn from_stored(attrs: Complex) -> Self {
        let user_name = UserName::from_stored(attrs.get("userName").and_then(Value::as_str).unwrap_or_default());
        let active = attrs.get("active").and_then(Value::as_bool).unwrap_or(true);
        let roles = attrs
            .get("roles")
            .map(|v| {
                v.elements()
                    .iter()
                    .filter_map(|e| e.as_complex()?.get("value")?.as_str())
                    .filter_map(|r| Role::parse(r).ok())
                    .collect()
            })
            .unwrap_or_default();
        let email = derive_email(&attrs, &user_name)
            .unwrap_or_else(|_| Email::from_stored(email_candidate(&attrs).unwrap_or(user_name.as_str())));
        Self { attrs, user_name, email, active, roles }
    }

    /// Every attribute, canonical names, extensions nested under their URN.
    pub fn attrs(&self) -> &Complex {
        &self.attrs
    }
    /// Takes the attributes back.
    pub fn into_attrs(self) -> Complex {
        self.attrs
    }
    /// `userName`.
    pub fn user_name(&self) -> &UserName {
        &self.user_name
    }
    /// The account email the profile gives (primary email, else work email,
    /// else an email-shaped `userName`).
    pub fn email(&self) -> &Email {
        &self.email
    }
    /// `active`.
    pub fn active(&self) -> bool {
        self.active
    }
    /// The roles the identity provider assigned.
    pub fn roles(&self) -> &[Role] {
        &self.roles
    }
    /// `externalId`.
    pub fn external_id(&self) -> Option<&str> {
        self.attrs.get("externalId").and_then(Value::as_str)
    }
    /// `displayName`.
    pub fn display_name(&self) -> Option<&str> {
        self.attrs.get("displayName").and_then(Value::as_str)
    }
    /// The manager's user id (Enterprise extension `manager.value`).
    pub fn manager(&self) -> Option<UserId> {
        self.attrs
            .get(ENTERPRISE_USER)
            .and_then(Value::as_complex)
            .and_then(|e| e.get("manager"))
            .and_then(Value::as_complex)
            .and_then(|m| m.get("value"))
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(UserId::new)
    }
}

pub(crate) fn password_refused() -> Error {
    Error::mutability(
        "Enlist does not accept passwords: people manage their own password or sign in with SSO. \
         Remove password from the request (in Okta, turn off Provisioning > To App > Sync Password).",
    )
}

/// The address the account email comes from, and which rule picked it:
/// the primary email, else the work email.
fn email_source(attrs: &Complex) -> Option<(&'static str, &str)> {
    let emails: Vec<&Complex> =
        attrs.get("emails").map(|v| v.elements().iter().filter_map(Value::as_complex).collect()).unwrap_or_default();
    let pick = |pred: &dyn Fn(&Complex) -> bool| {
        emails.iter().find(|e| pred(e)).and_then(|e| e.get("value")).and_then(Value::as_str)
    };
    let primary = pick(&|e| e.get("primary").and_then(Value::as_bool) == Some(true));
    let work = pick(&|e| e.get("type").and_then(Value::as_str).is_some_and(|t| t.eq_ignore_ascii_case("work")));
    primary.map(|a| ("primary email", a)).or(work.map(|a| ("work email", a)))
}

fn email_candidate(attrs: &Complex) -> Option<&str> {
    email_source(attrs).map(|(_, a)| a)
}

fn derive_email(attrs: &Complex, user_name: &UserName) -> Result<Email> {
    if let Some((which, addr)) = email_source(attrs) {
        return Email::parse(addr).map_err(|_| {
            Error::invalid(format!("The {which} '{addr}' is not a valid email address; map a valid address to emails"))
        });
    }
    Email::parse(user_name.as_str()).map_err(|_| {
        Error::invalid(format!(
            "User '{}' has no email address: map the user's mail to emails[type eq \"work\"].value, \
             mark an email primary, or use an email address as userName",
            user_name.as_str()
        ))
    })
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
    pub id: String,
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
    /// Settings changed (domains, group role, SCIM switch).
    Configure,
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
    pub id: String,
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

/// A notification queued in the outbox, in the provisioning transaction.
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
    /// The label of the API key (or operator) that provisioned them.
    pub added_by: String,
    /// Queued at.
    pub created_at: DateTime<Utc>,
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
mod tests {
    use super::*;

    fn s(v: &str) -> Value {
        Value::String(v.into())
    }

    #[test]
    fn a_stored_profile_reads_back_even_when_todays_rules_would_refuse_it() {
        // A role name since retired, a displayName over today's limit, two
        // primaries: each refused by parse, none may make the row unreadable.
        let mut attrs = Complex::new();
        attrs.insert("userName".into(), s("ana@contoso.com"));
        attrs.insert("displayName".into(), s(&"x".repeat(MAX_INDEXED_BYTES + 1)));
        attrs.insert(
            "roles".into(),
            Value::Multi(vec![
                Value::Complex([("value".to_owned(), s("Owner"))].into_iter().collect()),
                Value::Complex([("value".to_owned(), s("Admin"))].into_iter().collect()),
            ]),
        );
        assert!(Profile::parse(attrs.clone()).is_err());
        let p = Profile::from_stored(attrs);
        assert_eq!(p.user_name().as_str(), "ana@contoso.com");
        assert_eq!(p.email().as_str(), "ana@contoso.com");
        assert_eq!(p.roles(), &[Role::Admin]);
        assert!(p.active());
    }
}
