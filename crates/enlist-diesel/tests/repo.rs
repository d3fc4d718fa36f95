//! The shared repository suite: every test runs on SQLite and on
//! PostgreSQL, through the core's services (so the rules and the SQL are
//! exercised together) and, for filters, through the SCIM parser.

// Tests fail loudly.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{entra, operator, org, Env};
use enlist_core::change::{GroupChange, UserChange};
use enlist_core::query::{ListQuery, Page};
use enlist_core::schema::{GROUP_RESOURCE, USER_RESOURCE};
use enlist_core::service::{NewGroup, NewUser};
use enlist_core::{Caller, Error, Role, RoleSource, UserId};
use serde_json::json;

fn user(body: serde_json::Value) -> NewUser {
    let input = enlist_scim::user_from_json(&body).expect("valid body");
    NewUser { attrs: input.attrs, password: input.password }
}

fn simple(user_name: &str) -> NewUser {
    user(json!({"userName": user_name}))
}

fn page(count: u64) -> Page {
    Page::Index { start_index: 1, count }
}

async fn user_names(env: &Env, caller: &Caller, filter: &str) -> Vec<String> {
    let filter = enlist_scim::parse_filter(&USER_RESOURCE, filter).unwrap_or_else(|e| panic!("{filter}: {e}"));
    let q = ListQuery { filter: Some(filter), sort: None, page: page(1000) };
    let got = env.enlist.users.list(caller, q, false).await.unwrap_or_else(|e| panic!("[{}] list: {e}", env.name));
    assert_eq!(got.total as usize, got.items.len());
    got.items.iter().map(|v| v.user.profile.user_name().as_str().to_owned()).collect()
}

async fn migrations_run_from_empty_and_again(env: Env) {
    // `common` already migrated from empty; a second run applies nothing.
    assert_eq!(env.db.migrate(|_| {}).unwrap(), Vec::<String>::new());
    assert!(env.db.schema_version().unwrap().is_some_and(|v| v.starts_with("20261201")));
    env.db.ping().await.unwrap();
}
on_both!(migrations_run_from_empty_and_again);

/// Rows as the first release wrote them (schema 1), in SQL both backends
/// take: the current code cannot write to an old schema.
const FIRST_RELEASE_ROWS: [&str; 4] = [
    "INSERT INTO organizations (id, name, scim_enabled, default_role, created_at) VALUES ('o-old', 'Contoso', TRUE, 'FreeMember', 0)",
    "INSERT INTO accounts (id, email, email_folded, created_at) VALUES ('a-old', 'Kept@contoso.com', 'kept@contoso.com', 0)",
    "INSERT INTO users (id, organization_id, account_id, user_name, user_name_folded, external_id, display_name_folded, active, \
     effective_role, role_source, manager_id, profile, created_at, updated_at, version) VALUES ('u-old', 'o-old', 'a-old', \
     'Kept@contoso.com', 'kept@contoso.com', NULL, NULL, TRUE, 'FullMember', 'assigned', NULL, \
     '{\"userName\":\"Kept@contoso.com\",\"active\":true,\"roles\":[{\"value\":\"FullMember\"}]}', 0, 0, 4)",
    "INSERT INTO outbox (id, organization_id, organization_name, recipient, recipient_name, added_by, created_at, next_attempt_at) \
     VALUES ('n-old', 'o-old', 'Contoso', 'Kept@contoso.com', NULL, 'Entra', 0, 0)",
];

/// A database created by the first migration and upgraded later ends up
/// with the same schema as a new one, and its data survive and work.
async fn an_old_database_upgrades_like_a_new_one(fresh: Env) {
    let old = match fresh.name {
        "sqlite" => enlist_diesel::testing::TestDatabase::with_migrations(1, common::sqlite),
        _ => match enlist_diesel::testing::TestDatabase::with_migrations(1, common::postgres) {
            Some(e) => e,
            None => return,
        },
    };
    assert_ne!(old.db.schema_description().await.unwrap(), fresh.db.schema_description().await.unwrap());
    for sql in FIRST_RELEASE_ROWS {
        old.db.execute_raw(sql).await.unwrap_or_else(|e| panic!("[{}] {sql}: {e}", old.name));
    }
    let applied = old.db.migrate(|_| {}).unwrap();
    // Every migration after the first, in order.
    let mut later: Vec<String> = std::fs::read_dir(format!("{}/migrations/sqlite", env!("CARGO_MANIFEST_DIR")))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    later.sort();
    later.remove(0);
    assert_eq!(applied, later, "[{}]", old.name);
    assert_eq!(
        old.db.schema_description().await.unwrap(),
        fresh.db.schema_description().await.unwrap(),
        "[{}]",
        old.name
    );
    // The old rows read back and take new writes, events and all.
    let o = old.enlist.organizations.find("Contoso").await.unwrap();
    let c = entra(&o.id);
    let kept = old.enlist.users.get(&c, &UserId::new("u-old"), false).await.unwrap().user;
    assert_eq!(
        (kept.profile.email().as_str(), kept.effective_role, kept.version),
        ("Kept@contoso.com", Role::FullMember, 4)
    );
    let title =
        enlist_scim::user_patch(&json!({"Operations": [{"op": "add", "path": "title", "value": "Buyer"}]}), "u-old")
            .unwrap();
    old.enlist.users.change(&c, &kept.id, UserChange::Patch(title), None).await.unwrap();
    old.enlist.users.create(&c, simple("new@contoso.com")).await.unwrap();
    let events = old.enlist.events.list(&operator(&o.id), 0, 10).await.unwrap();
    assert_eq!(events.iter().map(|e| e.seq).collect::<Vec<_>>(), [1, 2], "[{}] numbering starts at 1", old.name);
    let stats = enlist_core::ports::OutboxQueue::stats(&old.db).await.unwrap();
    assert_eq!(stats.pending, 2, "[{}] the old notification is still queued", old.name);
}
on_both!(an_old_database_upgrades_like_a_new_one);

