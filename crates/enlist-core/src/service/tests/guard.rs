//! The deprovisioning guard as stories on the in-memory store: an
//! Entra-shaped run that deactivates most of an organization stops at the
//! limit, everything else goes on, and an Admin's decision releases or
//! restarts it.

use super::*;
use crate::guard::{GuardPhase, GuardSettings, Removal, HELD_RETRY_AFTER_SECS};
use crate::testing::MemoryStore;

/// A clock the test moves by hand.
struct Manual(Mutex<DateTime<Utc>>);

impl Clock for Manual {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap()
    }
}

impl Manual {
    fn advance(&self, by: chrono::Duration) {
        *self.0.lock().unwrap() += by;
    }
}

struct Env {
    enlist: Services,
    store: Arc<MemoryStore>,
    clock: Arc<Manual>,
    org: Organization,
    owner: UserId,
    members: Vec<UserId>,
}

fn env(members: usize) -> Env {
    let store = Arc::new(MemoryStore::new());
    let clock = Arc::new(Manual(Mutex::new(Utc.with_ymd_and_hms(2026, 12, 1, 9, 0, 0).unwrap())));
    let mut deps = crate::testing::deps(store.clone());
    deps.clock = clock.clone();
    let enlist = Services::new(deps);
    let new = NewOrganization::new("Contoso")
        .owner(Email::parse("boss@contoso.com").unwrap())
        .domain(DomainName::parse("contoso.com").unwrap());
    let org = block_on(enlist.organizations.create(&Actor::Operator, new)).unwrap();
    let owner = store.snapshot().users()[0].id.clone();
    let mut e = Env { enlist, store, clock, org, owner, members: Vec::new() };
    for i in 0..members {
        let name = format!("person{i}@contoso.com");
        let input = NewUser { attrs: attrs(&name, Some(&name), &["FullMember"]), password: false };
        e.members.push(block_on(e.enlist.users.create(&e.key(), input)).unwrap().user.id);
    }
    e
}

impl Env {
    fn key(&self) -> Caller {
        Caller {
            organization_id: self.org.id.clone(),
            actor: Actor::ApiKey { id: ApiKeyId::new("k1"), label: "Entra ID provisioning".into() },
        }
    }
    fn operator(&self) -> Caller {
        Caller::operator(&self.org.id)
    }
    fn admin(&self) -> Caller {
        Caller { organization_id: self.org.id.clone(), actor: Actor::Member { user: self.owner.clone() } }
    }
    fn set_active(&self, id: &UserId, active: bool) -> Result<UserView> {
        let change = patch(vec![op(PatchKind::Replace, path("active", None), Some(Value::Bool(active)))]);
        block_on(self.enlist.users.change(&self.key(), id, change, None))
    }
    fn active(&self) -> usize {
        self.store.snapshot().users().iter().filter(|u| u.profile.active()).count()
    }
    fn events(&self, kind: crate::event::EventKind) -> usize {
        self.store.snapshot().events().iter().filter(|e| e.kind == kind).count()
    }
}

fn held(r: Result<UserView>) -> String {
    match r {
        Err(Error::Held { detail, retry_after_secs }) => {
            assert_eq!(retry_after_secs, HELD_RETRY_AFTER_SECS);
            detail
        }
        other => panic!("expected the guard to hold it, got {other:?}"),
    }
}

