//! Change events for the host product: what happened to an organization's
//! users, groups, settings and keys, written in the same transaction as the
//! change itself (the outbox pattern the notification mail uses), numbered
//! per organization, and never carrying a secret.
//!
//! The payload converts to and from the neutral value tree
//! ([`crate::value::Complex`]) so storage and wire adapters share one shape
//! without the core knowing JSON.

use crate::model::{Group, User};
use crate::types::*;
use crate::value::{Complex, Value};
use chrono::{DateTime, Utc};

macro_rules! event_kinds {
    ($($(#[$doc:meta])* $variant:ident = $name:literal,)*) => {
        /// What happened.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum EventKind {
            $($(#[$doc])* $variant,)*
        }

        impl EventKind {
            /// Every kind.
            pub const ALL: &'static [EventKind] = &[$(EventKind::$variant,)*];
            /// The dotted name hosts match on (`user.created`).
            pub fn as_str(self) -> &'static str {
                match self {
                    $(EventKind::$variant => $name,)*
                }
            }
            /// Parses a dotted name.
            pub fn parse(s: &str) -> Option<Self> {
                Self::ALL.iter().copied().find(|k| k.as_str() == s)
            }
        }
    };
}

event_kinds! {
    /// A user was provisioned.
    UserCreated = "user.created",
    /// Attributes changed (`changed` names them).
    UserUpdated = "user.updated",
    /// `active` turned false: end the person's sessions.
    UserDeactivated = "user.deactivated",
    /// `active` turned true.
    UserReactivated = "user.reactivated",
    /// The membership was deleted.
    UserDeleted = "user.deleted",
    /// The global account's email changed (old and new).
    UserEmailChanged = "user.email_changed",
    /// The effective role or its source changed (old and new).
    UserRoleChanged = "user.role_changed",
    /// A group was created.
    GroupCreated = "group.created",
    /// A group's displayName changed.
    GroupRenamed = "group.renamed",
    /// A group was deleted.
    GroupDeleted = "group.deleted",
    /// Members were added (one event per batch).
    GroupMembersAdded = "group.members_added",
    /// Members were removed (one event per batch).
    GroupMembersRemoved = "group.members_removed",
    /// The SCIM add-on was switched on.
    OrganizationScimEnabled = "organization.scim_enabled",
    /// The SCIM add-on was switched off.
    OrganizationScimDisabled = "organization.scim_disabled",
    /// The operator offboarded the organization: its people, groups, keys
    /// and history are gone from Enlist; a host drops what it keeps of it.
    OrganizationDeleted = "organization.deleted",
    /// The deprovisioning guard tripped: further deactivations and
    /// deletions are refused until an Admin or the operator decides.
    OrganizationDeprovisioningHeld = "organization.deprovisioning_held",
    /// An API key was created (its label, never its secret).
    ApiKeyCreated = "api_key.created",
    /// An API key was revoked.
    ApiKeyRevoked = "api_key.revoked",
}

/// A user as a host needs it.
#[derive(Debug, Clone, PartialEq)]
pub struct UserSnapshot {
    /// The SCIM id.
    pub id: UserId,
    /// The account's email.
    pub email: String,
    /// `userName`.
    pub user_name: String,
    /// `externalId`.
    pub external_id: Option<String>,
    /// `active`.
    pub active: bool,
    /// The effective role.
    pub effective_role: Role,
    /// Where it comes from.
    pub role_source: RoleSource,
}

impl UserSnapshot {
    /// The snapshot of a stored user.
    pub fn of(u: &User) -> Self {
        Self {
            id: u.id.clone(),
            email: u.profile.email().as_str().to_owned(),
            user_name: u.profile.user_name().as_str().to_owned(),
            external_id: u.profile.external_id().map(str::to_owned),
            active: u.profile.active(),
            effective_role: u.effective_role,
            role_source: u.role_source,
        }
    }
}

/// A group as a host needs it.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupSnapshot {
    /// The SCIM id.
    pub id: GroupId,
    /// `displayName`.
    pub display_name: String,
    /// `externalId`.
    pub external_id: Option<String>,
    /// The role the group is mapped to.
    pub role: Option<Role>,
}

impl GroupSnapshot {
    /// The snapshot of a stored group.
    pub fn of(g: &Group) -> Self {
        Self {
            id: g.id.clone(),
            display_name: g.display_name.to_string(),
            external_id: g.external_id.clone(),
            role: g.role,
        }
    }
}

/// What an event says, by kind.
#[derive(Debug, Clone, PartialEq)]
pub enum EventData {
    /// `user.created`, `user.updated`, `user.deactivated`,
    /// `user.reactivated`, `user.deleted`: the user and the attribute names
    /// that changed (empty for created and deleted).
    User {
        /// The user after the change (before it, for deleted).
        user: UserSnapshot,
        /// Changed attribute names.
        changed: Vec<String>,
    },
    /// `user.email_changed`.
    EmailChanged {
        /// The user after the change.
        user: UserSnapshot,
        /// The account's previous email.
        old: String,
    },
    /// `user.role_changed`.
    RoleChanged {
        /// The user, with the new effective role and source.
        user: UserSnapshot,
        /// The previous effective role.
        old_role: Role,
        /// The previous source.
        old_source: RoleSource,
    },
    /// `group.created`, `group.renamed`, `group.deleted`.
    Group {
        /// The group after the change (before it, for deleted).
        group: GroupSnapshot,
        /// The previous name, for renamed.
        old_name: Option<String>,
    },
    /// `group.members_added`, `group.members_removed`.
    Members {
        /// The group.
        group: GroupSnapshot,
        /// The users added or removed in this batch.
        users: Vec<UserId>,
    },
    /// `organization.scim_enabled`, `organization.scim_disabled`,
    /// `organization.deleted`.
    Organization {
        /// The organization's name.
        name: String,
    },
    /// `organization.deprovisioning_held`.
    DeprovisioningHeld {
        /// The organization's name.
        name: String,
        /// Removals counted in the window when it tripped.
        removed: u64,
        /// The window's limit.
        limit: u64,
        /// The window, in seconds.
        window_secs: u32,
        /// The label of the key whose removal tripped it.
        key_label: String,
    },
    /// `api_key.created`, `api_key.revoked`.
    ApiKey {
        /// The key's public id.
        id: ApiKeyId,
        /// Its label.
        label: String,
    },
}

/// A change event as stored and delivered.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// Unique id (deliveries are at least once: hosts deduplicate on it).
    pub id: EventId,
    /// The organization.
    pub organization_id: OrganizationId,
    /// Per organization, only grows: the order of delivery.
    pub seq: u64,
    /// When the change committed its transaction.
    pub at: DateTime<Utc>,
    /// Who: the API key's label, or the operator.
    pub actor: String,
    /// What happened.
    pub kind: EventKind,
    /// The details.
    pub data: EventData,
}

