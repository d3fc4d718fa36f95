//! The deprovisioning guard over HTTP, as Entra ID meets it, on both
//! backends and across two server processes: a run that deactivates 60 of
//! 100 members stops at the limit with 429 and `Retry-After`, everything
//! else goes on, the trip is in the activity log, the change events and
//! the Admins' mail, and an approval lets the retries through.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use enlist_core::event::EventKind;
use enlist_core::ports::{ActivityLog, OutboxQueue};
use enlist_core::{ActivityQuery, Caller, NotificationKind};
use enlist_tests::{on_both, Client, TestServer};
use serde_json::json;

const U: &str = "/scim/v2/Users";

/// Entra ID's deactivation (with `?aadOptscim062020`: a boolean); the
/// client wraps the operations in a PatchOp body.
fn disable() -> serde_json::Value {
    json!([{"op": "Replace", "path": "active", "value": false}])
}

async fn deactivating_most_of_an_organization_stops_at_the_guard(s: &TestServer) {
    let a = s.a();
    let mut ids = Vec::new();
    for i in 0..99 {
        let body = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "externalId": format!("e{i}"),
            "userName": format!("person{i}@contoso.com"), "active": true,
            "emails": [{"primary": true, "type": "work", "value": format!("person{i}@contoso.com")}],
            "roles": [{"primary": "True", "type": "WindowsAzureActiveDirectoryRole", "value": "FullMember"}]});
        let r = a.post(U, &body).await;
        assert_eq!(r.status, 201, "{}", r.text);
        ids.push(r.json()["id"].as_str().unwrap().to_owned());
    }
    // 60 deactivations, split over two processes and sent at once.
    let second = s.second_process().await;
    let addr2 = second.addr.clone();
    let other = Client::new(&addr2, Some(&format!("Bearer {}", s.key_a)));
    let sends: Vec<_> = ids[..60]
        .iter()
        .enumerate()
        .map(|(i, id)| {
            let c = if i % 2 == 0 { s.a() } else { other.clone() };
            let path = format!("{U}/{id}");
            tokio::spawn(async move { c.patch(&path, &disable()).await })
        })
        .collect();
    let mut held = Vec::new();
    let mut applied = 0;
    for (i, t) in sends.into_iter().enumerate() {
        let r = t.await.unwrap();
        match r.status {
            200 => applied += 1,
            429 => {
                assert_eq!(r.header("retry-after"), Some("600"), "Okta retries a 429 by itself only with it");
                let detail = r.scim_error(429, None);
                assert!(detail.contains("deprovisioning guard") && detail.contains("Nothing was changed"), "{detail}");
                held.push(ids[i].clone());
            }
            other => panic!("{other}: {}", r.text),
        }
    }
    assert_eq!((applied, held.len()), (10, 50), "10 % of 100 members (the floor is 10 too)");
    let page = a.get(&format!("{U}?filter=active%20eq%20true&count=1")).await.json();
    assert_eq!(page["totalResults"], 90);

    // Everything else goes on: a create, an update, a reactivation.
    assert_eq!(a.post(U, &json!({"userName": "new@contoso.com"})).await.status, 201);
    let title = json!([{"op": "Replace", "path": "title", "value": "Lead"}]);
    assert_eq!(a.patch(&format!("{U}/{}", ids[80]), &title).await.status, 200);
    let on = json!([{"op": "Replace", "path": "active", "value": true}]);
    let first_applied = ids[..60].iter().find(|id| !held.contains(id)).unwrap();
    assert_eq!(a.patch(&format!("{U}/{first_applied}"), &on).await.status, 200);

    // The trip is visible: one event, one alert per Admin, and every
    // refused request in the activity log with what the IdP was told.
    let op = Caller::operator(&s.org_a);
    let events = s.enlist.events.list(&op, 0, 1000).await.unwrap();
    assert_eq!(events.iter().filter(|e| e.kind == EventKind::OrganizationDeprovisioningHeld).count(), 1);
    let far = chrono::DateTime::from_timestamp(4_000_000_000, 0).unwrap();
    let due = s.database().due(far, 500).await.unwrap();
    let alerts: Vec<_> = due.iter().filter(|q| q.notification.kind != NotificationKind::Added).collect();
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0].notification.recipient, "admin@contoso.com");
    let q = ActivityQuery { failed_only: true, limit: 100, ..ActivityQuery::default() };
    let mut refused = Vec::new();
    for _ in 0..100 {
        refused = s.database().list(&s.org_a, q.clone()).await.unwrap();
        if refused.len() >= 50 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let recorded: Vec<_> = refused.iter().filter(|r| r.status == 429).collect();
    assert_eq!(recorded.len(), 50, "every refused request, from both processes");
    assert!(recorded[0].detail.as_deref().unwrap_or_default().contains("approves them in the Enlist console"));

    // The operator's alert: a gauge across processes, the 429s per process.
    let metrics = s.with_auth(None).get("/metrics").await.text;
    assert!(metrics.contains("enlist_deprovisioning_held_organizations 1"), "{metrics}");
    assert!(metrics.contains("status=\"429\""), "{metrics}");

    // The Admin approves; Entra ID's retries apply.
    assert_eq!(s.enlist.guard.approve(&op).await.unwrap(), 50);
    let metrics = s.with_auth(None).get("/metrics").await.text;
    assert!(metrics.contains("enlist_deprovisioning_held_organizations 0"), "{metrics}");
    for id in &held {
        let r = a.patch(&format!("{U}/{id}"), &disable()).await;
        assert_eq!(r.status, 200, "{}", r.text);
    }
    let page = a.get(&format!("{U}?filter=active%20eq%20true&count=1")).await.json();
    assert_eq!(page["totalResults"], 42, "the owner, 39 untouched, the reactivated one and the new one");
    // Another organization was never held up.
    assert_eq!(s.b().post(U, &json!({"userName": "x@fabrikam.com"})).await.status, 201);
    second.stop().await;
}
on_both!(deactivating_most_of_an_organization_stops_at_the_guard);
