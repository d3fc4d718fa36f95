//! Bad input on every route: the right status and scimType, a detail, and
//! nothing changed (read back to prove it). Credentials: 401/403.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use enlist_core::{Actor, Caller};
use enlist_tests::{on_both, TestServer};
use serde_json::json;

const U: &str = "/scim/v2/Users";
const G: &str = "/scim/v2/Groups";

async fn roster(s: &TestServer) -> String {
    let mut r = s.a().get(U).await.json();
    for x in r["Resources"].as_array_mut().unwrap() {
        x["meta"] = json!(null);
    }
    let g = s.a().get(G).await.json();
    format!("{r}{g}")
}

async fn malformed_bodies_change_nothing(s: &TestServer) {
    let u = s.a().post(U, &json!({"userName": "u@contoso.com"})).await.json();
    let up = format!("{U}/{}", u["id"].as_str().unwrap());
    let g = s.a().post(G, &json!({"displayName": "G"})).await.json();
    let gp = format!("{G}/{}", g["id"].as_str().unwrap());
    let before = roster(s).await;
    let a = s.a();
    for (method, path) in [
        ("POST", U.to_owned()),
        ("PUT", up.clone()),
        ("PATCH", up.clone()),
        ("POST", G.to_owned()),
        ("PUT", gp.clone()),
        ("PATCH", gp.clone()),
        ("POST", format!("{U}/.search")),
    ] {
        a.send(method, &path, &[], Some("{\"userName\": ")).await.scim_error(400, Some("invalidSyntax"));
        a.send(method, &path, &[], Some("[1,2]")).await.scim_error(400, Some("invalidSyntax"));
        a.send(method, &path, &[("Content-Type", "text/plain")], Some("{}")).await.scim_error(415, None);
        let deep = format!("{}1{}", "[".repeat(200), "]".repeat(200));
        a.send(method, &path, &[], Some(&deep)).await.scim_error(400, Some("invalidSyntax"));
        let huge = format!("{{\"userName\": \"{}\"}}", "x".repeat(70 * 1024));
        a.send_bytes(method, &path, &[], Some(huge.as_bytes())).await.scim_error(413, None);
        // Invalid UTF-8 inside a string, and as the whole body.
        let bad = b"{\"userName\": \"\xff\xfe@contoso.com\", \"displayName\": \"\xc3\x28\"}";
        a.send_bytes(method, &path, &[], Some(bad)).await.scim_error(400, Some("invalidSyntax"));
        a.send_bytes(method, &path, &[], Some(&[0xff, 0xfe, 0x00, 0x7b])).await.scim_error(400, Some("invalidSyntax"));
    }
    // Wrong types and invalid values.
    a.post(U, &json!({"userName": "v@contoso.com", "name": "Alice"})).await.scim_error(400, Some("invalidValue"));
    a.post(U, &json!({"userName": "v@contoso.com", "active": "maybe"})).await.scim_error(400, Some("invalidValue"));
    a.post(U, &json!({"userName": ""})).await.scim_error(400, Some("invalidValue"));
    a.post(U, &json!({"userName": "no-email"})).await.scim_error(400, Some("invalidValue"));
    a.post(U, &json!({"userName": "v@contoso.com", "emails": [{"value": "a@x.com", "primary": true}, {"value": "b@x.com", "primary": true}]})).await.scim_error(400, Some("invalidValue"));
    a.post(G, &json!({"externalId": "no name"})).await.scim_error(400, Some("invalidValue"));
    // Values the database cannot store or index are refused, not a 500.
    a.post(U, &json!({"userName": "nul@contoso.com", "title": "a\u{0}b"})).await.scim_error(400, Some("invalidValue"));
    a.post(U, &json!({"userName": "long@contoso.com", "displayName": "x".repeat(5000)}))
        .await
        .scim_error(400, Some("invalidValue"));
    a.post(G, &json!({"displayName": "g".repeat(5000)})).await.scim_error(400, Some("invalidValue"));
    a.post(G, &json!({"displayName": "g\u{0}"})).await.scim_error(400, Some("invalidValue"));
    a.patch(&gp, &json!([{"op": "add", "path": "members", "value": [{"value": "x\u{0}"}]}]))
        .await
        .scim_error(400, Some("invalidValue"));
    a.patch(&gp, &json!([{"op": "replace", "path": "displayName", "value": "x\u{0}"}]))
        .await
        .scim_error(400, Some("invalidValue"));
    a.get(&format!("{U}?filter=userName+eq+%22a%00b%22")).await.scim_error(400, Some("invalidFilter"));
    a.patch(&up, &json!([{"op": "move", "path": "title"}])).await.scim_error(400, Some("invalidSyntax"));
    a.patch(&up, &json!([{"op": "add", "path": "emails[type eq", "value": "x"}]))
        .await
        .scim_error(400, Some("invalidPath"));
    a.patch(&up, &json!([{"op": "add", "path": "phoneNumbers[type co \"x\"].value", "value": "1"}]))
        .await
        .scim_error(400, Some("noTarget"));
    a.patch(&up, &json!([{"op": "replace", "path": "userName", "value": ""}]))
        .await
        .scim_error(400, Some("invalidValue"));
    a.patch(&up, &json!([{"op": "replace", "path": "id", "value": "x"}])).await.scim_error(400, Some("mutability"));
    a.patch(&gp, &json!([{"op": "replace", "path": "displayName", "value": ""}]))
        .await
        .scim_error(400, Some("invalidValue"));
    // Bounded input: values per multi-valued attribute, operations per PATCH.
    let emails: Vec<_> = (0..101).map(|i| json!({"value": format!("e{i}@contoso.com")})).collect();
    a.post(U, &json!({"userName": "many@contoso.com", "emails": emails})).await.scim_error(400, Some("invalidValue"));
    let many: Vec<_> = (0..1_000).map(|i| json!({"value": format!("e{i}@contoso.com")})).collect();
    let t = std::time::Instant::now();
    a.patch(&up, &json!([{"op": "add", "path": "emails", "value": many}])).await.scim_error(400, Some("invalidValue"));
    assert!(t.elapsed() < std::time::Duration::from_secs(5), "refused in {:?}", t.elapsed());
    let ops: Vec<_> = (0..1001).map(|i| json!({"op": "replace", "path": "title", "value": format!("t{i}")})).collect();
    a.patch(&up, &json!(ops)).await.scim_error(400, Some("invalidValue"));
    assert_eq!(roster(s).await, before, "nothing changed");
    // Unknown schema URNs and attributes are not bad input.
    let r = a.post(U, &json!({"schemas": ["urn:bogus"], "userName": "w@contoso.com", "bogus": 1, "urn:ietf:params:scim:schemas:extension:Custom:2.0:User:x": "y"})).await;
    assert_eq!(r.status, 201, "{}", r.text);
    // A long certificate is stored and returned, just not filterable.
    let cert = "MII".to_owned() + &"A".repeat(4000);
    let r = a.post(U, &json!({"userName": "cert@contoso.com", "x509Certificates": [{"value": cert}]})).await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.json()["x509Certificates"][0]["value"].as_str().unwrap().len(), 4003);
}
on_both!(malformed_bodies_change_nothing);

