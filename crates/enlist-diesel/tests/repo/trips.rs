//! Statements per write: on PostgreSQL each is a round trip, and the
//! writes identity providers send most are held to a count (issue 24:
//! at most 6 for a deactivation and for a light create, authentication
//! included). SQLite runs in process and is only required to stay correct.

use super::*;
use enlist_core::service::NewOrganization;
use enlist_core::Actor;

async fn statements(env: &Env, work: impl std::future::Future<Output = ()>) -> u64 {
    let before = env.db().statements_sent();
    work.await;
    env.db().statements_sent() - before
}

async fn writes_take_few_statements(env: Env) {
    let o = env
        .enlist
        .organizations
        .create(
            &Actor::Operator,
            NewOrganization::new("Contoso").domain(enlist_core::DomainName::parse("contoso.com").unwrap()),
        )
        .await
        .unwrap();
    let token = env.enlist.api_keys.create(&operator(&o.id), "Entra ID").await.unwrap().token;
    // The key's first use records it (once a minute at most): not counted.
    env.enlist.api_keys.authenticate(&token).await.unwrap();
    let body = json!({"userName": "ann@contoso.com", "displayName": "Ann Lee", "name": {"givenName": "Ann", "familyName": "Lee"},
        "emails": [{"type": "work", "value": "ann@contoso.com", "primary": true}], "roles": [{"value": "FullMember"}]});
    let mut id = None;
    let create = statements(&env, async {
        let c = env.enlist.api_keys.authenticate(&token).await.unwrap();
        id = Some(env.enlist.users.create(&c, user(body)).await.unwrap().user.id);
    })
    .await;
    let id = id.unwrap();
    // The deprovisioning guard is on (the default): a deactivation takes its
    // lock, counts and records itself. The organization's first one creates
    // the guard's row: not counted.
    let c = env.enlist.api_keys.authenticate(&token).await.unwrap();
    let first = env.enlist.users.create(&c, simple("bo@contoso.com")).await.unwrap().user.id;
    let off = json!({"Operations": [{"op": "Replace", "path": "active", "value": "False"}]});
    let ops = enlist_scim::user_patch(&off, "x").unwrap();
    env.enlist.users.change(&c, &first, UserChange::Patch(ops), None).await.unwrap();
    let deactivate = statements(&env, async {
        let c = env.enlist.api_keys.authenticate(&token).await.unwrap();
        let ops = enlist_scim::user_patch(
            &json!({"Operations": [{"op": "Replace", "path": "active", "value": "False"}]}),
            "x",
        )
        .unwrap();
        let v = env.enlist.users.change(&c, &id, UserChange::Patch(ops), None).await.unwrap();
        assert!(!v.user.profile.active());
    })
    .await;
    eprintln!("[{}] light create: {create} statements; deactivation: {deactivate}", env.name);
    if env.name == "postgres" {
        assert!(create <= 6, "a light create with authentication took {create} statements");
        assert!(deactivate <= 6, "a deactivation with authentication took {deactivate} statements");
    }
    // What was written in so few is all there.
    let audit = env.enlist.organizations.audit(&operator(&o.id), None, 100).await.unwrap();
    assert_eq!(
        audit.iter().filter(|r| r.resource_id == id.as_str()).count(),
        2,
        "[{}] create and patch audited",
        env.name
    );
    let events = env.enlist.events.list(&operator(&o.id), 0, 100).await.unwrap();
    let kinds: Vec<&str> = events.iter().map(|e| e.kind.as_str()).collect();
    assert!(kinds.ends_with(&["user.updated", "user.deactivated"]), "[{}] {kinds:?}", env.name);
    assert_eq!(kinds.iter().filter(|k| **k == "user.created").count(), 2, "[{}] {kinds:?}", env.name);
}
on_both!(writes_take_few_statements);
