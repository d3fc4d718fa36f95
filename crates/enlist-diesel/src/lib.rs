//! Enlist's persistence: implements `enlist_core::ports::Store` (and the
//! mail worker's `OutboxQueue`) with Diesel and r2d2, on an embedded
//! SQLite file by default and on PostgreSQL for scale, from one code base.
//!
//! Every use case runs as one closure inside one database transaction, on
//! the database's own threads (`threads.rs`), one per pooled connection; on
//! SQLite every write goes to one writer thread (`writer.rs`), which runs
//! waiting units of work together, each in a savepoint. `unit.rs` runs a
//! unit and keeps its deadlines. Filters are translated to SQL with bound
//! parameters (`sql.rs`); nothing is filtered in memory.

#![warn(missing_docs)]

#[cfg(not(any(feature = "sqlite", feature = "postgres")))]
compile_error!("enlist-diesel needs a backend: enable its feature `sqlite`, `postgres`, or both");

mod backup;
mod codec;
mod conn;
mod migrations;
mod repo;
mod sql;
pub mod testing;
mod threads;
mod unit;
pub(crate) use unit::Access;
#[cfg(feature = "sqlite")]
mod writer;

pub use backup::BackupError;
pub use conn::Backend;

use conn::Str;
use diesel::connection::SimpleConnection;
use diesel::r2d2::{ConnectionManager, CustomizeConnection, Pool};
use diesel::result::{DatabaseErrorKind, Error as DieselError};
#[cfg(feature = "postgres")]
use diesel::PgConnection;
#[cfg(feature = "sqlite")]
use diesel::SqliteConnection;
use enlist_core::ports::{Store, Work};
use enlist_core::Error;
use repo::DieselTx;
use std::sync::Arc;
use std::time::Duration;

/// Why the database could not be opened or migrated.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// The URL names no supported database.
    #[error("unsupported database URL '{0}': use sqlite://PATH (e.g. sqlite://enlist.db) or postgres://USER@HOST/DB")]
    Scheme(String),
    /// The pool could not connect.
    #[error("cannot connect to {url}: {source}. Check that the database is running and the URL is right")]
    Connect {
        /// The URL, without its password.
        url: String,
        /// Why.
        source: diesel::r2d2::PoolError,
    },
    /// SQLite's write connection could not be opened.
    #[error("cannot open the SQLite write connection: {0}. Check that the file's directory is writable")]
    Writer(String),
    /// A migration failed.
    #[error("migration failed: {0}. The database was left at the last successful migration; fix the cause and run `enlist migrate` again")]
    Migration(String),
    /// A `postgres://` URL in a build without the `postgres` feature.
    #[error("this build of Enlist has no PostgreSQL support (feature `postgres` of enlist / enlist-diesel is off); use sqlite://PATH or rebuild with it")]
    NoPostgres,
    /// A `sqlite://` URL in a build without the `sqlite` feature.
    #[error("this build of Enlist has no SQLite support (feature `sqlite` of enlist / enlist-diesel is off); use postgres://USER@HOST/DB or rebuild with it")]
    NoSqlite,
}

/// Pool settings.
#[derive(Debug, Clone)]
pub struct PoolOptions {
    /// Most connections. SQLite serialises writers anyway; keep it small.
    pub max_size: u32,
    /// How long a request waits for a connection.
    pub connection_timeout: Duration,
    /// SQLite `busy_timeout`; PostgreSQL `statement_timeout` uses the same
    /// figure so a stuck statement fails the request cleanly.
    pub statement_timeout: Duration,
    /// SQLite: how long a write waits for the one writer before it is
    /// refused as unavailable (503, nothing changed).
    pub write_wait: Duration,
    /// A write unit of work that has not finished this long after it was
    /// asked for is rolled back instead of committed (503, nothing
    /// changed). Keep it under the HTTP request deadline, so a client is
    /// never told "failed" about a change that commits later.
    pub write_deadline: Duration,
}

impl Default for PoolOptions {
    fn default() -> Self {
        Self {
            max_size: 8,
            connection_timeout: Duration::from_secs(30),
            statement_timeout: Duration::from_secs(20),
            write_wait: Duration::from_secs(10),
            write_deadline: Duration::from_secs(20),
        }
    }
}

#[derive(Clone)]
enum Pools {
    #[cfg(feature = "sqlite")]
    Sqlite(Pool<ConnectionManager<SqliteConnection>>),
    #[cfg(feature = "postgres")]
    Pg(Pool<ConnectionManager<PgConnection>>),
}

