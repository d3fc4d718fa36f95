//! Migrations: one embedded set per backend, run one process at a time
//! (a PostgreSQL advisory lock, an exclusive SQLite transaction), and what
//! is pending or applied, for `/readyz` and `enlist migrate`.

use crate::{Database, OpenError, Pools};
#[cfg(feature = "postgres")]
use diesel::PgConnection;
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

#[cfg(feature = "sqlite")]
pub(crate) const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
#[cfg(feature = "postgres")]
const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");

impl Database {
    /// Runs pending migrations, calling `progress` with a line before each
    /// (`applying NAME`, or that another process is migrating); returns the
    /// versions applied. Safe to run again: applied ones are skipped. Safe
    /// to run from any number of processes at once: one migrates at a time
    /// (PostgreSQL: an advisory lock; SQLite: an exclusive transaction),
    /// and the others then find nothing pending. Blocking: call from a
    /// blocking context.
    ///
    /// # Errors
    /// [`OpenError::Migration`] naming the failing migration.
    pub fn migrate(&self, progress: impl FnMut(&str)) -> Result<Vec<String>, OpenError> {
        self.migrate_at_most(usize::MAX, progress)
    }

    /// Like [`Database::migrate`], applying at most `steps` migrations
    /// (upgrade tests start from an older schema this way).
    ///
    /// # Errors
    /// [`OpenError::Migration`] naming the failing migration.
    pub fn migrate_at_most(&self, steps: usize, mut progress: impl FnMut(&str)) -> Result<Vec<String>, OpenError> {
        fn run<C: MigrationHarness<B>, B: diesel::backend::Backend>(
            c: &mut C,
            m: EmbeddedMigrations,
            steps: usize,
            progress: &mut dyn FnMut(&str),
        ) -> Result<Vec<String>, OpenError> {
            let pending = c.pending_migrations(m).map_err(|e| OpenError::Migration(e.to_string()))?;
            let mut done = Vec::new();
            for mig in pending.into_iter().take(steps) {
                let name = mig.name().to_string();
                progress(&format!("applying {name}"));
                c.run_migration(&*mig).map_err(|e| OpenError::Migration(format!("{name}: {e}")))?;
                done.push(name);
            }
            Ok(done)
        }
        let mig = |e: diesel::r2d2::PoolError| OpenError::Migration(format!("no connection: {e}"));
        // One process migrates at a time, and reads what is pending only
        // once it holds the lock: replicas started together on an empty or
        // an old database wait for the first, then find nothing to do.
        match &*self.pools {
            #[cfg(feature = "sqlite")]
            Pools::Sqlite(p) => {
                // SQLite: one exclusive transaction around every pending
                // migration (each runs in a savepoint inside it); the others
                // wait on busy_timeout, and a failure leaves the database
                // as it was before the run.
                enum Failed {
                    Db(diesel::result::Error),
                    Migration(OpenError),
                }
                impl From<diesel::result::Error> for Failed {
                    fn from(e: diesel::result::Error) -> Self {
                        Self::Db(e)
                    }
                }
                let mut c = p.get().map_err(mig)?;
                c.exclusive_transaction(|c| run(c, SQLITE_MIGRATIONS, steps, &mut progress).map_err(Failed::Migration))
                    .map_err(|e| match e {
                        Failed::Migration(e) => e,
                        Failed::Db(e) => OpenError::Migration(format!(
                            "cannot lock the SQLite database to migrate it ({e}); another process holds it too long"
                        )),
                    })
            }
            #[cfg(feature = "postgres")]
            Pools::Pg(p) => {
                let mut c = p.get().map_err(mig)?;
                pg_migration_lock(&mut c, true, &mut progress)?;
                let out = run(&mut *c, POSTGRES_MIGRATIONS, steps, &mut progress);
                // Released on every path: the connection goes back to the
                // pool (a crash ends the session, which releases it too).
                let unlocked = pg_migration_lock(&mut c, false, &mut progress);
                let done = out?;
                unlocked?;
                Ok(done)
            }
        }
    }

