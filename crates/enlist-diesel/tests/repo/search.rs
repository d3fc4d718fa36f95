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
