//! Races over a real socket, on both backends: concurrent requests give the
//! result of some serial order. One userName raced 32 times gives one
//! user; 32 member additions to one group all land; concurrent changes to
//! one user lose nothing and every write gets its own version; concurrent
//! demotions never remove the last active Admin.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use enlist_tests::{on_both, Response, TestServer};
use serde_json::json;

const U: &str = "/scim/v2/Users";
const G: &str = "/scim/v2/Groups";

/// Sends all at once and waits for every answer.
async fn together<F>(requests: Vec<F>) -> Vec<Response>
where
    F: std::future::Future<Output = Response> + 'static,
{
    let handles: Vec<_> = requests.into_iter().map(actix_web::rt::spawn).collect();
    let mut out = Vec::new();
    for h in handles {
        out.push(h.await.unwrap());
    }
    out
}

async fn one_user_name_raced_gives_one_user(s: &TestServer) {
    let body = json!({"userName": "race@contoso.com", "roles": [{"value": "Guest"}]});
    let answers = together(
        (0..32)
            .map(|_| {
                let (a, body) = (s.a(), body.clone());
                async move { a.post(U, &body).await }
            })
            .collect(),
    )
    .await;
    let created = answers.iter().filter(|r| r.status == 201).count();
    assert_eq!(created, 1, "[{:?}] statuses {:?}", s.backend, answers.iter().map(|r| r.status).collect::<Vec<_>>());
    for r in answers.iter().filter(|r| r.status != 201) {
        r.scim_error(409, Some("uniqueness"));
    }
    let found = s.a().get(&format!("{U}?filter=userName%20eq%20%22race%40contoso.com%22")).await.json();
    assert_eq!(found["totalResults"], 1);
}
on_both!(one_user_name_raced_gives_one_user);

/// One person provisioned by two organizations at once: each organization
/// gets one membership, and both link to one account (the account's
/// insert races across organizations; a loser runs again and links).
async fn one_person_raced_by_two_organizations_gets_one_account(s: &TestServer) {
    let answers = together(
        (0..16)
            .map(|i| {
                let c = if i % 2 == 0 { s.a() } else { s.b() };
                let body = json!({"userName": "shared@fabrikam.com", "roles": [{"value": "Guest"}]});
                async move { c.post(U, &body).await }
            })
            .collect(),
    )
    .await;
    let created: Vec<&Response> = answers.iter().filter(|r| r.status == 201).collect();
    assert_eq!(
        created.len(),
        2,
        "[{:?}] one per organization: {:?}",
        s.backend,
        answers.iter().map(|r| (r.status, r.text.clone())).collect::<Vec<_>>()
    );
    for r in answers.iter().filter(|r| r.status != 201) {
        r.scim_error(409, Some("uniqueness"));
    }
    let email = enlist_core::types::Email::parse("shared@fabrikam.com").unwrap();
    let mut accounts = Vec::new();
    for org in [&s.org_a, &s.org_b] {
        let op = enlist_core::Caller { organization_id: org.clone(), actor: enlist_core::Actor::Operator };
        accounts.push(s.enlist.users.by_email(&op, &email).await.unwrap().user.account_id);
    }
    assert_eq!(accounts[0], accounts[1], "[{:?}] one account for one email", s.backend);
}
on_both!(one_person_raced_by_two_organizations_gets_one_account);

async fn concurrent_member_additions_all_land(s: &TestServer) {
    let mut ids = Vec::new();
    for i in 0..32 {
        let r = s.a().post(U, &json!({"userName": format!("m{i}@contoso.com")})).await;
        assert_eq!(r.status, 201, "{}", r.text);
        ids.push(r.json()["id"].as_str().unwrap().to_owned());
    }
    let g = s.a().post(G, &json!({"displayName": "Raced"})).await.json();
    let gp = format!("{G}/{}", g["id"].as_str().unwrap());
    let answers = together(
        ids.iter()
            .map(|id| {
                let (a, gp, id) = (s.a(), gp.clone(), id.clone());
                async move { a.patch(&gp, &json!([{"op": "add", "path": "members", "value": [{"value": id}]}])).await }
            })
            .collect(),
    )
    .await;
    assert!(
        answers.iter().all(|r| r.status == 204 || r.status == 200),
        "{:?}",
        answers.iter().map(|r| r.status).collect::<Vec<_>>()
    );
    let members = s.a().get(&gp).await.json()["members"].as_array().cloned().unwrap_or_default();
    let mut got: Vec<String> = members.iter().map(|m| m["value"].as_str().unwrap().to_owned()).collect();
    got.sort();
    ids.sort();
    assert_eq!(got, ids, "[{:?}] every concurrent addition is a member", s.backend);
}
on_both!(concurrent_member_additions_all_land);

