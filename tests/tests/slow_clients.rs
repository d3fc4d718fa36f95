//! Slow clients: 300 connections that trickle their bodies (more than the
//! 256 requests the process handles at once) do not hold the server: a
//! normal request is answered at once while they wait, and each of them is
//! refused with 408 when its body deadline passes (2 s in the test server),
//! having changed nothing.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use enlist_tests::{on_both, TestServer};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

async fn trickling_bodies_hold_no_place(s: &TestServer) {
    let mut slow = Vec::new();
    for i in 0..300 {
        let mut c = tokio::net::TcpStream::connect(&s.addr).await.unwrap();
        let body = format!("{{\"userName\": \"slow{i}@contoso.com\"}}");
        let head = format!(
            "POST /scim/v2/Users HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nContent-Type: application/scim+json\r\nContent-Length: {}\r\n\r\n",
            s.key_a,
            body.len()
        );
        c.write_all(head.as_bytes()).await.unwrap();
        // A first byte, then nothing.
        c.write_all(&body.as_bytes()[..1]).await.unwrap();
        slow.push(c);
    }
    let t = Instant::now();
    let r = s.a().get("/scim/v2/Users?count=1").await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(t.elapsed() < Duration::from_secs(1), "[{:?}] a normal request waited {:?}", s.backend, t.elapsed());

    // Each slow one is told, within its deadline and a margin, and nothing
    // it began was created.
    for mut c in slow {
        let mut raw = Vec::new();
        let read = tokio::time::timeout(Duration::from_secs(10), c.read_to_end(&mut raw)).await;
        assert!(read.is_ok(), "[{:?}] a trickling client was held past its deadline", s.backend);
        let text = String::from_utf8_lossy(&raw);
        assert!(text.starts_with("HTTP/1.1 408"), "[{:?}] {text}", s.backend);
        assert!(text.contains("did not arrive within 2 s"), "{text}");
    }
    let found = s.a().get("/scim/v2/Users?filter=userName%20sw%20%22slow%22").await.json();
    assert_eq!(found["totalResults"], 0);
}
on_both!(trickling_bodies_hold_no_place);

/// A request without a valid key is refused from its headers: the server
/// answers 401 before any of the body arrives, so unauthenticated
/// connections make it buffer nothing.
async fn the_key_is_checked_before_the_body_is_read(s: &TestServer) {
    for auth in ["Bearer enlist_nosuchkey.secret", "Bearer not-a-key", ""] {
        let mut c = tokio::net::TcpStream::connect(&s.addr).await.unwrap();
        let auth = if auth.is_empty() { String::new() } else { format!("Authorization: {auth}\r\n") };
        let head = format!(
            "POST /scim/v2/Users HTTP/1.1\r\nHost: x\r\n{auth}Content-Type: application/scim+json\r\nContent-Length: 60000\r\n\r\n"
        );
        c.write_all(head.as_bytes()).await.unwrap();
        // No body at all: an answer now can only come from the headers.
        let t = Instant::now();
        let mut buf = vec![0u8; 4096];
        let n = tokio::time::timeout(Duration::from_secs(10), c.read(&mut buf)).await.unwrap().unwrap();
        let text = String::from_utf8_lossy(&buf[..n]);
        assert!(text.starts_with("HTTP/1.1 401"), "[{:?}] {auth:?}: {text}", s.backend);
        assert!(t.elapsed() < Duration::from_secs(1), "[{:?}] waited {:?} for a body", s.backend, t.elapsed());
    }
}
on_both!(the_key_is_checked_before_the_body_is_read);
