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
