//! Running one unit of work: on the SQLite writer or on a pooled
//! connection, off the async executor, with the deadlines that make an
//! error answer mean "nothing changed".

use crate::conn::Db;
#[cfg(feature = "sqlite")]
use crate::writer;
use crate::{busy, threads, to_core, Database, Pools, TxError};
use diesel::r2d2::PooledConnection;
#[cfg(feature = "sqlite")]
use diesel::Connection;
#[cfg(feature = "postgres")]
use diesel::PgConnection;
#[cfg(feature = "sqlite")]
use diesel::SqliteConnection;
use enlist_core::Error;
use std::sync::Arc;
use std::time::Duration;

/// Whether a write's outcome is still open. A queued unit starts only if it
/// moves `QUEUED → RUNNING`, and commits only if it moves to `SAVING`
/// just before its COMMIT: from `RUNNING` on a pooled connection, or, on
/// the SQLite writer, from `COMMITTING` (its savepoint done, the batch
/// still running) once the whole batch is about to commit. A caller that
/// stops waiting moves it from `QUEUED`, `RUNNING` or `COMMITTING` to
/// `ABANDONED`. So a unit is either saved and its caller told so, or
/// rolled back: never committed after its caller gave up.
const RUNNING: u8 = 0;
#[cfg_attr(not(feature = "sqlite"), allow(dead_code))]
pub(crate) const COMMITTING: u8 = 1;
const ABANDONED: u8 = 2;
const QUEUED: u8 = 3;
pub(crate) const SAVING: u8 = 4;

struct AbandonOnDrop(Arc<std::sync::atomic::AtomicU8>);

impl Drop for AbandonOnDrop {
    fn drop(&mut self) {
        use std::sync::atomic::Ordering::SeqCst;
        for from in [QUEUED, RUNNING, COMMITTING] {
            if self.0.compare_exchange(from, ABANDONED, SeqCst, SeqCst).is_ok() {
                return;
            }
        }
    }
}

/// Waits for a queued unit of work's answer. One not started within `wait`
/// is withdrawn and refused at once (`busy`, nothing changed); one that has
/// started is waited for, since it may commit.
async fn started_in_time<R>(
    mut answer: tokio::sync::oneshot::Receiver<Result<R, Error>>,
    wait: Duration,
    state: &std::sync::atomic::AtomicU8,
    waited: &str,
) -> Result<R, Error> {
    use std::sync::atomic::Ordering::SeqCst;
    let answered = match tokio::time::timeout(wait, &mut answer).await {
        Ok(a) => a,
        Err(_) if state.compare_exchange(QUEUED, ABANDONED, SeqCst, SeqCst).is_ok() => return Err(busy(waited)),
        Err(_) => answer.await,
    };
    // The reply channel closes without an answer only when the unit of
    // work could not run (a failed BEGIN, a stopped thread).
    answered.unwrap_or_else(|_| Err(busy("the database could not run the request")))
}

/// Runs a unit of work on a pooled connection: writes in a transaction,
/// reads in one on SQLite (a consistent snapshot) and bare on PostgreSQL.
fn on_pooled<R, F>(
    pools: &Pools,
    statements: &crate::conn::Statements,
    write: bool,
    f: F,
    may_commit: impl FnOnce() -> Result<(), TxError>,
) -> Result<R, Error>
where
    F: FnOnce(Db<'_>) -> Result<R, TxError>,
{
    let pool_err = |e: diesel::r2d2::PoolError| Error::Unexpected(Box::new(e));
    match pools {
        #[cfg(feature = "sqlite")]
        Pools::Sqlite(p) => {
            let mut pooled: PooledConnection<_> = p.get().map_err(pool_err)?;
            let c: &mut SqliteConnection = &mut pooled;
            let run = |c: &mut SqliteConnection| {
                let r = f(Db::sqlite(c, statements))?;
                may_commit()?;
                Ok(r)
            };
            if write { c.immediate_transaction(run) } else { c.transaction(run) }.map_err(to_core)
        }
        #[cfg(feature = "postgres")]
        Pools::Pg(p) => {
            let mut pooled: PooledConnection<_> = p.get().map_err(pool_err)?;
            let c: &mut PgConnection = &mut pooled;
            let run = |c: &mut PgConnection| {
                let r = f(Db::pg(c, statements))?;
                may_commit()?;
                Ok(r)
            };
            if write {
                c.build_transaction().run(run).map_err(to_core)
            } else {
                // No BEGIN/COMMIT around reads: under READ COMMITTED
                // every statement takes its own snapshot inside a
                // transaction too, so the wrapper only cost two
                // round trips per read.
                run(c).map_err(to_core)
            }
        }
    }
}

/// Whether a unit of work only reads or may write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Access {
    /// Reads: a pooled connection, no commit deadline.
    Read,
    /// Writes: SQLite's writer or a pooled PostgreSQL connection, in a
    /// transaction committed only within its deadline.
    Write,
}

