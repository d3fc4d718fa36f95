//! Migrations: from empty and again, an old database upgraded like a new one, event numbering across the counter move.

use super::*;

async fn migrations_run_from_empty_and_again(env: Env) {
    // `common` already migrated from empty; a second run applies nothing.
    assert_eq!(env.db().migrate(|_| {}).unwrap(), Vec::<String>::new());
    // The version is the newest migration's, as diesel numbers it (its
    // folder name's digits before the `_`).
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations/sqlite");
    let newest = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().split('_').next().unwrap_or_default().replace('-', ""))
        .max()
        .unwrap();
    assert_eq!(env.db().schema_version().unwrap(), Some(newest));
    env.db().ping().await.unwrap();
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
    assert_ne!(old.db().schema_description().await.unwrap(), fresh.db().schema_description().await.unwrap());
    for sql in FIRST_RELEASE_ROWS {
        old.db().execute_raw(sql).await.unwrap_or_else(|e| panic!("[{}] {sql}: {e}", old.name));
    }
    let applied = old.db().migrate(|_| {}).unwrap();
    // Every migration after the first, in order.
    let mut later: Vec<String> = std::fs::read_dir(format!("{}/migrations/sqlite", env!("CARGO_MANIFEST_DIR")))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    later.sort();
    later.remove(0);
    assert_eq!(applied, later, "[{}]", old.name);
    assert_eq!(
        old.db().schema_description().await.unwrap(),
        fresh.db().schema_description().await.unwrap(),
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
    // People search indexed everyone already there (migrations 16 to 18).
    assert_eq!(user_names(&old, &c, r#"userName co "ept@con""#).await, ["Kept@contoso.com"], "[{}]", old.name);
    let title =
        enlist_scim::user_patch(&json!({"Operations": [{"op": "add", "path": "title", "value": "Buyer"}]}), "u-old")
            .unwrap();
    old.enlist.users.change(&c, &kept.id, UserChange::Patch(title), None).await.unwrap();
    old.enlist.users.create(&c, simple("new@contoso.com")).await.unwrap();
    let events = old.enlist.events.list(&operator(&o.id), 0, 10).await.unwrap();
    assert_eq!(events.iter().map(|e| e.seq).collect::<Vec<_>>(), [1, 2], "[{}] numbering starts at 1", old.name);
    let stats = enlist_core::ports::OutboxQueue::stats(old.db()).await.unwrap();
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
        old.db().execute_raw(sql).await.unwrap_or_else(|e| panic!("[{}] {sql}: {e}", old.name));
    }
    assert!(old.db().migrate(|_| {}).unwrap()[0].contains("event_counters"), "[{}] the ninth migration", old.name);
    for (name, next) in [("Contoso", 42), ("Fabrikam", 1)] {
        let o = old.enlist.organizations.find(name).await.unwrap();
        let domain = if name == "Contoso" { "contoso.com" } else { "fabrikam.com" };
        old.enlist.users.create(&entra(&o.id), simple(&format!("new@{domain}"))).await.unwrap();
        let events = old.enlist.events.list(&operator(&o.id), 0, 10).await.unwrap();
        assert_eq!(events.iter().map(|e| e.seq).collect::<Vec<_>>(), [next], "[{}] {name}", old.name);
    }
}
on_both!(event_numbering_survives_the_counter_move);