fn s(v: &str) -> Value {
    Value::String(v.to_owned())
}

fn get<'a>(c: &'a Complex, k: &str) -> Option<&'a Value> {
    c.get(k)
}

fn text(c: &Complex, k: &str) -> Option<String> {
    get(c, k).and_then(Value::as_str).map(str::to_owned)
}

fn user_value(u: &UserSnapshot) -> Value {
    let mut c = Complex::new();
    c.insert("id".into(), s(u.id.as_str()));
    c.insert("email".into(), s(&u.email));
    c.insert("userName".into(), s(&u.user_name));
    if let Some(x) = &u.external_id {
        c.insert("externalId".into(), s(x));
    }
    c.insert("active".into(), Value::Bool(u.active));
    c.insert("effectiveRole".into(), s(u.effective_role.as_str()));
    c.insert("roleSource".into(), s(u.role_source.as_str()));
    Value::Complex(c)
}

fn user_from(v: Option<&Value>) -> Option<UserSnapshot> {
    let c = v?.as_complex()?;
    Some(UserSnapshot {
        id: UserId::new(text(c, "id")?),
        email: text(c, "email")?,
        user_name: text(c, "userName")?,
        external_id: text(c, "externalId"),
        active: get(c, "active")?.as_bool()?,
        effective_role: Role::parse(&text(c, "effectiveRole")?).ok()?,
        role_source: RoleSource::parse(&text(c, "roleSource")?)?,
    })
}

