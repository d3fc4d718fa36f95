//! Okta's flows (`okta.md` §2), over HTTP, on both backends.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use enlist_tests::{on_both, TestServer};
use serde_json::json;

const U: &str = "/scim/v2/Users";
const G: &str = "/scim/v2/Groups";

async fn okta_user_lifecycle(s: &TestServer) {
    let b = s.b();
    // Test API Credentials on an organization with only its owner.
    let r = b.get(&format!("{U}?startIndex=1&count=2")).await.json();
    assert_eq!(r["totalResults"], 1);
    let create = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "test.user@okta.local",
        "name": {"givenName": "Test", "familyName": "User"}, "emails": [{"primary": true, "value": "test.user@okta.local", "type": "work"}],
        "displayName": "Test User", "locale": "en-US", "externalId": "00ujl29u0le5T6Aj10h7",
        "roles": [{"primary": true, "value": "FullMember"}], "groups": [], "password": "1mz050nq", "active": true});
    let r = b.post(U, &create).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let u = r.json();
    let path = format!("{U}/{}", u["id"].as_str().unwrap());
    let q =
        b.get(&format!("{U}?filter=userName%20eq%20%22test.user%40okta.local%22&startIndex=1&count=100")).await.json();
    assert_eq!(q["totalResults"], 1);
    // PUT: GET, then the whole object back with changes; echoes ignored.
    let mut put = b.get(&path).await.json();
    put["name"] = json!({"givenName": "Another", "middleName": "Excited", "familyName": "User"});
    put["roles"] = json!([{"primary": true, "value": "Admin"}]);
    put["urn:ietf:params:scim:schemas:extension:enlist:2.0:User"] =
        json!({"effectiveRole": "Guest", "roleSource": "default"});
    put.as_object_mut().unwrap().remove("locale");
    let r = b.put(&path, &put).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let after = r.json();
    assert_eq!(after["urn:ietf:params:scim:schemas:extension:enlist:2.0:User"]["effectiveRole"], "Admin");
    assert!(after.get("locale").is_none(), "a PUT clears what it omits");
    assert_eq!(after["name"]["middleName"], "Excited");
    // A PUT that changes nothing writes nothing (same version).
    let again = b.put(&path, &after).await.json();
    assert_eq!(again["meta"]["version"], after["meta"]["version"]);
    // A PUT without active keeps it.
    let mut partial = after.clone();
    partial.as_object_mut().unwrap().remove("active");
    assert_eq!(b.put(&path, &partial).await.json()["active"], true);
    // Deactivate (no-path PATCH), reactivate; roles and groups kept.
    let r = b.patch(&path, &json!([{"op": "replace", "value": {"active": false}}])).await;
    assert_eq!((r.status, r.json()["active"].clone()), (200, json!(false)));
    let r = b.patch(&path, &json!([{"op": "replace", "value": {"active": true}}])).await.json();
    assert_eq!(r["roles"], json!([{"primary": true, "value": "Admin"}]));
    // Password sync attempts are refused.
    let d = b
        .patch(&path, &json!([{"op": "replace", "value": {"password": "Xk4!vQ9e2rLm"}}]))
        .await
        .scim_error(400, Some("mutability"));
    assert!(d.contains("Sync Password"), "{d}");
    // Imports walk pages in a stable order, integers everywhere.
    for i in 0..4 {
        b.post(U, &json!({"userName": format!("bulk{i}@okta.local")})).await;
    }
    let mut seen = Vec::new();
    let mut start = 1;
    loop {
        let p = b.get(&format!("{U}?startIndex={start}&count=2")).await.json();
        assert!(p["totalResults"].is_u64() && p["startIndex"].is_u64() && p["itemsPerPage"].is_u64());
        let items = p["Resources"].as_array().unwrap().clone();
        seen.extend(items.iter().map(|x| x["userName"].as_str().unwrap().to_owned()));
        start += 2;
        if start > p["totalResults"].as_u64().unwrap() {
            break;
        }
    }
    assert_eq!(seen.len(), 6);
    let mut dedup = seen.clone();
    dedup.sort();
    dedup.dedup();
    assert_eq!(dedup.len(), 6, "each user exactly once: {seen:?}");
}
on_both!(okta_user_lifecycle);

async fn okta_group_push(s: &TestServer) {
    let b = s.b();
    let u1 = b.post(U, &json!({"userName": "one@okta.local"})).await.json()["id"].as_str().unwrap().to_owned();
    let u2 = b.post(U, &json!({"userName": "two@okta.local"})).await.json()["id"].as_str().unwrap().to_owned();
    let g = b.post(G, &json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "Test SCIMv2", "members": []})).await;
    assert_eq!(g.status, 201);
    let g = g.json();
    let gid = g["id"].as_str().unwrap().to_owned();
    let gp = format!("{G}/{gid}");
    let d = b.post(G, &json!({"displayName": "test scimv2", "members": []})).await.scim_error(409, Some("uniqueness"));
    assert!(d.contains("Link the existing group"), "{d}");
    // Name replace with id (unchanged), then membership update.
    assert_eq!(
        b.patch(&gp, &json!([{"op": "replace", "value": {"id": gid, "displayName": "Test SCIMv2"}}])).await.status,
        204
    );
    let v1 = b.get(&gp).await.json()["meta"]["version"].clone();
    assert_eq!(v1, g["meta"]["version"], "an unchanged name writes nothing");
    let r = b
        .patch(
            &gp,
            &json!([
                {"op": "remove", "path": format!("members[value eq \"{u2}\"]")},
                {"op": "add", "path": "members", "value": [{"value": u1, "display": "one@okta.local"}]}
            ]),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.text);
    // Full push.
    assert_eq!(
        b.patch(&gp, &json!([{"op": "replace", "path": "members", "value": [{"value": u2, "display": "x"}]}]))
            .await
            .status,
        204
    );
    let m = b.get(&gp).await.json()["members"].clone();
    assert_eq!(m, json!([{"value": u2, "$ref": m[0]["$ref"], "display": "two@okta.local", "type": "User"}]));
    // AIW PUT: name and members; without members, membership stays.
    let r = b.put(&gp, &json!({"displayName": "Renamed", "members": [{"value": u1}, {"value": u2}]})).await;
    assert_eq!((r.status, r.json()["members"].as_array().unwrap().len()), (200, 2));
    let r = b.put(&gp, &json!({"displayName": "Renamed again"})).await;
    assert_eq!(r.json()["members"].as_array().unwrap().len(), 2);
    // Another id in the no-path replace: refused.
    b.patch(&gp, &json!([{"op": "replace", "value": {"id": "other", "displayName": "x"}}]))
        .await
        .scim_error(400, Some("mutability"));
    assert_eq!(b.delete(&gp).await.status, 204);
}
on_both!(okta_group_push);
