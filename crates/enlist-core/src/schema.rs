//! The resource schemas: every attribute a User or Group has, with its type,
//! mutability, case rules and sub-attributes (RFC 7643 §4, §7). The one
//! source the SCIM parser validates against, the discovery documents are
//! generated from, and storage adapters index by.

use crate::types::{role_names, Role};

/// URN of the core User schema.
pub const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
/// URN of the core Group schema.
pub const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
/// URN of the Enterprise User extension.
pub const ENTERPRISE_USER: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
/// URN of Enlist's read-only User extension (`effectiveRole`, `roleSource`).
pub const ENLIST_USER: &str = "urn:ietf:params:scim:schemas:extension:enlist:2.0:User";

/// An attribute's data type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttrType {
    /// Text.
    String,
    /// `true`/`false`.
    Boolean,
    /// A decimal number.
    Decimal,
    /// An integer.
    Integer,
    /// An xsd:dateTime.
    DateTime,
    /// Base64 text.
    Binary,
    /// A URI or resource id.
    Reference,
    /// Has sub-attributes.
    Complex,
}

impl AttrType {
    /// The RFC 7643 name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::String => "string",
            Self::Boolean => "boolean",
            Self::Decimal => "decimal",
            Self::Integer => "integer",
            Self::DateTime => "dateTime",
            Self::Binary => "binary",
            Self::Reference => "reference",
            Self::Complex => "complex",
        }
    }
}

/// RFC 7643 §7 `mutability`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mutability {
    /// Set by the service only.
    ReadOnly,
    /// Freely writable.
    ReadWrite,
    /// Set once.
    Immutable,
    /// Written, never returned (passwords).
    WriteOnly,
}

impl Mutability {
    /// The RFC 7643 name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ReadOnly => "readOnly",
            Self::ReadWrite => "readWrite",
            Self::Immutable => "immutable",
            Self::WriteOnly => "writeOnly",
        }
    }
}

/// RFC 7643 §7 `returned`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Returned {
    /// Always returned.
    Always,
    /// Never returned.
    Never,
    /// Returned unless excluded.
    Default,
    /// Returned only when asked for.
    Request,
}

impl Returned {
    /// The RFC 7643 name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Always => "always",
            Self::Never => "never",
            Self::Default => "default",
            Self::Request => "request",
        }
    }
}

/// One attribute definition.
#[derive(Debug, Clone, Copy)]
pub struct AttributeDef {
    /// Canonical name.
    pub name: &'static str,
    /// Type.
    pub ty: AttrType,
    /// Multi-valued.
    pub multi_valued: bool,
    /// Case-exact string comparison.
    pub case_exact: bool,
    /// Required on create and replace.
    pub required: bool,
    /// Mutability.
    pub mutability: Mutability,
    /// When it is returned.
    pub returned: Returned,
    /// `none` or `server`.
    pub unique: bool,
    /// Human description (discovery).
    pub description: &'static str,
    /// Sub-attributes of a complex attribute.
    pub sub_attributes: &'static [AttributeDef],
    /// Suggested values (discovery).
    pub canonical_values: &'static [&'static str],
    /// Reference types of a reference attribute.
    pub reference_types: &'static [&'static str],
}

