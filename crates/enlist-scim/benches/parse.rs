//! Parsing cost of what Entra sends most: a matching filter and a large
//! PATCH. Prints per-iteration times; parsing must stay far below the cost
//! of the database round trip (tens of microseconds or more).

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use enlist_core::schema::USER_RESOURCE;
use serde_json::json;

fn patch_20_ops() -> serde_json::Value {
    let mut ops = Vec::new();
    for i in 0..5 {
        ops.push(
            json!({"op": "Replace", "path": "emails[type eq \"work\"].value", "value": format!("a{i}@contoso.com")}),
        );
        ops.push(json!({"op": "Replace", "path": "name.familyName", "value": format!("Ng{i}")}));
        ops.push(json!({"op": "Add", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department", "value": "Retail"}));
        ops.push(
            json!({"op": "replace", "value": {"displayName": "Alice", "name.givenName": "Alice", "active": "True"}}),
        );
    }
    json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": ops})
}

fn bench(c: &mut Criterion) {
    c.bench_function("filter userName eq", |b| {
        b.iter(|| enlist_scim::parse_filter(&USER_RESOURCE, black_box(r#"userName eq "x@y.com""#)))
    });
    c.bench_function("filter entra email match", |b| {
        b.iter(|| {
            enlist_scim::parse_filter(
                &USER_RESOURCE,
                black_box(r#"emails[type eq "work"].value eq "alice@contoso.com""#),
            )
        })
    });
    let body = patch_20_ops();
    c.bench_function("patch 20 operations (parse)", |b| b.iter(|| enlist_scim::user_patch(black_box(&body), "u1")));
    let text = body.to_string();
    c.bench_function("patch 20 operations (JSON text + parse)", |b| {
        b.iter(|| {
            let v: serde_json::Value = serde_json::from_str(black_box(&text)).unwrap_or_default();
            enlist_scim::user_patch(&v, "u1")
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
