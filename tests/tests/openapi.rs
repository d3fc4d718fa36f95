//! The OpenAPI description cannot drift: the server serves it at
//! `{base}/openapi.json`; `docs/openapi.json` is that document (rewrite it
//! with `ENLIST_UPDATE_OPENAPI=1 cargo nextest run -p enlist-tests --test
//! openapi`); and for every documented path the methods the server
//! accepts (its 405 `Allow` header) are exactly the documented ones, each of
//! which reaches its endpoint.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use enlist_tests::{on_both, TestServer};
use serde_json::{json, Value};
use std::collections::BTreeSet;

const BASE: &str = "/scim/v2";

async fn the_description_matches_the_routes_served(s: &TestServer) {
    let served = s.with_auth(None).get(&format!("{BASE}/openapi.json")).await;
    assert_eq!(served.status, 200, "served without a key");
    let doc: Value = served.json();
    assert_eq!(doc, enlist_actix::openapi::document(BASE));
    assert_eq!(doc["openapi"], "3.1.0");

    let docs_copy = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/openapi.json");
    let pretty = serde_json::to_string_pretty(&doc).unwrap() + "\n";
    if std::env::var_os("ENLIST_UPDATE_OPENAPI").is_some() {
        std::fs::write(docs_copy, &pretty).unwrap();
    }
    assert_eq!(
        std::fs::read_to_string(docs_copy).unwrap_or_default(),
        pretty,
        "docs/openapi.json is out of date: run ENLIST_UPDATE_OPENAPI=1 cargo nextest run -p enlist-tests --test openapi"
    );

    let a = s.a();
    let user = a.post(&format!("{BASE}/Users"), &json!({"userName": "o@contoso.com"})).await.json();
    let group = a.post(&format!("{BASE}/Groups"), &json!({"displayName": "O"})).await.json();
    for (path, item) in doc["paths"].as_object().unwrap() {
        let id = match path.as_str() {
            "/Users/{id}" => user["id"].as_str().unwrap().to_owned(),
            "/Groups/{id}" => group["id"].as_str().unwrap().to_owned(),
            "/ResourceTypes/{name}" => "User".to_owned(),
            _ => "urn:ietf:params:scim:schemas:core:2.0:User".to_owned(),
        };
        let url = format!("{BASE}{}", path.replace("{id}", &id).replace("{name}", &id));
        let documented: BTreeSet<String> =
            item.as_object().unwrap().keys().filter(|k| *k != "parameters").map(|k| k.to_ascii_uppercase()).collect();
        let refused = a.send("OPTIONS", &url, &[], None).await;
        assert_eq!(refused.status, 405, "{path}");
        let allowed: BTreeSet<String> =
            refused.header("allow").unwrap_or_default().split(',').map(|m| m.trim().to_owned()).collect();
        assert_eq!(allowed, documented, "[{:?}] {path}: served methods and documented methods differ", s.backend);
        for method in documented.iter().filter(|m| *m != "DELETE") {
            let body = match method.as_str() {
                "PATCH" => Some(json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [{"op": "replace", "path": "externalId", "value": "x"}]}).to_string()),
                "PUT" if path.starts_with("/Users") => Some(json!({"userName": "o@contoso.com"}).to_string()),
                "PUT" => Some(json!({"displayName": "O"}).to_string()),
                "POST" if path.ends_with(".search") => Some(json!({"filter": "id pr"}).to_string()),
                "POST" => None,
                _ => None,
            };
            if method == "POST" && body.is_none() {
                continue; // the creates ran above
            }
            let r = a.send(method, &url, &[], body.as_deref()).await;
            assert!(r.status < 300, "[{:?}] {method} {path}: {} {}", s.backend, r.status, r.text);
        }
    }
}
on_both!(the_description_matches_the_routes_served);