const fn attr(name: &'static str, ty: AttrType, description: &'static str) -> AttributeDef {
    AttributeDef {
        name,
        ty,
        multi_valued: false,
        case_exact: false,
        required: false,
        mutability: Mutability::ReadWrite,
        returned: Returned::Default,
        unique: false,
        description,
        sub_attributes: &[],
        canonical_values: &[],
        reference_types: &[],
    }
}
const fn s(name: &'static str, d: &'static str) -> AttributeDef {
    attr(name, AttrType::String, d)
}
const fn b(name: &'static str, d: &'static str) -> AttributeDef {
    attr(name, AttrType::Boolean, d)
}
const fn r(name: &'static str, d: &'static str, refs: &'static [&'static str]) -> AttributeDef {
    let mut a = attr(name, AttrType::Reference, d);
    a.reference_types = refs;
    a.case_exact = true;
    a
}
const fn complex(name: &'static str, d: &'static str, subs: &'static [AttributeDef]) -> AttributeDef {
    let mut a = attr(name, AttrType::Complex, d);
    a.sub_attributes = subs;
    a
}
const fn multi(mut a: AttributeDef) -> AttributeDef {
    a.multi_valued = true;
    a
}
const fn exact(mut a: AttributeDef) -> AttributeDef {
    a.case_exact = true;
    a
}
const fn ro(mut a: AttributeDef) -> AttributeDef {
    a.mutability = Mutability::ReadOnly;
    a
}
const fn required(mut a: AttributeDef) -> AttributeDef {
    a.required = true;
    a
}
const fn canonical(mut a: AttributeDef, v: &'static [&'static str]) -> AttributeDef {
    a.canonical_values = v;
    a
}
const fn always(mut a: AttributeDef) -> AttributeDef {
    a.returned = Returned::Always;
    a
}

/// Sub-attributes shared by emails, phoneNumbers, ims (RFC 7643 §4.1.2).
const PLURAL_STRING: &[AttributeDef] = &[
    s("value", "The value."),
    s("display", "A human-readable name, primarily used for display purposes."),
    s("type", "A label indicating the attribute's function."),
    b("primary", "Whether this is the primary value."),
];
const EMAIL_SUBS: &[AttributeDef] = &[
    s("value", "Email address for the user."),
    s("display", "A human-readable name, primarily used for display purposes."),
    canonical(s("type", "A label indicating the email's function."), &["work", "home", "other"]),
    b("primary", "Whether this is the primary email."),
];
const PHONE_SUBS: &[AttributeDef] = &[
    s("value", "Phone number, stored exactly as sent."),
    s("display", "A human-readable name, primarily used for display purposes."),
    canonical(
        s("type", "A label indicating the number's function."),
        &["work", "home", "mobile", "fax", "pager", "other"],
    ),
    b("primary", "Whether this is the primary number."),
];
const PHOTO_SUBS: &[AttributeDef] = &[
    r("value", "URL of a photo of the user.", &["external"]),
    s("display", "A human-readable name, primarily used for display purposes."),
    canonical(s("type", "A label indicating the photo's function."), &["photo", "thumbnail"]),
    b("primary", "Whether this is the primary photo."),
];
const ADDRESS_SUBS: &[AttributeDef] = &[
    s("formatted", "The full mailing address, formatted for display."),
    s("streetAddress", "The full street address component."),
    s("locality", "The city or locality component."),
    s("region", "The state or region component."),
    s("postalCode", "The zip code or postal code component."),
    s("country", "The country name component."),
    canonical(s("type", "A label indicating the address's function."), &["work", "home", "other"]),
    b("primary", "Whether this is the primary address."),
];
const GROUP_REF_SUBS: &[AttributeDef] = &[
    ro(s("value", "The identifier of the user's group.")),
    ro(r("$ref", "The URI of the corresponding Group resource.", &["Group"])),
    ro(s("display", "A human-readable name, primarily used for display purposes.")),
    ro(canonical(s("type", "Direct or indirect membership."), &["direct", "indirect"])),
];
const ROLE_SUBS: &[AttributeDef] = &[
    canonical(s("value", concat!("The app role: one of ", role_names!(), ".")), &Role::NAMES),
    s("display", "A human-readable name, primarily used for display purposes."),
    s("type", "A label indicating the role's function."),
    b("primary", "Whether this is the primary role."),
    s("displayName", "Entra ID's name for the app role (non-RFC, kept as sent)."),
];
const X509_SUBS: &[AttributeDef] = &[
    attr("value", AttrType::Binary, "The DER certificate, base64."),
    s("display", "A human-readable name, primarily used for display purposes."),
    s("type", "A label indicating the certificate's function."),
    b("primary", "Whether this is the primary certificate."),
];
const NAME_SUBS: &[AttributeDef] = &[
    s("formatted", "The full name, formatted for display."),
    s("familyName", "The family name."),
    s("givenName", "The given name."),
    s("middleName", "The middle name(s)."),
    s("honorificPrefix", "The honorific prefix(es)."),
    s("honorificSuffix", "The honorific suffix(es)."),
];
const MANAGER_SUBS: &[AttributeDef] = &[
    exact(s("value", "The id of the user's manager in this organization.")),
    r("$ref", "The URI of the manager's User resource.", &["User"]),
    ro(s("displayName", "The manager's displayName.")),
];
const MEMBER_SUBS: &[AttributeDef] = &[
    {
        let mut a = exact(s("value", "The id of a member user."));
        a.mutability = Mutability::Immutable;
        a
    },
    {
        let mut a = r("$ref", "The URI of the member's resource.", &["User"]);
        a.mutability = Mutability::Immutable;
        a
    },
    ro(s("display", "The member's userName.")),
    {
        let mut a = canonical(s("type", "The member's resource type."), &["User"]);
        a.mutability = Mutability::Immutable;
        a
    },
];