impl Database {
    /// Runs the unit of work `f` on this database's own threads (never on
    /// the async executor): a write inside a transaction on the SQLite
    /// writer (SQLite) or on a pooled connection (PostgreSQL); a read on a
    /// pooled connection.
    pub(crate) async fn unit<R, F>(&self, access: Access, f: F) -> Result<R, Error>
    where
        R: Send + 'static,
        F: FnOnce(Db<'_>) -> Result<R, TxError> + Send + 'static,
    {
        let write = access == Access::Write;
        use std::sync::atomic::{AtomicU8, Ordering::SeqCst};
        let asked = std::time::Instant::now();
        let state = Arc::new(AtomicU8::new(QUEUED));
        let _abandon = AbandonOnDrop(state.clone());
        let (start_state, wait_state) = (state.clone(), state.clone());
        let deadline = self.write_deadline;
        // Called last inside the unit's transaction (or savepoint): it
        // commits only if nobody gave up on it and it is within its deadline.
        // `to`: SAVING before a COMMIT that follows at once; COMMITTING on
        // the writer, whose batch commits later (`writer::Ran::state`).
        #[cfg(feature = "sqlite")]
        let unit_state = state.clone();
        let may_commit = move |to: u8| -> Result<(), TxError> {
            if !write {
                return Ok(());
            }
            if asked.elapsed() > deadline {
                return Err(TxError::Core(busy(&format!("the change took longer than {} s", deadline.as_secs()))));
            }
            match state.compare_exchange(RUNNING, to, SeqCst, SeqCst) {
                Ok(_) => Ok(()),
                Err(_) => Err(TxError::Core(busy("the request was abandoned before its change was saved"))),
            }
        };
        // What a unit of work logs carries the caller's span (request id).
        let span = tracing::Span::current();
        let statements = self.statements.clone();
        #[cfg(feature = "sqlite")]
        if let (Some(writer), true) = (&self.writer, write) {
            let wait = self.write_wait;
            let (reply, answer) = tokio::sync::oneshot::channel::<Result<R, Error>>();
            let commit_by = asked + deadline;
            let job: writer::Job = Box::new(move |c: &mut SqliteConnection| -> writer::Ran {
                let _entered = span.enter();
                let result = if start_state.compare_exchange(QUEUED, RUNNING, SeqCst, SeqCst).is_err() {
                    // Its caller stopped waiting: it is not run at all.
                    Err(busy("the request was abandoned before its change was made"))
                } else {
                    // A savepoint inside the writer's batch transaction; a
                    // panic rolls back this unit only.
                    c.transaction(|c| {
                        let r =
                            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(Db::sqlite(c, &statements))))
                                .map_err(|_| TxError::Core(Error::Unexpected("a unit of work panicked".into())))??;
                        may_commit(COMMITTING)?;
                        Ok(r)
                    })
                    .map_err(to_core)
                };
                let commit_by = result.is_ok().then_some(commit_by);
                let finish: writer::Finish = Box::new(move |committed: Result<(), writer::Uncommitted>| {
                    let _ = reply.send(match (result, committed) {
                        (Ok(r), Ok(())) => Ok(r),
                        (Ok(_), Err(writer::Uncommitted::Deadline)) => Err(busy(
                            "the change was rolled back with the writes saved alongside it, one of which ran past \
                             its deadline or was abandoned",
                        )),
                        (Ok(_), Err(writer::Uncommitted::Failed(e))) => {
                            Err(Error::Unexpected(format!("the commit failed: {e}").into()))
                        }
                        (Err(e), _) => Err(e),
                    });
                });
                writer::Ran { finish, commit_by, state: unit_state }
            });
            if !writer.submit(job) {
                return Err(Error::Unexpected("the SQLite writer has stopped".into()));
            }
            let waited = format!("the database is busy with other writes (waited {} s)", wait.as_secs());
            return started_in_time(answer, wait, &wait_state, &waited).await;
        }
        let pools = self.pools.clone();
        let (reply, answer) = tokio::sync::oneshot::channel::<Result<R, Error>>();
        let job: threads::Job = Box::new(move || {
            let _entered = span.enter();
            if start_state.compare_exchange(QUEUED, RUNNING, SeqCst, SeqCst).is_err() {
                // Its caller stopped waiting: it is not run at all.
                return;
            }
            // A panic in a unit of work unwinds through its transaction,
            // and the pool discards the connection it left mid-transaction.
            let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                on_pooled(&pools, &statements, write, f, || may_commit(SAVING))
            }))
            .unwrap_or_else(|_| Err(Error::Unexpected("a unit of work panicked".into())));
            let _ = reply.send(result);
        });
        if !self.threads.submit(job) {
            return Err(Error::Unexpected("the database threads have stopped".into()));
        }
        let wait = self.start_wait;
        let waited = format!("all {} database connections stayed busy for {} s", self.pool_size(), wait.as_secs());
        started_in_time(answer, wait, &wait_state, &waited).await
    }

    fn pool_size(&self) -> u32 {
        match &*self.pools {
            #[cfg(feature = "sqlite")]
            Pools::Sqlite(p) => p.max_size(),
            #[cfg(feature = "postgres")]
            Pools::Pg(p) => p.max_size(),
        }
    }
}