/// `If-Match` on a member-only PATCH holds atomically: of 16 changes sent
/// at once with the same version, one is saved and the others get 412
/// (on PostgreSQL they all passed the check and were all saved).
async fn one_version_is_changed_once_under_if_match(s: &TestServer) {
    let mut ids = Vec::new();
    for i in 0..16 {
        let r = s.a().post(U, &json!({"userName": format!("v{i}@contoso.com")})).await;
        ids.push(r.json()["id"].as_str().unwrap().to_owned());
    }
    let g = s.a().post(G, &json!({"displayName": "Versioned"})).await;
    let etag = g.header("etag").unwrap().to_owned();
    let gp = format!("{G}/{}", g.json()["id"].as_str().unwrap());
    let answers = together(
        ids.iter()
            .map(|id| {
                let (a, gp, etag) = (s.a(), gp.clone(), etag.clone());
                let body = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                    "Operations": [{"op": "add", "path": "members", "value": [{"value": id}]}]})
                .to_string();
                async move { a.send("PATCH", &gp, &[("If-Match", etag.as_str())], Some(&body)).await }
            })
            .collect(),
    )
    .await;
    let statuses: Vec<u16> = answers.iter().map(|r| r.status).collect();
    let saved = statuses.iter().filter(|s| **s == 200 || **s == 204).count();
    assert_eq!(saved, 1, "[{:?}] {statuses:?}", s.backend);
    assert!(statuses.iter().all(|s| [200, 204, 412].contains(s)), "[{:?}] {statuses:?}", s.backend);
    let members = s.a().get(&gp).await.json()["members"].as_array().cloned().unwrap_or_default();
    assert_eq!(members.len(), 1, "[{:?}] only the saved change landed", s.backend);
}
on_both!(one_version_is_changed_once_under_if_match);

async fn concurrent_changes_to_one_user_lose_nothing(s: &TestServer) {
    let u = s.a().post(U, &json!({"userName": "busy@contoso.com"})).await.json();
    let up = format!("{U}/{}", u["id"].as_str().unwrap());
    let answers = together(
        (0..16)
            .map(|i| {
                let (a, up) = (s.a(), up.clone());
                async move {
                    a.patch(&up, &json!([{"op": "add", "path": "phoneNumbers", "value": [{"type": "work", "value": format!("+1 555 01{i:02}")}]}]))
                        .await
                }
            })
            .collect(),
    )
    .await;
    let mut versions: Vec<String> = answers
        .iter()
        .map(|r| {
            assert_eq!(r.status, 200, "{}", r.text);
            r.json()["meta"]["version"].as_str().unwrap().to_owned()
        })
        .collect();
    versions.sort();
    versions.dedup();
    assert_eq!(versions.len(), 16, "[{:?}] every write has its own version", s.backend);
    let last = s.a().get(&up).await.json();
    let phones = last["phoneNumbers"].as_array().cloned().unwrap_or_default();
    assert_eq!(phones.len(), 16, "[{:?}] no lost update: {phones:?}", s.backend);
    assert!(!versions.contains(&u["meta"]["version"].as_str().unwrap().to_owned()));
}
on_both!(concurrent_changes_to_one_user_lose_nothing);

