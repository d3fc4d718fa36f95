//! Tests of the filter-to-SQL translation helpers.

use super::values::filtered_values;
use super::*;

#[test]
fn a_prefix_successor_bounds_every_string_with_that_prefix() {
    assert_eq!(prefix_successor("co").as_deref(), Some("cp"));
    assert_eq!(prefix_successor("a\u{D7FF}").as_deref(), Some("a\u{E000}"));
    assert_eq!(prefix_successor("a\u{10FFFF}").as_deref(), Some("b"));
    assert_eq!(prefix_successor("\u{10FFFF}"), None);
    assert_eq!(prefix_successor(""), None);
    for (prefix, s) in
        [("co", "contoso"), ("co", "co"), ("é", "éa\u{10FFFF}"), ("a\u{10FFFF}", "a\u{10FFFF}\u{10FFFF}z")]
    {
        let hi = prefix_successor(prefix).unwrap_or_else(|| unreachable!());
        assert!(s >= prefix && s < hi.as_str(), "{s:?} in [{prefix:?}, {hi:?})");
    }
    assert!("cp" >= prefix_successor("co").unwrap_or_default().as_str());
}

#[test]
fn like_patterns_escape_wildcards() {
    assert_eq!(like_escape("50%_off\\"), "50\\%\\_off\\\\");
}

#[test]
fn queries_spell_the_filtered_index_predicate_as_its_migration_does() {
    // A partial index serves only queries that repeat its predicate; the
    // list in sql.rs and the migrations' must be the same words.
    for backend in ["sqlite", "postgres"] {
        let path = format!(
            "{}/migrations/{backend}/2026-12-04-000019_filtered_value_index/up.sql",
            env!("CARGO_MANIFEST_DIR")
        );
        let sql = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        let predicate = filtered_values("v").replace("v.attr", "attr");
        assert!(sql.contains(&format!("WHERE {predicate};")), "{backend}: {sql}");
    }
}

/// The plan SQLite makes, without statistics (as a new database has), for
/// a page of users matching `filter`.
#[cfg(feature = "sqlite")]
fn sqlite_plan(filter: &str) -> String {
    use diesel::{Connection, RunQueryDsl};
    use diesel_migrations::MigrationHarness;
    #[derive(diesel::QueryableByName)]
    struct Step {
        #[diesel(sql_type = diesel::sql_types::Text)]
        detail: String,
    }
    let mut c = diesel::SqliteConnection::establish(":memory:").unwrap();
    c.run_pending_migrations(crate::migrations::SQLITE_MIGRATIONS).unwrap();
    let query = enlist_core::query::ListQuery {
        filter: Some(enlist_scim::parse_filter(&enlist_core::schema::USER_RESOURCE, filter).unwrap()),
        sort: None,
        page: enlist_core::query::Page::Index { start_index: 1, count: 100 },
    };
    let mut sql = Sql::new(Backend::Sqlite);
    let o = sql.param("org");
    sql.org = Some(o.clone());
    let parts = sql.list_parts(Resource::User, &query).unwrap();
    let page = parts.page_sql("u.id", "users u", "u", &sql.org_condition("u", &o));
    // Unbound parameters are NULL: the plan is the same.
    let steps: Vec<Step> = diesel::sql_query(format!("EXPLAIN QUERY PLAN {page}")).load(&mut c).unwrap();
    steps.into_iter().map(|s| s.detail).collect::<Vec<_>>().join("\n")
}

#[cfg(feature = "sqlite")]
#[test]
fn entra_ids_email_match_query_is_found_through_the_values_index_not_by_walking_the_organization() {
    for filter in [
        r#"emails[type eq "work"].value eq "alice@contoso.com""#,
        r#"emails.value eq "alice@contoso.com""#,
        r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq "E1""#,
    ] {
        let plan = sqlite_plan(filter);
        assert!(plan.contains("user_values_filtered"), "{filter}:\n{plan}");
        assert!(!plan.contains("users_org_seq"), "{filter} walks the organization:\n{plan}");
    }
    // An attribute without index entries reads the organization's users'
    // rows (through the user's own rows), never every tenant's.
    let plan = sqlite_plan(r#"title eq "Buyer""#);
    assert!(plan.contains("user_values_user"), "{plan}");
    assert!(!plan.contains("SCAN v"), "{plan}");
}
