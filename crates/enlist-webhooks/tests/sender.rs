//! The delivery client: one connection reused for many events, and no
//! connection ever opened to an address the core refuses.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "support/receiver.rs"]
mod receiver;

use enlist_core::testing::FakeDns;
use enlist_core::{Deps, Services, Webhook};
use enlist_diesel::testing::TestDatabase;
use enlist_webhooks::{deliver, destination, Sender};
use std::sync::Arc;
use std::time::Duration;

fn services(db: &TestDatabase, dns: Arc<FakeDns>) -> Services {
    Services::new(Deps { dns, ..enlist_core::testing::deps(Arc::new(db.db.clone())) })
}

fn webhook(url: &str, allow_private: bool) -> Webhook {
    Webhook {
        id: enlist_core::WebhookId::new("w1"),
        organization_id: None,
        url: url.into(),
        secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".into(),
        allow_private,
        created_at: chrono::DateTime::UNIX_EPOCH,
        disabled_at: None,
        disabled_reason: None,
    }
}

#[tokio::test]
async fn many_events_to_one_endpoint_share_one_connection() {
    let t = TestDatabase::sqlite().unwrap();
    let dns = Arc::new(FakeDns::default());
    dns.resolve("hooks.test", &["127.0.0.1".parse().unwrap()]);
    let sender = Sender::new(&services(&t, dns), Duration::from_secs(5)).unwrap();
    let (port, seen) = receiver::receiver().await;
    let w = webhook(&format!("http://hooks.test:{port}/in"), true);
    let url = destination(&w).unwrap();
    for i in 0..20 {
        let status = deliver(&sender, &w, &url, &format!("msg_{i}"), 1_700_000_000, "{}").await.unwrap();
        assert_eq!(status, 204);
    }
    assert_eq!(seen.requests(), 20);
    assert_eq!(seen.connections(), 1, "the client reconnected instead of reusing its connection");
}

#[tokio::test]
async fn a_name_that_now_resolves_inside_is_refused_before_any_connection() {
    let t = TestDatabase::sqlite().unwrap();
    let dns = Arc::new(FakeDns::default());
    let (port, seen) = receiver::receiver().await;
    // Registered while public; DNS now points it at this machine.
    dns.resolve("hooks.test", &["127.0.0.1".parse().unwrap()]);
    let sender = Sender::new(&services(&t, dns), Duration::from_secs(5)).unwrap();
    let w = webhook(&format!("https://hooks.test:{port}/in?token=s3cret"), false);
    let url = destination(&w).unwrap();
    let err = deliver(&sender, &w, &url, "msg_1", 1_700_000_000, "{}").await.unwrap_err();
    assert!(err.contains("resolves to 127.0.0.1") && err.contains("--allow-private"), "{err}");
    assert!(!err.contains("s3cret"), "the URL's query leaked into the error: {err}");
    assert_eq!(seen.connections(), 0, "a connection was opened to a refused address");
}

#[tokio::test]
async fn an_internal_literal_and_plain_http_are_refused_without_the_allowance() {
    for url in ["https://127.0.0.1:9/in", "https://[::1]/x", "http://hooks.example/in"] {
        let err = destination(&webhook(url, false)).unwrap_err();
        assert!(err.contains("--allow-private"), "{url}: {err}");
    }
}

#[tokio::test]
async fn a_redirect_is_a_failure_not_followed() {
    let t = TestDatabase::sqlite().unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        // Bounded: one connection.
        let Ok((mut sock, _)) = listener.accept().await else { return };
        let mut buf = [0u8; 4096];
        let _ = sock.read(&mut buf).await;
        let _ = sock
            .write_all(b"HTTP/1.1 307 Temporary Redirect\r\nLocation: http://10.0.0.1/\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            .await;
    });
    let sender = Sender::new(&services(&t, Arc::new(FakeDns::default())), Duration::from_secs(5)).unwrap();
    let w = webhook(&format!("http://127.0.0.1:{port}/in"), true);
    let err = deliver(&sender, &w, &destination(&w).unwrap(), "m", 1, "{}").await.unwrap_err();
    assert!(err.contains("HTTP 307"), "{err}");
}
