//! The product's rules, tested through the services with mocked ports: one
//! file per service, and the fixtures they share here. `World` is a mocked
//! transaction that knows an organization and its users and collects what a
//! use case writes (audit records, outbox rows, updates).

use super::*;
use crate::change::{GroupChange, PatchKind, PatchOp, PatchPath, UserChange};
use crate::ports::Clock;
use crate::schema::{ENTERPRISE_USER, USER_RESOURCE};
use crate::testing::{MockStore, MockTx, Outcome, SeqIds};
use crate::value::{Complex, Value};
use chrono::{DateTime, TimeZone, Utc};
use futures_executor::block_on;
use std::sync::{Arc, Mutex};

struct FixedClock;
impl Clock for FixedClock {
    fn now(&self) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 29, 12, 0, 0).single().expect("valid")
    }
}
fn enlist(tx: MockTx) -> (Services, Arc<MockStore>) {
    enlist_with_dns(tx, Arc::new(crate::testing::FakeDns::default()))
}
fn enlist_with_dns(tx: MockTx, dns: Arc<crate::testing::FakeDns>) -> (Services, Arc<MockStore>) {
    let store = MockStore::new(tx);
    let deps = Deps { store: store.clone(), clock: Arc::new(FixedClock), ids: Arc::new(SeqIds::default()), dns };
    (Services::new(deps), store)
}

fn org(domains: &[&str]) -> Organization {
    Organization {
        id: OrganizationId::new("org-1"),
        name: "Contoso".into(),
        domains: domains.iter().map(|d| DomainName::parse(d).unwrap()).collect(),
        scim_enabled: true,
        default_role: Role::FreeMember,
        created_at: FixedClock.now(),
    }
}

fn entra() -> Caller {
    Caller {
        organization_id: OrganizationId::new("org-1"),
        actor: Actor::ApiKey { id: ApiKeyId::new("k1"), label: "Entra provisioning".into() },
    }
}

fn s(v: &str) -> Value {
    Value::String(v.into())
}
fn obj(pairs: &[(&str, Value)]) -> Value {
    Value::Complex(pairs.iter().map(|(k, v)| ((*k).to_owned(), v.clone())).collect())
}

/// A profile: userName, a primary work email, roles.
fn attrs(user_name: &str, email: Option<&str>, roles: &[&str]) -> Complex {
    let mut a = Complex::new();
    a.insert("userName".into(), s(user_name));
    if let Some(e) = email {
        a.insert(
            "emails".into(),
            Value::Multi(vec![obj(&[("value", s(e)), ("type", s("work")), ("primary", Value::Bool(true))])]),
        );
    }
    if !roles.is_empty() {
        a.insert("roles".into(), Value::Multi(roles.iter().map(|r| obj(&[("value", s(r))])).collect()));
    }
    a
}

fn user(id: &str, a: Complex) -> User {
    let profile = Profile::parse(a).unwrap();
    let (effective_role, role_source) = effective_role(profile.roles(), None, Role::FreeMember);
    User {
        id: UserId::new(id),
        organization_id: OrganizationId::new("org-1"),
        account_id: AccountId::new(format!("acct-{id}")),
        profile,
        effective_role,
        role_source,
        created_at: FixedClock.now(),
        updated_at: FixedClock.now(),
        version: 3,
    }
}

/// A transaction that knows `org` and `users`, with no groups, and that
/// accepts audit records (collected) and outbox rows (collected); its
/// deprovisioning guard is open and counts each removal (collected).
struct World {
    tx: MockTx,
    removals: Arc<Mutex<Vec<UserId>>>,
    audits: Arc<Mutex<Vec<AuditRecord>>>,
    mails: Arc<Mutex<Vec<Notification>>>,
    updates: Arc<Mutex<Vec<User>>>,
    events: Arc<Mutex<Vec<crate::event::Event>>>,
}

impl World {
    /// Drops the world's user expectations so a test can set its own; the
    /// row lock every update takes stays accepted.
    fn own_users(&mut self) {
        self.tx.users.checkpoint();
        self.tx.users.expect_lock().returning(|_, _| Ok(()));
    }

