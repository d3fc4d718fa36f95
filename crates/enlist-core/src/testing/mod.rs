//! Test support for code built on Enlist's ports: a [`Transaction`] made of
//! mockall mocks (for a test about one interaction with a port), a [`Store`]
//! that runs units of work on it and records whether they committed or
//! rolled back, an in-memory [`MemoryStore`] (for a scenario through the
//! real services), fake DNS, a deterministic clock and id generator, and
//! fixtures ([`services`], [`user`]).

mod fixtures;
mod memory;

pub use fixtures::{deps, services, user, UserFixture};
pub use memory::{Memory, MemoryStore};

use crate::error::Error;
use crate::ports::*;
use chrono::{DateTime, TimeZone, Utc};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// A clock that starts at 2026-11-29T00:00:00Z and moves one millisecond
/// per reading: deterministic, and every reading is distinct and ordered.
#[derive(Default)]
pub struct TickClock(AtomicU64);

impl Clock for TickClock {
    fn now(&self) -> DateTime<Utc> {
        let base = Utc.with_ymd_and_hms(2026, 11, 29, 0, 0, 0).single().unwrap_or_default();
        base + chrono::Duration::milliseconds(self.0.fetch_add(1, Ordering::SeqCst) as i64)
    }
}

/// Ids shaped like UUIDs and secrets, from a counter: deterministic and
/// in creation order.
#[derive(Default)]
pub struct SeqIds(AtomicU64);

impl IdGenerator for SeqIds {
    fn id(&self) -> String {
        let n = self.0.fetch_add(1, Ordering::SeqCst);
        format!("{:08x}-0000-4000-8000-{n:012x}", n >> 16)
    }
    fn secret(&self) -> String {
        format!("s3cr3t{:016x}", self.0.fetch_add(7919, Ordering::SeqCst))
    }
}

/// A transaction whose repositories are mocks; set expectations on the
/// fields.
#[derive(Default)]
pub struct MockTx {
    /// Organizations.
    pub orgs: MockOrganizationRepo,
    /// Accounts.
    pub accounts: MockAccountRepo,
    /// Users.
    pub users: MockUserRepo,
    /// Groups.
    pub groups: MockGroupRepo,
    /// API keys.
    pub keys: MockApiKeyRepo,
    /// Audit log.
    pub audit: MockAuditLog,
    /// Outbox.
    pub outbox: MockOutbox,
    /// Change events.
    pub events: MockEventLog,
    /// Webhook endpoints.
    pub webhooks: MockWebhookRepo,
    /// Console links and sessions.
    pub console: MockConsoleRepo,
    /// The deprovisioning guard.
    pub guard: MockGuardRepo,
}

impl Transaction for MockTx {
    fn organizations(&mut self) -> &mut dyn OrganizationRepo {
        &mut self.orgs
    }
    fn accounts(&mut self) -> &mut dyn AccountRepo {
        &mut self.accounts
    }
    fn users(&mut self) -> &mut dyn UserRepo {
        &mut self.users
    }
    fn groups(&mut self) -> &mut dyn GroupRepo {
        &mut self.groups
    }
    fn api_keys(&mut self) -> &mut dyn ApiKeyRepo {
        &mut self.keys
    }
    fn audit(&mut self) -> &mut dyn AuditLog {
        &mut self.audit
    }
    fn events(&mut self) -> &mut dyn EventLog {
        &mut self.events
    }
    fn webhooks(&mut self) -> &mut dyn WebhookRepo {
        &mut self.webhooks
    }
    fn console(&mut self) -> &mut dyn ConsoleRepo {
        &mut self.console
    }
    fn guard(&mut self) -> &mut dyn GuardRepo {
        &mut self.guard
    }
    fn outbox(&mut self) -> &mut dyn Outbox {
        &mut self.outbox
    }
}

/// How a unit of work ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Returned `Ok`: a real store commits.
    Committed,
    /// Returned `Err`: a real store rolls every write back.
    RolledBack,
}

/// A [`Store`] that runs every unit of work on one [`MockTx`].
pub struct MockStore {
    tx: Mutex<MockTx>,
    outcomes: Mutex<Vec<Outcome>>,
}

impl MockStore {
    /// Wraps a prepared transaction.
    pub fn new(tx: MockTx) -> Arc<Self> {
        Arc::new(Self { tx: Mutex::new(tx), outcomes: Mutex::new(Vec::new()) })
    }
    /// How each unit of work ended, in order.
    pub fn outcomes(&self) -> Vec<Outcome> {
        self.outcomes.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
    fn run(&self, work: Work) -> Result<(), Error> {
        let mut tx = self.tx.lock().unwrap_or_else(|p| p.into_inner());
        let r = work(&mut *tx);
        self.outcomes.lock().unwrap_or_else(|p| p.into_inner()).push(if r.is_ok() {
            Outcome::Committed
        } else {
            Outcome::RolledBack
        });
        r
    }
}

#[async_trait::async_trait]
impl Store for MockStore {
    async fn read(&self, work: Work) -> Result<(), Error> {
        self.run(work)
    }
    async fn write(&self, work: Work) -> Result<(), Error> {
        self.run(work)
    }
}

/// DNS for tests: TXT records published with [`FakeDns::publish`],
/// addresses with [`FakeDns::resolve`] (`localhost` is 127.0.0.1 and ::1);
/// a name listed with [`FakeDns::fail`] fails as a DNS outage would.
#[derive(Default)]
pub struct FakeDns {
    records: Mutex<std::collections::HashMap<String, Vec<String>>>,
    hosts: Mutex<std::collections::HashMap<String, Vec<std::net::IpAddr>>>,
    failing: Mutex<Vec<String>>,
}

impl FakeDns {
    /// Publishes a TXT record at `name`.
    pub fn publish(&self, name: &str, value: &str) {
        self.records
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(name.to_ascii_lowercase())
            .or_default()
            .push(value.into());
    }
    /// Makes `host` resolve to `ips`.
    pub fn resolve(&self, host: &str, ips: &[std::net::IpAddr]) {
        self.hosts.lock().unwrap_or_else(|p| p.into_inner()).insert(host.to_ascii_lowercase(), ips.to_vec());
    }
    /// Makes lookups of `name` fail.
    pub fn fail(&self, name: &str) {
        self.failing.lock().unwrap_or_else(|p| p.into_inner()).push(name.to_ascii_lowercase());
    }
}

#[async_trait::async_trait]
impl DomainVerifier for FakeDns {
    async fn txt(&self, name: &str) -> Result<Vec<String>, LookupError> {
        let name = name.to_ascii_lowercase();
        if self.failing.lock().unwrap_or_else(|p| p.into_inner()).contains(&name) {
            return Err(LookupError(format!("SERVFAIL for {name}")));
        }
        Ok(self.records.lock().unwrap_or_else(|p| p.into_inner()).get(&name).cloned().unwrap_or_default())
    }
    async fn addresses(&self, host: &str) -> Result<Vec<std::net::IpAddr>, LookupError> {
        let host = host.to_ascii_lowercase();
        if self.failing.lock().unwrap_or_else(|p| p.into_inner()).contains(&host) {
            return Err(LookupError(format!("SERVFAIL for {host}")));
        }
        if host == "localhost" {
            return Ok(vec![std::net::Ipv6Addr::LOCALHOST.into(), std::net::Ipv4Addr::LOCALHOST.into()]);
        }
        Ok(self.hosts.lock().unwrap_or_else(|p| p.into_inner()).get(&host).cloned().unwrap_or_default())
    }
}