/// The event counter moved out of `organizations` (migration 9): an
/// organization's events go on numbering where they were.
async fn event_numbering_survives_the_counter_move(fresh: Env) {
    let make = |steps| match fresh.name {
        "sqlite" => Some(enlist_diesel::testing::TestDatabase::with_migrations(steps, common::sqlite)),
        _ => enlist_diesel::testing::TestDatabase::with_migrations(steps, common::postgres),
    };
    let Some(old) = make(8) else { return };
    for sql in [
        "INSERT INTO organizations (id, name, scim_enabled, default_role, created_at, event_seq) \
         VALUES ('o-old', 'Contoso', TRUE, 'FreeMember', 0, 41)",
        "INSERT INTO organizations (id, name, scim_enabled, default_role, created_at, event_seq) \
         VALUES ('o-quiet', 'Fabrikam', TRUE, 'FreeMember', 0, 0)",
    ] {
        old.db.execute_raw(sql).await.unwrap_or_else(|e| panic!("[{}] {sql}: {e}", old.name));
    }
    assert!(old.db.migrate(|_| {}).unwrap()[0].contains("event_counters"), "[{}] the ninth migration", old.name);
    for (name, next) in [("Contoso", 42), ("Fabrikam", 1)] {
        let o = old.enlist.organizations.find(name).await.unwrap();
        let domain = if name == "Contoso" { "contoso.com" } else { "fabrikam.com" };
        old.enlist.users.create(&entra(&o.id), simple(&format!("new@{domain}"))).await.unwrap();
        let events = old.enlist.events.list(&operator(&o.id), 0, 10).await.unwrap();
        assert_eq!(events.iter().map(|e| e.seq).collect::<Vec<_>>(), [next], "[{}] {name}", old.name);
    }
}
on_both!(event_numbering_survives_the_counter_move);

