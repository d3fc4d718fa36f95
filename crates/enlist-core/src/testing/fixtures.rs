//! Short fixtures for tests of code built on Enlist: services over a store
//! with the deterministic ports, and a user built in one line.

use super::{FakeDns, SeqIds, TickClock};
use crate::model::{Profile, User};
use crate::ports::Store;
use crate::service::{Deps, Services};
use crate::types::{effective_role, AccountId, OrganizationId, Role, UserId};
use crate::value::{Complex, Value};
use std::sync::Arc;

/// The ports a test wants around `store`: [`TickClock`], [`SeqIds`] and a
/// [`FakeDns`] that knows no name (replace a field to script one).
pub fn deps(store: Arc<dyn Store>) -> Deps {
    Deps {
        store,
        clock: Arc::new(TickClock::default()),
        ids: Arc::new(SeqIds::default()),
        dns: Arc::new(FakeDns::default()),
    }
}

/// The services over `store` with [`deps`]' ports: over a
/// [`super::MemoryStore`] for a scenario, a [`super::MockStore`] for one
/// scripted interaction, or a test database.
///
/// ```
/// use enlist_core::testing::{services, MemoryStore};
/// let enlist = services(std::sync::Arc::new(MemoryStore::new()));
/// # let _ = enlist;
/// ```
pub fn services(store: Arc<dyn Store>) -> Services {
    Services::new(deps(store))
}

/// A [`User`] for a test, by its userName, with the defaults a freshly
/// provisioned member has (active, `FreeMember`, organization `o1`, id
/// `u1`, version 1); change what the test is about.
///
/// ```
/// use enlist_core::testing::user;
/// use enlist_core::Role;
/// let admin = user("ana@contoso.com").role(Role::Admin).build();
/// assert!(admin.is_active_admin());
/// assert!(!user("bo@contoso.com").role(Role::Admin).inactive().build().is_active_admin());
/// ```
pub fn user(user_name: &str) -> UserFixture {
    UserFixture {
        attrs: Complex::from([("userName".to_owned(), Value::String(user_name.to_owned()))]),
        id: UserId::new("u1"),
        organization: OrganizationId::new("o1"),
        roles: Vec::new(),
        group_role: None,
    }
}

/// Built by [`user`].
#[derive(Debug, Clone)]
pub struct UserFixture {
    attrs: Complex,
    id: UserId,
    organization: OrganizationId,
    roles: Vec<Role>,
    group_role: Option<Role>,
}

impl UserFixture {
    /// The SCIM id.
    pub fn id(mut self, id: &str) -> Self {
        self.id = UserId::new(id);
        self
    }
    /// The organization.
    pub fn organization(mut self, org: &OrganizationId) -> Self {
        self.organization = org.clone();
        self
    }
    /// A role assigned by the identity provider (`roles`).
    pub fn role(mut self, role: Role) -> Self {
        self.roles.push(role);
        self
    }
    /// The role a role-mapped group gives (the effective role is the higher).
    pub fn group_role(mut self, role: Role) -> Self {
        self.group_role = Some(role);
        self
    }
    /// Suspended (`active: false`).
    pub fn inactive(self) -> Self {
        self.attr("active", Value::Bool(false))
    }
    /// Any other attribute, as SCIM sends it (`displayName`, `emails`, …).
    pub fn attr(mut self, name: &str, value: Value) -> Self {
        self.attrs.insert(name.to_owned(), value);
        self
    }
    /// The user.
    ///
    /// # Panics
    /// When the attributes are not a valid SCIM user (a test's mistake).
    #[allow(clippy::panic)]
    pub fn build(self) -> User {
        let mut attrs = self.attrs;
        if !self.roles.is_empty() {
            let roles = self
                .roles
                .iter()
                .map(|r| Value::Complex(Complex::from([("value".to_owned(), Value::String(r.as_str().into()))])));
            attrs.insert("roles".into(), Value::Multi(roles.collect()));
        }
        let profile = Profile::parse(attrs).unwrap_or_else(|e| panic!("not a valid user: {e}"));
        let (effective_role, role_source) = effective_role(profile.roles(), self.group_role, Role::FreeMember);
        let now = chrono::DateTime::from_timestamp(1_800_000_000, 0).unwrap_or_default();
        User {
            account_id: AccountId::new(format!("account-{}", self.id)),
            id: self.id,
            organization_id: self.organization,
            profile,
            effective_role,
            role_source,
            created_at: now,
            updated_at: now,
            version: 1,
        }
    }
}
