//! Services over a test database (see `enlist_diesel::testing`).

#![allow(dead_code)]
// Test support: failing loudly is the point.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use enlist_core::service::NewOrganization;
use enlist_core::testing::{SeqIds, TickClock};
use enlist_core::{Actor, Caller, Deps, Email, Enlist, Organization, OrganizationId};
use enlist_diesel::testing::TestDatabase;
use enlist_diesel::Database;
use std::sync::Arc;

pub struct Env {
    pub db: Database,
    pub enlist: Enlist,
    pub name: &'static str,
    /// The database URL (a second pool on it stands for another process).
    pub url: String,
    _guard: TestDatabase,
}

fn env(t: TestDatabase) -> Env {
    let db = t.db.clone();
    let deps = Deps {
        store: Arc::new(db.clone()),
        clock: Arc::new(TickClock::default()),
        ids: Arc::new(SeqIds::default()),
        dns: Arc::new(enlist_core::testing::FakeDns::default()),
    };
    Env { db, enlist: Enlist::new(deps), name: t.name, url: t.url.clone(), _guard: t }
}

pub fn sqlite() -> Env {
    env(TestDatabase::sqlite().unwrap())
}

/// A fresh PostgreSQL database, or `None` (skipped, loudly) outside CI.
pub fn postgres() -> Option<Env> {
    TestDatabase::postgres().unwrap().map(env)
}

/// Runs an async test body on both backends.
#[macro_export]
macro_rules! on_both {
    ($name:ident) => {
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
