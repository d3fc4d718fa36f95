//! Substring search (`co` on names and addresses) through the trigram
//! indexes, on both backends: what it finds, that the index only narrows
//! (an exact check decides), that it follows every write (create, rename,
//! a changed or removed email, deletion), and that it stays within the
//! organization.

use super::*;
use enlist_core::change::UserChange;

fn patch(ops: serde_json::Value) -> UserChange {
    UserChange::Patch(enlist_scim::user_patch(&json!({ "Operations": ops }), "x").unwrap())
}

async fn substring_search_follows_every_write(env: Env) {
    // a.com registered: email changes within it are allowed.
    let a = env
        .enlist
        .organizations
        .create(
            &enlist_core::Actor::Operator,
            enlist_core::service::NewOrganization::new("A")
                .owner(enlist_core::Email::parse("owner@a.com").unwrap())
                .domain(enlist_core::DomainName::parse("a.com").unwrap()),
        )
        .await
        .unwrap();
    let b = org(&env, "B", "owner@b.com").await;
    let c = entra(&a.id);
    let joan = env
        .enlist
        .users
        .create(&c, user(json!({"userName": "jsmith@a.com", "displayName": "Joan Smith",
            "name": {"givenName": "Joan", "familyName": "Smith"},
            "emails": [{"value": "joan.smith@a.com", "type": "work", "primary": true}, {"value": "js@private.example"}]})))
        .await
        .unwrap();
    env.enlist
        .users
        .create(&c, user(json!({"userName": "peter@a.com", "name": {"givenName": "Peter", "familyName": "Goldsmith"}})))
        .await
        .unwrap();
    env.enlist.users.create(&c, user(json!({"userName": "ann@a.com", "displayName": "Ann Lee"}))).await.unwrap();
    env.enlist.users.create(&entra(&b.id), user(json!({"userName": "smithy@b.com"}))).await.unwrap();
    let search = |t: &str| {
        format!(
            r#"userName co "{t}" or emails.value co "{t}" or displayName co "{t}" or name.givenName co "{t}" or name.familyName co "{t}""#
        )
    };
    let mut found = user_names(&env, &c, &search("mith")).await;
    found.sort();
    assert_eq!(found, ["jsmith@a.com", "peter@a.com"], "[{}] any part of a name, this organization only", env.name);
    assert_eq!(
        user_names(&env, &c, &search("PRIVATE.EX")).await,
        ["jsmith@a.com"],
        "[{}] a second email, any case",
        env.name
    );
    assert_eq!(user_names(&env, &c, &search("n le")).await, ["ann@a.com"], "[{}] across a space", env.name);
    // The index narrows, the exact check decides: a term spanning two
    // attributes matches neither.
    assert_eq!(user_names(&env, &c, r#"name.familyName co "mith""#).await.len(), 2, "[{}]", env.name);
    assert_eq!(user_names(&env, &c, r#"userName co "mith""#).await, ["jsmith@a.com"], "[{}]", env.name);
    assert_eq!(
        user_names(&env, &c, r#"displayName co "smith" and userName co "js""#).await,
        ["jsmith@a.com"],
        "[{}] inside an and",
        env.name
    );
    // Wildcards are text: `%` and `_` find only themselves.
    assert!(user_names(&env, &c, &search("s%h")).await.is_empty(), "[{}]", env.name);

    // Renamed, an email replaced, a name removed: the search follows.
    env.enlist
        .users
        .change(
            &c,
            &joan.user.id,
            patch(json!([
                {"op": "Replace", "path": "displayName", "value": "Joan Black"},
                {"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "joan.black@a.com"},
                {"op": "Remove", "path": "name.familyName"}
            ])),
            None,
        )
        .await
        .unwrap();
    let mut after = user_names(&env, &c, &search("mith")).await;
    after.sort();
    assert_eq!(after, ["jsmith@a.com", "peter@a.com"], "[{}] the userName still has it", env.name);
    assert_eq!(user_names(&env, &c, &search("black")).await, ["jsmith@a.com"], "[{}]", env.name);
    assert!(user_names(&env, &c, &search("joan.smith")).await.is_empty(), "[{}] the old email is gone", env.name);
    assert_eq!(
        user_names(&env, &c, &search("private")).await,
        ["jsmith@a.com"],
        "[{}] the other email stays",
        env.name
    );
    env.enlist.users.delete(&c, &joan.user.id, None).await.unwrap();
    assert!(user_names(&env, &c, &search("black")).await.is_empty(), "[{}] deleted", env.name);
}
on_both!(substring_search_follows_every_write);

/// A capped page (what the console asks) counts its matches no further
/// than asked, and pages as an index page does.
async fn a_capped_page_counts_no_further_than_asked(env: Env) {
    let a = org(&env, "A", "owner@a.com").await;
    let c = entra(&a.id);
    for i in 0..12 {
        env.enlist.users.create(&c, simple(&format!("p{i:02}@a.com"))).await.unwrap();
    }
    let filter = enlist_scim::parse_filter(&USER_RESOURCE, r#"userName co "@a.c""#).unwrap();
    let list = |start_index, count, total_up_to| {
        let q = ListQuery {
            filter: Some(filter.clone()),
            sort: None,
            page: Page::Capped { start_index, count, total_up_to },
        };
        let (env, c) = (&env, c.clone());
        async move { env.enlist.users.list(&c, q, false).await.unwrap() }
    };
    let first = list(1, 5, 8).await;
    assert_eq!((first.total, first.items.len()), (9, 5), "[{}] 13 match, counted to 8 + 1", env.name);
    let all = list(1, 5, 100).await;
    assert_eq!(all.total, 13, "[{}] under the cap, exact (the owner too)", env.name);
    let last = list(11, 5, 100).await;
    assert_eq!((last.total, last.items.len()), (13, 3), "[{}] a short last page tells the total", env.name);
    let names: Vec<_> = first.items.iter().map(|v| v.user.profile.user_name().as_str().to_owned()).collect();
    assert_eq!(names, ["owner@a.com", "p00@a.com", "p01@a.com", "p02@a.com", "p03@a.com"], "[{}]", env.name);
}
on_both!(a_capped_page_counts_no_further_than_asked);