async fn hostile_and_bad_queries(s: &TestServer) {
    let a = s.a();
    let d = a.get(&format!("{U}?filter=nope+eq+1")).await.scim_error(400, Some("invalidFilter"));
    assert!(d.contains("unknown attribute 'nope'"), "{d}");
    a.get(&format!("{U}?filter=userName+eq")).await.scim_error(400, Some("invalidFilter"));
    let deep = format!("{}title pr{}", "(".repeat(100), ")".repeat(100));
    a.get(&format!("{U}?filter={}", deep.replace(' ', "+"))).await.scim_error(400, Some("invalidFilter"));
    let long = "title+pr+and+".repeat(800) + "title+pr";
    a.get(&format!("{U}?filter={long}")).await.scim_error(400, Some("invalidFilter"));
    a.get(&format!("{U}?count=lots")).await.scim_error(400, Some("invalidValue"));
    // A broken query string is refused, never read as "no filter".
    // Broken URL encoding is never read as "no filter" (the whole roster).
    a.get(&format!("{U}?filter=userName%ZZeq%22x%22")).await.scim_error(400, Some("invalidFilter"));
    a.get(&format!("{U}?filter=%FF")).await.scim_error(400, Some("invalidFilter"));
    assert_eq!(a.get(&format!("{U}?filter=userName+eq+%22%FF%22")).await.json()["totalResults"], 0);
    a.get(&format!("{U}?sortBy=nope")).await.scim_error(400, Some("invalidValue"));
    a.get(&format!("{U}?cursor=not-a-cursor")).await.scim_error(400, Some("invalidFilter"));
    // Lenient paging.
    let r = a.get(&format!("{U}?startIndex=0&count=-5")).await.json();
    assert_eq!((r["startIndex"].clone(), r["itemsPerPage"].clone()), (json!(1), json!(0)));
    // Routes and methods.
    a.get("/scim/v2/Nope").await.scim_error(404, None);
    a.get("/nope").await.scim_error(404, None);
    let r = a.send("DELETE", U, &[], None).await;
    r.scim_error(405, None);
    assert!(r.header("allow").is_some());
    a.send("GET", U, &[("Accept", "text/html")], None).await.scim_error(406, None);
    assert_eq!(a.send("GET", U, &[("Accept", "application/scim+json; charset=utf-8")], None).await.status, 200);
}
on_both!(hostile_and_bad_queries);