fn group_value(g: &GroupSnapshot) -> Value {
    let mut c = Complex::new();
    c.insert("id".into(), s(g.id.as_str()));
    c.insert("displayName".into(), s(&g.display_name));
    if let Some(x) = &g.external_id {
        c.insert("externalId".into(), s(x));
    }
    if let Some(r) = g.role {
        c.insert("role".into(), s(r.as_str()));
    }
    Value::Complex(c)
}

fn group_from(v: Option<&Value>) -> Option<GroupSnapshot> {
    let c = v?.as_complex()?;
    Some(GroupSnapshot {
        id: GroupId::new(text(c, "id")?),
        display_name: text(c, "displayName")?,
        external_id: text(c, "externalId"),
        role: text(c, "role").and_then(|r| Role::parse(&r).ok()),
    })
}

fn strings(v: Option<&Value>) -> Vec<String> {
    v.map(|v| v.elements().iter().filter_map(Value::as_str).map(str::to_owned).collect()).unwrap_or_default()
}

impl EventData {
    /// The payload as a value tree (camelCase names, as hosts read them).
    pub fn to_value(&self) -> Complex {
        let mut c = Complex::new();
        match self {
            EventData::User { user, changed } => {
                c.insert("user".into(), user_value(user));
                if !changed.is_empty() {
                    c.insert("changed".into(), Value::Multi(changed.iter().map(|a| s(a)).collect()));
                }
            }
            EventData::EmailChanged { user, old } => {
                c.insert("user".into(), user_value(user));
                c.insert("oldEmail".into(), s(old));
                c.insert("newEmail".into(), s(&user.email));
            }
            EventData::RoleChanged { user, old_role, old_source } => {
                c.insert("user".into(), user_value(user));
                c.insert("oldRole".into(), s(old_role.as_str()));
                c.insert("oldRoleSource".into(), s(old_source.as_str()));
                c.insert("newRole".into(), s(user.effective_role.as_str()));
                c.insert("newRoleSource".into(), s(user.role_source.as_str()));
            }
            EventData::Group { group, old_name } => {
                c.insert("group".into(), group_value(group));
                if let Some(n) = old_name {
                    c.insert("oldDisplayName".into(), s(n));
                }
            }
            EventData::Members { group, users } => {
                c.insert("group".into(), group_value(group));
                c.insert("users".into(), Value::Multi(users.iter().map(|u| s(u.as_str())).collect()));
            }
            EventData::Organization { name } => {
                c.insert("name".into(), s(name));
            }
            EventData::DeprovisioningHeld { name, removed, limit, window_secs, key_label } => {
                c.insert("name".into(), s(name));
                c.insert("removed".into(), Value::Integer(*removed as i64));
                c.insert("limit".into(), Value::Integer(*limit as i64));
                c.insert("windowSeconds".into(), Value::Integer(i64::from(*window_secs)));
                c.insert("keyLabel".into(), s(key_label));
            }
            EventData::ApiKey { id, label } => {
                c.insert("id".into(), s(id.as_str()));
                c.insert("label".into(), s(label));
            }
        }
        c
    }

