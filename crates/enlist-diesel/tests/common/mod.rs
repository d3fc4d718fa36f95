//! Services over a test database (see `enlist_diesel::testing`).

#![allow(dead_code)]
// Test support: failing loudly is the point.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use enlist_core::ports::Store;
use enlist_core::service::NewOrganization;
use enlist_core::testing::{services, MemoryStore};
use enlist_core::{Actor, Caller, Email, Organization, OrganizationId, Services};
use enlist_diesel::testing::TestDatabase;
use enlist_diesel::Database;
use std::sync::Arc;

/// Services over one store: a test database (SQLite or PostgreSQL) or the
/// core's `MemoryStore`, so the contract tests hold the in-memory store
/// to what the database adapter does.
pub struct Env {
    pub enlist: Services,
    /// The store the services run on.
    pub store: Arc<dyn Store>,
    pub name: &'static str,
    database: Option<(Database, TestDatabase)>,
}

impl Env {
    /// The database (not for tests that also run on the memory store).
    pub fn db(&self) -> &Database {
        match &self.database {
            Some((db, _)) => db,
            None => panic!("this test reads the database directly: run it with on_both!, not on_every_store!"),
        }
    }
    /// The database URL (a second pool on it stands for another process).
    pub fn url(&self) -> &str {
        match &self.database {
            Some((_, t)) => &t.url,
            None => panic!("this test opens the database again: run it with on_both!, not on_every_store!"),
        }
    }
}

fn env(t: TestDatabase) -> Env {
    let store: Arc<dyn Store> = Arc::new(t.db.clone());
    Env { enlist: services(store.clone()), store, name: t.name, database: Some((t.db.clone(), t)) }
}

pub fn sqlite() -> Env {
    env(TestDatabase::sqlite().unwrap())
}

/// A fresh PostgreSQL database, or `None` (skipped, loudly) outside CI.
pub fn postgres() -> Option<Env> {
    TestDatabase::postgres().unwrap().map(env)
}

/// The core's in-memory store.
pub fn memory() -> Env {
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    Env { enlist: services(store.clone()), store, name: "memory", database: None }
}

/// Runs an async test body on both backends and on the core's
/// `MemoryStore`: a contract every store keeps.
#[macro_export]
macro_rules! on_every_store {
    ($name:ident) => {
        $crate::on_both!($name, memory);
    };
}

/// Runs an async test body on both backends.
#[macro_export]
macro_rules! on_both {
    ($name:ident) => {
        $crate::on_both!($name,);
    };
    ($name:ident, $($memory:ident)?) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$name($crate::common::sqlite()).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if let Some(env) = $crate::common::postgres() {
                    super::$name(env).await;
                }
            }
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $memory() {
                    super::$name($crate::common::memory()).await;
                }
            )?
        }
    };
}

pub fn operator(org: &OrganizationId) -> Caller {
    Caller { organization_id: org.clone(), actor: Actor::Operator }
}

pub async fn org(env: &Env, name: &str, owner: &str) -> Organization {
    env.enlist
        .organizations
        .create(&Actor::Operator, NewOrganization::new(name).owner(Email::parse(owner).expect("email")))
        .await
        .expect("org created")
}

pub fn entra(org: &OrganizationId) -> Caller {
    Caller {
        organization_id: org.clone(),
        actor: Actor::ApiKey { id: enlist_core::ApiKeyId::new("k"), label: "Entra provisioning".into() },
    }
}
