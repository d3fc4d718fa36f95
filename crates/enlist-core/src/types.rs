//! Value objects of the product's language. Each is parsed once, at the
//! edge, and valid for as long as it is held ("parse, don't validate").

use crate::error::Error;
use std::fmt;

macro_rules! id_type {
    ($(#[$m:meta])* $name:ident) => {
        $(#[$m])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(String);
        impl $name {
            /// Wraps an opaque identifier (as produced by the id port or read
            /// back from storage).
            pub fn new(s: impl Into<String>) -> Self { Self(s.into()) }
            /// The identifier as text.
            pub fn as_str(&self) -> &str { &self.0 }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result { f.write_str(&self.0) }
        }
    };
}

id_type!(
    /// An organization (tenant).
    OrganizationId
);
id_type!(
    /// A global person account.
    AccountId
);
id_type!(
    /// A membership: the SCIM User `id`, stable and opaque.
    UserId
);
id_type!(
    /// A group.
    GroupId
);
id_type!(
    /// An API key's public identifier (part of the token, not secret).
    ApiKeyId
);
id_type!(
    /// A webhook endpoint.
    WebhookId
);
impl WebhookId {
    /// The name under which the endpoint's delivery position is kept with
    /// the event consumers (`webhook:<id>`): delivery, `/metrics` lag and
    /// `enlist webhook list` read it by this name, whichever process runs.
    pub fn consumer_name(&self) -> String {
        format!("webhook:{}", self.0)
    }
}
id_type!(
    /// A change event: the `webhook-id` of its deliveries, so a receiver
    /// can tell a redelivery from a new event.
    EventId
);
id_type!(
    /// An audit record.
    AuditId
);

/// A registered email domain: lower-case ASCII (IDNA A-labels), at least two
/// labels, each a valid hostname label.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DomainName(String);

impl DomainName {
    /// Parses and normalises a domain (`Contoso.COM` → `contoso.com`,
    /// `bücher.de` → `xn--bcher-kva.de`).
    ///
    /// # Errors
    /// [`Error::InvalidValue`] naming the domain when it is not a valid
    /// internet domain name.
    pub fn parse(input: &str) -> Result<Self, Error> {
        let bad = |why: &str| {
            Error::invalid(format!("'{input}' is not a valid domain name: {why}. Enter a domain like contoso.com"))
        };
        let trimmed = input.trim().trim_end_matches('.');
        if trimmed.is_empty() {
            return Err(bad("it is empty"));
        }
        let ascii = idna::domain_to_ascii(trimmed).map_err(|_| bad("it is not a valid IDNA name"))?;
        if ascii.len() > 253 {
            return Err(bad("it is longer than 253 characters"));
        }
        let labels: Vec<&str> = ascii.split('.').collect();
        if labels.len() < 2 {
            return Err(bad("it needs at least two labels"));
        }
        for label in &labels {
            let ok = !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
            if !ok {
                return Err(bad("a label is empty, too long, or has characters other than letters, digits and '-'"));
            }
        }
        Ok(Self(ascii))
    }
    /// The normalised domain.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for DomainName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An email address, kept exactly as sent, compared case-insensitively.
#[derive(Debug, Clone)]
pub struct Email {
    raw: String,
    folded: String,
    domain: DomainName,
}

impl Email {
    /// Parses `local@domain`.
    ///
    /// # Errors
    /// [`Error::InvalidValue`] when the text is not an email address.
    pub fn parse(input: &str) -> Result<Self, Error> {
        let bad = || Error::invalid(format!("'{input}' is not a valid email address"));
        if input.len() > 254 || input.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(bad());
        }
        let (local, domain) = input.rsplit_once('@').ok_or_else(bad)?;
        if local.is_empty() || local.len() > 64 || local.contains('@') {
            return Err(bad());
        }
        let domain = DomainName::parse(domain).map_err(|_| bad())?;
        Ok(Self { raw: input.to_owned(), folded: format!("{}@{}", local.to_lowercase(), domain.as_str()), domain })
    }
    /// An address read back from storage, which this crate validated when
    /// it was written: not checked again, so a rule tightened later never
    /// makes a stored user unreadable. For storage adapters.
    pub fn from_stored(stored: &str) -> Self {
        Self::parse(stored).unwrap_or_else(|_| {
            let (local, domain) = stored.rsplit_once('@').unwrap_or((stored, ""));
            let domain = DomainName(fold(domain));
            Self { raw: stored.to_owned(), folded: format!("{}@{}", local.to_lowercase(), domain.0), domain }
        })
    }
    /// Whether `input` looks like an email address at all.
    pub fn looks_like(input: &str) -> bool {
        Self::parse(input).is_ok()
    }
    /// The address exactly as sent.
    pub fn as_str(&self) -> &str {
        &self.raw
    }
    /// The case-folded address: the key of the global account.
    pub fn folded(&self) -> &str {
        &self.folded
    }
    /// The normalised domain part.
    pub fn domain(&self) -> &DomainName {
        &self.domain
    }
}

impl PartialEq for Email {
    fn eq(&self, other: &Self) -> bool {
        self.folded == other.folded
    }
}
impl Eq for Email {}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.raw)
    }
}