const META_SUBS: &[AttributeDef] = &[
    ro(exact(s("resourceType", "The name of the resource type."))),
    ro(attr("created", AttrType::DateTime, "When the resource was added.")),
    ro(attr("lastModified", AttrType::DateTime, "When the resource was last changed.")),
    ro(r("location", "The URI of the resource.", &["uri"])),
    ro(exact(s("version", "The version of the resource (a weak ETag)."))),
];

/// Attributes every resource has (RFC 7643 §3.1).
const COMMON: [AttributeDef; 3] = [
    always(ro(exact(s("id", "Unique identifier of the resource, assigned by Enlist.")))),
    exact(s("externalId", "Identifier of the resource in the identity provider (not unique in Enlist).")),
    ro(complex("meta", "Resource metadata.", META_SUBS)),
];

const USER_ATTRS: &[AttributeDef] = &[
    COMMON[0],
    COMMON[1],
    COMMON[2],
    {
        let mut a = required(s("userName", "Unique identifier of the user in the organization (case-insensitive)."));
        a.unique = true;
        a
    },
    complex("name", "The components of the user's name.", NAME_SUBS),
    s("displayName", "The name of the user, suitable for display."),
    s("nickName", "The casual way to address the user."),
    r("profileUrl", "A URI of the user's online profile.", &["external"]),
    s("title", "The user's title, such as 'Vice President'."),
    s("userType", "The relationship between the organization and the user."),
    s("preferredLanguage", "The user's preferred written or spoken language."),
    s("locale", "The user's default location."),
    s("timezone", "The user's time zone (IANA name)."),
    b("active", "Whether the membership is active; false suspends it without deleting it."),
    {
        let mut a = s("password", "Never accepted: people manage their own password or sign in with SSO.");
        a.mutability = Mutability::WriteOnly;
        a.returned = Returned::Never;
        a.case_exact = true;
        a
    },
    multi(complex("emails", "Email addresses; the primary (else work) one is the account's email.", EMAIL_SUBS)),
    multi(complex("phoneNumbers", "Phone numbers, stored exactly as sent.", PHONE_SUBS)),
    multi(complex("ims", "Instant messaging addresses.", PLURAL_STRING)),
    multi(complex("photos", "URLs of photos of the user.", PHOTO_SUBS)),
    multi(complex("addresses", "Physical mailing addresses.", ADDRESS_SUBS)),
    ro(multi(complex("groups", "The organization's groups the user belongs to.", GROUP_REF_SUBS))),
    multi(complex("entitlements", "Entitlements of the user.", PLURAL_STRING)),
    multi(complex("roles", concat!("App roles assigned by the identity provider: ", role_names!(), "."), ROLE_SUBS)),
    multi(complex("x509Certificates", "Certificates issued to the user.", X509_SUBS)),
];

const ENTERPRISE_ATTRS: &[AttributeDef] = &[
    s("employeeNumber", "Numeric or alphanumeric identifier assigned to a person."),
    s("costCenter", "Identifies the name of a cost center."),
    s("organization", "Identifies the name of an organization."),
    s("division", "Identifies the name of a division."),
    s("department", "Identifies the name of a department."),
    complex("manager", "The user's manager, a user of the same organization.", MANAGER_SUBS),
];