    /// Reads a payload back for `kind`; `None` when it does not have the
    /// kind's shape.
    pub fn from_value(kind: EventKind, c: &Complex) -> Option<Self> {
        use EventKind::*;
        Some(match kind {
            UserCreated | UserUpdated | UserDeactivated | UserReactivated | UserDeleted => {
                EventData::User { user: user_from(get(c, "user"))?, changed: strings(get(c, "changed")) }
            }
            UserEmailChanged => EventData::EmailChanged { user: user_from(get(c, "user"))?, old: text(c, "oldEmail")? },
            UserRoleChanged => EventData::RoleChanged {
                user: user_from(get(c, "user"))?,
                old_role: Role::parse(&text(c, "oldRole")?).ok()?,
                old_source: RoleSource::parse(&text(c, "oldRoleSource")?)?,
            },
            GroupCreated | GroupRenamed | GroupDeleted => {
                EventData::Group { group: group_from(get(c, "group"))?, old_name: text(c, "oldDisplayName") }
            }
            GroupMembersAdded | GroupMembersRemoved => EventData::Members {
                group: group_from(get(c, "group"))?,
                users: strings(get(c, "users")).into_iter().map(UserId::new).collect(),
            },
            OrganizationScimEnabled | OrganizationScimDisabled | OrganizationDeleted => {
                EventData::Organization { name: text(c, "name")? }
            }
            OrganizationDeprovisioningHeld => EventData::DeprovisioningHeld {
                name: text(c, "name")?,
                removed: u64::try_from(get(c, "removed")?.as_i64()?).ok()?,
                limit: u64::try_from(get(c, "limit")?.as_i64()?).ok()?,
                window_secs: u32::try_from(get(c, "windowSeconds")?.as_i64()?).ok()?,
                key_label: text(c, "keyLabel")?,
            },
            ApiKeyCreated | ApiKeyRevoked => {
                EventData::ApiKey { id: ApiKeyId::new(text(c, "id")?), label: text(c, "label")? }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user() -> UserSnapshot {
        UserSnapshot {
            id: UserId::new("u1"),
            email: "ana@contoso.com".into(),
            user_name: "ana@contoso.com".into(),
            external_id: Some("e1".into()),
            active: true,
            effective_role: Role::Admin,
            role_source: RoleSource::Group,
        }
    }

    #[test]
    fn every_kind_has_a_unique_dotted_name_that_parses_back() {
        let mut names: Vec<&str> = EventKind::ALL.iter().map(|k| k.as_str()).collect();
        assert!(EventKind::ALL.iter().all(|k| EventKind::parse(k.as_str()) == Some(*k)));
        names.sort();
        names.dedup();
        assert_eq!(names.len(), EventKind::ALL.len());
        assert_eq!(EventKind::parse("user.nope"), None);
    }

    #[test]
    fn payloads_round_trip_through_the_value_tree() {
        let group = GroupSnapshot {
            id: GroupId::new("g1"),
            display_name: "Sales".into(),
            external_id: None,
            role: Some(Role::FullMember),
        };
        let cases = [
            (EventKind::UserUpdated, EventData::User { user: user(), changed: vec!["title".into(), "active".into()] }),
            (EventKind::UserCreated, EventData::User { user: user(), changed: vec![] }),
            (EventKind::UserEmailChanged, EventData::EmailChanged { user: user(), old: "p@contoso.com".into() }),
            (
                EventKind::UserRoleChanged,
                EventData::RoleChanged { user: user(), old_role: Role::Guest, old_source: RoleSource::Default },
            ),
            (EventKind::GroupRenamed, EventData::Group { group: group.clone(), old_name: Some("Old".into()) }),
            (
                EventKind::GroupMembersAdded,
                EventData::Members { group, users: vec![UserId::new("u1"), UserId::new("u2")] },
            ),
            (EventKind::OrganizationScimEnabled, EventData::Organization { name: "Contoso".into() }),
            (EventKind::ApiKeyCreated, EventData::ApiKey { id: ApiKeyId::new("k1"), label: "Entra".into() }),
            (
                EventKind::OrganizationDeprovisioningHeld,
                EventData::DeprovisioningHeld {
                    name: "Contoso".into(),
                    removed: 10,
                    limit: 10,
                    window_secs: 3600,
                    key_label: "Entra".into(),
                },
            ),
        ];
        for (kind, data) in cases {
            assert_eq!(EventData::from_value(kind, &data.to_value()), Some(data.clone()), "{}", kind.as_str());
        }
        // A payload of another kind's shape is not read as this one.
        let org = EventData::Organization { name: "x".into() }.to_value();
        assert_eq!(EventData::from_value(EventKind::UserCreated, &org), None);
    }
}