/// The database: a pool on one backend. Cheap to clone.
#[derive(Clone)]
pub struct Database {
    pools: Arc<Pools>,
    /// SQLite has one writer: write units of work queue for it instead of
    /// holding pooled connections while they sleep in SQLite's busy
    /// handler (which starved reads and made writes race). See `writer.rs`.
    #[cfg(feature = "sqlite")]
    writer: Option<writer::Writer>,
    /// Runs every other unit of work, one thread per pooled connection.
    threads: threads::Threads,
    #[cfg_attr(not(feature = "sqlite"), allow(dead_code))]
    write_wait: Duration,
    write_deadline: Duration,
    /// How long a unit of work waits for a thread (and so a connection).
    start_wait: Duration,
    /// Which dynamic statements its connections keep prepared.
    statements: Arc<conn::Statements>,
}

fn busy(detail: &str) -> Error {
    Error::Unavailable { detail: format!("{detail}; nothing was changed. Retry after the Retry-After delay.") }
}

#[cfg(feature = "sqlite")]
#[derive(Debug)]
struct SqlitePragmas {
    busy_ms: u128,
}

#[cfg(feature = "sqlite")]
impl CustomizeConnection<SqliteConnection, diesel::r2d2::Error> for SqlitePragmas {
    fn on_acquire(&self, conn: &mut SqliteConnection) -> Result<(), diesel::r2d2::Error> {
        // One statement each. WAL + NORMAL survives a process crash without
        // losing an acknowledged write; LIKE must honour case for case-exact
        // attributes (folded columns handle the insensitive ones).
        for pragma in [
            format!("PRAGMA busy_timeout = {}", self.busy_ms),
            "PRAGMA journal_mode = WAL".to_owned(),
            "PRAGMA synchronous = NORMAL".to_owned(),
            "PRAGMA foreign_keys = ON".to_owned(),
            "PRAGMA case_sensitive_like = ON".to_owned(),
        ] {
            conn.batch_execute(&pragma).map_err(diesel::r2d2::Error::QueryError)?;
        }
        Ok(())
    }
}

#[cfg(feature = "postgres")]
#[derive(Debug)]
struct PgSettings {
    statement_ms: u128,
}

#[cfg(feature = "postgres")]
impl CustomizeConnection<PgConnection, diesel::r2d2::Error> for PgSettings {
    fn on_acquire(&self, conn: &mut PgConnection) -> Result<(), diesel::r2d2::Error> {
        conn.batch_execute(&format!("SET statement_timeout = {}", self.statement_ms))
            .map_err(diesel::r2d2::Error::QueryError)
    }
}

/// A URL with any password replaced, for messages and logs.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            match creds.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..s + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

enum TxError {
    Core(Error),
    Db(DieselError),
}

impl From<DieselError> for TxError {
    fn from(e: DieselError) -> Self {
        TxError::Db(e)
    }
}

fn to_core(e: TxError) -> Error {
    match e {
        TxError::Core(e) => e,
        // A PostgreSQL serialization failure or deadlock: the services
        // re-run the unit of work.
        TxError::Db(DieselError::DatabaseError(DatabaseErrorKind::SerializationFailure, _)) => Error::Retry,
        // PostgreSQL's deadlock detector (SQLSTATE 40P01) aborts one of the
        // transactions; Diesel has no kind for it, so its message decides.
        TxError::Db(DieselError::DatabaseError(_, info)) if is_deadlock(info.message()) => Error::Retry,
        TxError::Db(e) => Error::Unexpected(Box::new(e)),
    }
}

fn is_deadlock(message: &str) -> bool {
    message.starts_with("deadlock detected")
}