const ENLIST_ATTRS: &[AttributeDef] = &[
    ro(canonical(
        s(
            "effectiveRole",
            "The role the user holds: the highest of roles and role-mapped groups, else the organization's default.",
        ),
        &Role::NAMES,
    )),
    ro(canonical(s("roleSource", "Where the effective role comes from."), &["assigned", "group", "default"])),
];

const GROUP_ATTRS: &[AttributeDef] = &[
    COMMON[0],
    COMMON[1],
    COMMON[2],
    {
        let mut a = required(s("displayName", "The group's name, unique in the organization (case-insensitive)."));
        a.unique = true;
        a
    },
    multi(complex("members", "The users in the group.", MEMBER_SUBS)),
];

/// A schema (RFC 7643 §7).
#[derive(Debug)]
pub struct SchemaDef {
    /// The URN.
    pub id: &'static str,
    /// Short name.
    pub name: &'static str,
    /// Description.
    pub description: &'static str,
    /// Top-level attributes.
    pub attributes: &'static [AttributeDef],
}

/// The core User schema.
pub static USER_SCHEMA: SchemaDef =
    SchemaDef { id: USER, name: "User", description: "User Account", attributes: USER_ATTRS };
/// The Enterprise User extension.
pub static ENTERPRISE_SCHEMA: SchemaDef = SchemaDef {
    id: ENTERPRISE_USER,
    name: "EnterpriseUser",
    description: "Enterprise User",
    attributes: ENTERPRISE_ATTRS,
};
/// Enlist's User extension.
pub static ENLIST_SCHEMA: SchemaDef = SchemaDef {
    id: ENLIST_USER,
    name: "EnlistUser",
    description: "Enlist's computed, read-only view of a user's role",
    attributes: ENLIST_ATTRS,
};
/// The core Group schema.
pub static GROUP_SCHEMA: SchemaDef =
    SchemaDef { id: GROUP, name: "Group", description: "Group", attributes: GROUP_ATTRS };

/// A resource type: its core schema and extensions (RFC 7643 §6).
#[derive(Debug)]
pub struct ResourceType {
    /// `User` or `Group`.
    pub name: &'static str,
    /// Endpoint relative to the SCIM base.
    pub endpoint: &'static str,
    /// Description.
    pub description: &'static str,
    /// Core schema.
    pub schema: &'static SchemaDef,
    /// Extensions, none required.
    pub extensions: &'static [&'static SchemaDef],
}

/// The User resource type.
pub static USER_RESOURCE: ResourceType = ResourceType {
    name: "User",
    endpoint: "/Users",
    description: "A person's membership in the organization",
    schema: &USER_SCHEMA,
    extensions: &[&ENTERPRISE_SCHEMA, &ENLIST_SCHEMA],
};
/// The Group resource type.
pub static GROUP_RESOURCE: ResourceType = ResourceType {
    name: "Group",
    endpoint: "/Groups",
    description: "A group of the organization's users, optionally mapped to a role",
    schema: &GROUP_SCHEMA,
    extensions: &[],
};

/// Every schema, in discovery order.
pub fn all_schemas() -> [&'static SchemaDef; 4] {
    [&USER_SCHEMA, &ENTERPRISE_SCHEMA, &ENLIST_SCHEMA, &GROUP_SCHEMA]
}

/// A resolved reference to an attribute (and maybe a sub-attribute) of a
/// resource type. Holding one means the attribute exists.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AttrPath {
    /// The schema that defines the attribute.
    pub schema: &'static SchemaDef,
    /// The attribute.
    pub attr: &'static AttributeDef,
    /// The sub-attribute, for complex attributes.
    pub sub: Option<&'static AttributeDef>,
}

