//! The console's connection health per API key, through the server `enlist
//! serve` runs, on both backends: a new key waits for its first request;
//! a success makes it healthy, a refusal failing (with the refusal and its
//! fix), counted over every request the key made; another organization's
//! traffic never shows.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use enlist_core::{Caller, Email};
use enlist_tests::{on_both, TestServer};
use serde_json::{json, Value};

/// A console session cookie for A's Admin.
async fn sign_in(s: &TestServer) -> String {
    let op = Caller::operator(&s.org_a);
    let link = s.enlist.console.link(&op, &Email::parse("admin@contoso.com").unwrap()).await.unwrap();
    let form = [("Content-Type", "application/x-www-form-urlencoded")];
    let r = s.with_auth(None).send("POST", "/console/login", &form, Some(&format!("token={link}"))).await;
    assert_eq!(r.status, 303, "{}", r.text);
    r.header("set-cookie").unwrap().split(';').next().unwrap().to_owned()
}

async fn health(s: &TestServer, cookie: &str, key: &str) -> Value {
    let r = s.with_auth(None).send("GET", &format!("/console/keys/{key}/health"), &[("Cookie", cookie)], None).await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.json()
}

/// Waits (bounded) for the key's state: counts reach the database within
/// about a second of the request.
async fn wait_for(s: &TestServer, cookie: &str, key: &str, state: &str) -> Value {
    let mut last = Value::Null;
    for _ in 0..100 {
        last = health(s, cookie, key).await;
        if last["state"] == state {
            return last;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("{key} never became {state}: {last}");
}

async fn a_key_goes_from_waiting_to_healthy_to_failing_and_counts_every_request(s: &TestServer) {
    let cookie = sign_in(s).await;
    let keys = s.enlist.api_keys.list(&Caller::operator(&s.org_a)).await.unwrap();
    let key = keys[0].id.as_str().to_owned();
    assert_eq!(health(s, &cookie, &key).await["state"], "waiting");

    let a = s.a();
    assert_eq!(a.get("/scim/v2/Users?filter=userName%20eq%20%22nobody%40contoso.com%22").await.status, 200);
    let h = wait_for(s, &cookie, &key, "healthy").await;
    assert!(h["lastRequest"].is_string(), "{h}");

    let refused =
        a.post("/scim/v2/Users", &json!({"userName": "ana@contoso.com", "roles": [{"value": "Owner"}]})).await;
    assert_eq!(refused.status, 400);
    wait_for(s, &cookie, &key, "failing").await;
    // B's traffic is B's: it never reaches A's page.
    for _ in 0..3 {
        s.b().get("/scim/v2/Users").await;
    }
    let page = s.with_auth(None).send("GET", "/console/", &[("Cookie", &cookie)], None).await;
    assert_eq!(page.status, 200);
    assert!(page.text.contains("class=\"badge failing\""), "{}", page.text);
    // Activity is written in batches: wait (bounded) for the refusal.
    let mut text = page.text;
    for _ in 0..100 {
        if text.contains("Most frequent refusal") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        text = s.with_auth(None).send("GET", "/console/", &[("Cookie", &cookie)], None).await.text;
    }
    assert!(text.contains("2 requests, 1 refused"), "A's key only: {text}");
    assert!(text.contains("Most frequent refusal (1×)") && text.contains("Add the app role 'Owner'"), "{text}");

    assert_eq!(a.post("/scim/v2/Users", &json!({"userName": "bo@contoso.com"})).await.status, 201);
    wait_for(s, &cookie, &key, "healthy").await;
    // Another organization's key is not A's to read.
    let b_key = s.enlist.api_keys.list(&Caller::operator(&s.org_b)).await.unwrap()[0].id.as_str().to_owned();
    let r = s.with_auth(None).send("GET", &format!("/console/keys/{b_key}/health"), &[("Cookie", &cookie)], None).await;
    assert_eq!(r.status, 404);
}
on_both!(a_key_goes_from_waiting_to_healthy_to_failing_and_counts_every_request);
