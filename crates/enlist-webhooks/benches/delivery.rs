//! Webhook delivery throughput: events delivered per second to one local
//! receiver (plain HTTP on 127.0.0.1, the operator's allowance), through
//! the real dispatcher, on a SQLite database. Prints one line per run;
//! `cargo bench -p enlist-webhooks --bench delivery` (`ENLIST_BENCH_EVENTS`
//! sets how many, default 2,000). The baseline for replacing the
//! connection-per-event client with a pooled one: 3,857–4,878 events/s
//! before, measured the same way (`docs/performance.md`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use enlist_core::service::{NewOrganization, NewUser};
use enlist_core::testing::{FakeDns, SeqIds, TickClock};
use enlist_core::value::{Complex, Value};
use enlist_core::{Actor, Caller, Deps, DomainName, Services};
use enlist_diesel::testing::TestDatabase;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[path = "../tests/support/receiver.rs"]
mod receiver;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let events: usize = std::env::var("ENLIST_BENCH_EVENTS").ok().and_then(|v| v.parse().ok()).unwrap_or(2000);
    let t = TestDatabase::sqlite().unwrap();
    let dns = Arc::new(FakeDns::default());
    let services = Services::new(Deps { dns: dns.clone(), ..enlist_core::testing::deps(Arc::new(t.db.clone())) });
    let org = services
        .organizations
        .create(&Actor::Operator, NewOrganization::new("Bench").domain(DomainName::parse("bench.example").unwrap()))
        .await
        .unwrap();
    let op = Caller { organization_id: org.id.clone(), actor: Actor::Operator };
    for i in 0..events {
        let attrs = Complex::from([("userName".to_owned(), Value::String(format!("u{i}@bench.example")))]);
        services.users.create(&op, NewUser { attrs, password: false }).await.unwrap();
    }
    let (port, seen) = receiver::receiver().await;
    // A name, so the client's checking resolver is on the path too.
    dns.resolve("hooks.bench.test", &["127.0.0.1".parse().unwrap()]);
    let url = format!("http://hooks.bench.test:{port}/hook");
    enlist_webhooks::register(&services, &SeqIds::default(), &op, &url, false, true).await.unwrap();
    let mut dispatcher = enlist_webhooks::Dispatcher::new(
        services.clone(),
        Arc::new(t.db.clone()),
        Arc::new(TickClock::default()),
        Arc::new(SeqIds::default()),
    );
    dispatcher.refresh = Duration::from_millis(50);
    let mut jobs = enlist_jobs::Jobs::new();
    let started = Instant::now();
    jobs.spawn(Arc::new(dispatcher));
    // Every user's `user.created`, bounded in time.
    let deadline = started + Duration::from_secs(600);
    while seen.requests() < events && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let took = started.elapsed();
    jobs.stop().await;
    let n = seen.requests();
    println!(
        "webhook delivery (sqlite, one endpoint, pooled client): {n} events in {:.2} s = {:.0} events/s over {} connection(s)",
        took.as_secs_f64(),
        n as f64 / took.as_secs_f64(),
        seen.connections()
    );
    assert!(n >= events, "only {n} of {events} events arrived within 10 minutes");
}