impl PartialEq for SchemaDef {
    fn eq(&self, other: &Self) -> bool {
        self.id == other.id
    }
}
impl PartialEq for AttributeDef {
    fn eq(&self, other: &Self) -> bool {
        std::ptr::eq(self, other)
            || (self.name == other.name && self.ty == other.ty && self.description == other.description)
    }
}

impl AttrPath {
    /// The definition the path ends at (the sub-attribute if any).
    pub fn target(&self) -> &'static AttributeDef {
        self.sub.unwrap_or(self.attr)
    }
    /// Whether the attribute is in the resource's core schema (stored at the
    /// top level of the profile) rather than an extension.
    pub fn is_core(&self) -> bool {
        self.schema.id == USER || self.schema.id == GROUP
    }
    /// The same attribute without its sub-attribute.
    pub fn parent(&self) -> AttrPath {
        AttrPath { sub: None, ..*self }
    }
    /// The same attribute with a sub-attribute, if it has one by that name
    /// (case-insensitive).
    pub fn with_sub(&self, name: &str) -> Option<AttrPath> {
        let sub = self.attr.sub_attributes.iter().find(|a| a.name.eq_ignore_ascii_case(name))?;
        Some(AttrPath { sub: Some(sub), ..*self })
    }
    /// Dotted canonical name, URN-qualified for extensions
    /// (`name.familyName`, `urn:…:enterprise:2.0:User:manager.value`).
    pub fn dotted(&self) -> String {
        let base =
            if self.is_core() { self.attr.name.to_owned() } else { format!("{}:{}", self.schema.id, self.attr.name) };
        match self.sub {
            Some(sub) => format!("{base}.{}", sub.name),
            None => base,
        }
    }
}

impl ResourceType {
    /// Every schema of this resource type, core first.
    pub fn schemas(&self) -> impl Iterator<Item = &'static SchemaDef> + '_ {
        std::iter::once(self.schema).chain(self.extensions.iter().copied())
    }
    /// Finds a schema by URN, case-insensitively.
    pub fn schema_by_urn(&self, urn: &str) -> Option<&'static SchemaDef> {
        self.schemas().find(|s| s.id.eq_ignore_ascii_case(urn))
    }
    /// Resolves `attr` (and `sub`) in the schema `urn`, or in the core schema
    /// when `urn` is `None`; names are case-insensitive (RFC 7643 §2.1).
    pub fn resolve(&self, urn: Option<&str>, attr: &str, sub: Option<&str>) -> Option<AttrPath> {
        let find = |schema: &'static SchemaDef| {
            schema.attributes.iter().find(|a| a.name.eq_ignore_ascii_case(attr)).map(|def| (schema, def))
        };
        // A bare name is looked up in the core schema first, then in the
        // extensions (Entra sends bare `manager` for the enterprise one).
        let (schema, def) = match urn {
            Some(u) => find(self.schema_by_urn(u)?)?,
            None => self.schemas().find_map(find)?,
        };
        let path = AttrPath { schema, attr: def, sub: None };
        match sub {
            Some(s) => path.with_sub(s),
            None => Some(path),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_case_insensitively_in_core_and_extensions() {
        let p = USER_RESOURCE.resolve(None, "NAME", Some("FamilyName")).unwrap();
        assert_eq!(p.dotted(), "name.familyName");
        let p = USER_RESOURCE.resolve(Some(&ENTERPRISE_USER.to_uppercase()), "Manager", Some("value")).unwrap();
        assert_eq!(p.dotted(), format!("{ENTERPRISE_USER}:manager.value"));
        assert!(USER_RESOURCE.resolve(None, "nope", None).is_none());
        assert!(USER_RESOURCE.resolve(None, "name", Some("nope")).is_none());
        assert!(GROUP_RESOURCE.resolve(None, "userName", None).is_none());
    }

    #[test]
    fn case_exactness_follows_the_rfc() {
        let exact = |a: &str| USER_RESOURCE.resolve(None, a, None).unwrap().attr.case_exact;
        assert!(exact("id"));
        assert!(exact("externalId"));
        assert!(!exact("userName"));
        assert!(!exact("displayName"));
    }
}
