//! Reads through the SQL: a provisioning round trip, filters translated identically on both backends, sorting and paging, tenant isolation, one account per email.

use super::*;

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

/// A PATCH writes only the value rows that differ from the stored profile
/// (a changed value where it is, a removed element deleted, a new one
/// inserted), and filters see exactly the new profile.
async fn value_rows_follow_every_change(env: Env) {
    let o = org(&env, "Contoso", "owner@x.com").await;
    let c = entra(&o.id);
    let ent = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
    let boss =
        env.enlist.users.create(&c, user(json!({"userName": "boss@x.com", "displayName": "The Boss"}))).await.unwrap();
    let ann = env
        .enlist
        .users
        .create(
            &c,
            user(json!({"userName": "ann@x.com", "title": "Buyer",
                "emails": [{"type": "work", "value": "ann@x.com", "primary": true}, {"type": "other", "value": "ann@home.org"}],
                "phoneNumbers": [{"type": "mobile", "value": "+1 555 0100"}], ent: {"employeeNumber": "100"}})),
        )
        .await
        .unwrap();
    let patch = json!({"Operations": [
        {"op": "Replace", "path": "title", "value": "Lead"},
        {"op": "Replace", "path": "phoneNumbers[type eq \"mobile\"].value", "value": "+1 555 0199"},
        {"op": "Remove", "path": "emails[type eq \"other\"]"},
        {"op": "Add", "path": "phoneNumbers", "value": [{"type": "work", "value": "+1 555 0200"}]},
        {"op": "Replace", "path": format!("{ent}:employeeNumber"), "value": "101"},
        {"op": "Replace", "path": format!("{ent}:manager"), "value": boss.user.id.as_str()}
    ]});
    // Groups whose names need escaping in the answer's one read.
    for name in ["Sales \"EMEA\"", "R&D\u{1e}\u{1f}[1]"] {
        let g = NewGroup {
            display_name: enlist_core::DisplayName::parse(name).unwrap(),
            external_id: None,
            members: vec![ann.user.id.clone()],
        };
        env.enlist.groups.create(&c, g).await.unwrap();
    }
    let ops = enlist_scim::user_patch(&patch, "x").unwrap();
    let v = env.enlist.users.change(&c, &ann.user.id, UserChange::Patch(ops), None).await.unwrap();
    let read = env.enlist.users.get(&c, &ann.user.id, true).await.unwrap();
    assert_eq!(v.groups, read.groups, "[{}] the change answers with the user's groups", env.name);
    assert_eq!(v.groups.as_ref().map(Vec::len), Some(2), "[{}]", env.name);
    assert_eq!(v.manager_display.as_deref(), Some("The Boss"), "[{}] the manager is shown by name", env.name);
    for (filter, want) in [
        (r#"title eq "Lead""#, vec!["ann@x.com"]),
        (r#"title eq "Buyer""#, vec![]),
        (r#"phoneNumbers.value eq "+1 555 0199""#, vec!["ann@x.com"]),
        (r#"phoneNumbers.value eq "+1 555 0100""#, vec![]),
        (r#"phoneNumbers[type eq "work"].value eq "+1 555 0200""#, vec!["ann@x.com"]),
        (r#"emails.value eq "ann@home.org""#, vec![]),
        (r#"emails[type eq "work"].value eq "ANN@x.com""#, vec!["ann@x.com"]),
        (&format!(r#"{ent}:employeeNumber eq "101""#), vec!["ann@x.com"]),
        (&format!(r#"{ent}:employeeNumber eq "100""#), vec![]),
    ] {
        assert_eq!(user_names(&env, &c, filter).await, want, "[{}] {filter}", env.name);
    }
    // What is read back is what the change answered.
    let got = env.enlist.users.get(&c, &ann.user.id, false).await.unwrap();
    assert_eq!(got.user, v.user, "[{}]", env.name);
}
on_both!(value_rows_follow_every_change);

pub(crate) async fn seed(env: &Env, c: &Caller) {
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

/// A case-exact attribute held as a value row (`profileUrl`, a reference)
/// compares exactly, found through the folded index: equality and its
/// negation tell two values apart that differ only in case.
async fn case_exact_values_compare_exactly(env: Env) {
    let o = org(&env, "Contoso", "owner@x.com").await;
    let c = entra(&o.id);
    for (name, url) in [("upper@x.com", "https://x.test/Ana"), ("lower@x.com", "https://x.test/ana")] {
        env.enlist.users.create(&c, user(json!({"userName": name, "profileUrl": url}))).await.unwrap();
    }
    assert_eq!(user_names(&env, &c, r#"profileUrl eq "https://x.test/Ana""#).await, ["upper@x.com"], "[{}]", env.name);
    assert_eq!(user_names(&env, &c, r#"profileUrl eq "https://x.test/ANA""#).await, Vec::<String>::new());
    let mut others = user_names(&env, &c, r#"profileUrl ne "https://x.test/ana""#).await;
    others.sort();
    assert_eq!(others, ["owner@x.com", "upper@x.com"], "[{}]", env.name);
    assert_eq!(user_names(&env, &c, r#"profileUrl sw "https://x.test/a""#).await, ["lower@x.com"], "[{}]", env.name);
}
on_both!(case_exact_values_compare_exactly);

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
on_every_store!(one_account_per_email_across_organizations);