/// Longest `userName`, in bytes of UTF-8.
pub const MAX_USER_NAME_BYTES: usize = 256;

/// A user's `userName`: non-empty, kept as sent, unique per organization
/// case-insensitively.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserName(String);

impl UserName {
    /// # Errors
    /// [`Error::InvalidValue`] when blank or longer than [`MAX_USER_NAME_BYTES`].
    pub fn parse(input: &str) -> Result<Self, Error> {
        if input.trim().is_empty() {
            return Err(Error::invalid(
                "userName is required and may not be empty; map userPrincipalName (or the user's email) to userName",
            ));
        }
        if input.len() > MAX_USER_NAME_BYTES {
            return Err(Error::invalid(format!(
                "userName is {} bytes long; Enlist accepts at most {MAX_USER_NAME_BYTES} bytes (UTF-8)",
                input.len()
            )));
        }
        Ok(Self(input.to_owned()))
    }
    /// A userName read back from storage: trusted, see [`Email::from_stored`].
    pub fn from_stored(stored: &str) -> Self {
        Self(stored.to_owned())
    }
    /// As sent.
    pub fn as_str(&self) -> &str {
        &self.0
    }
    /// Case-folded, for uniqueness and `eq` lookups.
    pub fn folded(&self) -> String {
        fold(&self.0)
    }
}

/// A group's `displayName`: required, not blank, kept as sent, unique per
/// organization case-insensitively, and short enough to index. The one
/// place this rule lives; the SCIM edge parses into it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DisplayName(String);

impl DisplayName {
    /// # Errors
    /// [`Error::InvalidValue`] when blank or longer than the indexed limit.
    pub fn parse(input: &str) -> Result<Self, Error> {
        if input.trim().is_empty() {
            return Err(Self::missing());
        }
        crate::model::check_indexed("displayName", input)?;
        Ok(Self(input.to_owned()))
    }
    /// The error for a group without a name (absent, null, removed, blank).
    pub fn missing() -> Error {
        Error::invalid(
            "displayName is required for a group and may not be empty or removed; map the group's name to displayName",
        )
    }
    /// A name read back from storage: trusted, see [`Email::from_stored`].
    pub fn from_stored(stored: &str) -> Self {
        Self(stored.to_owned())
    }
    /// As sent.
    pub fn as_str(&self) -> &str {
        &self.0
    }
    /// Case-folded, for uniqueness and lookups by name.
    pub fn folded(&self) -> String {
        fold(&self.0)
    }
}

impl fmt::Display for DisplayName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Case folding used for every case-insensitive comparison and shadow
/// column, in one place so adapters and the core agree.
pub fn fold(s: &str) -> String {
    s.to_lowercase()
}

/// The four role names, highest first, as one literal: schema descriptions
/// are `const` and build their text with `concat!`. [`Role::NAMES`] and
/// `Role::as_str` are checked against it by a test.
macro_rules! role_names {
    () => {
        "Admin, FullMember, FreeMember, Guest"
    };
}
pub(crate) use role_names;

/// An app role. Ordered by declaration: `Admin > FullMember > FreeMember >
/// Guest`; comparisons (`max`, filters with `gt`) use this order.
///
/// ```
/// use enlist_core::Role;
/// assert!(Role::parse("admin").unwrap() > Role::FullMember);
/// assert!(Role::parse("Owner").unwrap_err().to_string().contains("Admin, FullMember, FreeMember, Guest"));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    /// Lowest.
    Guest,
    /// A member on the free plan.
    FreeMember,
    /// A paid member.
    FullMember,
    /// Administers the organization.
    Admin,
}

impl Role {
    /// Every role, highest first.
    pub const ALL: [Role; 4] = [Role::Admin, Role::FullMember, Role::FreeMember, Role::Guest];
    /// Their canonical names, in the same order.
    pub const NAMES: [&'static str; 4] = ["Admin", "FullMember", "FreeMember", "Guest"];

    /// Matches one of the four names case-insensitively.
    ///
    /// # Errors
    /// [`Error::InvalidValue`] naming the value and the allowed ones.
    pub fn parse(input: &str) -> Result<Self, Error> {
        Self::ALL
            .into_iter()
            .find(|r| r.as_str().eq_ignore_ascii_case(input.trim()))
            .ok_or_else(|| {
                Error::invalid(format!(
                    "Unknown role '{input}' in roles. Allowed values: {}. \
                     Define exactly these role values in your identity provider (Entra ID app roles, or the enum of Okta's 'roles' attribute).",
                    role_names!()
                ))
            })
    }
    /// The canonical name.
    pub fn as_str(self) -> &'static str {
        // ALL is highest first; the discriminant counts from the lowest.
        Self::NAMES[Self::ALL.len() - 1 - self as usize]
    }
}
impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a user's effective role comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoleSource {
    /// The identity provider's `roles` gave the highest role.
    Assigned,
    /// A role-mapped group gave a higher role than `roles`.
    Group,
    /// Neither gave one: the organization's default.
    Default,
}

