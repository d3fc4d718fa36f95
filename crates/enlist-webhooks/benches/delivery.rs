//! Webhook delivery throughput: events delivered per second to one local
//! receiver (plain HTTP on 127.0.0.1, the operator's allowance), through
//! the real dispatcher, on a SQLite database. Prints one line per run;
//! `cargo bench -p enlist-webhooks --bench delivery` (`ENLIST_BENCH_EVENTS`
//! sets how many, default 2,000). The baseline for replacing the
//! connection-per-event client with a pooled one.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use enlist_core::service::{NewOrganization, NewUser};
use enlist_core::testing::{FakeDns, SeqIds, TickClock};
use enlist_core::value::{Complex, Value};
use enlist_core::{Actor, Caller, Deps, DomainName, Enlist};
use enlist_diesel::testing::TestDatabase;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Answers every request 204 and counts them (one request per connection,
/// as the client closes each).
async fn receiver() -> (u16, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let count = Arc::new(AtomicUsize::new(0));
    let seen = count.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut sock, _)) = listener.accept().await else { return };
            let seen = seen.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 16 * 1024];
                let mut got = Vec::new();
                // Head, then Content-Length bytes of body.
                loop {
                    let Ok(n) = sock.read(&mut buf).await else { return };
                    if n == 0 {
                        return;
                    }
                    got.extend_from_slice(&buf[..n]);
                    let text = String::from_utf8_lossy(&got);
                    if let Some(end) = text.find("\r\n\r\n") {
                        let len = text[..end]
                            .lines()
                            .find_map(|l| {
                                l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().to_owned())
                            })
                            .and_then(|v| v.parse::<usize>().ok())
                            .unwrap_or(0);
                        if got.len() >= end + 4 + len {
                            break;
                        }
                    }
                }
                let _ =
                    sock.write_all(b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\nConnection: close\r\n\r\n").await;
                seen.fetch_add(1, Ordering::SeqCst);
            });
        }
    });
    (port, count)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let events: usize = std::env::var("ENLIST_BENCH_EVENTS").ok().and_then(|v| v.parse().ok()).unwrap_or(2000);
    let t = TestDatabase::sqlite().unwrap();
    let services = Enlist::new(Deps {
        store: Arc::new(t.db.clone()),
        clock: Arc::new(TickClock::default()),
        ids: Arc::new(SeqIds::default()),
        dns: Arc::new(FakeDns::default()),
    });
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
    let (port, delivered) = receiver().await;
    let url = format!("http://127.0.0.1:{port}/hook");
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
    while delivered.load(Ordering::SeqCst) < events && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let took = started.elapsed();
    jobs.stop().await;
    let n = delivered.load(Ordering::SeqCst);
    println!(
        "webhook delivery (sqlite, one endpoint, a new connection per event): {n} events in {:.2} s = {:.0} events/s",
        took.as_secs_f64(),
        n as f64 / took.as_secs_f64()
    );
    assert!(n >= events, "only {n} of {events} events arrived within 10 minutes");
}
