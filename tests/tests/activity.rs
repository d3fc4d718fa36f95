//! The activity log an admin reads when the identity provider reports an
//! error: a refused request is recorded with the exact error it got, what
//! was sent (never a password), the key's label and the request id;
//! successful changes are recorded, successful reads only counted; another
//! organization's activity is never mixed in. Both backends.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use enlist_core::ports::ActivityLog;
use enlist_core::{ActivityQuery, ActivityRecord};
use enlist_tests::{on_both, TestServer};
use serde_json::json;

async fn activity_of(
    s: &TestServer,
    org: &enlist_core::OrganizationId,
    q: ActivityQuery,
    n: usize,
) -> Vec<ActivityRecord> {
    // Recording is asynchronous by design: wait (bounded) for the writer.
    for _ in 0..100 {
        let got = s.database().list(org, q.clone()).await.unwrap();
        if got.len() >= n {
            return got;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    s.database().list(org, q).await.unwrap()
}

async fn a_refused_request_is_recorded_with_the_error_the_idp_got(s: &TestServer) {
    let a = s.a();
    let refused = a
        .post(
            "/scim/v2/Users",
            &json!({"userName": "ana@contoso.com", "password": "Hunter2!", "roles": [{"value": "Owner"}]}),
        )
        .await;
    let detail = refused.scim_error(400, Some("invalidValue"));
    let created = a.post("/scim/v2/Users", &json!({"userName": "bo@contoso.com"})).await;
    assert_eq!(created.status, 201);
    let bo = created.json()["id"].as_str().unwrap().to_owned();
    assert_eq!(a.get("/scim/v2/Users").await.status, 200);
    assert_eq!(a.get("/scim/v2/Users/nope").await.status, 404);
    s.b().post("/scim/v2/Users", &json!({"userName": "x@fabrikam.com", "roles": [{"value": "Owner"}]})).await;

    let all = activity_of(s, &s.org_a, ActivityQuery { limit: 100, ..ActivityQuery::default() }, 3).await;
    let routes: Vec<(String, &str, u16)> = all.iter().map(|r| (r.method.clone(), r.route.as_str(), r.status)).collect();
    // Newest first: the refused read, the create, the refusal; not the list.
    assert_eq!(
        routes,
        [("GET".into(), "/Users/{id}", 404), ("POST".into(), "/Users", 201), ("POST".into(), "/Users", 400)],
        "[{:?}]",
        s.backend
    );
    let r = &all[2];
    assert_eq!(r.detail.as_deref(), Some(detail.as_str()), "the exact detail Entra received");
    assert_eq!(r.scim_type.as_deref(), Some("invalidValue"));
    assert_eq!((r.key_label.as_str(), r.subject.as_deref()), ("Entra ID provisioning", Some("ana@contoso.com")));
    assert!(r.summary.contains("Owner") && !r.summary.contains("Hunter2!"), "{}", r.summary);
    assert_eq!(refused.header("x-request-id"), Some(r.request_id.as_str()));
    assert_eq!(all[1].resource_id.as_deref(), Some(bo.as_str()), "a create records the new id");
    assert_eq!(all[0].resource_id.as_deref(), Some("nope"));

    // Filters: refused only, by person; B's never appear in A's.
    let failed =
        activity_of(s, &s.org_a, ActivityQuery { failed_only: true, limit: 100, ..ActivityQuery::default() }, 2).await;
    assert_eq!(failed.len(), 2);
    let ana = ActivityQuery { subject: Some("ANA@contoso.com".into()), limit: 10, ..ActivityQuery::default() };
    assert_eq!(activity_of(s, &s.org_a, ana, 1).await.len(), 1);
    assert!(all.iter().all(|r| r.organization_id == s.org_a));
    let b = activity_of(s, &s.org_b, ActivityQuery { limit: 10, ..ActivityQuery::default() }, 1).await;
    assert_eq!((b.len(), b[0].key_label.as_str()), (1, "Okta"));
}
on_both!(a_refused_request_is_recorded_with_the_error_the_idp_got);

/// A real key refused (SCIM switched off, then the key revoked) is
/// recorded for its organization; a made-up token is not anyone's.
async fn refused_keys_are_attributed_to_their_organization(s: &TestServer) {
    use enlist_core::{Actor, Caller};
    let op = Caller { organization_id: s.org_b.clone(), actor: Actor::Operator };
    s.enlist.organizations.set_scim(&op, false).await.unwrap();
    s.b().get("/scim/v2/Users").await.scim_error(403, None);
    s.enlist.organizations.add_domain(&op, enlist_core::DomainName::parse("fabrikam.com").unwrap()).await.unwrap();
    s.enlist.organizations.set_scim(&op, true).await.unwrap();
    let keys = s.enlist.api_keys.list(&op).await.unwrap();
    s.enlist.api_keys.revoke(&op, &keys[0].id).await.unwrap();
    s.b().get("/scim/v2/Users").await.scim_error(401, None);
    s.with_auth(Some("Bearer enlist_nobody.nothing")).get("/scim/v2/Users").await.scim_error(401, None);
    let got =
        activity_of(s, &s.org_b, ActivityQuery { failed_only: true, limit: 10, ..ActivityQuery::default() }, 2).await;
    let seen: Vec<(u16, bool)> =
        got.iter().map(|r| (r.status, r.detail.as_deref().unwrap_or_default().contains("revoked"))).collect();
    assert_eq!(seen, [(401, true), (403, false)], "[{:?}] {got:?}", s.backend);
    assert!(got.iter().all(|r| r.key_label == "Okta"));
    let a = activity_of(s, &s.org_a, ActivityQuery { limit: 10, ..ActivityQuery::default() }, 0).await;
    assert!(a.is_empty(), "a made-up token is recorded for no one: {a:?}");
}
on_both!(refused_keys_are_attributed_to_their_organization);

/// A body refused before routing (too large) is recorded for the key's
/// organization, under its route, with the detail the client got; with a
/// made-up token it is recorded for no one.
async fn a_refused_body_is_recorded_for_the_keys_organization(s: &TestServer) {
    let big = format!(r#"{{"userName": "big@contoso.com", "title": "{}"}}"#, "x".repeat(70 * 1024));
    let refused = s.a().send_bytes("POST", "/scim/v2/Users", &[], Some(big.as_bytes())).await;
    let detail = refused.scim_error(413, None);
    let anyone = s.with_auth(Some("Bearer enlist_nobody.nothing"));
    anyone.send_bytes("POST", "/scim/v2/Users", &[], Some(big.as_bytes())).await.scim_error(401, None); // the key is checked before the body
    let got =
        activity_of(s, &s.org_a, ActivityQuery { failed_only: true, limit: 10, ..ActivityQuery::default() }, 1).await;
    let seen: Vec<(&str, &str, u16)> = got.iter().map(|r| (r.method.as_str(), r.route.as_str(), r.status)).collect();
    assert_eq!(seen, [("POST", "/Users", 413)], "[{:?}] {got:?}", s.backend);
    assert_eq!(got[0].detail.as_deref(), Some(detail.as_str()));
    assert_eq!(got[0].key_label, "Entra ID provisioning");
    assert_eq!(refused.header("x-request-id"), Some(got[0].request_id.as_str()));
    let b = activity_of(s, &s.org_b, ActivityQuery { limit: 10, ..ActivityQuery::default() }, 0).await;
    assert!(b.is_empty(), "a made-up token is recorded for no one: {b:?}");
}
on_both!(a_refused_body_is_recorded_for_the_keys_organization);

/// A client's oversized texts are stored cut to their caps, and a password
/// in any casing or shape the PATCH parser takes is never stored.
async fn hostile_texts_are_capped_and_passwords_never_stored(s: &TestServer) {
    let a = s.a();
    let huge = format!("{}@contoso.com", "u".repeat(60_000));
    a.post("/scim/v2/Users", &json!({"userName": huge})).await.scim_error(400, Some("invalidValue"));
    let g = a.post("/scim/v2/Groups", &json!({"displayName": "Sales"})).await.json();
    let ids: Vec<_> = (0..1000).map(|i| json!({"value": format!("no-such-user-{i:04}-{}", "z".repeat(20))})).collect();
    let path = format!("/scim/v2/Groups/{}", g["id"].as_str().unwrap());
    a.patch(&path, &json!([{"op": "add", "path": "members", "value": ids}]))
        .await
        .scim_error(400, Some("invalidValue"));
    let u = a.post("/scim/v2/Users", &json!({"userName": "ana@contoso.com"})).await.json();
    let user = format!("/scim/v2/Users/{}", u["id"].as_str().unwrap());
    let shapes = [
        json!({"OPERATIONS": [{"Op": "Replace", "Path": "PASSWORD", "Value": "pw-one"}]}),
        json!({"operations": [{"op": "replace", "path": "password", "value": "pw-two"}]}),
        json!({"Operations": [{"op": "replace", "value": {"PASSWORD": "pw-three"}}]}),
        json!({"Operations": [{"op": "replace", "path": "urn:ietf:params:scim:schemas:core:2.0:User:Password", "value": "pw-four"}]}),
    ];
    for body in &shapes {
        // Refused (mutability, or invalidSyntax for the upper-case member).
        let mut body = body.clone();
        body["schemas"] = json!(["urn:ietf:params:scim:api:messages:2.0:PatchOp"]);
        assert_eq!(a.send("PATCH", &user, &[], Some(&body.to_string())).await.status, 400, "{body}");
    }
    let all = activity_of(s, &s.org_a, ActivityQuery { limit: 100, ..ActivityQuery::default() }, 8).await;
    assert_eq!(all.len(), 8, "[{:?}]", s.backend);
    for r in &all {
        assert!(r.stored_bytes() < 6 * 1024, "[{:?}] {} bytes: {r:?}", s.backend, r.stored_bytes());
        for pw in ["pw-one", "pw-two", "pw-three", "pw-four"] {
            assert!(!r.summary.contains(pw), "[{:?}] {pw} stored: {}", s.backend, r.summary);
        }
    }
    let long = all.iter().find(|r| r.subject.as_deref().is_some_and(|x| x.starts_with("uuu"))).unwrap();
    assert!(long.subject.as_ref().unwrap().len() <= ActivityRecord::MAX_SUBJECT_BYTES);
    let members = all.iter().find(|r| r.route == "/Groups/{id}").unwrap();
    assert!(members.detail.as_ref().unwrap().len() <= ActivityRecord::MAX_DETAIL_BYTES, "{members:?}");
}
on_both!(hostile_texts_are_capped_and_passwords_never_stored);
