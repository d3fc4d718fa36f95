//! SQLite's one writer. SQLite lets one connection write at a time; eight
//! pooled connections racing for that lock slept in its busy handler while
//! holding connections readers needed. Instead, one thread owns the write
//! connection and runs the queued units of work back to back: it takes
//! every unit waiting (up to [`BATCH`]) into one transaction, each unit in
//! its own savepoint, so a unit that fails rolls back alone and the batch
//! pays for one commit. Units that wait see the same database a serial
//! run would: each runs after the one before it in the same transaction.

use crate::threads::Queue;
use diesel::connection::{Connection, SimpleConnection};
use diesel::SqliteConnection;

/// A unit of work as the writer runs it: inside the batch's transaction,
/// it returns what to do once the batch's commit has succeeded or failed.
pub(crate) type Job = Box<dyn FnOnce(&mut SqliteConnection) -> Ran + Send>;
/// Called with the batch's commit outcome.
pub(crate) type Finish = Box<dyn FnOnce(Result<(), Uncommitted>) + Send>;

/// What a unit left in the batch: what to tell its caller after the
/// commit, and, when it changed something, the time by which its change
/// must be committed (its caller answers "nothing was changed" after it).
pub(crate) struct Ran {
    pub(crate) finish: Finish,
    pub(crate) commit_by: Option<std::time::Instant>,
    /// The unit's state (`unit.rs`): moved from `COMMITTING` to `SAVING`
    /// just before the batch commits; a unit whose caller gave up first
    /// holds `ABANDONED`, and the batch is rolled back.
    pub(crate) state: std::sync::Arc<std::sync::atomic::AtomicU8>,
}

/// Why a batch was not committed.
#[derive(Debug, Clone)]
pub(crate) enum Uncommitted {
    /// A unit's commit deadline passed while later units ran, or its
    /// caller stopped waiting: the whole batch was rolled back, since that
    /// caller may already have been told that nothing changed.
    Deadline,
    /// BEGIN or COMMIT failed.
    Failed(String),
}

/// Most units in one transaction: enough to amortise the commit under a
/// burst, few enough that one failed commit costs little.
const BATCH: usize = 64;

/// The queue in front of the writer thread. When the last handle is
/// dropped the thread commits what is queued and ends, and the drop waits
/// for it (`threads::Queue`).
#[derive(Clone)]
pub(crate) struct Writer {
    queue: std::sync::Arc<Queue<Job>>,
}

impl Writer {
    /// Opens the write connection on `path`, prepared by `prepare` (the
    /// pool's pragmas), and starts the thread.
    pub(crate) fn start(
        path: &str,
        prepare: impl FnOnce(&mut SqliteConnection) -> Result<(), String>,
    ) -> Result<Self, String> {
        let mut conn = SqliteConnection::establish(path).map_err(|e| e.to_string())?;
        prepare(&mut conn)?;
        let mut conn = Some(conn);
        let queue = Queue::start("enlist-sqlite-writer", 1, |jobs| {
            let conn = conn.take();
            Box::new(move || {
                if let Some(conn) = conn {
                    run(conn, jobs)
                }
            })
        })
        .map_err(|e| e.to_string())?;
        Ok(Self { queue: std::sync::Arc::new(queue) })
    }

    /// Queues a unit of work; `false` when the writer has stopped.
    pub(crate) fn submit(&self, job: Job) -> bool {
        self.queue.submit(job)
    }
}

/// Brings the people-search index up to date for the users the batch's
/// units (or a previous release's writes) marked (migration 16): one index
/// write per user and batch, in the batch's transaction, so a search never
/// sees a committed change without it.
const FLUSH_SEARCH: &str = "DELETE FROM users_search WHERE rowid IN (SELECT seq FROM search_dirty); \
     INSERT INTO users_search (rowid, text) SELECT t.seq, t.text FROM search_dirty d JOIN users_search_text t ON t.seq = d.seq; \
     DELETE FROM search_dirty;";

/// Whether the database has the search index yet (an older schema, before
/// `enlist migrate`, has not).
fn has_search_index(c: &mut SqliteConnection) -> bool {
    #[derive(diesel::QueryableByName)]
    struct Found {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    use diesel::RunQueryDsl;
    diesel::sql_query("SELECT COUNT(*) AS n FROM sqlite_master WHERE type = 'table' AND name = 'search_dirty'")
        .get_result::<Found>(c)
        .is_ok_and(|f| f.n > 0)
}

/// Whether any user is marked for the search index: most batches (updates
/// of titles, departments, managers) mark none and skip the flush.
fn marked(c: &mut SqliteConnection) -> bool {
    #[derive(diesel::QueryableByName)]
    struct Found {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    use diesel::RunQueryDsl;
    // On an error the flush runs, and says what is wrong.
    diesel::sql_query("SELECT COUNT(*) AS n FROM (SELECT 1 FROM search_dirty LIMIT 1) AS d")
        .get_result::<Found>(c)
        .map_or(true, |f| f.n > 0)
}

fn run(mut conn: SqliteConnection, jobs: crossbeam_channel::Receiver<Job>) {
    // Once there, the index stays (a schema is never migrated down under
    // a running server).
    let mut search = false;
    while let Ok(first) = jobs.recv() {
        let mut batch = vec![first];
        while batch.len() < BATCH {
            match jobs.try_recv() {
                Ok(j) => batch.push(j),
                Err(_) => break,
            }
        }
        let mut finishes: Vec<Finish> = Vec::with_capacity(batch.len());
        let mut late = false;
        let committed = conn.immediate_transaction::<_, diesel::result::Error, _>(|c| {
            let mut commit_by: Option<std::time::Instant> = None;
            let mut states = Vec::with_capacity(batch.len());
            for job in batch.drain(..) {
                let ran = job(c);
                finishes.push(ran.finish);
                if let Some(t) = ran.commit_by {
                    commit_by = Some(commit_by.map_or(t, |c: std::time::Instant| c.min(t)));
                    states.push(ran.state);
                }
            }
            search = search || has_search_index(c);
            if search && !states.is_empty() && marked(c) {
                c.batch_execute(FLUSH_SEARCH)?;
            }
            // A unit checked its own deadline when it finished; the units
            // after it in the batch may have pushed the commit past it, or
            // its caller may have stopped waiting. That caller may have been
            // told "nothing was changed" by now: then nothing may be.
            let on_time = commit_by.is_none_or(|t| std::time::Instant::now() <= t);
            let wanted = states.iter().all(|s| {
                use std::sync::atomic::Ordering::SeqCst;
                s.compare_exchange(crate::unit::COMMITTING, crate::unit::SAVING, SeqCst, SeqCst).is_ok()
            });
            if !(on_time && wanted) {
                late = true;
                return Err(diesel::result::Error::RollbackTransaction);
            }
            Ok(())
        });
        if committed.is_err() && !late {
            // A failed BEGIN or COMMIT leaves nothing half-done: make sure
            // no transaction stays open on the connection.
            let _ = conn.batch_execute("ROLLBACK");
        }
        let outcome = match committed {
            Ok(()) => Ok(()),
            Err(_) if late => Err(Uncommitted::Deadline),
            Err(e) => Err(Uncommitted::Failed(e.to_string())),
        };
        // Units never run (BEGIN failed) are dropped with `batch`: their
        // callers see the reply channel close and answer "unavailable".
        drop(batch);
        for finish in finishes {
            finish(outcome.clone());
        }
    }
}
