//! The threads that run units of work on pooled connections. Diesel's
//! connections block, so units of work run off the async executor. They
//! used to go to tokio's blocking pool, which grows to hundreds of threads
//! in every runtime (each actix worker has its own): a burst of requests
//! left some fifty threads behind, each with a malloc arena keeping what it
//! had used, and walking a 100,000-user roster left the server at 110 MiB.
//! A pool serves at most as many units at once as it has connections, so
//! that many threads run them; the rest wait in one queue, in order.

use crossbeam_channel as channel;
use std::sync::Arc;

/// A unit of work as a thread runs it.
pub(crate) type Job = Box<dyn FnOnce() + Send>;

/// Threads taking jobs from one queue. Dropping it closes the queue: the
/// threads finish what is queued and end, and the drop waits for them. A
/// thread still tearing down its TLS state (libpq's OpenSSL) while the
/// process exited crashed `enlist` in libcrypto once in a few hundred runs.
pub(crate) struct Queue<J> {
    sender: Option<channel::Sender<J>>,
    handles: Vec<std::thread::JoinHandle<()>>,
}

impl<J: Send + 'static> Queue<J> {
    /// Starts `n` threads (at least one) named `name`; `body` makes each
    /// thread's work from its end of the queue. Many receivers share the
    /// queue without a lock (a mutex around a std receiver was 4 % of a
    /// lookup's time, contended by idle threads).
    pub(crate) fn start(
        name: &str,
        n: usize,
        mut body: impl FnMut(channel::Receiver<J>) -> Box<dyn FnOnce() + Send>,
    ) -> std::io::Result<Self> {
        let (sender, jobs) = channel::unbounded::<J>();
        let n = n.max(1);
        let mut handles = Vec::with_capacity(n);
        for i in 0..n {
            let thread = if n == 1 { name.to_owned() } else { format!("{name}-{i}") };
            handles.push(std::thread::Builder::new().name(thread).spawn(body(jobs.clone()))?);
        }
        Ok(Self { sender: Some(sender), handles })
    }

    /// Queues a job; `false` when the threads have stopped.
    pub(crate) fn submit(&self, job: J) -> bool {
        self.sender.as_ref().is_some_and(|q| q.send(job).is_ok())
    }
}

impl<J> Drop for Queue<J> {
    fn drop(&mut self) {
        drop(self.sender.take());
        // Never the current thread: the last handle may be dropped by a
        // job running on one of them.
        let me = std::thread::current().id();
        for h in self.handles.drain(..) {
            if h.thread().id() != me {
                let _ = h.join();
            }
        }
    }
}

/// The threads that run units of work on pooled connections, one per
/// connection.
#[derive(Clone)]
pub(crate) struct Threads {
    queue: Arc<Queue<Job>>,
}

impl Threads {
    /// Starts `n` threads (at least one).
    pub(crate) fn start(n: usize) -> std::io::Result<Self> {
        let queue = Queue::start("enlist-db", n, |jobs: channel::Receiver<Job>| {
            Box::new(move || {
                // A panicking job has answered nothing: its caller sees its
                // reply channel close. The thread goes on.
                while let Ok(job) = jobs.recv() {
                    drop(std::panic::catch_unwind(std::panic::AssertUnwindSafe(job)));
                }
            })
        })?;
        Ok(Self { queue: Arc::new(queue) })
    }

    /// Queues a job; `false` when the threads have stopped.
    pub(crate) fn submit(&self, job: Job) -> bool {
        self.queue.submit(job)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::mpsc;
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

    #[test]
    fn dropping_the_last_handle_waits_for_queued_jobs() {
        let threads = Threads::start(2).unwrap_or_else(|e| unreachable!("{e}"));
        let finished = Arc::new(AtomicUsize::new(0));
        for _ in 0..6 {
            let finished = finished.clone();
            threads.submit(Box::new(move || {
                std::thread::sleep(std::time::Duration::from_millis(5));
                finished.fetch_add(1, Ordering::SeqCst);
            }));
        }
        drop(threads);
        assert_eq!(finished.load(Ordering::SeqCst), 6, "every queued job ran before the drop returned");

        // A job holding the last handle drops it on a pool thread, which
        // joins the others but not itself.
        let threads = Threads::start(2).unwrap_or_else(|e| unreachable!("{e}"));
        let (last, (done_tx, done)) = (threads.clone(), mpsc::channel());
        threads.submit(Box::new(move || {
            drop(last);
            let _ = done_tx.send(());
        }));
        drop(threads);
        done.recv_timeout(std::time::Duration::from_secs(10)).unwrap_or_else(|e| unreachable!("no deadlock: {e}"));
    }
}
