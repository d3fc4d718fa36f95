//! Webhooks through the facade, on SQLite and PostgreSQL: a local receiver
//! verifies every request with the Standard Webhooks reference library,
//! answers the first 500 (retried) and the rest 204, and must see its
//! organization's events in order, none skipped, none of another
//! organization's. Unsafe destinations are refused at registration.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use enlist::core::service::{NewOrganization, NewUser};
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
    let a = enlist.services().organizations.create(&Actor::Operator, NewOrganization::new("A")).await.unwrap();
    let b = enlist.services().organizations.create(&Actor::Operator, NewOrganization::new("B")).await.unwrap();
    let rx = WebhookReceiver::start(1).await;
    // The local receiver is loopback: the operator's development allowance.
    let hook = enlist.register_webhook(&op(&a), &rx.url(), false, true).await.unwrap();
    assert!(hook.secret.starts_with("whsec_"));
    let listed = enlist.services().webhooks.list(&op(&a), false).await.unwrap();
    assert!(listed.len() == 1 && listed[0].secret.is_empty(), "[{}] the secret is shown at creation only", t.name);
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
    let a = enlist.services().organizations.create(&Actor::Operator, NewOrganization::new("A")).await.unwrap();
    let op = Caller { organization_id: a.id.clone(), actor: Actor::Operator };
    let hostile = [
        ("http://hooks.example.com/x", "is not HTTPS"),
        ("http://127.0.0.1:6379/x", "is not HTTPS"),
        ("https://localhost/x", "--allow-private"),
        ("https://127.0.0.1:22/x", "--allow-private"),
        ("https://2130706433/x", "--allow-private"),
        ("https://10.0.0.7/x", "--allow-private"),
        ("https://169.254.169.254/latest/meta-data", "--allow-private"),
        ("https://[fd00::1]/x", "--allow-private"),
        ("https://[::ffff:127.0.0.1]/x", "--allow-private"),
        ("https://[64:ff9b::7f00:1]/x", "--allow-private"),
        ("https://[2002:7f00:1::1]/x", "--allow-private"),
        ("https://[fec0::1]/x", "--allow-private"),
        ("https://224.0.0.1/x", "--allow-private"),
        ("ftp://x/y", "not an http(s) URL"),
    ];
    // The same answers through the facade and through the core use case
    // directly (a host that never calls the adapter).
    for (url, words) in hostile {
        match enlist.register_webhook(&op, url, false, false).await {
            Err(Error::InvalidValue { detail }) => assert!(detail.contains(words), "[{}] {url}: {detail}", t.name),
            other => panic!("[{}] {url}: {other:?}", t.name),
        }
        match enlist.services().webhooks.add(&op, url, false, false, "whsec_x".into()).await {
            Err(Error::InvalidValue { detail }) => assert!(detail.contains(words), "[{}] core {url}: {detail}", t.name),
            other => panic!("[{}] core {url}: {other:?}", t.name),
        }
    }
    assert!(enlist.services().webhooks.list(&op, false).await.unwrap().is_empty(), "nothing was stored");
    // A cap per organization.
    let cap = enlist::core::service::MAX_WEBHOOKS_PER_ORGANIZATION;
    for i in 0..cap {
        // Public literals: no DNS lookup in a closed test network.
        let url = format!("https://8.8.4.{i}/x");
        enlist.services().webhooks.add(&op, &url, false, false, "whsec_x".into()).await.unwrap();
    }
    match enlist.services().webhooks.add(&op, "https://8.8.4.200/x", false, false, "whsec_x".into()).await {
        Err(Error::InvalidValue { detail }) => assert!(detail.contains("remove one first"), "[{}] {detail}", t.name),
        other => panic!("[{}] past the cap: {other:?}", t.name),
    }
    assert_eq!(enlist.services().webhooks.list(&op, false).await.unwrap().len(), cap);
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

/// An endpoint failing for longer than the give-up time is disabled, with
/// a reason naming the failure and what to do.
async fn a_failing_endpoint_is_disabled_with_its_reason(t: TestDatabase) {
    let enlist = enlist::Enlist::builder().database_handle(t.db.clone()).build().await.unwrap();
    let a = enlist.services().organizations.create(&Actor::Operator, NewOrganization::new("A")).await.unwrap();
    let op = Caller { organization_id: a.id.clone(), actor: Actor::Operator };
    let rx = WebhookReceiver::start(usize::MAX).await;
    let hook = enlist.register_webhook(&op, &rx.url(), false, true).await.unwrap();
    *rx.secret.lock().unwrap() = Some(hook.secret.clone());
    enlist.services().users.create(&op, user("u@a.com")).await.unwrap();
    let mut dispatcher = enlist_webhooks::Dispatcher::new(
        enlist.services().clone(),
        std::sync::Arc::new(t.db.clone()),
        std::sync::Arc::new(enlist::system::SystemClock),
        std::sync::Arc::new(enlist::system::RandomIds),
    );
    dispatcher.refresh = std::time::Duration::from_millis(100);
    dispatcher.idle = std::time::Duration::from_millis(50);
    // Three days in production; at once here.
    dispatcher.give_up_after = std::time::Duration::ZERO;
    dispatcher.lease = std::time::Duration::from_secs(10);
    let mut jobs = enlist_jobs::Jobs::new();
    jobs.spawn(std::sync::Arc::new(dispatcher));
    let mut disabled = None;
    for _ in 0..100 {
        let hooks = enlist.services().webhooks.list(&op, false).await.unwrap();
        if let Some(reason) = hooks[0].disabled_reason.clone() {
            disabled = Some(reason);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    jobs.stop().await;
    let reason = disabled.unwrap_or_else(|| panic!("[{}] never disabled", t.name));
    assert!(reason.contains("HTTP 500") && reason.contains("enlist webhook add"), "[{}] {reason}", t.name);
    assert!(rx.got.lock().unwrap().refused >= 1);
}
on_both_databases!(a_failing_endpoint_is_disabled_with_its_reason);
