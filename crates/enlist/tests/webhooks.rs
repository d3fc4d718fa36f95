//! Webhooks end to end, on SQLite and PostgreSQL: a local receiver on
//! 127.0.0.1 verifies every request with the Standard Webhooks reference
//! library, answers the first one 500 (retried) and the rest 200, and must
//! see its organization's events in order, none skipped, none of another
//! organization's. Unsafe destinations are refused at registration.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use enlist::core::service::NewUser;
use enlist::core::value::{Complex, Value};
use enlist::core::{Actor, Caller, Error};
use enlist_diesel::testing::TestDatabase;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[derive(Default)]
struct Received {
    /// (seq, type, organization) of each verified delivery, in arrival order.
    events: Vec<(u64, String, String)>,
    /// Requests answered 500 on purpose.
    refused: usize,
    /// Requests whose signature did not verify.
    forged: usize,
}

/// A webhook receiver: reads one request per connection (bounded), verifies
/// it with `secret` once known, and answers.
async fn receiver(secret: Arc<Mutex<Option<String>>>, got: Arc<Mutex<Received>>) -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        for _ in 0..500 {
            let Ok((mut sock, _)) = listener.accept().await else { return };
            let mut buf = Vec::new();
            let mut chunk = [0u8; 4096];
            // Headers, then Content-Length bytes of body.
            let (head, body) = loop {
                let n = sock.read(&mut chunk).await.unwrap_or(0);
                if n == 0 {
                    break (String::new(), Vec::new());
                }
                buf.extend_from_slice(&chunk[..n]);
                if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                    let head = String::from_utf8_lossy(&buf[..i]).into_owned();
                    let len: usize = head
                        .lines()
                        .find_map(|l| {
                            l.to_ascii_lowercase()
                                .strip_prefix("content-length:")
                                .map(|v| v.trim().parse().unwrap_or(0))
                        })
                        .unwrap_or(0);
                    while buf.len() < i + 4 + len {
                        let n = sock.read(&mut chunk).await.unwrap_or(0);
                        if n == 0 {
                            break;
                        }
                        buf.extend_from_slice(&chunk[..n]);
                    }
                    break (head, buf[i + 4..].to_vec());
                }
            };
            let mut headers = http::HeaderMap::new();
            for line in head.lines().skip(1) {
                if let Some((k, v)) = line.split_once(':') {
                    if let (Ok(k), Ok(v)) =
                        (http::HeaderName::try_from(k.trim()), http::HeaderValue::from_str(v.trim()))
                    {
                        headers.insert(k, v);
                    }
                }
            }
            let status = {
                let mut g = got.lock().unwrap();
                let key = secret.lock().unwrap().clone().unwrap_or_default();
                let verified = standardwebhooks::Webhook::new(&key).and_then(|w| w.verify(&body, &headers)).is_ok();
                if !verified {
                    g.forged += 1;
                    "401 Unauthorized"
                } else if g.refused == 0 {
                    g.refused += 1;
                    "500 Internal Server Error"
                } else {
                    let j: serde_json::Value = serde_json::from_slice(&body).unwrap();
                    g.events.push((
                        j["seq"].as_u64().unwrap(),
                        j["type"].as_str().unwrap().to_owned(),
                        j["organization"].as_str().unwrap().to_owned(),
                    ));
                    "204 No Content"
                }
            };
            let _ = sock.write_all(format!("HTTP/1.1 {status}\r\nContent-Length: 0\r\n\r\n").as_bytes()).await;
        }
    });
    port
}

fn user(name: &str) -> NewUser {
    NewUser { attrs: Complex::from([("userName".to_owned(), Value::String(name.into()))]), password: false }
}

async fn delivered_in_order_signed_and_retried(t: TestDatabase) {
    let enlist = enlist::Enlist::builder().database_handle(t.db.clone()).build().await.unwrap();
    let org_of = |o: &enlist::core::Organization| Caller { organization_id: o.id.clone(), actor: Actor::Operator };
    let a = enlist.services().organizations.create(&Actor::Operator, "A", None, true).await.unwrap();
    let b = enlist.services().organizations.create(&Actor::Operator, "B", None, true).await.unwrap();

    let (secret, got) = (Arc::new(Mutex::new(None)), Arc::new(Mutex::new(Received::default())));
    let port = receiver(secret.clone(), got.clone()).await;
    let hook = enlist
        .register_webhook(&org_of(&a), &format!("http://127.0.0.1:{port}/hooks/enlist"), false, false)
        .await
        .unwrap();
    assert!(hook.secret.starts_with("whsec_"));
    *secret.lock().unwrap() = Some(hook.secret.clone());

    for i in 0..5 {
        enlist.services().users.create(&org_of(&a), user(&format!("u{i}@a.com"))).await.unwrap();
    }
    enlist.services().users.create(&org_of(&b), user("x@b.com")).await.unwrap();
    let background = enlist.start_background();
    let mut done = false;
    for _ in 0..200 {
        if got.lock().unwrap().events.len() >= 5 {
            done = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    background.stop().await;
    let g = got.lock().unwrap();
    assert!(done, "[{}] only {:?} arrived", t.name, g.events);
    assert_eq!(g.forged, 0, "[{}] every request verifies with the reference library", t.name);
    assert_eq!(g.refused, 1, "[{}] the first attempt was refused, then retried", t.name);
    assert_eq!(
        g.events.iter().map(|e| e.0).collect::<Vec<_>>(),
        [1, 2, 3, 4, 5],
        "[{}] in order, none skipped",
        t.name
    );
    assert!(
        g.events.iter().all(|e| e.1 == "user.created" && e.2 == a.id.as_str()),
        "[{}] only A's: {:?}",
        t.name,
        g.events
    );
}

async fn unsafe_destinations_are_refused(t: TestDatabase) {
    let enlist = enlist::Enlist::builder().database_handle(t.db.clone()).build().await.unwrap();
    let a = enlist.services().organizations.create(&Actor::Operator, "A", None, true).await.unwrap();
    let op = Caller { organization_id: a.id.clone(), actor: Actor::Operator };
    for (url, words) in [
        ("http://hooks.example.com/x", "is not HTTPS"),
        ("https://10.0.0.7/x", "--allow-private"),
        ("https://[fd00::1]/x", "--allow-private"),
        ("ftp://x/y", "not an http(s) URL"),
    ] {
        match enlist.register_webhook(&op, url, false, false).await {
            Err(Error::InvalidValue { detail }) => assert!(detail.contains(words), "[{}] {url}: {detail}", t.name),
            other => panic!("[{}] {url}: {other:?}", t.name),
        }
    }
    assert!(enlist.services().webhooks.list(&op, false).await.unwrap().is_empty(), "nothing was stored");
    // An organization's API key cannot register webhooks.
    let key = Caller {
        organization_id: a.id.clone(),
        actor: Actor::ApiKey { id: enlist::core::ApiKeyId::new("k"), label: "x".into() },
    };
    assert!(matches!(
        enlist.register_webhook(&key, "https://8.8.8.8/x", false, false).await,
        Err(Error::Forbidden { .. })
    ));
}

macro_rules! on_both {
    ($name:ident) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$name(enlist_diesel::testing::TestDatabase::sqlite().unwrap()).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if let Some(t) = enlist_diesel::testing::TestDatabase::postgres().unwrap() {
                    super::$name(t).await;
                }
            }
        }
    };
}
on_both!(delivered_in_order_signed_and_retried);
on_both!(unsafe_destinations_are_refused);
