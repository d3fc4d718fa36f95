//! Test databases for Enlist's own tests and for embedders': a temporary
//! SQLite file, or a fresh PostgreSQL database (so tests run in parallel),
//! each removed when dropped. Without a reachable PostgreSQL,
//! [`TestDatabase::postgres`] returns `None` after printing a loud SKIPPED
//! line, except under `CI=true`, where a missing PostgreSQL is an error.

use crate::{Database, PoolOptions};
#[cfg(feature = "postgres")]
use diesel::connection::SimpleConnection;
#[cfg(feature = "postgres")]
use diesel::{Connection, PgConnection};
use std::sync::atomic::{AtomicU64, Ordering};

thread_local! {
    static MIGRATE_STEPS: std::cell::Cell<usize> = const { std::cell::Cell::new(usize::MAX) };
}

/// A migrated database that cleans up after itself.
pub struct TestDatabase {
    /// The database.
    pub db: Database,
    /// `"sqlite"` or `"postgres"`, for messages.
    pub name: &'static str,
    /// The database URL (for starting a server on it).
    pub url: String,
    cleanup: Option<Box<dyn FnOnce() + Send>>,
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if let Some(f) = self.cleanup.take() {
            f();
        }
    }
}

fn unique(prefix: &str) -> String {
    use std::hash::{BuildHasher, Hasher};
    static N: AtomicU64 = AtomicU64::new(0);
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(N.fetch_add(1, Ordering::SeqCst));
    format!("{prefix}_{}_{:x}", std::process::id(), h.finish() & 0xffff_ffff)
}

/// The PostgreSQL server tests use: `ENLIST_TEST_DATABASE_URL`, default
/// `postgres://postgres@127.0.0.1:5432/postgres`.
pub fn admin_url() -> String {
    std::env::var("ENLIST_TEST_DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// Why a test database could not be made.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct TestDbError(String);

impl TestDatabase {
    fn migrated(
        db: Database,
        name: &'static str,
        url: String,
        cleanup: Box<dyn FnOnce() + Send>,
    ) -> Result<Self, TestDbError> {
        let steps = MIGRATE_STEPS.with(|s| s.get());
        db.migrate_at_most(steps, |_| {}).map_err(|e| TestDbError(e.to_string()))?;
        Ok(Self { db, name, url, cleanup: Some(cleanup) })
    }

    /// Runs `make` with at most `steps` migrations applied to the databases
    /// it creates (on this thread): an older schema, for upgrade tests.
    pub fn with_migrations<T>(steps: usize, make: impl FnOnce() -> T) -> T {
        let before = MIGRATE_STEPS.with(|s| s.replace(steps));
        let out = make();
        MIGRATE_STEPS.with(|s| s.set(before));
        out
    }

    /// A migrated database in a new temporary SQLite file (feature
    /// `sqlite`).
    ///
    /// # Errors
    /// When the file cannot be created or migrated.
    #[cfg(feature = "sqlite")]
    pub fn sqlite() -> Result<Self, TestDbError> {
        let path = std::env::temp_dir().join(format!("{}.db", unique("enlist_test")));
        let url = format!("sqlite://{}", path.display());
        let db = Database::open(&url, &PoolOptions::default()).map_err(|e| TestDbError(e.to_string()))?;
        let cleanup = move || {
            for suffix in ["", "-wal", "-shm"] {
                let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
            }
        };
        Self::migrated(db, "sqlite", url, Box::new(cleanup))
    }

    /// A migrated, fresh database on the test PostgreSQL; `Ok(None)` when
    /// none is reachable and this is not CI.
    ///
    /// # Errors
    /// Under `CI=true` when PostgreSQL is unreachable; when the database
    /// cannot be created.
    pub fn postgres() -> Result<Option<Self>, TestDbError> {
        #[cfg(not(feature = "postgres"))]
        {
            if std::env::var("CI").is_ok_and(|v| v == "true") {
                return Err(TestDbError("CI=true but this build has no `postgres` feature".into()));
            }
            eprintln!("\n*** SKIPPED: the PostgreSQL half of this test: built without the `postgres` feature. ***\n");
            Ok(None)
        }
        #[cfg(feature = "postgres")]
        {
            let admin = admin_url();
            let mut conn = match PgConnection::establish(&admin) {
                Ok(c) => c,
                Err(e) => {
                    if std::env::var("CI").is_ok_and(|v| v == "true") {
                        return Err(TestDbError(format!("CI=true but PostgreSQL is not reachable at {admin}: {e}")));
                    }
                    eprintln!(
                    "\n*** SKIPPED: the PostgreSQL half of this test: no PostgreSQL at {admin} ({e}). Set ENLIST_TEST_DATABASE_URL to run it. ***\n"
                );
                    return Ok(None);
                }
            };
            let name = unique("enlist_t");
            conn.batch_execute(&format!("CREATE DATABASE {name}")).map_err(|e| TestDbError(e.to_string()))?;
            let (base, _) = admin
                .rsplit_once('/')
                .ok_or_else(|| TestDbError("ENLIST_TEST_DATABASE_URL must end in /DATABASE".into()))?;
            let url = format!("{base}/{name}");
            let db = Database::open(&url, &PoolOptions::default()).map_err(|e| TestDbError(e.to_string()))?;
            let cleanup = move || {
                if let Ok(mut c) = PgConnection::establish(&admin) {
                    let _ = c.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
                }
            };
            Self::migrated(db, "postgres", url, Box::new(cleanup)).map(Some)
        }
    }
}