impl RoleSource {
    /// As written in the Enlist User extension.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Assigned => "assigned",
            Self::Group => "group",
            Self::Default => "default",
        }
    }
    /// Parses the stored form.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "assigned" => Some(Self::Assigned),
            "group" => Some(Self::Group),
            "default" => Some(Self::Default),
            _ => None,
        }
    }
}

/// The effective-role rule: the highest of the assigned roles and the group
/// roles; the organization's default where neither gives one. Ties between
/// an assigned and a group role count as assigned.
pub fn effective_role(assigned: &[Role], group_floor: Option<Role>, default: Role) -> (Role, RoleSource) {
    let assigned_max = assigned.iter().copied().max();
    match (assigned_max, group_floor) {
        (Some(a), Some(g)) if g > a => (g, RoleSource::Group),
        (Some(a), _) => (a, RoleSource::Assigned),
        (None, Some(g)) => (g, RoleSource::Group),
        (None, None) => (default, RoleSource::Default),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn string_limits_count_bytes_not_characters() {
        // 'é' is two bytes: 129 of them are 258 bytes, over the 256 limit.
        assert!(UserName::parse(&"é".repeat(128)).is_ok());
        let e = UserName::parse(&"é".repeat(129)).unwrap_err();
        assert!(e.to_string().contains("258 bytes"), "{e}");
        assert!(DisplayName::parse(&"é".repeat(512)).is_ok());
        let e = DisplayName::parse(&"é".repeat(513)).unwrap_err();
        assert!(e.to_string().contains("1026 bytes"), "{e}");
    }

    #[test]
    fn role_names_are_one_list() {
        let names: Vec<&str> = Role::ALL.iter().map(|r| r.as_str()).collect();
        assert_eq!(names, Role::NAMES);
        assert_eq!(role_names!(), Role::NAMES.join(", "));
        assert!(Role::ALL.windows(2).all(|w| w[0] > w[1]), "ALL is highest first");
    }

    #[test]
    fn role_order_is_total_and_parse_is_case_insensitive() {
        assert!(Role::Admin > Role::FullMember);
        assert!(Role::FullMember > Role::FreeMember);
        assert!(Role::FreeMember > Role::Guest);
        for (input, want) in [
            ("admin", Role::Admin),
            ("FULLMEMBER", Role::FullMember),
            (" FreeMember ", Role::FreeMember),
            ("guest", Role::Guest),
        ] {
            assert_eq!(Role::parse(input).unwrap(), want, "{input}");
        }
    }

    #[test]
    fn unknown_role_names_the_allowed_values() {
        let err = Role::parse("User").unwrap_err();
        let Error::InvalidValue { detail } = err else { panic!("wrong kind") };
        assert!(detail.contains("Unknown role 'User'"), "{detail}");
        assert!(detail.contains("Admin, FullMember, FreeMember, Guest"), "{detail}");
    }

    #[test]
    fn effective_role_table() {
        use Role::*;
        type Case<'a> = (&'a [Role], Option<Role>, Role, (Role, RoleSource));
        let cases: &[Case<'_>] = &[
            (&[FullMember], None, Guest, (FullMember, RoleSource::Assigned)),
            (&[Guest, Admin, FreeMember], None, Guest, (Admin, RoleSource::Assigned)),
            (&[], Some(FullMember), Guest, (FullMember, RoleSource::Group)),
            (&[FreeMember], Some(Admin), Guest, (Admin, RoleSource::Group)),
            (&[Admin], Some(FreeMember), Guest, (Admin, RoleSource::Assigned)),
            (&[FullMember], Some(FullMember), Guest, (FullMember, RoleSource::Assigned)),
            (&[], None, FreeMember, (FreeMember, RoleSource::Default)),
            // The default is a fallback, never a floor.
            (&[Guest], None, FullMember, (Guest, RoleSource::Assigned)),
        ];
        for (assigned, group, default, want) in cases {
            assert_eq!(effective_role(assigned, *group, *default), *want, "{assigned:?} {group:?} {default:?}");
        }
    }

    #[test]
    fn domains_normalise_and_refuse_garbage() {
        assert_eq!(DomainName::parse("Contoso.COM").unwrap().as_str(), "contoso.com");
        assert_eq!(DomainName::parse("bücher.de").unwrap().as_str(), "xn--bcher-kva.de");
        assert_eq!(DomainName::parse("contoso.com.").unwrap().as_str(), "contoso.com");
        for bad in ["", "localhost", "-a.com", "a..com", "exa mple.com", "a_b.com"] {
            assert!(DomainName::parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn emails_compare_case_insensitively_and_keep_their_text() {
        let a = Email::parse("Alice@Contoso.com").unwrap();
        let b = Email::parse("alice@contoso.COM").unwrap();
        assert_eq!(a, b);
        assert_eq!(a.as_str(), "Alice@Contoso.com");
        assert_eq!(a.domain().as_str(), "contoso.com");
        for bad in ["alice", "@contoso.com", "alice@", "a b@c.com", "alice@localhost"] {
            assert!(Email::parse(bad).is_err(), "{bad:?} accepted");
        }
    }
}
