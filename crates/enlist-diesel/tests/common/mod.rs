//! Test databases: a temporary SQLite file, and a fresh PostgreSQL database
//! per test (so tests run in parallel). Without a reachable PostgreSQL the
//! PostgreSQL half is skipped with a loud message, except under `CI=true`,
//! where it fails.

#![allow(dead_code)]
// Test support: failing loudly is the point.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use chrono::{DateTime, TimeZone, Utc};
use diesel::connection::SimpleConnection;
use diesel::{Connection, PgConnection};
use enlist_core::ports::{Clock, IdGenerator};
use enlist_core::{Actor, Caller, Deps, Email, Enlist, Organization, OrganizationId};
use enlist_diesel::{Database, PoolOptions};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

pub struct TickClock(AtomicU64);
impl Clock for TickClock {
    fn now(&self) -> DateTime<Utc> {
        let base = Utc.with_ymd_and_hms(2026, 11, 29, 0, 0, 0).single().expect("valid");
        base + chrono::Duration::milliseconds(self.0.fetch_add(1, Ordering::SeqCst) as i64)
    }
}

pub struct SeqIds(AtomicU64);
impl IdGenerator for SeqIds {
    fn id(&self) -> String {
        format!("id{:06}", self.0.fetch_add(1, Ordering::SeqCst))
    }
    fn secret(&self) -> String {
        format!("secret{}", self.0.fetch_add(1, Ordering::SeqCst))
    }
}

pub struct Env {
    pub db: Database,
    pub enlist: Enlist,
    pub name: &'static str,
    cleanup: Option<Box<dyn FnOnce() + Send>>,
}

impl Drop for Env {
    fn drop(&mut self) {
        if let Some(f) = self.cleanup.take() {
            f();
        }
    }
}

fn unique(prefix: &str) -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(N.fetch_add(1, Ordering::SeqCst));
    format!("{prefix}_{}_{:x}", std::process::id(), h.finish() & 0xffff_ffff)
}

fn env(db: Database, name: &'static str, cleanup: Option<Box<dyn FnOnce() + Send>>) -> Env {
    db.migrate(|_| {}).expect("migrations run");
    let deps = Deps {
        store: Arc::new(db.clone()),
        clock: Arc::new(TickClock(AtomicU64::new(0))),
        ids: Arc::new(SeqIds(AtomicU64::new(1))),
    };
    Env { db, enlist: Enlist::new(deps), name, cleanup }
}

pub fn sqlite() -> Env {
    let path = std::env::temp_dir().join(format!("{}.db", unique("enlist_test")));
    let db = Database::open(&format!("sqlite://{}", path.display()), &PoolOptions::default()).expect("sqlite opens");
    let cleanup = move || {
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
        }
    };
    env(db, "sqlite", Some(Box::new(cleanup)))
}

pub fn admin_url() -> String {
    std::env::var("ENLIST_TEST_DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// A fresh database on the test PostgreSQL, or `None` (skipped) when none
/// is reachable outside CI.
pub fn postgres() -> Option<Env> {
    let admin = admin_url();
    let mut conn = match PgConnection::establish(&admin) {
        Ok(c) => c,
        Err(e) => {
            if std::env::var("CI").is_ok_and(|v| v == "true") {
                panic!("CI=true but PostgreSQL is not reachable at {admin}: {e}");
            }
            eprintln!("\n*** SKIPPED: PostgreSQL half of this test: no PostgreSQL at {admin} ({e}). Set ENLIST_TEST_DATABASE_URL to run it. ***\n");
            return None;
        }
    };
    let name = unique("enlist_t");
    conn.batch_execute(&format!("CREATE DATABASE {name}")).expect("create test database");
    let url = match admin.rsplit_once('/') {
        Some((base, _)) => format!("{base}/{name}"),
        None => panic!("ENLIST_TEST_DATABASE_URL must end in /DATABASE"),
    };
    let db = Database::open(&url, &PoolOptions::default()).expect("postgres opens");
    let cleanup = move || {
        if let Ok(mut c) = PgConnection::establish(&admin) {
            let _ = c.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
        }
    };
    Some(env(db, "postgres", Some(Box::new(cleanup))))
}

/// Runs an async test body on both backends.
#[macro_export]
macro_rules! on_both {
    ($name:ident) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$name(super::common::sqlite()).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if let Some(env) = super::common::postgres() {
                    super::$name(env).await;
                }
            }
        }
    };
}

pub fn operator(org: &OrganizationId) -> Caller {
    Caller { organization_id: org.clone(), actor: Actor::Operator }
}

pub async fn org(env: &Env, name: &str, owner: &str) -> Organization {
    env.enlist
        .organizations
        .create(&Actor::Operator, name, Some(Email::parse(owner).expect("email")), true)
        .await
        .expect("org created")
}

pub fn entra(org: &OrganizationId) -> Caller {
    Caller {
        organization_id: org.clone(),
        actor: Actor::ApiKey { id: enlist_core::ApiKeyId::new("k"), label: "Entra provisioning".into() },
    }
}