impl Database {
    /// Opens a pool for `sqlite://PATH` or `postgres://…` (`postgresql://`
    /// too). Any other scheme is refused: a typo must never silently create
    /// an empty SQLite file.
    ///
    /// # Errors
    /// [`OpenError::Scheme`], [`OpenError::Connect`].
    pub fn open(url: &str, opts: &PoolOptions) -> Result<Self, OpenError> {
        let connect = |source| OpenError::Connect { url: redact(url), source };
        let pools = if let Some(path) = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:")) {
            if path.is_empty() {
                return Err(OpenError::Scheme(url.to_owned()));
            }
            #[cfg(not(feature = "sqlite"))]
            return Err(OpenError::NoSqlite);
            #[cfg(feature = "sqlite")]
            let pool = Pool::builder()
                .max_size(opts.max_size.max(1))
                // r2d2 would run `SELECT 1` before handing out every
                // connection: a round trip per unit of work. A broken
                // connection is found by the statement that fails on it,
                // and Diesel tells the pool to drop it.
                .test_on_check_out(false)
                .connection_timeout(opts.connection_timeout)
                .connection_customizer(Box::new(SqlitePragmas { busy_ms: opts.statement_timeout.as_millis() }))
                .build(ConnectionManager::<SqliteConnection>::new(path))
                .map_err(connect)?;
            #[cfg(feature = "sqlite")]
            Pools::Sqlite(pool)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            #[cfg(not(feature = "postgres"))]
            return Err(OpenError::NoPostgres);
            #[cfg(feature = "postgres")]
            let pool = Pool::builder()
                .max_size(opts.max_size.max(1))
                // r2d2 would run `SELECT 1` before handing out every
                // connection: a round trip per unit of work. A broken
                // connection is found by the statement that fails on it,
                // and Diesel tells the pool to drop it.
                .test_on_check_out(false)
                .connection_timeout(opts.connection_timeout)
                .connection_customizer(Box::new(PgSettings { statement_ms: opts.statement_timeout.as_millis() }))
                .build(ConnectionManager::<PgConnection>::new(url))
                .map_err(connect)?;
            #[cfg(feature = "postgres")]
            Pools::Pg(pool)
        } else {
            return Err(OpenError::Scheme(url.to_owned()));
        };
        #[cfg(feature = "sqlite")]
        let writer = match (&pools, url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:"))) {
            (Pools::Sqlite(_), Some(path)) => {
                let pragmas = SqlitePragmas { busy_ms: opts.statement_timeout.as_millis() };
                let w = writer::Writer::start(path, |c| {
                    pragmas.on_acquire(c).map_err(|e| e.to_string())?;
                    // The writer runs each unit of work in a savepoint, and
                    // SQLite journals every page a savepoint changes; past
                    // 64 KiB that journal went to a temporary file, one
                    // `pwrite` per page (most of the writer's system calls).
                    // It is bounded by one batch, so it stays in memory. The
                    // readers keep files: a broad filter's sort may spill.
                    // SQLite's own checkpoint every 1,000 pages stays, in
                    // the writer: at 8,000 a checkpoint stalled the writer
                    // long enough to triple `mixed`'s p99 (17 -> 45 ms); on
                    // a thread of its own (PASSIVE, every 100 ms) it never
                    // finished before the busy writer's next transaction,
                    // so the WAL never restarted (2.9 GB after 60,000
                    // users).
                    c.batch_execute("PRAGMA temp_store = MEMORY").map_err(|e| e.to_string())
                })
                .map_err(OpenError::Writer)?;
                Some(w)
            }
            _ => None,
        };
        let threads =
            threads::Threads::start(opts.max_size.max(1) as usize).map_err(|e| OpenError::Writer(e.to_string()))?;
        Ok(Self {
            pools: Arc::new(pools),
            #[cfg(feature = "sqlite")]
            writer,
            threads,
            write_wait: opts.write_wait,
            write_deadline: opts.write_deadline,
            start_wait: opts.connection_timeout,
            statements: Arc::new(conn::Statements::default()),
        })
    }

    /// How many SQL statements this database has sent (reads and writes;
    /// not `BEGIN`, `COMMIT` or pragmas): what a round trip costs on
    /// PostgreSQL, counted for tests and diagnostics.
    pub fn statements_sent(&self) -> u64 {
        self.statements.sent.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Which backend.
    pub fn backend(&self) -> Backend {
        match &*self.pools {
            #[cfg(feature = "sqlite")]
            Pools::Sqlite(_) => Backend::Sqlite,
            #[cfg(feature = "postgres")]
            Pools::Pg(_) => Backend::Postgres,
        }
    }

    /// Connections open and idle, for metrics.
    pub fn pool_state(&self) -> (u32, u32) {
        let s = match &*self.pools {
            #[cfg(feature = "sqlite")]
            Pools::Sqlite(p) => p.state(),
            #[cfg(feature = "postgres")]
            Pools::Pg(p) => p.state(),
        };
        (s.connections, s.idle_connections)
    }

    /// `SELECT 1`, for health checks.
    ///
    /// # Errors
    /// When the database cannot be reached.
    pub async fn ping(&self) -> Result<(), Error> {
        self.unit(Access::Read, |mut db| {
            let _: Vec<Str> = db.load("SELECT 'ok' AS s", vec![])?;
            Ok(())
        })
        .await
    }

    /// What the operator should know about the database's own settings,
    /// one sentence each, empty when all is well. On PostgreSQL: statements
    /// are prepared once per connection and PostgreSQL may settle on one
    /// plan for them; that plan is made again when statistics change, so
    /// without autovacuum's ANALYZE a plan chosen while a table was empty
    /// outlives it (lookups fell from 4,800 to 570/s after a first import).
    ///
    /// # Errors
    /// When the database cannot be read.
    pub async fn advisories(&self) -> Result<Vec<String>, Error> {
        if self.backend() != Backend::Postgres {
            return Ok(Vec::new());
        }
        self.unit(Access::Read, |mut db| {
            let on: Option<Str> = db.first("SELECT setting AS s FROM pg_settings WHERE name = 'autovacuum'", vec![])?;
            Ok(match on {
                Some(s) if s.s == "off" => {
                    vec!["PostgreSQL runs with autovacuum off: run ANALYZE after a large import (and regularly), \
                     or query plans made while tables were small stay in use"
                        .to_owned()]
                }
                _ => Vec::new(),
            })
        })
        .await
    }

    /// The schema as sorted lines (tables, columns, indexes), to compare a
    /// database upgraded step by step with a new one.
    ///
    /// # Errors
    /// When the catalog cannot be read.
    pub async fn schema_description(&self) -> Result<Vec<String>, Error> {
        let sql = match self.backend() {
            Backend::Sqlite => {
                "SELECT m.type || ' ' || m.name || ' ' || COALESCE(m.sql, '') AS s FROM sqlite_master m \
                 WHERE m.name NOT LIKE 'sqlite_%' AND m.name <> '__diesel_schema_migrations' ORDER BY m.name"
            }
            Backend::Postgres => {
                "SELECT s FROM (SELECT 'column ' || table_name || '.' || column_name || ' ' || data_type || ' ' || is_nullable AS s \
                 FROM information_schema.columns WHERE table_schema = 'public' AND table_name <> '__diesel_schema_migrations' \
                 UNION ALL SELECT 'index ' || indexname || ' ' || indexdef FROM pg_indexes WHERE schemaname = 'public' \
                 AND tablename <> '__diesel_schema_migrations') d ORDER BY s"
            }
        };
        self.unit(Access::Read, move |mut db| {
            let rows: Vec<Str> = db.load(sql, vec![])?;
            Ok(rows.into_iter().map(|r| r.s).collect())
        })
        .await
    }

    /// Deletes change events older than `before`; how many. Numbering goes
    /// on from each organization's counter, never reusing a number.
    ///
    /// # Errors
    /// When the database cannot be written.
    pub async fn prune_events(&self, before: chrono::DateTime<chrono::Utc>) -> Result<u64, Error> {
        self.unit(Access::Write, move |mut db| {
            let before = before.timestamp_micros();
            let events = db.exec("DELETE FROM events WHERE at < $1", conn::binds![before])?;
            // An offboarded organization's tombstone goes with its last
            // event (`organization.deleted`), and the rest with it.
            db.exec("DELETE FROM organizations WHERE deleted_at < $1", conn::binds![before])?;
            Ok(events as u64)
        })
        .await
    }

    /// Runs raw SQL (for tests and operator tooling).
    ///
    /// # Errors
    /// When the statement fails.
    pub async fn execute_raw(&self, sql: &'static str) -> Result<usize, Error> {
        self.unit(Access::Write, move |mut db| Ok(db.exec(sql, vec![])?)).await
    }
}