#[test]
fn deactivating_60_of_100_stops_at_the_limit_and_everything_else_goes_on() {
    use crate::event::EventKind::*;
    let e = env(99); // and the owner: 100 active members
    let mut refused = Vec::new();
    for id in &e.members[..60] {
        match e.set_active(id, false) {
            Ok(v) => assert!(!v.user.profile.active()),
            Err(err) => refused.push(held(Err(err))),
        }
    }
    assert_eq!(refused.len(), 50, "10 % of 100 (the floor is 10 too) pass, the rest are held");
    assert!(
        refused[0].contains("person10@contoso.com") && refused[0].contains("Nothing was changed"),
        "{}",
        refused[0]
    );
    assert!(refused[0].contains("approves them in the Enlist console"), "the fix, in the Admin's words");
    assert_eq!(e.active(), 90);
    assert_eq!(e.events(UserDeactivated), 10);
    assert_eq!(e.events(OrganizationDeprovisioningHeld), 1, "said once, when it tripped");
    let snap = e.store.snapshot();
    let alert: Vec<_> = snap.notifications().iter().filter(|n| n.kind != NotificationKind::Added).collect();
    assert_eq!(alert.len(), 1, "to the one active Admin");
    assert_eq!(alert[0].recipient, "boss@contoso.com");
    assert_eq!(alert[0].kind, NotificationKind::DeprovisioningHeld { removed: 10, limit: 10, window_secs: 3600 });
    assert!(snap.audit_records().iter().any(|a| a.operation == Operation::Hold));

    // A second try of a held person counts as an attempt, not a person.
    held(e.set_active(&e.members[10], false));
    let status = block_on(e.enlist.guard.status(&e.admin())).unwrap();
    assert_eq!((status.phase, status.removed, status.held.len()), (GuardPhase::Held, 10, 50));
    let first = &status.held[0];
    assert_eq!((first.email.as_str(), first.attempts, first.removal), ("person10@contoso.com", 2, Removal::Deactivate));

    // Nothing else is held up: a create, an update, a reactivation, a
    // group change, and deleting someone already inactive.
    let new = NewUser { attrs: attrs("new@contoso.com", Some("new@contoso.com"), &["Guest"]), password: false };
    block_on(e.enlist.users.create(&e.key(), new)).unwrap();
    let title = patch(vec![op(PatchKind::Replace, path("title", None), Some(s("Lead")))]);
    block_on(e.enlist.users.change(&e.key(), &e.members[70], title, None)).unwrap();
    assert!(e.set_active(&e.members[0], true).unwrap().user.profile.active(), "a reactivation");
    let group = NewGroup {
        display_name: DisplayName::parse("Sales").unwrap(),
        external_id: None,
        members: e.members[80..85].to_vec(),
    };
    let g = block_on(e.enlist.groups.create(&e.key(), group)).unwrap().group;
    let remove = vec![GroupChange::RemoveMembers(vec![e.members[80].clone()])];
    block_on(e.enlist.groups.change(&e.key(), &g.id, remove, None)).unwrap();
    block_on(e.enlist.users.delete(&e.key(), &e.members[1], None)).unwrap();
    // Deleting an active member is a removal: held.
    let del = block_on(e.enlist.users.delete(&e.key(), &e.members[90], None));
    assert!(matches!(del, Err(Error::Held { .. })), "{del:?}");
    assert!(e.store.snapshot().users().iter().any(|u| u.id == e.members[90]), "nothing deleted");
}

#[test]
fn an_admin_approves_and_the_identity_providers_retries_apply() {
    let e = env(99);
    for id in &e.members[..30] {
        let _ = e.set_active(id, false);
    }
    assert_eq!(e.active(), 90);
    // Not the key's to decide; an Admin (or the operator) approves.
    assert!(matches!(block_on(e.enlist.guard.approve(&e.key())), Err(Error::Forbidden { .. })));
    assert_eq!(block_on(e.enlist.guard.approve(&e.admin())).unwrap(), 20);
    let snap = e.store.snapshot();
    let approval = snap.audit_records().iter().find(|a| a.operation == Operation::Approve).unwrap();
    assert!(approval.note.as_deref().unwrap().contains("approved 20 held removals"), "{:?}", approval.note);
    for id in &e.members[10..30] {
        assert!(!e.set_active(id, false).unwrap().user.profile.active(), "the retry applies");
    }
    for id in &e.members[30..60] {
        e.set_active(id, false).unwrap();
    }
    assert_eq!(e.active(), 40, "the approval lets removals through for the rest of the window");
    assert!(matches!(block_on(e.enlist.guard.approve(&e.admin())), Err(Error::Conflict { .. })), "nothing held");

    // Once the approval ends, what passed under it does not count: a
    // new window starts with room for its limit.
    e.clock.advance(chrono::Duration::minutes(61));
    for id in &e.members[60..70] {
        e.set_active(id, false).unwrap();
    }
    held(e.set_active(&e.members[70], false));
}

