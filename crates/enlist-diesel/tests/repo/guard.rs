//! The deprovisioning guard through the real SQL: the limit holds, held
//! requests are kept per person, a decision releases them, and two
//! processes on one database never let more removals through than the
//! limit allows.

use super::*;
use enlist_core::change::{PatchKind, PatchOp, PatchPath};
use enlist_core::guard::{GuardPhase, Removal};
use enlist_core::value::Value;
use enlist_diesel::{Database, PoolOptions};

fn deactivate() -> UserChange {
    let path = PatchPath { target: USER_RESOURCE.resolve(None, "active", None).unwrap(), filter: None };
    UserChange::Patch(vec![PatchOp { kind: PatchKind::Replace, path, value: Some(Value::Bool(false)) }])
}

async fn members(env: &Env, c: &Caller, n: usize) -> Vec<UserId> {
    let mut ids = Vec::new();
    for i in 0..n {
        ids.push(env.enlist.users.create(c, simple(&format!("p{i}@x.com"))).await.unwrap().user.id);
    }
    ids
}

/// 30 members and the owner: the floor (10) is the limit; the 11th
/// removal trips the guard, later ones are held per person, and an
/// approval lets the identity provider's retries through.
async fn the_guard_holds_past_its_limit_and_an_approval_releases(env: Env) {
    use enlist_core::event::EventKind;
    let o = org(&env, "Contoso", "owner@x.com").await;
    let c = entra(&o.id);
    let ids = members(&env, &c, 30).await;
    let mut held = 0;
    for id in &ids[..15] {
        match env.enlist.users.change(&c, id, deactivate(), None).await {
            Ok(_) => {}
            Err(Error::Held { retry_after_secs, .. }) => {
                assert_eq!(retry_after_secs, 600);
                held += 1;
            }
            Err(e) => panic!("[{}] {e}", env.name),
        }
    }
    assert_eq!(held, 5, "[{}]", env.name);
    let again = env.enlist.users.delete(&c, &ids[12], None).await;
    assert!(matches!(again, Err(Error::Held { .. })), "[{}] {again:?}", env.name);
    let status = env.enlist.guard.status(&operator(&o.id)).await.unwrap();
    assert_eq!((status.phase, status.removed, status.active, status.limit), (GuardPhase::Held, 10, 21, 10));
    assert_eq!(status.held.len(), 5, "[{}] one row per person", env.name);
    let p12 = status.held.iter().find(|h| h.user_id == ids[12]).unwrap();
    assert_eq!((p12.attempts, p12.removal, p12.email.as_str()), (2, Removal::Delete, "p12@x.com"));
    assert_eq!(p12.key_label, "Entra provisioning");
    let events = env.enlist.events.list(&operator(&o.id), 0, 1000).await.unwrap();
    let tripped: Vec<_> = events.iter().filter(|e| e.kind == EventKind::OrganizationDeprovisioningHeld).collect();
    assert_eq!(tripped.len(), 1, "[{}]", env.name);

    assert_eq!(env.enlist.guard.approve(&operator(&o.id)).await.unwrap(), 5);
    for id in &ids[10..15] {
        env.enlist.users.change(&c, id, deactivate(), None).await.unwrap();
    }
    let status = env.enlist.guard.status(&operator(&o.id)).await.unwrap();
    assert_eq!((status.phase, status.held.len(), status.active), (GuardPhase::Approved, 0, 16));
}
on_every_store!(the_guard_holds_past_its_limit_and_an_approval_releases);

/// The second process's ids: the test id generator counts from zero in
/// each process, so it is told apart by a prefix.
#[derive(Default)]
struct OtherIds(enlist_core::testing::SeqIds);

impl enlist_core::ports::IdGenerator for OtherIds {
    fn id(&self) -> String {
        format!("b-{}", self.0.id())
    }
    fn secret(&self) -> String {
        self.0.secret()
    }
}

/// Two processes (two pools on one database) deactivating at once: the
/// guard's row lock makes them count one at a time, so exactly the limit
/// passes.
async fn two_processes_never_let_more_than_the_limit_through(env: Env) {
    let o = org(&env, "Contoso", "owner@x.com").await;
    let c = entra(&o.id);
    let ids = members(&env, &c, 40).await;
    let other = Database::open(env.url(), &PoolOptions::default()).unwrap();
    let mut deps = enlist_core::testing::deps(std::sync::Arc::new(other));
    deps.ids = std::sync::Arc::new(OtherIds::default());
    let second = enlist_core::Services::new(deps);
    let tasks: Vec<_> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| {
            let (services, c, id) =
                (if i % 2 == 0 { env.enlist.clone() } else { second.clone() }, c.clone(), id.clone());
            tokio::spawn(async move { services.users.change(&c, &id, deactivate(), None).await })
        })
        .collect();
    let (mut applied, mut held) = (0, 0);
    for t in tasks {
        match t.await.unwrap() {
            Ok(_) => applied += 1,
            Err(Error::Held { .. }) => held += 1,
            Err(e) => panic!("[{}] {e}", env.name),
        }
    }
    assert_eq!((applied, held), (10, 30), "[{}] the limit is 10 (the floor; 10 % of 41 is 5)", env.name);
    let status = env.enlist.guard.status(&operator(&o.id)).await.unwrap();
    assert_eq!((status.removed, status.active, status.held.len()), (10, 31, 30), "[{}]", env.name);
}
on_both!(two_processes_never_let_more_than_the_limit_through);

/// The guard's alert to the Admins is queued with its figures, and reads
/// back as the same kind of notification.
async fn the_alert_to_admins_keeps_its_kind_in_the_outbox(env: Env) {
    use enlist_core::ports::OutboxQueue;
    use enlist_core::NotificationKind;
    let o = org(&env, "Contoso", "owner@x.com").await;
    let c = entra(&o.id);
    let ids = members(&env, &c, 11).await;
    for id in &ids {
        let _ = env.enlist.users.change(&c, id, deactivate(), None).await;
    }
    let far = chrono::DateTime::from_timestamp(4_000_000_000, 0).unwrap();
    let due = env.db().due(far, 100).await.unwrap();
    let alerts: Vec<_> = due.iter().filter(|q| q.notification.kind != NotificationKind::Added).collect();
    assert_eq!(alerts.len(), 1, "[{}]", env.name);
    let n = &alerts[0].notification;
    assert_eq!(n.recipient, "owner@x.com");
    assert_eq!(n.added_by, "Entra provisioning");
    assert_eq!(n.kind, NotificationKind::DeprovisioningHeld { removed: 10, limit: 10, window_secs: 3600 });
}
on_both!(the_alert_to_admins_keeps_its_kind_in_the_outbox);