async fn provisioning_round_trip(env: Env) {
    let o = org(&env, "Contoso", "owner@contoso.com").await;
    let c = entra(&o.id);
    let created =
        env.enlist
            .users
            .create(
                &c,
                user(
                    json!({"userName": "Alice@Contoso.com", "externalId": "alice", "roles": [{"value": "FullMember"}],
            "emails": [{"type": "work", "value": "Alice@Contoso.com", "primary": true}], "name": {"familyName": "Ng"}}),
                ),
            )
            .await
            .unwrap();
    assert_eq!((created.user.effective_role, created.user.role_source), (Role::FullMember, RoleSource::Assigned));
    let got = env.enlist.users.get(&c, &created.user.id, true).await.unwrap();
    assert_eq!(got.user, created.user, "[{}] what is read back is what was written", env.name);
    assert_eq!(user_names(&env, &c, r#"userName eq "alice@contoso.COM""#).await, ["Alice@Contoso.com"]);
    assert_eq!(user_names(&env, &c, r#"externalId eq "alice""#).await, ["Alice@Contoso.com"]);
    assert!(user_names(&env, &c, r#"externalId eq "ALICE""#).await.is_empty(), "externalId is case-exact");
    // Duplicate userName, any case: uniqueness.
    let dup = env.enlist.users.create(&c, simple("ALICE@contoso.com")).await.unwrap_err();
    assert!(matches!(dup, Error::Uniqueness { .. }), "[{}] {dup:?}", env.name);
    // Deactivate keeps the membership; delete removes it.
    let ops =
        enlist_scim::user_patch(&json!({"Operations": [{"op": "Replace", "path": "active", "value": "False"}]}), "x")
            .unwrap();
    let off = env.enlist.users.change(&c, &created.user.id, UserChange::Patch(ops), None).await.unwrap();
    assert!(!off.user.profile.active());
    assert_eq!(off.user.version, created.user.version + 1);
    assert_eq!(user_names(&env, &c, "active eq false").await, ["Alice@Contoso.com"]);
    env.enlist.users.delete(&c, &created.user.id, None).await.unwrap();
    assert!(matches!(env.enlist.users.get(&c, &created.user.id, false).await, Err(Error::NotFound { .. })));
    assert!(matches!(env.enlist.users.delete(&c, &created.user.id, None).await, Err(Error::NotFound { .. })));
    // The audit log holds every change, oldest first.
    let audit = env.enlist.organizations.audit(&operator(&o.id), None, 100).await.unwrap();
    let ops: Vec<&str> = audit.iter().map(|r| r.operation.as_str()).collect();
    assert_eq!(
        ops,
        ["create", "create", "create", "patch", "delete"],
        "[{}] org, owner, alice, patch, delete",
        env.name
    );
}
on_both!(provisioning_round_trip);

async fn seed(env: &Env, c: &Caller) {
    let ent = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
    let people = [
        json!({"userName": "ann@x.com", "title": "Buyer", "active": true, "name": {"givenName": "Ann", "familyName": "Lee"},
               "emails": [{"type": "work", "value": "Ann@X.com", "primary": true}, {"type": "other", "value": "ann@home.org"}],
               ent: {"department": "Retail", "employeeNumber": "100"}, "roles": [{"value": "Admin", "primary": true}]}),
        json!({"userName": "bob@x.com", "title": "Clerk", "active": false, "name": {"givenName": "Bob", "familyName": "O'Malley"},
               "emails": [{"type": "work", "value": "bob@x.com"}], ent: {"department": "Retail"}, "roles": [{"value": "Guest"}]}),
        json!({"userName": "cy@x.com", "name": {"givenName": "Cy", "familyName": "Lee"}, "nickName": "50%_off",
               "emails": [{"type": "home", "value": "cy@y.org"}], "phoneNumbers": [{"type": "mobile", "value": "+1 555"}]}),
        json!({"userName": "Dee@X.com", "title": "buyer", "externalId": "D-1", ent: {"department": "Ops", "employeeNumber": "200"}}),
    ];
    for p in people {
        env.enlist.users.create(c, user(p)).await.unwrap_or_else(|e| panic!("[{}] seed: {e}", env.name));
    }
}

async fn filters_translate_to_sql_identically(env: Env) {
    let o = org(&env, "Contoso", "owner@x.com").await;
    let c = entra(&o.id);
    seed(&env, &c).await;
    let m = env.enlist.users.list(&c, ListQuery { filter: None, sort: None, page: page(10) }, false).await.unwrap();
    let manager = m.items.iter().find(|v| v.user.profile.user_name().as_str() == "ann@x.com").unwrap().user.id.clone();
    let bob = m.items.iter().find(|v| v.user.profile.user_name().as_str() == "bob@x.com").unwrap().user.id.clone();
    let ops = enlist_scim::user_patch(
        &json!({"Operations": [{"op": "add", "path": "manager", "value": manager.as_str()}]}),
        "x",
    )
    .unwrap();
    env.enlist.users.change(&c, &bob, UserChange::Patch(ops), None).await.unwrap();
    let ent = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
    let cases: Vec<(String, Vec<&str>)> = vec![
        (r#"userName eq "ANN@x.com""#.into(), vec!["ann@x.com"]),
        (r#"userName ne "ann@x.com""#.into(), vec!["owner@x.com", "bob@x.com", "cy@x.com", "Dee@X.com"]),
        (r#"userName sw "d""#.into(), vec!["Dee@X.com"]),
        (r#"userName sw "D" or name.familyName sw "LE""#.into(), vec!["ann@x.com", "cy@x.com", "Dee@X.com"]),
        (r#"emails.value sw "ANN""#.into(), vec!["ann@x.com"]),
        (r#"externalId sw "D-""#.into(), vec!["Dee@X.com"]),
        (r#"externalId sw "d-""#.into(), vec![]),
        (r#"nickName sw "50%""#.into(), vec!["cy@x.com"]),
        (r#"nickName sw "5_""#.into(), vec![]),
        (r#"userName ew "@X.COM""#.into(), vec!["owner@x.com", "ann@x.com", "bob@x.com", "cy@x.com", "Dee@X.com"]),
        (r#"userName co "B""#.into(), vec!["bob@x.com"]),
        (r#"userName gt "bob@x.com""#.into(), vec!["owner@x.com", "cy@x.com", "Dee@X.com"]),
        (r#"userName le "bob@x.com""#.into(), vec!["ann@x.com", "bob@x.com"]),
        (r#"title eq "buyer""#.into(), vec!["ann@x.com", "Dee@X.com"]),
        ("title pr".into(), vec!["ann@x.com", "bob@x.com", "Dee@X.com"]),
        ("not (title pr)".into(), vec!["owner@x.com", "cy@x.com"]),
        (r#"name.familyName eq "lee""#.into(), vec!["ann@x.com", "cy@x.com"]),
        (r#"name.familyName co "'mal""#.into(), vec!["bob@x.com"]),
        (r#"nickName co "%_""#.into(), vec!["cy@x.com"]),
        (r#"nickName co "0_o""#.into(), vec![]),
        (r#"emails[type eq "work" and value co "@x.com"]"#.into(), vec!["owner@x.com", "ann@x.com", "bob@x.com"]),
        (r#"emails[type eq "work"].value eq "ann@x.com""#.into(), vec!["ann@x.com"]),
        (r#"emails[type eq "other"].value eq "bob@x.com""#.into(), vec![]),
        (r#"emails.value ew ".org""#.into(), vec!["ann@x.com", "cy@x.com"]),
        (r#"emails[not (type eq "work")]"#.into(), vec!["ann@x.com", "cy@x.com"]),
        (r#"phoneNumbers[type eq "mobile"]"#.into(), vec!["cy@x.com"]),
        ("active eq false".into(), vec!["bob@x.com"]),
        (r#"active eq "True" and title pr"#.into(), vec!["ann@x.com", "Dee@X.com"]),
        (format!(r#"{ent}:department eq "retail""#), vec!["ann@x.com", "bob@x.com"]),
        (format!(r#"{ent}:employeeNumber gt "150""#), vec!["Dee@X.com"]),
        (format!(r#"{ent}:manager eq "{manager}""#), vec!["bob@x.com"]),
        (format!(r#"manager eq "{manager}" and id eq "{bob}""#), vec!["bob@x.com"]),
        (r#"externalId eq "D-1""#.into(), vec!["Dee@X.com"]),
        (r#"externalId eq "d-1""#.into(), vec![]),
        (r#"roles[value eq "admin"]"#.into(), vec!["owner@x.com", "ann@x.com"]),
        (r#"roles[primary eq "True"].value eq "Admin""#.into(), vec!["ann@x.com"]),
        (
            "urn:ietf:params:scim:schemas:extension:enlist:2.0:User:effectiveRole eq \"admin\"".into(),
            vec!["owner@x.com", "ann@x.com"],
        ),
        (
            "urn:ietf:params:scim:schemas:extension:enlist:2.0:User:roleSource eq \"default\"".into(),
            vec!["cy@x.com", "Dee@X.com"],
        ),
        (
            r#"meta.created gt "2000-01-01T00:00:00Z""#.into(),
            vec!["owner@x.com", "ann@x.com", "bob@x.com", "cy@x.com", "Dee@X.com"],
        ),
        (r#"meta.lastModified lt "2000-01-01T00:00:00Z""#.into(), vec![]),
        (r#"(title eq "clerk" or nickName pr) and not (active eq false)"#.into(), vec!["cy@x.com"]),
        (r#"title eq null"#.into(), vec!["owner@x.com", "cy@x.com"]),
        (r#"userName eq "nobody@x.com""#.into(), vec![]),
    ];
    for (filter, want) in cases {
        let got = user_names(&env, &c, &filter).await;
        assert_eq!(got, want, "[{}] {filter}", env.name);
    }
}
on_both!(filters_translate_to_sql_identically);

async fn sorting_and_paging_are_stable(env: Env) {
    let o = org(&env, "Contoso", "owner@x.com").await;
    let c = entra(&o.id);
    seed(&env, &c).await;
    let sorted = |by: &str, desc: bool| ListQuery {
        filter: None,
        sort: Some(enlist_core::query::Sort {
            path: enlist_scim::filter::resolve_attr(&USER_RESOURCE, None, by).unwrap().unwrap(),
            descending: desc,
        }),
        page: page(100),
    };
    let names = |p: enlist_core::query::ListPage<enlist_core::service::UserView>| -> Vec<String> {
        p.items.iter().map(|v| v.user.profile.user_name().as_str().to_owned()).collect()
    };
    let by_name = names(env.enlist.users.list(&c, sorted("userName", false), false).await.unwrap());
    assert_eq!(by_name, ["ann@x.com", "bob@x.com", "cy@x.com", "Dee@X.com", "owner@x.com"], "[{}]", env.name);
    let by_family_desc = names(env.enlist.users.list(&c, sorted("name.familyName", true), false).await.unwrap());
    assert_eq!(
        by_family_desc,
        ["bob@x.com", "ann@x.com", "cy@x.com", "owner@x.com", "Dee@X.com"],
        "[{}] nulls last",
        env.name
    );
    // startIndex/count pages in creation order, each user once.
    let mut seen = Vec::new();
    for start in [1, 3, 5, 7] {
        let p = env
            .enlist
            .users
            .list(&c, ListQuery { filter: None, sort: None, page: Page::Index { start_index: start, count: 2 } }, false)
            .await
            .unwrap();
        assert_eq!(p.total, 5);
        seen.extend(names(p));
    }
    assert_eq!(seen, ["owner@x.com", "ann@x.com", "bob@x.com", "cy@x.com", "Dee@X.com"]);
    // Cursor paging: a user created mid-walk shows up once, at the end.
    let mut cursor = None;
    let mut walked = Vec::new();
    for round in 0..10 {
        let p = env
            .enlist
            .users
            .list(
                &c,
                ListQuery { filter: None, sort: None, page: Page::Cursor { after: cursor.clone(), count: 2 } },
                false,
            )
            .await
            .unwrap();
        walked.extend(names(p.clone()));
        if round == 0 {
            env.enlist.users.create(&c, simple("late@x.com")).await.unwrap();
        }
        cursor = p.next_cursor;
        if cursor.is_none() {
            break;
        }
    }
    assert_eq!(
        walked,
        ["owner@x.com", "ann@x.com", "bob@x.com", "cy@x.com", "Dee@X.com", "late@x.com"],
        "[{}]",
        env.name
    );
}
on_both!(sorting_and_paging_are_stable);

/// Every sortable column sorts on both backends (PostgreSQL refused a
/// collation on numbers and booleans), and roles compare and sort by rank.
async fn roles_compare_by_rank_and_every_column_sorts(env: Env) {
    let o = org(&env, "Contoso", "owner@x.com").await;
    let c = entra(&o.id);
    seed(&env, &c).await;
    let mut above =
        user_names(&env, &c, r#"urn:ietf:params:scim:schemas:extension:enlist:2.0:User:effectiveRole gt "FreeMember""#)
            .await;
    above.sort();
    assert_eq!(above, ["ann@x.com", "owner@x.com"], "[{}] Admin ranks above FreeMember", env.name);
    let below = user_names(&env, &c, r#"effectiveRole lt "FreeMember""#).await;
    assert_eq!(below, ["bob@x.com"], "[{}] only Guest ranks below FreeMember", env.name);
    let at_least = user_names(&env, &c, r#"effectiveRole ge "fullmember""#).await;
    assert_eq!(at_least.len(), 2, "[{}] {at_least:?}", env.name);
    let sorted = |by: &str, desc: bool| ListQuery {
        filter: None,
        sort: Some(enlist_core::query::Sort {
            path: enlist_scim::filter::resolve_attr(&USER_RESOURCE, None, by).unwrap().unwrap(),
            descending: desc,
        }),
        page: page(100),
    };
    let names = |p: enlist_core::query::ListPage<enlist_core::service::UserView>| -> Vec<String> {
        p.items.iter().map(|v| v.user.profile.user_name().as_str().to_owned()).collect()
    };
    let all = ["owner@x.com", "ann@x.com", "bob@x.com", "cy@x.com", "Dee@X.com"];
    for by in ["meta.created", "meta.lastModified"] {
        let got = names(
            env.enlist
                .users
                .list(&c, sorted(by, false), false)
                .await
                .unwrap_or_else(|e| panic!("[{}] {by}: {e}", env.name)),
        );
        assert_eq!(got, all, "[{}] {by}", env.name);
    }
    let by_active = names(env.enlist.users.list(&c, sorted("active", false), false).await.unwrap());
    assert_eq!(by_active[0], "bob@x.com", "[{}] false sorts first", env.name);
    let by_role = names(env.enlist.users.list(&c, sorted("effectiveRole", true), false).await.unwrap());
    assert_eq!(by_role, ["owner@x.com", "ann@x.com", "cy@x.com", "Dee@X.com", "bob@x.com"], "[{}]", env.name);
}
on_both!(roles_compare_by_rank_and_every_column_sorts);

async fn tenants_are_isolated(env: Env) {
    let a = org(&env, "A", "owner@a.com").await;
    let b = org(&env, "B", "owner@b.com").await;
    let ua = env.enlist.users.create(&entra(&a.id), simple("x@a.com")).await.unwrap();
    let ga = env
        .enlist
        .groups
        .create(
            &entra(&a.id),
            NewGroup {
                display_name: enlist_core::DisplayName::parse("G").unwrap(),
                external_id: None,
                members: vec![ua.user.id.clone()],
            },
        )
        .await
        .unwrap();
    let cb = entra(&b.id);
    assert!(matches!(env.enlist.users.get(&cb, &ua.user.id, false).await, Err(Error::NotFound { .. })));
    assert!(matches!(env.enlist.groups.get(&cb, &ga.group.id, true).await, Err(Error::NotFound { .. })));
    assert!(user_names(&env, &cb, r#"userName eq "x@a.com""#).await.is_empty());
    assert_eq!(user_names(&env, &cb, "userName pr").await, ["owner@b.com"]);
    let patch = UserChange::Patch(
        enlist_scim::user_patch(&json!({"Operations": [{"op": "replace", "path": "title", "value": "pwned"}]}), "x")
            .unwrap(),
    );
    assert!(matches!(env.enlist.users.change(&cb, &ua.user.id, patch, None).await, Err(Error::NotFound { .. })));
    assert!(matches!(env.enlist.users.delete(&cb, &ua.user.id, None).await, Err(Error::NotFound { .. })));
    // B cannot add A's user to its own group either.
    let gb = env
        .enlist
        .groups
        .create(
            &cb,
            NewGroup {
                display_name: enlist_core::DisplayName::parse("G").unwrap(),
                external_id: None,
                members: vec![],
            },
        )
        .await
        .unwrap();
    let err = env
        .enlist
        .groups
        .change(&cb, &gb.group.id, vec![GroupChange::AddMembers(vec![ua.user.id.clone()])], None)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InvalidValue { .. }), "[{}] {err:?}", env.name);
    assert!(matches!(env.enlist.groups.delete(&cb, &ga.group.id, None).await, Err(Error::NotFound { .. })));
    // A's data is untouched.
    assert_eq!(env.enlist.groups.get(&entra(&a.id), &ga.group.id, true).await.unwrap().members.unwrap().len(), 1);
}
on_both!(tenants_are_isolated);

async fn one_account_per_email_across_organizations(env: Env) {
    let a = org(&env, "A", "owner@a.com").await;
    let b = org(&env, "B", "owner@b.com").await;
    let in_a = env.enlist.users.create(&entra(&a.id), simple("jo@fabrikam.com")).await.unwrap();
    let in_b = env.enlist.users.create(&entra(&b.id), simple("JO@fabrikam.com")).await.unwrap();
    assert_eq!(in_a.user.account_id, in_b.user.account_id, "[{}] linked, not duplicated", env.name);
    // Deleting one membership keeps the account for the other.
    env.enlist.users.delete(&entra(&a.id), &in_a.user.id, None).await.unwrap();
    let again = env.enlist.users.create(&entra(&a.id), simple("jo@fabrikam.com")).await.unwrap();
    assert_eq!(again.user.account_id, in_b.user.account_id);
}
on_both!(one_account_per_email_across_organizations);

async fn group_membership_batches_and_roles(env: Env) {
    let o = org(&env, "Contoso", "owner@x.com").await;
    let c = entra(&o.id);
    let mut ids = Vec::new();
    for i in 0..30 {
        ids.push(env.enlist.users.create(&c, simple(&format!("m{i:02}@x.com"))).await.unwrap().user.id);
    }
    let g = env
        .enlist
        .groups
        .create(
            &c,
            NewGroup {
                display_name: enlist_core::DisplayName::parse("Staff").unwrap(),
                external_id: None,
                members: ids[..10].to_vec(),
            },
        )
        .await
        .unwrap();
    let gid = g.group.id.clone();
    assert_eq!(g.members.unwrap().len(), 10);
    env.enlist.groups.set_role(&operator(&o.id), &gid, Some(Role::FullMember)).await.unwrap();
    let u0 = env.enlist.users.get(&c, &ids[0], true).await.unwrap();
    assert_eq!((u0.user.effective_role, u0.user.role_source), (Role::FullMember, RoleSource::Group));
    assert_eq!(u0.groups.unwrap()[0].display_name, "Staff");
    // Add a batch with a present member: no error, no duplicate.
    let v = env.enlist.groups.change(&c, &gid, vec![GroupChange::AddMembers(ids[5..20].to_vec())], None).await.unwrap();
    assert_eq!(v.version, g.group.version + 2, "role set and one membership change");
    let members = env.enlist.groups.get(&c, &gid, true).await.unwrap().members.unwrap();
    assert_eq!(members.len(), 20);
    assert_eq!(env.enlist.users.get(&c, &ids[19], false).await.unwrap().user.effective_role, Role::FullMember);
    // Remove (including a non-member: no-op), then a full push.
    env.enlist
        .groups
        .change(&c, &gid, vec![GroupChange::RemoveMembers(vec![ids[0].clone(), ids[29].clone()])], None)
        .await
        .unwrap();
    let u0 = env.enlist.users.get(&c, &ids[0], false).await.unwrap();
    assert_eq!((u0.user.effective_role, u0.user.role_source), (Role::FreeMember, RoleSource::Default));
    env.enlist.groups.change(&c, &gid, vec![GroupChange::ReplaceMembers(ids[25..].to_vec())], None).await.unwrap();
    let members: Vec<UserId> =
        env.enlist.groups.get(&c, &gid, true).await.unwrap().members.unwrap().into_iter().map(|m| m.id).collect();
    assert_eq!(members, ids[25..].to_vec(), "[{}]", env.name);
    assert_eq!(env.enlist.users.get(&c, &ids[10], false).await.unwrap().user.role_source, RoleSource::Default);
    // Filters over memberships, both directions.
    let f =
        enlist_scim::parse_filter(&GROUP_RESOURCE, &format!(r#"id eq "{gid}" and members eq "{}""#, ids[26])).unwrap();
    let found =
        env.enlist.groups.list(&c, ListQuery { filter: Some(f), sort: None, page: page(10) }, false).await.unwrap();
    assert_eq!(found.total, 1);
    assert_eq!(user_names(&env, &c, &format!(r#"groups.value eq "{gid}""#)).await.len(), 5);
    // A listed page carries each user's own groups (read for the page at once).
    let all = env.enlist.users.list(&c, ListQuery { filter: None, sort: None, page: page(100) }, true).await.unwrap();
    for v in &all.items {
        let names: Vec<String> = v.groups.clone().unwrap().into_iter().map(|g| g.display_name).collect();
        let want: Vec<String> = if ids[25..].contains(&v.user.id) { vec!["Staff".into()] } else { vec![] };
        assert_eq!(names, want, "[{}] {}", env.name, v.user.profile.user_name().as_str());
    }
    // Unknown member: refused and nothing applied.
    let err = env
        .enlist
        .groups
        .change(&c, &gid, vec![GroupChange::ClearMembers, GroupChange::AddMembers(vec![UserId::new("ghost")])], None)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("ghost"), "[{}] {err}", env.name);
    assert_eq!(
        env.enlist.groups.get(&c, &gid, true).await.unwrap().members.unwrap().len(),
        5,
        "[{}] all or nothing",
        env.name
    );
    // Renames clash case-insensitively.
    env.enlist
        .groups
        .create(
            &c,
            NewGroup {
                display_name: enlist_core::DisplayName::parse("Other").unwrap(),
                external_id: None,
                members: vec![],
            },
        )
        .await
        .unwrap();
    let err = env
        .enlist
        .groups
        .change(&c, &gid, vec![GroupChange::DisplayName(enlist_core::DisplayName::parse("OTHER").unwrap())], None)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Uniqueness { .. }), "[{}] {err:?}", env.name);
    // Delete: members fall back to their own role.
    env.enlist.groups.delete(&c, &gid, None).await.unwrap();
    assert_eq!(env.enlist.users.get(&c, &ids[26], false).await.unwrap().user.role_source, RoleSource::Default);
}
on_both!(group_membership_batches_and_roles);

async fn the_last_admin_is_guarded_by_the_database(env: Env) {
    let o = org(&env, "Contoso", "owner@x.com").await;
    let c = entra(&o.id);
    let owner = env
        .enlist
        .users
        .list(&c, ListQuery { filter: None, sort: None, page: page(1) }, false)
        .await
        .unwrap()
        .items
        .remove(0);
    let off = |v: &str| {
        UserChange::Patch(
            enlist_scim::user_patch(&json!({"Operations": [{"op": "replace", "value": {"active": v}}]}), "x").unwrap(),
        )
    };
    let err = env.enlist.users.change(&c, &owner.user.id, off("false"), None).await.unwrap_err();
    assert!(matches!(err, Error::Conflict { .. }), "[{}] {err:?}", env.name);
    assert!(err.to_string().contains("last active Admin"));
    let second = env
        .enlist
        .users
        .create(&c, user(json!({"userName": "two@x.com", "roles": [{"value": "Admin"}]})))
        .await
        .unwrap();
    env.enlist.users.change(&c, &owner.user.id, off("false"), None).await.unwrap();
    let err = env.enlist.users.delete(&c, &second.user.id, None).await.unwrap_err();
    assert!(matches!(err, Error::Conflict { .. }));
}
on_both!(the_last_admin_is_guarded_by_the_database);

async fn racing_creates_give_one_success(env: Env) {
    let o = org(&env, "Contoso", "owner@x.com").await;
    let c = entra(&o.id);
    let mut tasks = Vec::new();
    for i in 0..8 {
        let (e, c) = (env.enlist.clone(), c.clone());
        let name = if i % 2 == 0 { "race@x.com" } else { "RACE@x.com" };
        tasks.push(tokio::spawn(async move { e.users.create(&c, simple(name)).await }));
    }
    let mut ok = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(_) => ok += 1,
            Err(Error::Uniqueness { .. }) => {}
            Err(e) => panic!("[{}] unexpected {e:?}", env.name),
        }
    }
    assert_eq!(ok, 1, "[{}]", env.name);
    assert_eq!(user_names(&env, &c, r#"userName eq "race@x.com""#).await.len(), 1);
}
on_both!(racing_creates_give_one_success);

async fn concurrent_member_adds_lose_nothing(env: Env) {
    let o = org(&env, "Contoso", "owner@x.com").await;
    let c = entra(&o.id);
    let mut ids = Vec::new();
    for i in 0..12 {
        ids.push(env.enlist.users.create(&c, simple(&format!("p{i}@x.com"))).await.unwrap().user.id);
    }
    let g = env
        .enlist
        .groups
        .create(
            &c,
            NewGroup {
                display_name: enlist_core::DisplayName::parse("G").unwrap(),
                external_id: None,
                members: vec![],
            },
        )
        .await
        .unwrap();
    let mut tasks = Vec::new();
    for chunk in ids.chunks(3) {
        // Each batch also repeats the first user: a shared, idempotent add.
        let mut batch = chunk.to_vec();
        batch.push(ids[0].clone());
        let (e, c, gid) = (env.enlist.clone(), c.clone(), g.group.id.clone());
        tasks.push(tokio::spawn(
            async move { e.groups.change(&c, &gid, vec![GroupChange::AddMembers(batch)], None).await },
        ));
    }
    for t in tasks {
        t.await.unwrap().unwrap_or_else(|e| panic!("[{}] {e:?}", env.name));
    }
    assert_eq!(
        env.enlist.groups.get(&c, &g.group.id, true).await.unwrap().members.unwrap().len(),
        12,
        "[{}]",
        env.name
    );
}
on_both!(concurrent_member_adds_lose_nothing);

async fn a_failed_unit_of_work_leaves_nothing(env: Env) {
    use enlist_core::ports::Store;
    let o = org(&env, "Contoso", "owner@x.com").await;
    let org_id = o.id.clone();
    let err = env
        .db
        .write(Box::new(move |tx| {
            tx.organizations().add_domain(&org_id, &enlist_core::DomainName::parse("contoso.com")?)?;
            Err(Error::Conflict { detail: "stop here".into() })
        }))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Conflict { .. }));
    assert!(env.enlist.organizations.find("Contoso").await.unwrap().domains.is_empty(), "[{}] rolled back", env.name);
}
on_both!(a_failed_unit_of_work_leaves_nothing);

async fn api_keys_and_domains(env: Env) {
    let o = org(&env, "Contoso", "owner@contoso.com").await;
    let other = org(&env, "Other", "owner@other.com").await;
    env.enlist
        .organizations
        .add_domain(&operator(&o.id), enlist_core::DomainName::parse("contoso.org").unwrap())
        .await
        .unwrap();
    env.enlist.organizations.set_scim(&operator(&o.id), true).await.unwrap();
    let key = env.enlist.api_keys.create(&operator(&o.id), "Entra ID").await.unwrap();
    let caller = env.enlist.api_keys.authenticate(&key.token).await.unwrap();
    assert_eq!(caller.organization_id, o.id);
    env.enlist.api_keys.revoke(&operator(&o.id), &key.key.id).await.unwrap();
    assert!(matches!(env.enlist.api_keys.authenticate(&key.token).await, Err(Error::Unauthorized { .. })));
    let listed = env.enlist.api_keys.list(&operator(&o.id)).await.unwrap();
    assert!(listed[0].revoked_at.is_some() && listed[0].last_used_at.is_some(), "[{}]", env.name);
    let d = enlist_core::DomainName::parse("Contoso.com").unwrap();
    env.enlist.organizations.add_domain(&operator(&o.id), d.clone()).await.unwrap();
    let err = env.enlist.organizations.add_domain(&operator(&other.id), d).await.unwrap_err();
    assert!(matches!(err, Error::Uniqueness { .. }), "[{}] {err:?}", env.name);
    assert_eq!(env.enlist.organizations.find(o.id.as_str()).await.unwrap().domain_list(), "contoso.com, contoso.org");
    // Authentication reads a key with its organization in one statement:
    // the same organization as read on its own, every domain included.
    use enlist_core::ports::Store;
    let d2 = enlist_core::DomainName::parse("contoso.net").unwrap();
    env.enlist.organizations.add_domain(&operator(&o.id), d2).await.unwrap();
    let (id, seen) = (key.key.id.clone(), std::sync::Arc::new(std::sync::Mutex::new(None)));
    let slot = seen.clone();
    env.db
        .read(Box::new(move |tx| {
            let found = tx.api_keys().get_with_organization(&id)?;
            let unknown = tx.api_keys().get_with_organization(&enlist_core::ApiKeyId::new("no-such-key"))?;
            *slot.lock().unwrap() = Some((found, unknown));
            Ok(())
        }))
        .await
        .unwrap();
    let (found, unknown) = seen.lock().unwrap().take().unwrap();
    let (k, org) = found.expect("the key is found");
    assert_eq!((k.id, k.label.as_str()), (key.key.id.clone(), "Entra ID"));
    assert_eq!(org, env.enlist.organizations.find(o.id.as_str()).await.unwrap(), "[{}]", env.name);
    assert_eq!(org.domain_list(), "contoso.com, contoso.net, contoso.org");
    assert!(unknown.is_none());
}
on_both!(api_keys_and_domains);

async fn outbox_is_claimed_once_and_marked(env: Env) {
    use enlist_core::ports::OutboxQueue;
    let o = org(&env, "Contoso", "owner@x.com").await;
    env.enlist.users.create(&entra(&o.id), simple("n@x.com")).await.unwrap();
    assert_eq!(env.db.stats().await.unwrap().pending, 2, "[{}] owner and n", env.name);
    let now = chrono::DateTime::parse_from_rfc3339("2030-01-01T00:00:00Z").unwrap().with_timezone(&chrono::Utc);
    let due = env.db.due(now, 10).await.unwrap();
    assert_eq!(due.len(), 2);
    assert_eq!(due[1].notification.added_by, "Entra provisioning");
    assert!(env.db.due(now, 10).await.unwrap().is_empty(), "[{}] claimed ones are leased", env.name);
    env.db.mark_sent(&due[0].notification.id, now).await.unwrap();
    env.db.mark_failed(&due[1].notification.id, 1, now, "smtp down").await.unwrap();
    assert_eq!(env.db.stats().await.unwrap().pending, 1);
    let again = env.db.due(now, 10).await.unwrap();
    assert_eq!((again.len(), again[0].attempts), (1, 1));
    // Postponed (its organization over its rate): not due until then, and
    // no attempt counted.
    let slot = now + chrono::Duration::seconds(30);
    env.db.postpone(&again[0].notification.id, slot).await.unwrap();
    assert!(env.db.due(slot - chrono::Duration::seconds(1), 10).await.unwrap().is_empty(), "[{}]", env.name);
    let again = env.db.due(slot, 10).await.unwrap();
    assert_eq!((again.len(), again[0].attempts), (1, 1), "[{}] postponing is not an attempt", env.name);
    // Pruning deletes only what was sent before the cut-off.
    assert_eq!(env.db.prune(now).await.unwrap(), 0, "[{}] sent at the cut-off is kept", env.name);
    assert_eq!(env.db.prune(now + chrono::Duration::seconds(1)).await.unwrap(), 1);
    assert_eq!(env.db.stats().await.unwrap().pending, 1, "unsent ones stay");
    // What can never be sent is set aside: counted apart, never claimed,
    // listed for the operator, and back in line when requeued.
    let id = again[0].notification.id.clone();
    env.db.set_aside(&id, 2, now, "550 no such user").await.unwrap();
    let later = now + chrono::Duration::days(1);
    assert_eq!(env.db.stats().await.unwrap(), enlist_core::ports::OutboxStats { pending: 0, set_aside: 1 });
    assert!(env.db.due(later, 10).await.unwrap().is_empty(), "[{}] set aside is never claimed", env.name);
    let listed = env.db.set_aside_list(10).await.unwrap();
    assert_eq!(
        (listed.len(), listed[0].attempts, listed[0].error.as_str(), listed[0].at),
        (1, 2, "550 no such user", now)
    );
    assert!(env.db.requeue(&id, later).await.unwrap());
    assert!(!env.db.requeue(&id, later).await.unwrap(), "[{}] only a set-aside one is requeued", env.name);
    assert_eq!(env.db.stats().await.unwrap().pending, 1);
    assert_eq!(env.db.due(later, 10).await.unwrap().len(), 1);
    assert_eq!(env.db.prune(later).await.unwrap(), 0, "[{}] pruning never deletes unsent mail", env.name);
}
on_both!(outbox_is_claimed_once_and_marked);

/// Issue 10 #1: a PATCH that lowers a user's assigned roles and a
/// concurrent removal from an Admin-mapped group must not both read the
/// other's old state: whatever commits, the stored effective role equals
/// the rule applied to the committed roles and memberships. Raced 20 times.
async fn concurrent_role_and_membership_changes_leave_a_sourced_role(env: Env) {
    let o = org(&env, "Contoso", "owner@x.com").await;
    let c = entra(&o.id);
    let g = env
        .enlist
        .groups
        .create(
            &c,
            NewGroup {
                display_name: enlist_core::DisplayName::parse("Admins").unwrap(),
                external_id: None,
                members: vec![],
            },
        )
        .await
        .unwrap();
    env.enlist.groups.set_role(&operator(&o.id), &g.group.id, Some(Role::Admin)).await.unwrap();
    for i in 0..20 {
        let u = env
            .enlist
            .users
            .create(&c, user(json!({"userName": format!("u{i}@x.com"), "roles": [{"value": "Admin"}]})))
            .await
            .unwrap();
        let id = u.user.id.clone();
        env.enlist.groups.change(&c, &g.group.id, vec![GroupChange::AddMembers(vec![id.clone()])], None).await.unwrap();
        let demote = enlist_scim::user_patch(
            &json!({"Operations": [{"op": "replace", "path": "roles", "value": [{"value": "FreeMember"}]}]}),
            id.as_str(),
        )
        .unwrap();
        let (a, b) = tokio::join!(
            env.enlist.users.change(&c, &id, UserChange::Patch(demote), None),
            env.enlist.groups.change(&c, &g.group.id, vec![GroupChange::RemoveMembers(vec![id.clone()])], None),
        );
        a.unwrap_or_else(|e| panic!("[{}] patch: {e}", env.name));
        b.unwrap_or_else(|e| panic!("[{}] remove: {e}", env.name));
        let v = env.enlist.users.get(&c, &id, true).await.unwrap();
        assert_eq!(v.groups.as_deref().unwrap_or_default().len(), 0);
        assert_eq!(
            (v.user.effective_role, v.user.role_source),
            (Role::FreeMember, RoleSource::Assigned),
            "[{}] round {i}: roles FreeMember and no group must give FreeMember",
            env.name
        );
    }
}
on_both!(concurrent_role_and_membership_changes_leave_a_sourced_role);

/// Issue 10 #8: several processes starting on one empty database: one
/// creates the Default organization, the others find it set up.
async fn first_start_is_idempotent_under_a_race(env: Env) {
    let (a, b, c) = tokio::join!(
        env.enlist.organizations.first_start(),
        env.enlist.organizations.first_start(),
        env.enlist.organizations.first_start()
    );
    let created: Vec<_> = [a, b, c]
        .into_iter()
        .filter_map(|r| r.unwrap_or_else(|e| panic!("[{}] first start failed: {e}", env.name)))
        .collect();
    assert_eq!(created.len(), 1, "[{}] exactly one process sets up", env.name);
    assert_eq!(env.enlist.organizations.list().await.unwrap().len(), 1);
    assert!(
        env.enlist.organizations.first_start().await.unwrap().is_none(),
        "[{}] a later start does nothing",
        env.name
    );
}
on_both!(first_start_is_idempotent_under_a_race);

/// Change events through the real SQL: numbered 1, 2, 3… per organization
/// at commit, never a gap a reader could skip while concurrent writers
/// commit, and each organization its own sequence.
async fn events_are_numbered_per_organization_without_gaps(env: Env) {
    use enlist_core::event::EventKind;
    let a = org(&env, "A", "owner@a.com").await;
    let b = org(&env, "B", "owner@b.com").await;
    let (ca, cb) = (entra(&a.id), entra(&b.id));
    let writers = async {
        let handles: Vec<_> = (0..16)
            .map(|i| {
                let (enlist, c) = (env.enlist.clone(), if i % 4 == 0 { cb.clone() } else { ca.clone() });
                tokio::spawn(async move { enlist.users.create(&c, simple(&format!("u{i}@x.com"))).await })
            })
            .collect();
        for h in handles {
            h.await.unwrap().unwrap_or_else(|e| panic!("[{}] create: {e}", env.name));
        }
    };
    // A reader polling while they commit only ever sees the next numbers.
    let reader = async {
        let mut position = 0u64;
        for _ in 0..200 {
            let batch = env.enlist.events.list(&operator(&a.id), position, 100).await.unwrap();
            for e in &batch {
                assert_eq!(e.seq, position + 1, "[{}] a reader saw {} after {position}", env.name, e.seq);
                position = e.seq;
            }
            if position == 13 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        position
    };
    let ((), seen) = tokio::join!(writers, reader);
    assert_eq!(seen, 13, "[{}] A's owner and its 12 users", env.name);
    let b_events = env.enlist.events.list(&operator(&b.id), 0, 100).await.unwrap();
    assert_eq!(b_events.iter().map(|e| e.seq).collect::<Vec<_>>(), (1..=5).collect::<Vec<u64>>());
    assert!(b_events.iter().all(|e| e.kind == EventKind::UserCreated && e.organization_id == b.id));
    // Payloads survive the round trip through the database.
    let last = b_events.last().unwrap();
    match &last.data {
        enlist_core::event::EventData::User { user, .. } => assert!(user.user_name.ends_with("@x.com")),
        other => panic!("[{}] {other:?}", env.name),
    }
}
on_both!(events_are_numbered_per_organization_without_gaps);

/// Pruning deletes old events only; numbering goes on where it was.
async fn pruned_events_never_reuse_a_number(env: Env) {
    let o = org(&env, "A", "owner@a.com").await;
    env.enlist.users.create(&entra(&o.id), simple("one@x.com")).await.unwrap();
    let far = chrono::DateTime::parse_from_rfc3339("2100-01-01T00:00:00Z").unwrap().with_timezone(&chrono::Utc);
    let past = chrono::DateTime::parse_from_rfc3339("2000-01-01T00:00:00Z").unwrap().with_timezone(&chrono::Utc);
    assert_eq!(env.db.prune_events(past).await.unwrap(), 0, "[{}] nothing is that old", env.name);
    assert_eq!(env.db.prune_events(far).await.unwrap(), 2, "[{}]", env.name);
    assert!(env.enlist.events.list(&operator(&o.id), 0, 10).await.unwrap().is_empty());
    env.enlist.users.create(&entra(&o.id), simple("two@x.com")).await.unwrap();
    let after = env.enlist.events.list(&operator(&o.id), 0, 10).await.unwrap();
    assert_eq!(after.iter().map(|e| e.seq).collect::<Vec<_>>(), [3], "[{}]", env.name);
}
on_both!(pruned_events_never_reuse_a_number);

/// Console links through the real SQL: two concurrent uses of one link,
/// one session; the session reads back; signing out ends it.
async fn a_console_link_signs_in_once_even_when_raced(env: Env) {
    let o = org(&env, "A", "boss@a.com").await;
    let op = operator(&o.id);
    let boss = enlist_core::Email::parse("boss@a.com").unwrap();
    let token = env.enlist.console.link(&op, &boss).await.unwrap();
    // Looking at the link does not use it.
    let preview = env.enlist.console.preview(&token).await.unwrap();
    assert_eq!((preview.organization.as_str(), &preview.email), ("A", &boss), "[{}]", env.name);
    let (one, two) = tokio::join!(env.enlist.console.sign_in(&token), env.enlist.console.sign_in(&token));
    assert_eq!(u8::from(one.is_ok()) + u8::from(two.is_ok()), 1, "[{}] exactly one sign-in", env.name);
    assert!(env.enlist.console.preview(&token).await.is_err(), "[{}] used", env.name);
    let (session_token, session) = one.or(two).unwrap();
    assert_eq!(env.enlist.console.session(&session_token).await.unwrap().session, session);
    env.enlist.console.sign_out(&session_token).await.unwrap();
    assert!(env.enlist.console.session(&session_token).await.is_err(), "[{}] signed out", env.name);
    // Used links and expired sessions are pruned; a live one is kept.
    let (live, _) = env.enlist.console.sign_in(&env.enlist.console.link(&op, &boss).await.unwrap()).await.unwrap();
    let unused = env.enlist.console.link(&op, &boss).await.unwrap();
    assert_eq!(env.enlist.console.prune().await.unwrap(), 2, "[{}] the two used links", env.name);
    assert!(env.enlist.console.session(&live).await.is_ok() && env.enlist.console.preview(&unused).await.is_ok());
    use enlist_core::ports::Store;
    let far = chrono::DateTime::parse_from_rfc3339("2100-01-01T00:00:00Z").unwrap().with_timezone(&chrono::Utc);
    let pruned = std::sync::Arc::new(std::sync::Mutex::new(0));
    let n = pruned.clone();
    env.db
        .write(Box::new(move |tx| {
            *n.lock().unwrap() = tx.console().prune(far)?;
            Ok(())
        }))
        .await
        .unwrap();
    assert_eq!(*pruned.lock().unwrap(), 2, "[{}] the expired session and link", env.name);
    assert!(env.enlist.console.session(&live).await.is_err());
}
on_both!(a_console_link_signs_in_once_even_when_raced);

/// The operator hears when PostgreSQL's own settings will cost speed.
async fn advisories_name_autovacuum_off(env: Env) {
    let advice = env.db.advisories().await.unwrap();
    if env.name == "sqlite" {
        assert!(advice.is_empty(), "{advice:?}");
        return;
    }
    let off =
        env.db.execute_raw("SELECT 1 FROM pg_settings WHERE name = 'autovacuum' AND setting = 'off'").await.unwrap()
            == 1;
    assert_eq!(advice.iter().any(|a| a.contains("autovacuum off") && a.contains("ANALYZE")), off, "{advice:?}");
    assert_eq!(advice.len(), usize::from(off), "{advice:?}");
}
on_both!(advisories_name_autovacuum_off);
