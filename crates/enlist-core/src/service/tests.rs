//! The product's rules, tested through the services with mocked ports.

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
fn enlist(tx: MockTx) -> (Enlist, Arc<MockStore>) {
    let store = MockStore::new(tx);
    let deps = Deps { store: store.clone(), clock: Arc::new(FixedClock), ids: Arc::new(SeqIds::default()) };
    (Enlist::new(deps), store)
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
/// accepts audit records (collected) and outbox rows (collected).
struct World {
    tx: MockTx,
    audits: Arc<Mutex<Vec<AuditRecord>>>,
    mails: Arc<Mutex<Vec<Notification>>>,
    updates: Arc<Mutex<Vec<User>>>,
}

fn world(o: Organization, users: Vec<User>, active_admins: u64) -> World {
    let mut tx = MockTx::default();
    tx.orgs.expect_get().returning(move |_| Ok(Some(o.clone())));
    tx.orgs.expect_lock().returning(|_| Ok(()));
    let all = users.clone();
    tx.users.expect_get().returning(move |_, id| Ok(all.iter().find(|u| &u.id == id).cloned()));
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
    let updates = Arc::new(Mutex::new(Vec::new()));
    let u2 = updates.clone();
    tx.users.expect_update().returning(move |u, _| {
        u2.lock().unwrap().push(u.clone());
        Ok(())
    });
    World { tx, audits, mails, updates }
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

// ---- provisioning ----------------------------------------------------------

fn expect_new_account(tx: &mut MockTx) {
    tx.accounts.expect_by_email().returning(|_| Ok(None));
    tx.accounts.expect_insert().times(1).returning(|_| Ok(()));
}

#[test]
fn create_queues_a_notification_naming_the_key_label_and_audits_once() {
    let mut w = world(org(&["contoso.com"]), vec![], 0);
    expect_new_account(&mut w.tx);
    w.tx.users.expect_insert().times(1).returning(|_| Ok(()));
    let (mails, audits) = (w.mails.clone(), w.audits.clone());
    let (e, store) = enlist(w.tx);
    let v = block_on(e.users.create(
        &entra(),
        NewUser { attrs: attrs("alice@contoso.com", Some("Alice@Contoso.com"), &["FullMember"]), password: false },
    ))
    .unwrap();
    assert_eq!(v.user.effective_role, Role::FullMember);
    assert_eq!(v.user.role_source, RoleSource::Assigned);
    let mails = mails.lock().unwrap();
    assert_eq!(mails.len(), 1);
    assert_eq!(mails[0].added_by, "Entra provisioning");
    assert_eq!(mails[0].organization_name, "Contoso");
    assert_eq!(mails[0].recipient, "Alice@Contoso.com");
    let audits = audits.lock().unwrap();
    assert_eq!(audits.len(), 1);
    assert_eq!((audits[0].operation, audits[0].actor.as_str()), (Operation::Create, "Entra provisioning"));
    assert_eq!(store.outcomes(), vec![Outcome::Committed]);
}

#[test]
fn create_without_roles_gets_the_default_role() {
    let mut w = world(org(&[]), vec![], 0);
    expect_new_account(&mut w.tx);
    w.tx.users.expect_insert().returning(|_| Ok(()));
    let (e, _) = enlist(w.tx);
    let v =
        block_on(e.users.create(&entra(), NewUser { attrs: attrs("bob@x.com", None, &[]), password: false })).unwrap();
    assert_eq!((v.user.effective_role, v.user.role_source), (Role::FreeMember, RoleSource::Default));
}

#[test]
fn create_with_an_unknown_role_writes_nothing() {
    let mut w = world(org(&[]), vec![], 0);
    w.tx.accounts.expect_insert().never();
    w.tx.users.expect_insert().never();
    let (e, store) = enlist(w.tx);
    let err =
        block_on(e.users.create(&entra(), NewUser { attrs: attrs("bob@x.com", None, &["User"]), password: false }))
            .unwrap_err();
    assert!(matches!(err, Error::InvalidValue { .. }));
    assert!(detail(&err).contains("Allowed values: Admin, FullMember, FreeMember, Guest"), "{err}");
    assert!(w.mails.lock().unwrap().is_empty());
    assert_eq!(store.outcomes(), vec![Outcome::RolledBack]);
}

#[test]
fn create_without_any_email_names_what_to_map() {
    let w = world(org(&[]), vec![], 0);
    let (e, _) = enlist(w.tx);
    let err =
        block_on(e.users.create(&entra(), NewUser { attrs: attrs("bob", None, &[]), password: false })).unwrap_err();
    assert!(matches!(err, Error::InvalidValue { .. }));
    assert!(detail(&err).contains("emails[type eq \"work\"].value"), "{err}");
}

#[test]
fn password_on_create_is_ignored_not_stored_and_noted_in_the_audit() {
    let mut w = world(org(&[]), vec![], 0);
    expect_new_account(&mut w.tx);
    w.tx.users.expect_insert().withf(|u| !u.profile.attrs().contains_key("password")).times(1).returning(|_| Ok(()));
    let audits = w.audits.clone();
    let (e, _) = enlist(w.tx);
    let mut a = attrs("okta@x.com", None, &[]);
    a.insert("password".into(), s("1mz050nq"));
    block_on(e.users.create(&entra(), NewUser { attrs: a, password: true })).unwrap();
    let audits = audits.lock().unwrap();
    assert!(audits[0].note.as_deref().unwrap_or_default().contains("password"), "{:?}", audits[0].note);
    assert!(audits[0].changes.iter().all(|c| c.attribute != "password"));
}

#[test]
fn second_organization_links_the_existing_account() {
    let mut w = world(org(&[]), vec![], 0);
    let existing = Account {
        id: AccountId::new("acct-shared"),
        email: Email::parse("jo@fabrikam.com").unwrap(),
        created_at: FixedClock.now(),
    };
    w.tx.accounts.expect_by_email().returning(move |_| Ok(Some(existing.clone())));
    w.tx.accounts.expect_insert().never();
    w.tx.users.expect_by_account().returning(|_, _| Ok(None));
    w.tx.users.expect_insert().withf(|u| u.account_id.as_str() == "acct-shared").times(1).returning(|_| Ok(()));
    let (e, _) = enlist(w.tx);
    // A B2B guest with a foreign domain: creating is allowed.
    block_on(e.users.create(&entra(), NewUser { attrs: attrs("JO@fabrikam.com", None, &["Guest"]), password: false }))
        .unwrap();
}

#[test]
fn duplicate_user_name_is_a_uniqueness_conflict() {
    let mut w = world(org(&[]), vec![], 0);
    expect_new_account(&mut w.tx);
    w.tx.users.expect_insert().returning(|_| Err(RepoError::Unique(Uniqueness::UserName)));
    let (e, store) = enlist(w.tx);
    let err = block_on(e.users.create(&entra(), NewUser { attrs: attrs("a@x.com", None, &[]), password: false }))
        .unwrap_err();
    assert!(matches!(err, Error::Uniqueness { rule: Uniqueness::UserName, .. }), "{err:?}");
    assert!(detail(&err).contains("'a@x.com'"));
    assert_eq!(store.outcomes(), vec![Outcome::RolledBack]);
}

#[test]
fn a_failure_midway_rolls_the_whole_unit_back() {
    let mut tx = world(org(&[]), vec![], 0).tx;
    expect_new_account(&mut tx);
    tx.users.expect_insert().times(1).returning(|_| Ok(()));
    tx.outbox = Default::default();
    tx.outbox.expect_enqueue().returning(|_| Err(RepoError::other(std::io::Error::other("disk full"))));
    let (e, store) = enlist(tx);
    let err = block_on(e.users.create(&entra(), NewUser { attrs: attrs("a@x.com", None, &[]), password: false }))
        .unwrap_err();
    assert!(matches!(err, Error::Unexpected(_)));
    // The insert and the audit happened inside the unit; it ended in Err, so
    // the store rolls them back with it.
    assert_eq!(store.outcomes(), vec![Outcome::RolledBack]);
}

// ---- changes ---------------------------------------------------------------

#[test]
fn update_writes_one_audit_record_and_queues_no_notification() {
    let w = world(org(&[]), vec![user("u1", attrs("a@x.com", None, &[]))], 0);
    let (mails, audits) = (w.mails.clone(), w.audits.clone());
    let (e, _) = enlist(w.tx);
    let v = block_on(e.users.change(
        &entra(),
        &UserId::new("u1"),
        patch(vec![op(PatchKind::Replace, path("title", None), Some(s("Buyer")))]),
        None,
    ))
    .unwrap();
    assert_eq!(v.user.profile.attrs().get("title"), Some(&s("Buyer")));
    assert_eq!(v.user.version, 4);
    assert!(mails.lock().unwrap().is_empty());
    let audits = audits.lock().unwrap();
    assert_eq!(audits.len(), 1);
    assert_eq!(audits[0].changes.len(), 1);
    assert_eq!(audits[0].changes[0].attribute, "title");
}

#[test]
fn a_change_that_changes_nothing_writes_nothing() {
    let mut w = world(org(&[]), vec![user("u1", attrs("a@x.com", None, &[]))], 0);
    w.tx.users.checkpoint();
    let u = user("u1", attrs("a@x.com", None, &[]));
    w.tx.users.expect_get().returning(move |_, _| Ok(Some(u.clone())));
    w.tx.users.expect_groups_of().returning(|_, _| Ok(Vec::new()));
    w.tx.users.expect_update().never();
    let audits = w.audits.clone();
    let (e, _) = enlist(w.tx);
    let put = UserChange::Replace { attrs: attrs("a@x.com", None, &[]), password: false };
    block_on(e.users.change(&entra(), &UserId::new("u1"), put, None)).unwrap();
    assert!(audits.lock().unwrap().is_empty());
}

#[test]
fn password_is_refused_on_replace_and_patch() {
    for change in [
        UserChange::Replace { attrs: attrs("a@x.com", None, &[]), password: true },
        patch(vec![op(PatchKind::Replace, path("password", None), Some(s("Xk4!")))]),
    ] {
        let mut w = world(org(&[]), vec![user("u1", attrs("a@x.com", None, &[]))], 0);
        w.tx.users.checkpoint();
        let u = user("u1", attrs("a@x.com", None, &[]));
        w.tx.users.expect_get().returning(move |_, _| Ok(Some(u.clone())));
        w.tx.users.expect_update().never();
        let (e, _) = enlist(w.tx);
        let err = block_on(e.users.change(&entra(), &UserId::new("u1"), change, None)).unwrap_err();
        assert!(matches!(err, Error::Mutability { .. }), "{err:?}");
        assert!(detail(&err).contains("SSO"));
    }
}

#[test]
fn put_without_active_keeps_it_and_clears_what_it_omits() {
    let mut a = attrs("a@x.com", None, &["FullMember"]);
    a.insert("active".into(), Value::Bool(false));
    a.insert("title".into(), s("Buyer"));
    let w = world(org(&[]), vec![user("u1", a)], 0);
    let (e, _) = enlist(w.tx);
    let v = block_on(e.users.change(
        &entra(),
        &UserId::new("u1"),
        UserChange::Replace { attrs: attrs("a@x.com", None, &[]), password: false },
        None,
    ))
    .unwrap();
    assert!(!v.user.profile.active(), "omitted active must be kept");
    assert!(v.user.profile.attrs().get("title").is_none());
    assert_eq!(v.user.role_source, RoleSource::Default, "roles omitted from a PUT are cleared");
}

#[test]
fn deactivate_keeps_the_membership_and_its_roles() {
    let w = world(org(&[]), vec![user("u1", attrs("a@x.com", None, &["FullMember"]))], 0);
    let updates = w.updates.clone();
    let (e, _) = enlist(w.tx);
    block_on(e.users.change(
        &entra(),
        &UserId::new("u1"),
        patch(vec![op(PatchKind::Replace, path("active", None), Some(Value::Bool(false)))]),
        None,
    ))
    .unwrap();
    let updates = updates.lock().unwrap();
    assert_eq!(updates.len(), 1);
    assert!(!updates[0].profile.active());
    assert_eq!(updates[0].profile.roles(), &[Role::FullMember]);
    assert_eq!(updates[0].effective_role, Role::FullMember);
}

#[test]
fn role_change_recomputes_the_effective_role_with_group_floor() {
    let mut w = world(org(&[]), vec![user("u1", attrs("a@x.com", None, &["Guest"]))], 0);
    w.tx.groups.checkpoint();
    w.tx.groups
        .expect_group_role_floor()
        .returning(|_, ids| Ok(ids.iter().map(|i| (i.clone(), Role::FullMember)).collect()));
    let (e, _) = enlist(w.tx);
    let roles = Value::Multi(vec![obj(&[("value", s("FreeMember"))])]);
    let v = block_on(e.users.change(
        &entra(),
        &UserId::new("u1"),
        patch(vec![op(PatchKind::Replace, path("roles", None), Some(roles))]),
        None,
    ))
    .unwrap();
    assert_eq!((v.user.effective_role, v.user.role_source), (Role::FullMember, RoleSource::Group));
}

#[test]
fn if_match_with_a_stale_version_fails_and_changes_nothing() {
    let mut w = world(org(&[]), vec![user("u1", attrs("a@x.com", None, &[]))], 0);
    w.tx.users.checkpoint();
    let u = user("u1", attrs("a@x.com", None, &[]));
    w.tx.users.expect_get().returning(move |_, _| Ok(Some(u.clone())));
    w.tx.users.expect_update().never();
    let (e, _) = enlist(w.tx);
    let err = block_on(e.users.change(
        &entra(),
        &UserId::new("u1"),
        patch(vec![op(PatchKind::Replace, path("title", None), Some(s("x")))]),
        Some(2),
    ))
    .unwrap_err();
    assert!(matches!(err, Error::PreconditionFailed { .. }));
}

#[test]
fn a_lost_version_race_is_retried_not_reported() {
    let mut w = world(org(&[]), vec![user("u1", attrs("a@x.com", None, &[]))], 0);
    w.tx.users.checkpoint();
    let u = user("u1", attrs("a@x.com", None, &[]));
    w.tx.users.expect_get().returning(move |_, _| Ok(Some(u.clone())));
    w.tx.users.expect_groups_of().returning(|_, _| Ok(Vec::new()));
    let mut first = true;
    w.tx.users.expect_update().times(2).returning(move |_, _| {
        if std::mem::take(&mut first) {
            Err(RepoError::VersionConflict)
        } else {
            Ok(())
        }
    });
    let (e, store) = enlist(w.tx);
    block_on(e.users.change(
        &entra(),
        &UserId::new("u1"),
        patch(vec![op(PatchKind::Replace, path("title", None), Some(s("x")))]),
        None,
    ))
    .unwrap();
    assert_eq!(store.outcomes(), vec![Outcome::RolledBack, Outcome::Committed]);
}

// ---- the last active Admin ------------------------------------------------

fn admin_world(active_admins: u64) -> World {
    world(
        org(&[]),
        vec![user("boss", attrs("boss@x.com", None, &["Admin"])), user("u2", attrs("u2@x.com", None, &["Guest"]))],
        active_admins,
    )
}

#[test]
fn the_last_active_admin_cannot_be_deactivated_demoted_or_deleted() {
    let cases: Vec<(&str, UserChange)> = vec![
        ("deactivate", patch(vec![op(PatchKind::Replace, path("active", None), Some(Value::Bool(false)))])),
        (
            "demote",
            patch(vec![op(
                PatchKind::Replace,
                path("roles", None),
                Some(Value::Multi(vec![obj(&[("value", s("FullMember"))])])),
            )]),
        ),
        ("demote", patch(vec![op(PatchKind::Remove, path("roles", None), None)])),
    ];
    for (verb, change) in cases {
        let mut w = admin_world(1);
        w.tx.users.checkpoint();
        let u = user("boss", attrs("boss@x.com", None, &["Admin"]));
        w.tx.users.expect_get().returning(move |_, _| Ok(Some(u.clone())));
        w.tx.users.expect_count_active_admins().returning(|_| Ok(1));
        w.tx.users.expect_update().never();
        let (e, store) = enlist(w.tx);
        let err = block_on(e.users.change(&entra(), &UserId::new("boss"), change, None)).unwrap_err();
        assert!(matches!(err, Error::Conflict { .. }), "{verb}: {err:?}");
        assert!(
            detail(&err).starts_with(&format!("Cannot {verb} boss@x.com: they are the last active Admin")),
            "{err}"
        );
        assert_eq!(store.outcomes(), vec![Outcome::RolledBack]);
    }
    let mut w = admin_world(1);
    w.tx.users.expect_delete().never();
    let (e, _) = enlist(w.tx);
    let err = block_on(e.users.delete(&entra(), &UserId::new("boss"), None)).unwrap_err();
    assert!(detail(&err).starts_with("Cannot delete boss@x.com"), "{err}");
}

#[test]
fn an_admin_may_be_deactivated_when_another_remains() {
    let w = admin_world(2);
    let (e, _) = enlist(w.tx);
    let v = block_on(e.users.change(
        &entra(),
        &UserId::new("boss"),
        patch(vec![op(PatchKind::Replace, path("active", None), Some(Value::Bool(false)))]),
        None,
    ))
    .unwrap();
    assert!(!v.user.profile.active());
}

#[test]
fn leaving_an_admin_mapped_group_cannot_remove_the_last_admin() {
    // u2 is Admin only through the group.
    let mut u2 = user("u2", attrs("u2@x.com", None, &["Guest"]));
    u2.effective_role = Role::Admin;
    u2.role_source = RoleSource::Group;
    let mut w = world(org(&[]), vec![u2], 1);
    let group = Group {
        id: GroupId::new("g1"),
        organization_id: OrganizationId::new("org-1"),
        display_name: "Admins".into(),
        external_id: None,
        role: Some(Role::Admin),
        created_at: FixedClock.now(),
        updated_at: FixedClock.now(),
        version: 1,
    };
    w.tx.groups.expect_get().returning(move |_, _| Ok(Some(group.clone())));
    w.tx.groups.expect_remove_members().returning(|_, _, ids| Ok(ids.to_vec()));
    w.tx.groups.expect_touch().returning(|_, _, _| Ok(2));
    w.tx.users.expect_set_effective_roles().never();
    let (e, store) = enlist(w.tx);
    let err = block_on(e.groups.change(
        &entra(),
        &GroupId::new("g1"),
        vec![GroupChange::RemoveMembers(vec![UserId::new("u2")])],
        None,
    ))
    .unwrap_err();
    assert!(matches!(err, Error::Conflict { .. }), "{err:?}");
    assert!(detail(&err).contains("u2@x.com would no longer be Admin"), "{err}");
    assert_eq!(store.outcomes(), vec![Outcome::RolledBack]);
}

#[test]
fn joining_a_role_mapped_group_raises_the_effective_role() {
    let mut w = world(org(&[]), vec![user("u2", attrs("u2@x.com", None, &["Guest"]))], 1);
    let group = Group {
        id: GroupId::new("g1"),
        organization_id: OrganizationId::new("org-1"),
        display_name: "Staff".into(),
        external_id: None,
        role: Some(Role::FullMember),
        created_at: FixedClock.now(),
        updated_at: FixedClock.now(),
        version: 1,
    };
    w.tx.groups.checkpoint();
    w.tx.groups.expect_get().returning(move |_, _| Ok(Some(group.clone())));
    w.tx.groups.expect_add_members().returning(|_, _, ids| Ok(ids.to_vec()));
    w.tx.groups.expect_touch().returning(|_, _, _| Ok(2));
    w.tx.groups
        .expect_group_role_floor()
        .returning(|_, ids| Ok(ids.iter().map(|i| (i.clone(), Role::FullMember)).collect()));
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s2 = seen.clone();
    w.tx.users.expect_set_effective_roles().times(1).returning(move |_, ups| {
        s2.lock().unwrap().extend(ups.iter().map(|u| (u.user.clone(), u.role, u.source)));
        Ok(())
    });
    let (e, _) = enlist(w.tx);
    block_on(e.groups.change(
        &entra(),
        &GroupId::new("g1"),
        vec![GroupChange::AddMembers(vec![UserId::new("u2"), UserId::new("u2")])],
        None,
    ))
    .unwrap();
    assert_eq!(*seen.lock().unwrap(), vec![(UserId::new("u2"), Role::FullMember, RoleSource::Group)]);
}

#[test]
fn an_unknown_member_id_is_named_and_nothing_is_added() {
    let mut w = world(org(&[]), vec![user("u2", attrs("u2@x.com", None, &[]))], 1);
    let group = Group {
        id: GroupId::new("g1"),
        organization_id: OrganizationId::new("org-1"),
        display_name: "Staff".into(),
        external_id: None,
        role: None,
        created_at: FixedClock.now(),
        updated_at: FixedClock.now(),
        version: 1,
    };
    w.tx.groups.expect_get().returning(move |_, _| Ok(Some(group.clone())));
    w.tx.groups.expect_add_members().never();
    let (e, _) = enlist(w.tx);
    let err = block_on(e.groups.change(
        &entra(),
        &GroupId::new("g1"),
        vec![GroupChange::AddMembers(vec![UserId::new("u2"), UserId::new("ghost")])],
        None,
    ))
    .unwrap_err();
    assert!(matches!(err, Error::InvalidValue { .. }));
    assert!(detail(&err).contains("Unknown member id(s): ghost."), "{err}");
}

// ---- email changes ----------------------------------------------------------

fn email_change(domains: &[&str], from: &str, to: &str) -> Result<UserView> {
    let mut w = world(org(domains), vec![user("u1", attrs(from, Some(from), &[]))], 0);
    w.tx.accounts.expect_set_email().returning(|_, _| Ok(()));
    let (e, _) = enlist(w.tx);
    let emails = crate::query::Filter::Compare {
        path: USER_RESOURCE.resolve(None, "emails", Some("type")).unwrap(),
        op: crate::query::CompareOp::Eq,
        value: crate::query::Literal::String("work".into()),
    };
    let p = PatchPath { target: USER_RESOURCE.resolve(None, "emails", Some("value")).unwrap(), filter: Some(emails) };
    block_on(e.users.change(&entra(), &UserId::new("u1"), patch(vec![op(PatchKind::Replace, p, Some(s(to)))]), None))
}

#[test]
fn email_changes_follow_the_domain_rule() {
    let allowed = [
        (&["contoso.com"][..], "a@contoso.com", "b@contoso.com"),
        (&["contoso.com", "contoso.co.uk"][..], "a@contoso.com", "a@CONTOSO.co.uk"),
        (&["contoso.com"][..], "a@contoso.com", "A@Contoso.COM"), // letter case only: no change
        (&[][..], "a@contoso.com", "A@contoso.com"),              // letter case only, even without domains
        (&["sub.contoso.com", "contoso.com"][..], "a@contoso.com", "a@sub.contoso.com"),
    ];
    for (domains, from, to) in allowed {
        let v = email_change(domains, from, to).unwrap_or_else(|e| panic!("{from} -> {to} with {domains:?}: {e}"));
        assert_eq!(v.user.profile.email().as_str(), to);
    }
    let refused = [
        (&[][..], "a@contoso.com", "b@contoso.com", "(none registered)"),
        (&["contoso.com"][..], "jo@fabrikam.com", "jo@contoso.com", "(contoso.com)"),
        (&["contoso.com"][..], "a@contoso.com", "a@northwind.com", "(contoso.com)"),
        (&["contoso.com"][..], "a@contoso.com", "a@sub.contoso.com", "(contoso.com)"),
    ];
    for (domains, from, to, listed) in refused {
        let err = email_change(domains, from, to).unwrap_err();
        assert!(matches!(err, Error::InvalidValue { .. }), "{from} -> {to}");
        let d = detail(&err);
        assert!(d.starts_with(&format!("Email change refused for {from} -> {to}")), "{d}");
        assert!(d.contains(listed) && d.contains("guest (B2B)"), "{d}");
    }
}

// ---- delete -----------------------------------------------------------------

#[test]
fn delete_removes_the_membership_clears_manager_references_and_offers_the_account_for_cleanup() {
    let mut w = world(org(&[]), vec![user("u1", attrs("a@x.com", None, &[]))], 0);
    let mut managed_attrs = attrs("m@x.com", None, &[]);
    managed_attrs.insert(ENTERPRISE_USER.into(), obj(&[("manager", obj(&[("value", s("u1"))]))]));
    let managed = user("u9", managed_attrs);
    w.tx.users.expect_managed_by().returning(move |_, _| Ok(vec![managed.clone()]));
    w.tx.users.expect_delete().times(1).returning(|_, _| Ok(true));
    w.tx.accounts.expect_delete_if_orphan().withf(|a| a.as_str() == "acct-u1").times(1).returning(|_| Ok(false));
    let (updates, audits) = (w.updates.clone(), w.audits.clone());
    let (e, _) = enlist(w.tx);
    block_on(e.users.delete(&entra(), &UserId::new("u1"), None)).unwrap();
    let updates = updates.lock().unwrap();
    assert_eq!(updates.len(), 1);
    assert_eq!(updates[0].profile.manager(), None);
    assert_eq!(audits.lock().unwrap().len(), 1);
}

// ---- API keys ---------------------------------------------------------------

fn key(revoked: bool) -> ApiKey {
    ApiKey {
        id: ApiKeyId::new("k1"),
        organization_id: OrganizationId::new("org-1"),
        label: "Entra provisioning".into(),
        secret_hash: keys_hash("s3cret"),
        created_at: FixedClock.now(),
        last_used_at: Some(FixedClock.now()),
        revoked_at: revoked.then(|| FixedClock.now()),
    }
}
fn keys_hash(s: &str) -> Vec<u8> {
    super::keys::hash_secret(s)
}

#[test]
fn a_valid_key_resolves_to_its_organization_and_a_revoked_one_does_not() {
    let mut w = world(org(&[]), vec![], 0);
    w.tx.keys.expect_get().returning(|_| Ok(Some(key(false))));
    let (e, _) = enlist(w.tx);
    let caller = block_on(e.api_keys.authenticate("enlist_k1.s3cret")).unwrap();
    assert_eq!(caller, entra());
    let err = block_on(e.api_keys.authenticate("enlist_k1.wrong")).unwrap_err();
    assert!(matches!(err, Error::Unauthorized { .. }));

    let mut w = world(org(&[]), vec![], 0);
    w.tx.keys.expect_get().returning(|_| Ok(Some(key(true))));
    let (e, _) = enlist(w.tx);
    let err = block_on(e.api_keys.authenticate("enlist_k1.s3cret")).unwrap_err();
    assert!(matches!(err, Error::Unauthorized { .. }));
    assert!(detail(&err).contains("revoked"));
}

#[test]
fn scim_switched_off_is_forbidden() {
    let mut o = org(&[]);
    o.scim_enabled = false;
    let mut w = world(o, vec![], 0);
    w.tx.keys.expect_get().returning(|_| Ok(Some(key(false))));
    let (e, _) = enlist(w.tx);
    let err = block_on(e.api_keys.authenticate("enlist_k1.s3cret")).unwrap_err();
    assert!(matches!(err, Error::Forbidden { .. }));
    assert!(detail(&err).contains("Enterprise add-on"));
}

#[test]
fn only_admins_and_the_operator_create_keys_and_the_secret_is_stored_hashed() {
    // An API key (SCIM) cannot mint keys.
    let mut w = world(
        org(&[]),
        vec![user("u2", attrs("u2@x.com", None, &["FullMember"])), user("boss", attrs("b@x.com", None, &["Admin"]))],
        1,
    );
    let stored = Arc::new(Mutex::new(Vec::new()));
    let s2 = stored.clone();
    w.tx.keys.expect_insert().returning(move |k| {
        s2.lock().unwrap().push(k.clone());
        Ok(())
    });
    let (e, _) = enlist(w.tx);
    let as_member = |id: &str| Caller {
        organization_id: OrganizationId::new("org-1"),
        actor: Actor::Member { user: UserId::new(id) },
    };
    for refused in [entra(), as_member("u2")] {
        let err = block_on(e.api_keys.create(&refused, "Okta")).unwrap_err();
        assert!(matches!(err, Error::Forbidden { .. }), "{refused:?}");
    }
    let created = block_on(e.api_keys.create(&as_member("boss"), "Okta provisioning")).unwrap();
    let operator = Caller { organization_id: OrganizationId::new("org-1"), actor: Actor::Operator };
    block_on(e.api_keys.create(&operator, "Entra")).unwrap();
    let stored = stored.lock().unwrap();
    assert_eq!(stored.len(), 2);
    let (id, secret) = created.token.strip_prefix("enlist_").and_then(|t| t.split_once('.')).unwrap();
    assert_eq!(id, stored[0].id.as_str());
    assert_eq!(stored[0].secret_hash, keys_hash(secret));
    assert!(!stored.iter().any(|k| k.secret_hash == secret.as_bytes()), "only the hash is stored");
    assert_eq!(stored[0].label, "Okta provisioning");
}