async fn concurrent_demotions_keep_an_active_admin(s: &TestServer) {
    for name in ["ad1", "ad2", "ad3"] {
        let r = s.a().post(U, &json!({"userName": format!("{name}@contoso.com"), "roles": [{"value": "Admin"}]})).await;
        assert_eq!(r.status, 201, "{}", r.text);
    }
    let admins = s
        .a()
        .get(&format!(
            "{U}?filter={}",
            "urn:ietf:params:scim:schemas:extension:enlist:2.0:User:effectiveRole%20eq%20%22Admin%22"
        ))
        .await
        .json();
    let ids: Vec<String> =
        admins["Resources"].as_array().unwrap().iter().map(|u| u["id"].as_str().unwrap().to_owned()).collect();
    assert!(ids.len() >= 3);
    let answers = together(
        ids.iter()
            .map(|id| {
                let (a, path) = (s.a(), format!("{U}/{id}"));
                async move { a.patch(&path, &json!([{"op": "replace", "path": "active", "value": "False"}])).await }
            })
            .collect(),
    )
    .await;
    let refused: Vec<&Response> = answers.iter().filter(|r| r.status != 200).collect();
    assert_eq!(refused.len(), 1, "[{:?}] exactly the last one is refused", s.backend);
    assert!(refused[0].scim_error(409, None).contains("last active Admin"));
    let left = s
        .a()
        .get(&format!(
            "{U}?filter={}%20and%20active%20eq%20true",
            "urn:ietf:params:scim:schemas:extension:enlist:2.0:User:effectiveRole%20eq%20%22Admin%22"
        ))
        .await
        .json();
    assert_eq!(left["totalResults"], 1, "[{:?}] one active Admin remains", s.backend);
}
on_both!(concurrent_demotions_keep_an_active_admin);

/// The same races with a second server process over the same database
/// (what two `enlist serve` behind one load balancer share): requests
/// alternate between the two.
async fn races_across_two_processes(s: &TestServer) {
    let second = s.second_process().await;
    let addr2 = second.addr.clone();
    let auth = format!("Bearer {}", s.key_a);
    let clients = [s.a(), enlist_tests::Client::new(&addr2, Some(&auth))];
    let body = json!({"userName": "twice@contoso.com"});
    let answers = together(
        (0..32)
            .map(|i| {
                let (c, body) = (clients[i % 2].clone(), body.clone());
                async move { c.post(U, &body).await }
            })
            .collect(),
    )
    .await;
    assert_eq!(
        answers.iter().filter(|r| r.status == 201).count(),
        1,
        "[{:?}] one create across two processes",
        s.backend
    );

    // Concurrent changes to one user through both processes lose nothing.
    let u = clients[0].post(U, &json!({"userName": "both@contoso.com"})).await.json();
    let up = format!("{U}/{}", u["id"].as_str().unwrap());
    let answers = together(
        (0..12)
            .map(|i| {
                let (c, up) = (clients[i % 2].clone(), up.clone());
                async move {
                    c.patch(&up, &json!([{"op": "add", "path": "phoneNumbers", "value": [{"type": "work", "value": format!("+1 555 02{i:02}")}]}]))
                        .await
                }
            })
            .collect(),
    )
    .await;
    assert!(
        answers.iter().all(|r| r.status == 200),
        "{:?}",
        answers.iter().map(|r| (r.status, r.text.clone())).collect::<Vec<_>>()
    );
    let phones = clients[1].get(&up).await.json()["phoneNumbers"].as_array().cloned().unwrap_or_default();
    assert_eq!(phones.len(), 12, "[{:?}] no lost update across processes", s.backend);

    for name in ["x1", "x2", "x3", "x4"] {
        let r = clients[0]
            .post(U, &json!({"userName": format!("{name}@contoso.com"), "roles": [{"value": "Admin"}]}))
            .await;
        assert_eq!(r.status, 201, "{}", r.text);
    }
    let admins = clients[0]
        .get(&format!(
            "{U}?filter=urn:ietf:params:scim:schemas:extension:enlist:2.0:User:effectiveRole%20eq%20%22Admin%22"
        ))
        .await
        .json();
    let ids: Vec<String> =
        admins["Resources"].as_array().unwrap().iter().map(|u| u["id"].as_str().unwrap().to_owned()).collect();
    let answers = together(
        ids.iter()
            .enumerate()
            .map(|(i, id)| {
                let (c, path) = (clients[i % 2].clone(), format!("{U}/{id}"));
                async move {
                    c.patch(&path, &json!([{"op": "replace", "path": "roles", "value": [{"value": "Guest"}]}])).await
                }
            })
            .collect(),
    )
    .await;
    assert_eq!(
        answers.iter().filter(|r| r.status != 200).count(),
        1,
        "[{:?}] the last Admin holds across processes",
        s.backend
    );
    let left = clients[1]
        .get(&format!(
            "{U}?filter=urn:ietf:params:scim:schemas:extension:enlist:2.0:User:effectiveRole%20eq%20%22Admin%22"
        ))
        .await
        .json();
    assert_eq!(left["totalResults"], 1);
    second.stop().await;
}
on_both!(races_across_two_processes);
