//! The threads that run units of work on pooled connections. Diesel's
//! connections block, so units of work run off the async executor. They
//! used to go to tokio's blocking pool, which grows to hundreds of threads
//! in every runtime (each actix worker has its own): a burst of requests
//! left some fifty threads behind, each with a malloc arena keeping what it
//! had used, and walking a 100,000-user roster left the server at 110 MiB.
//! A pool serves at most as many units at once as it has connections, so
//! that many threads run them; the rest wait in one queue, in order.

use std::sync::{mpsc, Arc, Mutex};

/// A unit of work as a thread runs it.
pub(crate) type Job = Box<dyn FnOnce() + Send>;

/// The queue in front of the threads. They end when the last handle is
/// dropped.
#[derive(Clone)]
pub(crate) struct Threads {
    queue: mpsc::Sender<Job>,
}

impl Threads {
    /// Starts `n` threads (at least one).
    pub(crate) fn start(n: usize) -> std::io::Result<Self> {
        let (queue, jobs) = mpsc::channel::<Job>();
        let jobs = Arc::new(Mutex::new(jobs));
        for i in 0..n.max(1) {
            let jobs = jobs.clone();
            std::thread::Builder::new().name(format!("enlist-db-{i}")).spawn(move || loop {
                // The lock is held only while waiting for the next job.
                let next = jobs.lock().unwrap_or_else(|p| p.into_inner()).recv();
                match next {
                    // A panicking job has answered nothing: its caller sees
                    // its reply channel close. The thread goes on.
                    Ok(job) => drop(std::panic::catch_unwind(std::panic::AssertUnwindSafe(job))),
                    Err(_) => break,
                }
            })?;
        }
        Ok(Self { queue })
    }

    /// Queues a job; `false` when the threads have stopped.
    pub(crate) fn submit(&self, job: Job) -> bool {
        self.queue.send(job).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Barrier;

    #[test]
    fn at_most_n_jobs_run_at_once_and_a_panic_stops_no_thread() {
        let threads = Threads::start(3).unwrap_or_else(|e| unreachable!("{e}"));
        let (running, most) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let (done_tx, done) = mpsc::channel();
        threads.submit(Box::new(|| std::panic::panic_any("a broken unit of work")));
        // The first three jobs meet at a barrier: they finish only if all
        // three threads are alive and run them at once.
        let meet = Arc::new(Barrier::new(3));
        for i in 0..30 {
            let (running, most, done_tx, meet) = (running.clone(), most.clone(), done_tx.clone(), meet.clone());
            assert!(threads.submit(Box::new(move || {
                let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                most.fetch_max(now, Ordering::SeqCst);
                if i < 3 {
                    meet.wait();
                }
                std::thread::sleep(std::time::Duration::from_millis(1));
                running.fetch_sub(1, Ordering::SeqCst);
                let _ = done_tx.send(());
            })));
        }
        for n in 0..30 {
            done.recv_timeout(std::time::Duration::from_secs(20))
                .unwrap_or_else(|e| unreachable!("job {n} never finished ({e}): a thread is gone"));
        }
        assert_eq!(most.load(Ordering::SeqCst), 3, "never more jobs at once than threads");
    }
}