    /// The stored user, however the use case reads it (a change reads it
    /// locked).
    fn user_is(&mut self, u: User) {
        let locked = u.clone();
        self.tx.users.expect_get_locked().returning(move |_, _| Ok(Some((locked.clone(), Vec::new()))));
        self.tx.users.expect_get().returning(move |_, _| Ok(Some(u.clone())));
    }
}

fn world(o: Organization, users: Vec<User>, active_admins: u64) -> World {
    let mut tx = MockTx::default();
    tx.orgs.expect_get().returning(move |_| Ok(Some(o.clone())));
    tx.orgs.expect_lock().returning(|_| Ok(()));
    tx.users.expect_lock().returning(|_, _| Ok(()));
    let all = users.clone();
    tx.users.expect_get().returning(move |_, id| Ok(all.iter().find(|u| &u.id == id).cloned()));
    let all = users.clone();
    tx.users
        .expect_get_locked()
        .returning(move |_, id| Ok(all.iter().find(|u| &u.id == id).map(|u| (u.clone(), Vec::new()))));
    // Each user's account holds the email its profile gives.
    let all = users.clone();
    tx.accounts.expect_get().returning(move |id| {
        Ok(all.iter().find(|u| &u.account_id == id).map(|u| Account {
            id: id.clone(),
            email: u.profile.email().clone(),
            created_at: u.created_at,
        }))
    });
    let all = users.clone();
    tx.users
        .expect_existing()
        .returning(move |_, ids| Ok(all.iter().filter(|u| ids.contains(&u.id)).map(|u| u.id.clone()).collect()));
    let all = users.clone();
    tx.users.expect_display_names().returning(move |_, ids| {
        let named = all.iter().filter(|u| ids.contains(&u.id));
        Ok(named
            .map(|u| (u.id.clone(), u.profile.display_name().unwrap_or(u.profile.user_name().as_str()).to_owned()))
            .collect())
    });
    let all = users.clone();
    tx.users
        .expect_get_many()
        .returning(move |_, ids| Ok(all.iter().filter(|u| ids.contains(&u.id)).cloned().collect()));
    tx.users.expect_count_active_admins().returning(move |_| Ok(active_admins));
    tx.users.expect_groups_of().returning(|_, _| Ok(Vec::new()));
    tx.groups.expect_group_role_floor().returning(|_, _| Ok(Vec::new()));
    let audits = Arc::new(Mutex::new(Vec::new()));
    let a2 = audits.clone();
    tx.audit.expect_append().returning(move |r| {
        a2.lock().unwrap().push(r.clone());
        Ok(())
    });
    let mails = Arc::new(Mutex::new(Vec::new()));
    let m2 = mails.clone();
    tx.outbox.expect_enqueue().returning(move |n| {
        m2.lock().unwrap().push(n.clone());
        Ok(())
    });
    let events = Arc::new(Mutex::new(Vec::new()));
    let e2 = events.clone();
    tx.events.expect_append().returning(move |e| {
        e2.lock().unwrap().push(e.clone());
        Ok(())
    });
    let updates = Arc::new(Mutex::new(Vec::new()));
    let u2 = updates.clone();
    tx.users.expect_update().returning(move |u, _| {
        u2.lock().unwrap().push(u.clone());
        Ok(())
    });
    tx.guard.expect_lock().returning(|_| Ok(crate::guard::GuardState::default()));
    tx.guard.expect_removals_since().returning(|_, _| Ok(0));
    let removals = Arc::new(Mutex::new(Vec::new()));
    let r2 = removals.clone();
    tx.guard.expect_record_removal().returning(move |_, u, _| {
        r2.lock().unwrap().push(u.clone());
        Ok(())
    });
    World { tx, removals, audits, mails, updates, events }
}

fn path(attr: &str, sub: Option<&str>) -> PatchPath {
    PatchPath { target: USER_RESOURCE.resolve(None, attr, sub).unwrap(), filter: None }
}
fn op(kind: PatchKind, p: PatchPath, value: Option<Value>) -> PatchOp {
    PatchOp { kind, path: p, value }
}
fn patch(ops: Vec<PatchOp>) -> UserChange {
    UserChange::Patch(ops)
}

fn detail(e: &Error) -> String {
    e.to_string()
}

mod groups;
mod guard;
mod keys;
mod orgs;
mod scenarios;
mod users;
