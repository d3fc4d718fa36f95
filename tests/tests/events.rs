//! What a host sees: Entra-shaped provisioning over the real HTTP endpoint,
//! and the exact sequence of change events an in-process consumer receives
//! for it, role changes through a group's membership and its role mapping
//! included, on both backends.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use enlist_core::consumer::{Consumer, EventHandler, HandlerError};
use enlist_core::event::{Event, EventData};
use enlist_core::testing::{SeqIds, TickClock};
use enlist_core::{Actor, Caller, Role, RoleSource};
use enlist_tests::{on_both, TestServer};
use serde_json::json;
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Default)]
struct Host(Mutex<Vec<Event>>);

#[async_trait::async_trait]
impl EventHandler for Host {
    async fn handle(&self, e: &Event) -> Result<(), HandlerError> {
        self.0.lock().unwrap().push(e.clone());
        Ok(())
    }
}

async fn a_host_sees_entras_provisioning_as_events_in_order(s: &TestServer) {
    let a = s.a();
    let ana = a
        .post(
            "/scim/v2/Users",
            &json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "ana@contoso.com",
                    "active": true, "emails": [{"primary": true, "type": "work", "value": "ana@contoso.com"}]}),
        )
        .await;
    assert_eq!(ana.status, 201, "{}", ana.text);
    let ana_id = ana.json()["id"].as_str().unwrap().to_owned();
    let g = a.post("/scim/v2/Groups", &json!({"displayName": "Admins", "members": [{"value": ana_id}]})).await;
    assert_eq!(g.status, 201, "{}", g.text);
    let gid = g.json()["id"].as_str().unwrap().to_owned();
    // The product's operator maps the group to Admin.
    let op = Caller { organization_id: s.org_a.clone(), actor: Actor::Operator };
    s.enlist.groups.set_role(&op, &enlist_core::GroupId::new(&gid), Some(Role::Admin)).await.unwrap();
    // Entra suspends her ("False" as a string), then removes her from the group, then deletes her.
    let r = a
        .patch(&format!("/scim/v2/Users/{ana_id}"), &json!([{"op": "Replace", "path": "active", "value": "False"}]))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = a
        .patch(
            &format!("/scim/v2/Groups/{gid}"),
            &json!([{"op": "Remove", "path": format!("members[value eq \"{ana_id}\"]")}]),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.text);
    assert_eq!(a.delete(&format!("/scim/v2/Users/{ana_id}")).await.status, 204);
    // Organization B's key provisions someone too: never in A's stream.
    assert_eq!(s.b().post("/scim/v2/Users", &json!({"userName": "bo@fabrikam.com"})).await.status, 201);

    // The same story at a webhook receiver that verifies every signature.
    let rx = enlist_tests::WebhookReceiver::start(0).await;
    let hook =
        enlist_webhooks::register(&s.enlist, &enlist::system::RandomIds, &op, &rx.url(), false, true).await.unwrap();
    *rx.secret.lock().unwrap() = Some(hook.secret.clone());
    // The server's own background jobs deliver it, as `enlist serve` would.

    let host = Arc::new(Host::default());
    let consumer = Consumer {
        name: "host".into(),
        feed: Arc::new(s.database().clone()),
        handler: host.clone(),
        clock: Arc::new(TickClock::default()),
        ids: Arc::new(SeqIds::default()),
        batch: 4,
        scope: None,
        lease: Duration::from_secs(60),
    };
    for _ in 0..50 {
        if !consumer.run_once().await.unwrap().claimed {
            break;
        }
    }
    let seen = host.0.lock().unwrap().clone();
    let of_a: Vec<&Event> = seen.iter().filter(|e| e.organization_id == s.org_a).collect();
    // Skip the set-up (A's owner and key); then exactly what happened.
    let kinds: Vec<&str> = of_a
        .iter()
        .skip_while(|e| !matches!(&e.data, EventData::User { user, .. } if user.user_name == "ana@contoso.com"))
        .map(|e| e.kind.as_str())
        .collect();
    assert_eq!(
        kinds,
        [
            "user.created",
            "group.created",
            "group.members_added",
            "user.role_changed",
            "user.updated",
            "user.deactivated",
            "group.members_removed",
            "user.role_changed",
            "user.deleted",
        ],
        "[{:?}]",
        s.backend
    );
    let seqs: Vec<u64> = of_a.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, (1..=seqs.len() as u64).collect::<Vec<_>>(), "in order, none skipped");
    let roles: Vec<(Role, RoleSource)> = of_a
        .iter()
        .filter_map(|e| match &e.data {
            EventData::RoleChanged { user, .. } => Some((user.effective_role, user.role_source)),
            _ => None,
        })
        .collect();
    assert_eq!(roles, [(Role::Admin, RoleSource::Group), (Role::FreeMember, RoleSource::Default)]);
    assert!(seen.iter().any(|e| e.organization_id == s.org_b), "B's events go to B's stream");
    // The webhook saw exactly A's stream, every request signed.
    assert!(rx.wait_for(of_a.len()).await, "[{:?}] webhook deliveries", s.backend);
    let got = rx.got.lock().unwrap();
    assert_eq!(got.forged, 0);
    let delivered: Vec<(u64, &str)> =
        got.events.iter().map(|e| (e["seq"].as_u64().unwrap(), e["type"].as_str().unwrap())).collect();
    let expected: Vec<(u64, &str)> = of_a.iter().map(|e| (e.seq, e.kind.as_str())).collect();
    assert_eq!(delivered, expected, "[{:?}] the webhook sees what the in-process consumer sees", s.backend);
    assert!(of_a.iter().all(|e| e.actor == "Entra ID provisioning" || e.actor == "Enlist operator"));
}
on_both!(a_host_sees_entras_provisioning_as_events_in_order);
