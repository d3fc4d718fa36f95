//! Statements per request: on PostgreSQL each is a round trip, and the
//! requests identity providers send most are held to a count (issue 24:
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

async fn requests_take_few_statements(env: Env) {
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
    // Entra ID's lookup before every create (groups are returned by
    // default), and a read by id with groups; authentication included.
    let lookup = statements(&env, async {
        let c = env.enlist.api_keys.authenticate(&token).await.unwrap();
        let filter = enlist_scim::parse_filter(&USER_RESOURCE, r#"userName eq "ann@contoso.com""#).unwrap();
        let q = ListQuery { filter: Some(filter), sort: None, page: page(100) };
        let found = env.enlist.users.list(&c, q, true).await.unwrap();
        assert_eq!(
            (found.total, found.items[0].user.id.clone(), found.items[0].groups.clone()),
            (1, id.clone(), Some(vec![]))
        );
    })
    .await;
    let get = statements(&env, async {
        let c = env.enlist.api_keys.authenticate(&token).await.unwrap();
        env.enlist.users.get(&c, &id, true).await.unwrap();
    })
    .await;
    eprintln!(
        "[{}] light create: {create} statements; deactivation: {deactivate}; lookup {lookup}; get {get}",
        env.name
    );
    if env.name == "postgres" {
        // The key, then one statement for the answer: a filtered page
        // and its total together, a user with its groups.
        assert_eq!((lookup, get), (2, 2), "a lookup and a read by id, with authentication");
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
on_both!(requests_take_few_statements);