#[test]
fn a_dismissed_hold_counts_afresh_and_the_window_rolls() {
    let e = env(99);
    for id in &e.members[..12] {
        let _ = e.set_active(id, false);
    }
    assert_eq!(block_on(e.enlist.guard.dismiss(&e.operator())).unwrap(), 2);
    let status = block_on(e.enlist.guard.status(&e.admin())).unwrap();
    assert_eq!((status.phase, status.removed, status.held.len()), (GuardPhase::Counting, 0, 0));
    assert!(e.store.snapshot().audit_records().iter().any(|a| a.operation == Operation::Dismiss));
    e.clock.advance(chrono::Duration::seconds(1));
    // Ten more pass (a fresh count), the eleventh is held again.
    for id in &e.members[10..20] {
        e.set_active(id, false).unwrap();
    }
    held(e.set_active(&e.members[20], false));
    block_on(e.enlist.guard.dismiss(&e.admin())).unwrap();
    e.clock.advance(chrono::Duration::seconds(1));
    // Without a decision, removals older than the window stop counting.
    for id in &e.members[20..30] {
        e.set_active(id, false).unwrap();
    }
    e.clock.advance(chrono::Duration::minutes(61));
    for id in &e.members[30..40] {
        e.set_active(id, false).unwrap();
    }
}

#[test]
fn only_the_identity_providers_removals_count_and_the_operator_sets_the_guard() {
    let e = env(20);
    // The operator's and an Admin's own actions are on purpose: never held.
    let off = patch(vec![op(PatchKind::Replace, path("active", None), Some(Value::Bool(false)))]);
    for id in &e.members[..15] {
        block_on(e.enlist.users.change(&e.operator(), id, off.clone(), None)).unwrap();
    }
    let status = block_on(e.enlist.guard.status(&e.operator())).unwrap();
    assert_eq!((status.removed, status.phase), (0, GuardPhase::Counting));

    // Settings: the operator's; an Admin is told who sets them.
    let tight = GuardSettings { max: 2, percent: 0, ..GuardSettings::default() };
    let refused = block_on(e.enlist.guard.configure(&e.admin(), tight)).unwrap_err();
    assert!(detail(&refused).contains("only the operator"), "{refused:?}");
    let bad = GuardSettings { percent: 150, ..tight };
    assert!(matches!(block_on(e.enlist.guard.configure(&e.operator(), bad)), Err(Error::InvalidValue { .. })));
    let status = block_on(e.enlist.guard.configure(&e.operator(), tight)).unwrap();
    assert_eq!(status.limit, 2);
    assert!(e
        .store
        .snapshot()
        .audit_records()
        .iter()
        .any(|a| a.changes.iter().any(|c| c.attribute == "deprovisioningGuard.max")));
    e.set_active(&e.members[15], false).unwrap();
    e.set_active(&e.members[16], false).unwrap();
    held(e.set_active(&e.members[17], false));

    // Off: removals pass (and are still counted), held ones stay listed.
    let off_settings = GuardSettings { enabled: false, ..tight };
    let status = block_on(e.enlist.guard.configure(&e.operator(), off_settings)).unwrap();
    assert_eq!((status.phase, status.held.len()), (GuardPhase::Off, 1));
    e.set_active(&e.members[17], false).unwrap();
    e.set_active(&e.members[18], false).unwrap();
}

#[test]
fn a_removal_refused_by_another_rule_is_not_counted() {
    let e = env(0);
    let tight = GuardSettings { max: 1, percent: 0, ..GuardSettings::default() };
    block_on(e.enlist.guard.configure(&e.operator(), tight)).unwrap();
    // The owner is the last active Admin: the deactivation is refused
    // (409) and rolls back, the guard's count with it.
    assert!(matches!(e.set_active(&e.owner, false), Err(Error::Conflict { .. })));
    let status = block_on(e.enlist.guard.status(&e.operator())).unwrap();
    assert_eq!(status.removed, 0);
}