#[async_trait::async_trait]
impl Store for Database {
    async fn read(&self, work: Work) -> Result<(), Error> {
        self.unit(Access::Read, move |db| work(&mut DieselTx::new(db)).map_err(TxError::Core)).await
    }
    async fn write(&self, work: Work) -> Result<(), Error> {
        self.unit(Access::Write, move |db| {
            let mut tx = DieselTx::new(db);
            work(&mut tx).map_err(TxError::Core)?;
            // Numbered last: see `repo/events.rs`.
            Ok(tx.flush()?)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Info(&'static str);
    impl diesel::result::DatabaseErrorInformation for Info {
        fn message(&self) -> &str {
            self.0
        }
        fn details(&self) -> Option<&str> {
            None
        }
        fn hint(&self) -> Option<&str> {
            None
        }
        fn table_name(&self) -> Option<&str> {
            None
        }
        fn column_name(&self) -> Option<&str> {
            None
        }
        fn constraint_name(&self) -> Option<&str> {
            None
        }
        fn statement_position(&self) -> Option<i32> {
            None
        }
    }

    /// A PostgreSQL-only build (no `sqlite` feature) says so for a SQLite
    /// URL, and creates no file.
    #[cfg(not(feature = "sqlite"))]
    #[test]
    fn a_sqlite_url_is_refused_by_a_postgres_only_build() {
        let path = std::env::temp_dir().join(format!("enlist-no-sqlite-{}.db", std::process::id()));
        let err = Database::open(&format!("sqlite://{}", path.display()), &PoolOptions::default()).err();
        assert!(matches!(err, Some(OpenError::NoSqlite)), "{err:?}");
        assert!(err.is_some_and(|e| e.to_string().contains("no SQLite support")));
        assert!(!path.exists());
    }

    /// A SQLite-only build (no `postgres` feature) says so for a
    /// PostgreSQL URL instead of calling it unsupported.
    #[cfg(not(feature = "postgres"))]
    #[test]
    fn a_postgres_url_is_refused_by_a_sqlite_only_build() {
        let err = Database::open("postgres://u@h/db", &PoolOptions::default()).err().map(|e| e.to_string());
        assert!(err.as_deref().is_some_and(|e| e.contains("no PostgreSQL support")), "{err:?}");
        assert!(Database::open("sqlite::memory:", &PoolOptions::default()).is_ok());
    }

    /// The bundled SQLite is built as `.cargo/config.toml` asks: without
    /// the per-connection and memory-statistics mutexes (a twelfth of the
    /// writer's time) and with a page cache per connection (20-30 MiB
    /// less resident at 100,000 users). When this fails, the build did not
    /// see LIBSQLITE3_FLAGS (a LIBSQLITE3_FLAGS already in the builder's
    /// environment wins over the config file's): correct, but slower.
    #[cfg(feature = "sqlite")]
    #[test]
    fn the_bundled_sqlite_is_built_without_the_mutexes_enlist_does_not_need() {
        use diesel::RunQueryDsl;
        #[derive(diesel::QueryableByName)]
        struct Opt {
            #[diesel(sql_type = diesel::sql_types::Text)]
            compile_options: String,
        }
        let mut c = <SqliteConnection as diesel::Connection>::establish(":memory:").expect("an in-memory database");
        let opts: Vec<String> = diesel::sql_query("SELECT compile_options FROM pragma_compile_options")
            .load::<Opt>(&mut c)
            .expect("compile options")
            .into_iter()
            .map(|o| o.compile_options)
            .collect();
        let has = |o: &str| opts.iter().any(|x| x == o);
        assert!(has("THREADSAFE=2"), "{opts:?}");
        assert!(has("DEFAULT_MEMSTATUS=0"), "{opts:?}");
        assert!(!has("ENABLE_MEMORY_MANAGEMENT"), "{opts:?}");
    }

    #[test]
    fn deadlocks_and_serialization_failures_are_retried_other_errors_are_not() {
        let db = |kind, msg| TxError::Db(DieselError::DatabaseError(kind, Box::new(Info(msg))));
        let deadlock = "deadlock detected\nDETAIL: Process 1 waits for ShareLock on transaction 2";
        assert!(matches!(to_core(db(DatabaseErrorKind::Unknown, deadlock)), Error::Retry));
        assert!(matches!(to_core(db(DatabaseErrorKind::SerializationFailure, "could not serialize")), Error::Retry));
        assert!(matches!(to_core(db(DatabaseErrorKind::Unknown, "syntax error")), Error::Unexpected(_)));
    }

    #[test]
    fn unknown_schemes_are_refused_and_passwords_redacted() {
        for bad in ["enlist.db", "mysql://x", "sqlite://", "postgress://x"] {
            assert!(matches!(Database::open(bad, &PoolOptions::default()), Err(OpenError::Scheme(_))), "{bad}");
        }
        assert_eq!(redact("postgres://u:secret@h/db"), "postgres://u:***@h/db");
        assert_eq!(redact("postgres://u@h/db"), "postgres://u@h/db");
    }

    #[test]
    fn both_backends_hold_the_same_migrations() {
        let dir = |b: &str| -> Vec<String> {
            let mut v: Vec<String> = std::fs::read_dir(format!("{}/migrations/{b}", env!("CARGO_MANIFEST_DIR")))
                .map(|d| d.filter_map(|e| e.ok()).map(|e| e.file_name().to_string_lossy().into_owned()).collect())
                .unwrap_or_default();
            v.sort();
            v
        };
        assert!(!dir("sqlite").is_empty());
        assert_eq!(dir("sqlite"), dir("postgres"));
    }
}
