//! In-process event consumers over the real database, on SQLite and
//! PostgreSQL: in order per organization, at least once, from a durable
//! position; a failing handler retried without skipping; and two
//! "processes" (two pools on one database) never handing one
//! organization's events to two handlers at once.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{entra, org, Env};
use enlist_core::consumer::{Consumer, EventHandler, HandlerError, Round};
use enlist_core::event::Event;
use enlist_core::ports::{Clock, EventFeed};
use enlist_core::service::NewUser;
use enlist_core::testing::SeqIds;
use enlist_core::OrganizationId;
use enlist_diesel::{Database, PoolOptions};
use serde_json::json;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A clock the test moves.
struct Manual(Mutex<chrono::DateTime<chrono::Utc>>);
impl Manual {
    fn new() -> Arc<Self> {
        Arc::new(Self(Mutex::new(chrono::DateTime::from_timestamp(1_900_000_000, 0).unwrap())))
    }
    fn advance(&self, by: Duration) {
        *self.0.lock().unwrap() += chrono::Duration::from_std(by).unwrap();
    }
}
impl Clock for Manual {
    fn now(&self) -> chrono::DateTime<chrono::Utc> {
        *self.0.lock().unwrap()
    }
}

/// Records deliveries; fails once at `fail_once`; and panics if two calls
/// for one organization overlap.
#[derive(Default)]
struct Recorder {
    seen: Mutex<Vec<(String, u64)>>,
    fail_once: Mutex<Option<u64>>,
    busy: Mutex<HashMap<String, bool>>,
}

#[async_trait::async_trait]
impl EventHandler for Recorder {
    async fn handle(&self, e: &Event) -> Result<(), HandlerError> {
        let org = e.organization_id.as_str().to_owned();
        {
            let mut busy = self.busy.lock().unwrap();
            assert!(!busy.get(&org).copied().unwrap_or(false), "two handlers at once for {org}");
            busy.insert(org.clone(), true);
        }
        // Let another consumer try to overlap.
        tokio::time::sleep(Duration::from_millis(1)).await;
        self.busy.lock().unwrap().insert(org.clone(), false);
        let mut fail = self.fail_once.lock().unwrap();
        if *fail == Some(e.seq) {
            *fail = None;
            return Err(HandlerError("the host is busy".into()));
        }
        self.seen.lock().unwrap().push((org, e.seq));
        Ok(())
    }
}

fn consumer(db: Database, handler: Arc<Recorder>, clock: Arc<Manual>) -> Consumer {
    Consumer {
        name: "sessions".into(),
        feed: Arc::new(db),
        handler,
        clock,
        ids: Arc::new(SeqIds::default()),
        batch: 3,
        scope: None,
        lease: Duration::from_secs(60),
    }
}

fn user(n: &str) -> NewUser {
    let input = enlist_scim::user_from_json(&json!({"userName": n})).unwrap();
    NewUser { attrs: input.attrs, password: input.password }
}

/// Runs rounds until one claims nothing (bounded).
async fn drain(c: &Consumer) -> usize {
    let mut delivered = 0;
    for _ in 0..100 {
        let Round { delivered: d, claimed, .. } = c.run_once().await.unwrap();
        delivered += d;
        if !claimed {
            return delivered;
        }
    }
    panic!("the consumer never caught up");
}

fn seqs(r: &Recorder, org: &OrganizationId) -> Vec<u64> {
    r.seen.lock().unwrap().iter().filter(|(o, _)| o == org.as_str()).map(|(_, s)| *s).collect()
}

async fn in_order_at_least_once_from_a_durable_position(env: Env) {
    let a = org(&env, "A", "owner@a.com").await;
    for i in 0..4 {
        env.enlist.users.create(&entra(&a.id), user(&format!("u{i}@a.com"))).await.unwrap();
    }
    let clock = Manual::new();
    let h = Arc::new(Recorder::default());
    let c = consumer(env.db().clone(), h.clone(), clock.clone());
    assert_eq!(drain(&c).await, 5, "[{}] the owner and four users", env.name);
    assert_eq!(seqs(&h, &a.id), [1, 2, 3, 4, 5]);
    assert_eq!(env.db().lag("sessions").await.unwrap(), 0);
    // A restarted process continues from the stored position.
    env.enlist.users.create(&entra(&a.id), user("later@a.com")).await.unwrap();
    assert_eq!(env.db().lag("sessions").await.unwrap(), 1, "[{}] lag counts what waits", env.name);
    let restarted = consumer(env.db().clone(), h.clone(), clock);
    assert_eq!(drain(&restarted).await, 1);
    assert_eq!(seqs(&h, &a.id), [1, 2, 3, 4, 5, 6]);
}
on_both!(in_order_at_least_once_from_a_durable_position);

