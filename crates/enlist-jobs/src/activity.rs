//! Provisioning activity on its way to the log: each request that changed
//! something or was refused becomes one [`ActivityRecord`], cut to its byte
//! caps and handed to a queue bounded in bytes, with a byte budget per
//! organization so one tenant cannot crowd out the rest (a record over
//! either is dropped and counted, never makes the request wait). The
//! [`ActivityWriter`] job writes the queue in batches, off every request's
//! transaction.

use crate::{Job, Next};
use enlist_core::ports::{ActivityLog, Clock};
use enlist_core::{ActivityRecord, ApiKeyId, KeyUsage, OrganizationId};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// How much unwritten activity a process holds, and how much one
/// organization may add.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ActivityLimits {
    /// Bytes of records queued and not yet written, all organizations
    /// together; beyond, new records are dropped and counted.
    pub queue_bytes: usize,
    /// Bytes one organization may add at once (its bucket's size)…
    pub org_burst_bytes: usize,
    /// …and per second after that. A busy Entra cycle writes about 20
    /// records a second of about 600 bytes; a client sending refusals of
    /// maximal size as fast as it can gets about 6 a second, and the rest
    /// of the queue stays for the other organizations.
    pub org_bytes_per_second: usize,
}

impl Default for ActivityLimits {
    fn default() -> Self {
        Self { queue_bytes: 16 << 20, org_burst_bytes: 1 << 20, org_bytes_per_second: 32 << 10 }
    }
}

/// One organization's allowance: a token bucket of bytes.
struct Bucket {
    bytes: f64,
    at: Instant,
}

/// Why records were dropped, for `/metrics`.
#[derive(Default)]
struct Dropped {
    queue_full: AtomicU64,
    org_budget: AtomicU64,
}

/// Keys' traffic counted since the writer's last flush, by key and hour.
type Usage = Arc<Mutex<HashMap<(ApiKeyId, i64), KeyUsage>>>;

/// Most (key, hour) counters held between flushes; beyond, requests are
/// not counted (a writer that stopped flushing must not grow memory).
const MAX_USAGE_ENTRIES: usize = 10_000;

/// The queue between requests and the writer.
pub struct Recorder {
    tx: mpsc::UnboundedSender<(ActivityRecord, usize)>,
    usage: Usage,
    queued: Arc<AtomicUsize>,
    limits: ActivityLimits,
    buckets: Mutex<HashMap<OrganizationId, Bucket>>,
    dropped: Dropped,
    clock: Arc<dyn Clock>,
}

/// The writer's end of a [`Recorder`]'s queue, for [`write_batches`].
pub struct ActivityQueue {
    rx: mpsc::UnboundedReceiver<(ActivityRecord, usize)>,
    queued: Arc<AtomicUsize>,
    usage: Usage,
}

impl ActivityQueue {
    fn taken(&self, bytes: usize) {
        self.queued.fetch_sub(bytes, Ordering::Relaxed);
    }
}

impl Recorder {
    /// A recorder within `limits`, and the receiving end for
    /// [`write_batches`].
    pub fn new(limits: ActivityLimits, clock: Arc<dyn Clock>) -> (Arc<Self>, ActivityQueue) {
        // Unbounded in count, bounded in bytes by `queued` below.
        let (tx, rx) = mpsc::unbounded_channel();
        let queued = Arc::new(AtomicUsize::new(0));
        let usage: Usage = Arc::default();
        let me = Self {
            tx,
            usage: usage.clone(),
            queued: queued.clone(),
            limits,
            buckets: Mutex::new(HashMap::new()),
            dropped: Dropped::default(),
            clock,
        };
        (Arc::new(me), ActivityQueue { rx, queued, usage })
    }

    /// Counts one request of an API key for its connection health (every
    /// request, reads included; `ok`: answered with success). Never waits
    /// on the database: the writer adds the counts up.
    pub fn count(&self, key: &ApiKeyId, org: &OrganizationId, ok: bool) {
        let now = self.clock.now();
        let start = now.timestamp() - now.timestamp().rem_euclid(3600);
        let mut usage = self.usage.lock().unwrap_or_else(|p| p.into_inner());
        if usage.len() >= MAX_USAGE_ENTRIES && !usage.contains_key(&(key.clone(), start)) {
            return;
        }
        let u = usage.entry((key.clone(), start)).or_insert_with(|| KeyUsage {
            key_id: key.clone(),
            organization_id: org.clone(),
            hour: chrono::DateTime::from_timestamp(start, 0).unwrap_or_default(),
            requests: 0,
            refusals: 0,
            last_request_at: now,
            last_success_at: None,
        });
        u.requests += 1;
        u.last_request_at = u.last_request_at.max(now);
        if ok {
            u.last_success_at = Some(now);
        } else {
            u.refusals += 1;
        }
    }

