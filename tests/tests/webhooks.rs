//! Webhooks through the facade, on SQLite and PostgreSQL: a local receiver
//! verifies every request with the Standard Webhooks reference library,
//! answers the first 500 (retried) and the rest 204, and must see its
//! organization's events in order, none skipped, none of another
//! organization's. Unsafe destinations are refused at registration.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use enlist::core::service::NewUser;
use enlist::core::value::{Complex, Value};
use enlist::core::{Actor, Caller, Error};
use enlist_diesel::testing::TestDatabase;
use enlist_tests::WebhookReceiver;

fn user(name: &str) -> NewUser {
    NewUser { attrs: Complex::from([("userName".to_owned(), Value::String(name.into()))]), password: false }
}

async fn delivered_in_order_signed_and_retried(t: TestDatabase) {
    let enlist = enlist::Enlist::builder().database_handle(t.db.clone()).build().await.unwrap();
    let op = |o: &enlist::core::Organization| Caller { organization_id: o.id.clone(), actor: Actor::Operator };
    let a = enlist.services().organizations.create(&Actor::Operator, "A", None, true).await.unwrap();
    let b = enlist.services().organizations.create(&Actor::Operator, "B", None, true).await.unwrap();
    let rx = WebhookReceiver::start(1).await;
    let hook = enlist.register_webhook(&op(&a), &rx.url(), false, false).await.unwrap();
    assert!(hook.secret.starts_with("whsec_"));
    *rx.secret.lock().unwrap() = Some(hook.secret.clone());
    for i in 0..5 {
        enlist.services().users.create(&op(&a), user(&format!("u{i}@a.com"))).await.unwrap();
    }
    enlist.services().users.create(&op(&b), user("x@b.com")).await.unwrap();
    let background = enlist.start_background();
    let done = rx.wait_for(5).await;
    background.stop().await;
    let g = rx.got.lock().unwrap();
    assert!(done, "[{}] only {:?} arrived", t.name, g.events);
    assert_eq!(g.forged, 0, "[{}] every request verifies with the reference library", t.name);
    assert_eq!(g.refused, 1, "[{}] the first attempt was refused, then retried", t.name);
    let seqs: Vec<u64> = g.events.iter().map(|e| e["seq"].as_u64().unwrap()).collect();
    assert_eq!(seqs, [1, 2, 3, 4, 5], "[{}] in order, none skipped", t.name);
    assert!(
        g.events.iter().all(|e| e["type"] == "user.created" && e["organization"] == a.id.as_str()),
        "[{}] only A's",
        t.name
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
    let key = Caller {
        organization_id: a.id.clone(),
        actor: Actor::ApiKey { id: enlist::core::ApiKeyId::new("k"), label: "x".into() },
    };
    assert!(matches!(
        enlist.register_webhook(&key, "https://8.8.8.8/x", false, false).await,
        Err(Error::Forbidden { .. })
    ));
}

macro_rules! on_both_databases {
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
on_both_databases!(delivered_in_order_signed_and_retried);
on_both_databases!(unsafe_destinations_are_refused);