async fn a_failing_handler_is_retried_with_backoff_and_nothing_is_skipped(env: Env) {
    let a = org(&env, "A", "owner@a.com").await;
    for i in 0..3 {
        env.enlist.users.create(&entra(&a.id), user(&format!("u{i}@a.com"))).await.unwrap();
    }
    let clock = Manual::new();
    let h = Arc::new(Recorder { fail_once: Mutex::new(Some(3)), ..Recorder::default() });
    let c = consumer(env.db().clone(), h.clone(), clock.clone());
    let first = c.run_once().await.unwrap();
    assert_eq!((first.delivered, first.failed), (2, true), "[{}]", env.name);
    // Not due yet: nothing is claimed, and 4 is not delivered past 3.
    assert!(!c.run_once().await.unwrap().claimed, "[{}] retried only after the backoff", env.name);
    assert_eq!(seqs(&h, &a.id), [1, 2]);
    clock.advance(Duration::from_secs(2));
    assert_eq!(drain(&c).await, 2);
    assert_eq!(seqs(&h, &a.id), [1, 2, 3, 4], "[{}] in order, none skipped", env.name);
}
on_both!(a_failing_handler_is_retried_with_backoff_and_nothing_is_skipped);

/// Two pools on one database stand for two `enlist serve` processes.
async fn two_processes_never_handle_one_organization_at_once(env: Env) {
    let mut orgs = Vec::new();
    for name in ["A", "B", "C"] {
        let o = org(&env, name, &format!("owner@{}.com", name.to_lowercase())).await;
        for i in 0..6 {
            env.enlist.users.create(&entra(&o.id), user(&format!("u{i}@{name}.com"))).await.unwrap();
        }
        orgs.push(o);
    }
    let second = Database::open(env.url(), &PoolOptions::default()).unwrap();
    let clock = Manual::new();
    let h = Arc::new(Recorder::default());
    let (one, two) = (consumer(env.db().clone(), h.clone(), clock.clone()), consumer(second, h.clone(), clock));
    let (d1, d2) = tokio::join!(drain(&one), drain(&two));
    assert_eq!(d1 + d2, 21, "[{}] every event once: {d1} + {d2}", env.name);
    for o in &orgs {
        assert_eq!(seqs(&h, &o.id), (1..=7).collect::<Vec<u64>>(), "[{}] in order per organization", env.name);
    }
}
on_both!(two_processes_never_handle_one_organization_at_once);

/// `pending` answers what `claim` would find, with a read: an idle
/// consumer (a webhook endpoint with nothing to send) costs no write.
async fn pending_matches_what_a_claim_would_find(env: Env) {
    let a = org(&env, "A", "owner@a.com").await;
    let b = org(&env, "B", "owner@b.com").await;
    let clock = Manual::new();
    let now = clock.now();
    let (db, name) = (env.db(), "sessions");
    assert!(db.pending(name, None, now).await.unwrap(), "[{}] a new consumer has every event to read", env.name);
    assert!(db.pending(name, Some(a.id.clone()), now).await.unwrap());
    // Held by another process: nothing for this one until the lease ends.
    let lease = now + chrono::Duration::seconds(60);
    let held = db.claim(name, Some(a.id.clone()), now, lease, "t1", 10).await.unwrap().unwrap();
    assert!(!db.pending(name, Some(a.id.clone()), now).await.unwrap(), "[{}] A is held", env.name);
    assert!(db.pending(name, None, now).await.unwrap(), "[{}] B still waits", env.name);
    assert!(db.pending(name, Some(a.id.clone()), lease).await.unwrap(), "[{}] the lease ran out", env.name);
    db.ack(name, &a.id, "t1", held.events.last().unwrap().seq).await.unwrap();
    // Waiting for a retry: nothing until then.
    let t = db.claim(name, Some(b.id.clone()), now, lease, "t2", 10).await.unwrap().unwrap();
    let retry_at = now + chrono::Duration::seconds(5);
    db.retry_later(name, &b.id, &t.token, None, now, retry_at, "down").await.unwrap();
    assert!(!db.pending(name, None, now).await.unwrap(), "[{}] A done, B waits for its retry", env.name);
    assert!(db.pending(name, None, retry_at).await.unwrap());
    // Caught up: nothing pending, and a new event makes it pending again.
    let c = consumer(env.db().clone(), Arc::new(Recorder::default()), clock.clone());
    clock.advance(Duration::from_secs(5));
    drain(&c).await;
    assert!(!db.pending(name, None, clock.now()).await.unwrap(), "[{}] caught up", env.name);
    env.enlist.users.create(&entra(&a.id), user("late@a.com")).await.unwrap();
    assert!(db.pending(name, Some(a.id.clone()), clock.now()).await.unwrap());
    assert!(!db.pending(name, Some(b.id.clone()), clock.now()).await.unwrap(), "[{}] scoped to B", env.name);
}
on_both!(pending_matches_what_a_claim_would_find);