    /// The time, for a record's `at`.
    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.clock.now()
    }

    /// Queues a record cut to its caps ([`ActivityRecord::bounded`]), or
    /// drops and counts it when its organization spent its budget or the
    /// queue is full. Never makes the request wait.
    pub fn record(&self, r: ActivityRecord) {
        let r = r.bounded();
        let size = r.stored_bytes();
        if !self.spend(&r.organization_id, size) {
            self.dropped.org_budget.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let before = self.queued.fetch_add(size, Ordering::Relaxed);
        if before + size > self.limits.queue_bytes || self.tx.send((r, size)).is_err() {
            self.queued.fetch_sub(size, Ordering::Relaxed);
            self.dropped.queue_full.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Takes `size` bytes from the organization's bucket, if it holds them.
    fn spend(&self, org: &OrganizationId, size: usize) -> bool {
        let now = Instant::now();
        let (burst, rate) = (self.limits.org_burst_bytes as f64, self.limits.org_bytes_per_second as f64);
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if buckets.len() > 10_000 {
            // Full buckets carry no state worth keeping.
            buckets.retain(|_, b| b.bytes + now.duration_since(b.at).as_secs_f64() * rate < burst);
        }
        let b = buckets.entry(org.clone()).or_insert(Bucket { bytes: burst, at: now });
        b.bytes = (b.bytes + now.duration_since(b.at).as_secs_f64() * rate).min(burst);
        b.at = now;
        if b.bytes < size as f64 {
            return false;
        }
        b.bytes -= size as f64;
        true
    }

    /// Records dropped, all reasons together.
    pub fn dropped(&self) -> u64 {
        self.dropped_full() + self.dropped_over_budget()
    }

    /// Records dropped because the queue held `queue_bytes` already.
    pub fn dropped_full(&self) -> u64 {
        self.dropped.queue_full.load(Ordering::Relaxed)
    }

    /// Records dropped because their organization spent its budget.
    pub fn dropped_over_budget(&self) -> u64 {
        self.dropped.org_budget.load(Ordering::Relaxed)
    }

    /// Bytes queued and not yet written.
    pub fn queued_bytes(&self) -> usize {
        self.queued.load(Ordering::Relaxed)
    }
}

/// Most records, and bytes, one batch writes.
const BATCH_RECORDS: usize = 200;
const BATCH_BYTES: usize = 512 * 1024;

/// Writes a [`Recorder`]'s queue in batches (up to 200 records or 512
/// KiB): at once while a full batch waits, else every 50 ms, so a burst
/// gathers into one statement. What is queued when it stops is written
/// first.
pub struct ActivityWriter {
    queue: Mutex<ActivityQueue>,
    log: Arc<dyn ActivityLog>,
    /// When the keys' usage was last added up.
    flushed: Mutex<Instant>,
}

/// How often counted key usage is added to the database.
const USAGE_EVERY: Duration = Duration::from_secs(1);

impl ActivityWriter {
    /// A writer of `queue` into `log`.
    pub fn new(queue: ActivityQueue, log: Arc<dyn ActivityLog>) -> Self {
        Self { queue: Mutex::new(queue), log, flushed: Mutex::new(Instant::now()) }
    }

    /// Adds the counted key usage to the database, at most every second
    /// (or now, on `force`). Counts that cannot be written are lost: they
    /// only inform the console.
    async fn flush_usage(&self, force: bool) {
        {
            let mut at = self.flushed.lock().unwrap_or_else(|p| p.into_inner());
            if !force && at.elapsed() < USAGE_EVERY {
                return;
            }
            *at = Instant::now();
        }
        let usage: Vec<KeyUsage> = {
            let queue = self.queue.lock().unwrap_or_else(|p| p.into_inner());
            let mut map = queue.usage.lock().unwrap_or_else(|p| p.into_inner());
            std::mem::take(&mut *map).into_values().collect()
        };
        if usage.is_empty() {
            return;
        }
        if let Err(e) = self.log.add_usage(usage).await {
            tracing::warn!(error = %e, "API keys' request counts could not be written and are lost");
        }
    }

    /// Takes up to one batch from the queue; whether it was full.
    fn take(&self, all: bool) -> (Vec<ActivityRecord>, bool) {
        let mut queue = self.queue.lock().unwrap_or_else(|p| p.into_inner());
        let (mut batch, mut bytes) = (Vec::new(), 0);
        while all || (batch.len() < BATCH_RECORDS && bytes < BATCH_BYTES) {
            match queue.rx.try_recv() {
                Ok((r, size)) => {
                    queue.taken(size);
                    bytes += size;
                    batch.push(r);
                }
                Err(_) => return (batch, false),
            }
        }
        (batch, true)
    }

    async fn write(&self, batch: Vec<ActivityRecord>) {
        if batch.is_empty() {
            return;
        }
        let n = batch.len();
        if let Err(e) = self.log.append(batch).await {
            tracing::warn!(error = %e, records = n, "activity records could not be written and are lost");
        }
    }
}

#[async_trait::async_trait]
impl Job for ActivityWriter {
    fn name(&self) -> String {
        "activity writer".into()
    }
    async fn round(&self) -> Next {
        let (batch, full) = self.take(false);
        self.write(batch).await;
        self.flush_usage(false).await;
        if full {
            Next::Now
        } else {
            Next::After(Duration::from_millis(50))
        }
    }
    async fn stopped(&self) {
        let (batch, _) = self.take(true);
        self.write(batch).await;
        self.flush_usage(true).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(org: &str, subject: &str) -> ActivityRecord {
        ActivityRecord {
            id: "a".into(),
            organization_id: OrganizationId::new(org),
            at: chrono::DateTime::from_timestamp(1_800_000_000, 0).unwrap_or_default(),
            key_label: "Entra".into(),
            method: "POST".into(),
            route: "/Users".into(),
            resource_id: None,
            subject: Some(subject.into()),
            status: 400,
            scim_type: None,
            detail: Some(subject.into()),
            latency_ms: 1,
            request_id: "r".into(),
            summary: subject.into(),
        }
    }

    fn clock() -> Arc<enlist_core::testing::TickClock> {
        Arc::new(enlist_core::testing::TickClock::default())
    }

    #[tokio::test]
    async fn every_request_of_a_key_is_counted_and_added_up_once_per_flush() {
        let (rec, queue) = Recorder::new(ActivityLimits::default(), clock());
        let (k, o) = (ApiKeyId::new("k1"), OrganizationId::new("o"));
        for ok in [true, true, true, false] {
            rec.count(&k, &o, ok);
        }
        rec.count(&ApiKeyId::new("k2"), &o, false);
        let mut log = enlist_core::ports::MockActivityLog::new();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let seen2 = seen.clone();
        log.expect_add_usage().times(1).returning(move |u| {
            seen2.lock().unwrap().extend(u);
            Ok(())
        });
        let writer = ActivityWriter::new(queue, Arc::new(log));
        writer.stopped().await;
        let mut usage = seen.lock().unwrap().clone();
        usage.sort_by(|a, b| a.key_id.as_str().cmp(b.key_id.as_str()));
        assert_eq!(usage.iter().map(|u| (u.requests, u.refusals)).collect::<Vec<_>>(), [(4, 1), (1, 1)]);
        assert!(usage[0].last_success_at.is_some() && usage[1].last_success_at.is_none());
        assert!(usage[0].last_success_at < Some(usage[0].last_request_at), "the latest request was the refusal");
        // Nothing counted since: the next flush writes nothing (the mock
        // would panic on a second call).
        writer.flush_usage(true).await;
    }

    #[tokio::test]
    async fn a_full_queue_drops_and_counts_by_bytes_instead_of_waiting() {
        let limits = ActivityLimits { queue_bytes: 8 * 1024, ..ActivityLimits::default() };
        let (rec, _queue) = Recorder::new(limits, clock());
        // Each 200 KB record is cut to its caps (about 5.5 KiB): one fits.
        let big = "x".repeat(200_000);
        for _ in 0..3 {
            rec.record(record("o", &big));
        }
        assert_eq!((rec.dropped_full(), rec.dropped_over_budget()), (2, 0));
        assert!(rec.queued_bytes() < 6 * 1024, "{}", rec.queued_bytes());
    }

    #[tokio::test]
    async fn one_organization_over_its_budget_does_not_crowd_out_another() {
        let limits =
            ActivityLimits { org_burst_bytes: 64 * 1024, org_bytes_per_second: 1, ..ActivityLimits::default() };
        let (rec, mut queue) = Recorder::new(limits, clock());
        let big = "x".repeat(200_000);
        for _ in 0..100 {
            rec.record(record("noisy", &big));
        }
        let kept = 100 - rec.dropped_over_budget();
        assert!((10..=12).contains(&kept), "64 KiB holds about 11 capped records, kept {kept}");
        rec.record(record("quiet", "ana@contoso.com"));
        assert_eq!(rec.dropped_full(), 0);
        let mut orgs = Vec::new();
        while let Ok((r, size)) = queue.rx.try_recv() {
            queue.taken(size);
            orgs.push(r.organization_id.as_str().to_owned());
        }
        assert_eq!(orgs.last().map(String::as_str), Some("quiet"), "the quiet organization's record is kept");
        assert_eq!(rec.queued_bytes(), 0, "taking records frees their bytes");
    }
}
