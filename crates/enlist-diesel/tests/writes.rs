//! Deadlines that mean something: on SQLite one writer at a time, queued
//! without holding a connection and refused as unavailable when the wait is
//! too long; on both backends a write past its deadline, or whose caller
//! stopped waiting, is rolled back, never committed later.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use enlist_core::ports::Store;
use enlist_core::{Error, Organization, OrganizationId, Role};
use enlist_diesel::{Database, PoolOptions};
use std::time::{Duration, Instant};

fn org(name: &str) -> Organization {
    Organization {
        id: OrganizationId::new(format!("id-{name}")),
        name: name.into(),
        domains: vec![],
        scim_enabled: true,
        default_role: Role::FreeMember,
        created_at: chrono::DateTime::from_timestamp(1_900_000_000, 0).unwrap(),
    }
}

/// A write that sleeps `pause` (standing for slow work) then inserts `name`.
async fn slow_insert(db: &Database, name: &str, pause: Duration) -> Result<(), Error> {
    let o = org(name);
    db.write(Box::new(move |tx| {
        std::thread::sleep(pause);
        tx.organizations().insert(&o)?;
        Ok(())
    }))
    .await
}

async fn exists(db: &Database, name: &str) -> bool {
    let name = name.to_owned();
    let found = std::sync::Arc::new(std::sync::Mutex::new(false));
    let f = found.clone();
    db.read(Box::new(move |tx| {
        *f.lock().unwrap() = tx.organizations().by_name(&name)?.is_some();
        Ok(())
    }))
    .await
    .unwrap();
    let r = *found.lock().unwrap();
    r
}

fn reopen(url: &str, wait: Duration, deadline: Duration) -> Database {
    let opts = PoolOptions { write_wait: wait, write_deadline: deadline, ..PoolOptions::default() };
    Database::open(url, &opts).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_queues_writers_and_refuses_a_long_wait_with_nothing_changed() {
    let env = common::sqlite();
    let db = reopen(env.url(), Duration::from_millis(100), Duration::from_secs(20));
    let first = tokio::spawn({
        let db = db.clone();
        async move { slow_insert(&db, "First", Duration::from_millis(600)).await }
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    // Reads go on while the writer works: they never queue behind it.
    let t = Instant::now();
    assert!(!exists(&db, "First").await);
    assert!(t.elapsed() < Duration::from_millis(300), "a read waited {:?} for a writer", t.elapsed());
    let t = Instant::now();
    let second = slow_insert(&db, "Second", Duration::ZERO).await;
    assert!(matches!(second, Err(Error::Unavailable { .. })), "{second:?}");
    assert!(t.elapsed() < Duration::from_millis(400), "refused after {:?}", t.elapsed());
    first.await.unwrap().unwrap();
    assert!(exists(&db, "First").await);
    assert!(!exists(&db, "Second").await, "a refused write changed nothing");
    // With room to wait, writers take turns and all commit.
    let db = reopen(env.url(), Duration::from_secs(10), Duration::from_secs(20));
    let writes: Vec<_> = (0..8)
        .map(|i| {
            let db = db.clone();
            tokio::spawn(async move { slow_insert(&db, &format!("Turn{i}"), Duration::from_millis(20)).await })
        })
        .collect();
    for w in writes {
        w.await.unwrap().unwrap();
    }
    for i in 0..8 {
        assert!(exists(&db, &format!("Turn{i}")).await);
    }
}

async fn a_write_past_its_deadline_or_abandoned_is_rolled_back(env: common::Env) {
    let db = reopen(env.url(), Duration::from_secs(10), Duration::from_millis(150));
    let late = slow_insert(&db, "Late", Duration::from_millis(400)).await;
    assert!(matches!(&late, Err(Error::Unavailable { detail }) if detail.contains("nothing was changed")), "{late:?}");
    assert!(!exists(&db, "Late").await, "[{}] a write past its deadline was committed", env.name);

    // The caller stops waiting (the HTTP deadline): the work finishes on
    // its thread and is rolled back.
    let db = reopen(env.url(), Duration::from_secs(10), Duration::from_secs(20));
    let gave_up =
        tokio::time::timeout(Duration::from_millis(100), slow_insert(&db, "Gone", Duration::from_millis(400))).await;
    assert!(gave_up.is_err());
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert!(!exists(&db, "Gone").await, "[{}] an abandoned write was committed after its caller gave up", env.name);
    // And the writer is free again.
    slow_insert(&db, "After", Duration::ZERO).await.unwrap();
    assert!(exists(&db, "After").await);
}
on_both!(a_write_past_its_deadline_or_abandoned_is_rolled_back);

/// SQLite's writer saves queued units in one batch. A unit that finished
/// in time must not be committed after its caller was told it failed,
/// however long the units after it in the batch run: the writer checks
/// every unit's deadline (and that its caller still waits) right before
/// COMMIT, and rolls the batch back otherwise.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sqlite_writer_never_commits_a_unit_whose_caller_was_told_it_failed() {
    let env = common::sqlite();
    let deadline = Duration::from_millis(600);
    let db = reopen(env.url(), Duration::from_secs(10), deadline);
    // Hold the writer so that the next two units queue into one batch.
    let blocker = tokio::spawn({
        let db = db.clone();
        async move { slow_insert(&db, "Blocker", Duration::from_millis(200)).await }
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    // Quick, and its caller gives up at its deadline, as the HTTP layer
    // does (answering 503 "nothing was changed").
    let quick = tokio::spawn({
        let db = db.clone();
        async move { tokio::time::timeout(deadline, slow_insert(&db, "Quick", Duration::ZERO)).await }
    });
    tokio::time::sleep(Duration::from_millis(20)).await;
    // Slow: runs after Quick in the same batch, past Quick's deadline.
    let slow = slow_insert(&db, "Slow", Duration::from_millis(900)).await;
    assert!(matches!(slow, Err(Error::Unavailable { .. })), "{slow:?}");
    let quick = quick.await.unwrap();
    blocker.await.unwrap().unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    match quick {
        Err(_) => assert!(!exists(&db, "Quick").await, "Quick was committed after its caller was told it failed"),
        Ok(r) => panic!("Quick's caller should have given up at its deadline: {r:?}"),
    }
    assert!(!exists(&db, "Slow").await);
    // The writer goes on.
    slow_insert(&db, "After", Duration::ZERO).await.unwrap();
    assert!(exists(&db, "After").await && exists(&db, "Blocker").await);
}