/// Where an endpoint stands, its kept failures (the newest 20, with what
/// went wrong), and a replay through the core's `Webhooks` service: from
/// any kept event, never from 0 or past the newest, and only for the
/// caller's own organization's endpoint. A claim held across the replay
/// cannot move the position past it.
async fn standing_failures_and_replay(env: Env) {
    let a = org(&env, "A", "owner@a.com").await;
    let b = org(&env, "B", "owner@b.com").await;
    for i in 0..3 {
        env.enlist.users.create(&entra(&a.id), user(&format!("u{i}@a.com"))).await.unwrap();
    }
    let admin = common::operator(&a.id);
    let hook = env
        .enlist
        .webhooks
        .add(&admin, "https://93.184.216.34/in", false, false, "whsec_dGVzdA==".into())
        .await
        .unwrap();
    let (db, name) = (env.db(), hook.id.consumer_name());
    let newest = db.standing(&name, &a.id).await.unwrap().newest;
    assert!(newest >= 4, "[{}] the owner and three people: {newest}", env.name);
    let fresh = env.enlist.webhooks.standing(&admin, &hook.id, db).await.unwrap();
    assert_eq!((fresh.delivered, fresh.lag(), fresh.failures.len()), (0, newest, 0), "[{}]", env.name);

    // 25 failed attempts at the first event: the newest 20 are kept.
    let clock = Manual::new();
    for i in 0..25 {
        let now = clock.now();
        let t = db
            .claim(&name, Some(a.id.clone()), now, now + chrono::Duration::seconds(30), "t", 5)
            .await
            .unwrap()
            .unwrap();
        db.retry_later(&name, &a.id, &t.token, None, now, now, &format!("HTTP 500 #{i}")).await.unwrap();
        clock.advance(Duration::from_secs(1));
    }
    let st = env.enlist.webhooks.standing(&admin, &hook.id, db).await.unwrap();
    assert_eq!((st.delivered, st.attempts), (0, 25), "[{}]", env.name);
    assert!(st.failing_since.is_some() && st.retry_at.is_some(), "[{}] {st:?}", env.name);
    assert_eq!(st.failures.len(), 20, "[{}] only the newest are kept", env.name);
    assert_eq!((st.failures[0].error.as_str(), st.failures[0].seq), ("HTTP 500 #24", 1), "[{}] newest first", env.name);
    assert_eq!(st.failures[19].error, "HTTP 500 #5", "[{}] the oldest kept", env.name);

    // Delivered up to the newest, then replayed from 2, while a stale claim
    // is held: its acknowledgement no longer counts.
    let now = clock.now();
    let t =
        db.claim(&name, Some(a.id.clone()), now, now + chrono::Duration::seconds(30), "t2", 50).await.unwrap().unwrap();
    assert!(db.ack(&name, &a.id, &t.token, 2).await.unwrap());
    let stale =
        db.claim(&name, Some(a.id.clone()), now, now + chrono::Duration::seconds(30), "t3", 50).await.unwrap().unwrap();
    env.enlist.webhooks.replay(&admin, &hook.id, 2, db).await.unwrap();
    assert!(!db.ack(&name, &a.id, &stale.token, newest).await.unwrap(), "[{}] the stale claim is over", env.name);
    let st = env.enlist.webhooks.standing(&admin, &hook.id, db).await.unwrap();
    assert_eq!((st.delivered, st.attempts, st.failing_since), (1, 0, None), "[{}] replays from 2", env.name);
    let again =
        db.claim(&name, Some(a.id.clone()), now, now + chrono::Duration::seconds(30), "t4", 50).await.unwrap().unwrap();
    assert_eq!(again.events.first().map(|e| e.seq), Some(2), "[{}]", env.name);

    // Refused: 0, past the newest, another organization's endpoint.
    for from in [0, newest + 2] {
        let e = env.enlist.webhooks.replay(&admin, &hook.id, from, db).await.unwrap_err();
        assert!(
            matches!(e, enlist_core::Error::InvalidValue { .. }) && e.to_string().contains("choose a number"),
            "[{}] {e}",
            env.name
        );
    }
    let other = common::operator(&b.id);
    let e = env.enlist.webhooks.replay(&other, &hook.id, 1, db).await.unwrap_err();
    assert!(matches!(e, enlist_core::Error::NotFound { .. }), "[{}] {e}", env.name);
    assert!(env.enlist.webhooks.standing(&other, &hook.id, db).await.is_err(), "[{}]", env.name);
    // Removing the endpoint removes its failures.
    env.enlist.webhooks.remove(&admin, &hook.id).await.unwrap();
    assert!(db.standing(&name, &a.id).await.unwrap().failures.is_empty(), "[{}]", env.name);
}
on_both!(standing_failures_and_replay);