    /// The migrations this build has that the database has not applied
    /// (none when the schema is current, or newer than this build: a
    /// previous release keeps serving during an upgrade).
    ///
    /// # Errors
    /// [`OpenError::Migration`] when the database cannot be read.
    pub fn pending_migrations(&self) -> Result<Vec<String>, OpenError> {
        fn names<C: MigrationHarness<B>, B: diesel::backend::Backend>(
            c: &mut C,
            m: EmbeddedMigrations,
        ) -> Result<Vec<String>, OpenError> {
            let pending = c.pending_migrations(m).map_err(|e| OpenError::Migration(e.to_string()))?;
            Ok(pending.iter().map(|m| m.name().to_string()).collect())
        }
        let mig = |e: diesel::r2d2::PoolError| OpenError::Migration(format!("no connection: {e}"));
        match &*self.pools {
            #[cfg(feature = "sqlite")]
            Pools::Sqlite(p) => names(&mut *p.get().map_err(mig)?, SQLITE_MIGRATIONS),
            #[cfg(feature = "postgres")]
            Pools::Pg(p) => names(&mut *p.get().map_err(mig)?, POSTGRES_MIGRATIONS),
        }
    }

    /// The newest applied migration, if any.
    ///
    /// # Errors
    /// [`OpenError::Migration`] when the database cannot be read.
    pub fn schema_version(&self) -> Result<Option<String>, OpenError> {
        let mig = |e: String| OpenError::Migration(e);
        let versions = match &*self.pools {
            #[cfg(feature = "sqlite")]
            Pools::Sqlite(p) => MigrationHarness::applied_migrations(&mut *p.get().map_err(|e| mig(e.to_string()))?)
                .map_err(|e| mig(e.to_string()))?,
            #[cfg(feature = "postgres")]
            Pools::Pg(p) => MigrationHarness::applied_migrations(&mut *p.get().map_err(|e| mig(e.to_string()))?)
                .map_err(|e| mig(e.to_string()))?,
        };
        Ok(versions.into_iter().map(|v| v.to_string()).max())
    }
}

#[cfg(feature = "postgres")]
/// The PostgreSQL advisory lock key that serializes migrations across
/// processes ("enlist" and 1).
const PG_MIGRATION_LOCK: i64 = 0x656e_6c69_7374_0001;

/// Takes (`lock`) or releases the migration lock on this session; says so
/// through `progress` when another process holds it.
#[cfg(feature = "postgres")]
fn pg_migration_lock(c: &mut PgConnection, lock: bool, progress: &mut dyn FnMut(&str)) -> Result<(), OpenError> {
    use diesel::sql_types::{BigInt, Bool};
    use diesel::RunQueryDsl;
    #[derive(diesel::QueryableByName)]
    struct Got {
        #[diesel(sql_type = Bool)]
        got: bool,
    }
    let ask = |c: &mut PgConnection, sql: &str| {
        diesel::sql_query(sql)
            .bind::<BigInt, _>(PG_MIGRATION_LOCK)
            .get_result::<Got>(c)
            .map(|g| g.got)
            .map_err(|e| OpenError::Migration(format!("cannot take the migration lock: {e}")))
    };
    if !lock {
        return ask(c, "SELECT pg_advisory_unlock($1) AS got").map(|_| ());
    }
    // Asked again every quarter second rather than waited for in one
    // blocking `pg_advisory_lock`: a statement blocked there holds a
    // snapshot, which `CREATE INDEX CONCURRENTLY` in the migrating process
    // waits out, while this one waits for its lock: a deadlock (seen with
    // four replicas started together). Between two tries this session
    // holds nothing.
    let started = std::time::Instant::now();
    let mut said = 0;
    while !ask(c, "SELECT pg_try_advisory_lock($1) AS got")? {
        let waited = started.elapsed().as_secs();
        if said == 0 || waited >= said + 30 {
            progress(&format!("waiting for another process to finish migrating ({waited} s)"));
            said = waited.max(1);
        }
        std::thread::sleep(std::time::Duration::from_millis(250));
    }
    Ok(())
}