async fn credentials(s: &TestServer) {
    let r = s.with_auth(None).get(U).await;
    r.scim_error(401, None);
    assert!(r.header("www-authenticate").unwrap().starts_with("Bearer"));
    s.with_auth(Some("Bearer nope")).get(U).await.scim_error(401, None);
    s.with_auth(Some("Basic dXNlcjpwYXNz")).get(U).await.scim_error(401, None);
    let wrong_secret = format!("Bearer {}x", s.key_a);
    s.with_auth(Some(&wrong_secret)).get(U).await.scim_error(401, None);
    let d = s.with_auth(Some(&format!("Bearer Bearer {}", s.key_a))).get(U).await.scim_error(401, None);
    assert!(d.contains("paste only the Enlist API key"), "{d}");
    // Scheme in any case, and Okta's bare key.
    assert_eq!(s.with_auth(Some(&format!("bearer {}", s.key_a))).get(U).await.status, 200);
    assert_eq!(s.with_auth(Some(&s.key_a)).get(U).await.status, 200);
    // SCIM switched off: 403; revoked key: 401 at once.
    let op = Caller { organization_id: s.org_b.clone(), actor: Actor::Operator };
    s.enlist.organizations.set_scim(&op, false).await.unwrap();
    let d = s.b().get(U).await.scim_error(403, None);
    assert!(d.contains("Enterprise add-on"), "{d}");
    s.enlist.organizations.set_scim(&op, true).await.unwrap();
    assert_eq!(s.b().get(U).await.status, 200);
    // Its last domain removed: SCIM off, and the answer names the fix.
    let fabrikam = enlist_core::DomainName::parse("fabrikam.com").unwrap();
    s.enlist.organizations.remove_domain(&op, fabrikam.clone()).await.unwrap();
    let d = s.b().get(U).await.scim_error(403, None);
    assert!(d.contains("no registered email domain") && d.contains("enlist domain add 'Fabrikam'"), "{d}");
    // Switching it back on needs a registered domain.
    let e = s.enlist.organizations.set_scim(&op, true).await.unwrap_err();
    assert!(e.to_string().contains("enlist domain add"), "{e}");
    s.enlist.organizations.add_domain(&op, fabrikam).await.unwrap();
    s.enlist.organizations.set_scim(&op, true).await.unwrap();
    assert_eq!(s.b().get(U).await.status, 200);
    let keys = s.enlist.api_keys.list(&op).await.unwrap();
    s.enlist.api_keys.revoke(&op, &keys[0].id).await.unwrap();
    assert!(s.b().get(U).await.scim_error(401, None).contains("revoked"));
}
on_both!(credentials);

/// Hostile ids and paths on every resource route and method: injection
/// attempts, traversal, NUL, invalid UTF-8, a huge id. Each gets a 4xx SCIM
/// error (never a 5xx), in bounded time, and nothing changes.
async fn hostile_ids_and_paths_change_nothing(s: &TestServer) {
    let u = s.a().post(U, &json!({"userName": "h@contoso.com"})).await.json();
    let g = s.a().post(G, &json!({"displayName": "H", "members": [{"value": u["id"]}]})).await.json();
    let before = roster(s).await;
    let a = s.a();
    let long = "x".repeat(10_000);
    let ids = [
        "'%20OR%201=1%20--",
        "1;DROP%20TABLE%20users",
        "%22)%20OR%20(%221%22=%221",
        "..%2F..%2Fetc%2Fpasswd",
        "%00",
        "%FF%FE",
        "%25",
        "*",
        long.as_str(),
    ];
    for base in [U, G] {
        for id in ids {
            let path = format!("{base}/{id}");
            for (method, body) in [
                ("GET", None),
                ("DELETE", None),
                ("PUT", Some(json!({"userName": "h2@contoso.com", "displayName": "H2"}).to_string())),
                (
                    "PATCH",
                    Some(
                        json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                               "Operations": [{"op": "replace", "path": "displayName", "value": "x"}]})
                        .to_string(),
                    ),
                ),
            ] {
                let t = std::time::Instant::now();
                let r = a.send(method, &path, &[], body.as_deref()).await;
                assert!((400..500).contains(&r.status), "[{:?}] {method} {path}: {} {}", s.backend, r.status, r.text);
                if !r.text.is_empty() {
                    assert!(r.json()["schemas"][0].as_str().is_some_and(|s| s.ends_with(":Error")), "{}", r.text);
                }
                assert!(t.elapsed() < std::time::Duration::from_secs(5), "{method} {path} took {:?}", t.elapsed());
            }
        }
    }
    // Injection attempts inside filter values are only values.
    for value in ["' OR '1'='1", "\\\" or \\\"1\\\"=\\\"1", "%", "_", "\\\\"] {
        let f = format!("userName eq \"{value}\" or displayName co \"{value}\"");
        let q = f.replace('%', "%25").replace(' ', "%20").replace('"', "%22").replace('\'', "%27").replace('\\', "%5C");
        let r = a.get(&format!("{U}?filter={q}")).await;
        assert!(r.status == 200 || r.status == 400, "[{:?}] {f}: {} {}", s.backend, r.status, r.text);
        if r.status == 200 {
            assert_eq!(r.json()["totalResults"], 0, "[{:?}] {f} matched", s.backend);
        }
    }
    let _ = g;
    assert_eq!(roster(s).await, before, "nothing changed");
}
on_both!(hostile_ids_and_paths_change_nothing);
