//! Groups and races: membership batches and roles, the last Admin guarded by the database, racing creates and member additions, a failed unit of work leaving nothing.

use super::*;

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
    // A listed page carries each user's own groups, read with the page
    // (one statement on both backends), in group creation order, names as
    // they were sent.
    let odd = enlist_core::DisplayName::parse("Zeta \"night\" shift\\ \u{e9}").unwrap();
    let second = env
        .enlist
        .groups
        .create(&c, NewGroup { display_name: odd.clone(), external_id: None, members: ids[27..].to_vec() })
        .await
        .unwrap()
        .group
        .id;
    let all = env.enlist.users.list(&c, ListQuery { filter: None, sort: None, page: page(100) }, true).await.unwrap();
    assert_eq!(all.items.len(), 31, "[{}] the owner and 30 members", env.name);
    for v in &all.items {
        let names: Vec<String> = v.groups.clone().unwrap().into_iter().map(|g| g.display_name).collect();
        let want: Vec<String> = match ids.iter().position(|i| *i == v.user.id) {
            Some(27..) => vec!["Staff".into(), odd.as_str().into()],
            Some(25..) => vec!["Staff".into()],
            _ => vec![],
        };
        assert_eq!(names, want, "[{}] {}", env.name, v.user.profile.user_name().as_str());
    }
    let one = env.enlist.users.get(&c, &ids[28], true).await.unwrap().groups.unwrap();
    assert_eq!(one.iter().map(|g| &g.id).collect::<Vec<_>>(), [&gid, &second], "[{}] read by id", env.name);
    env.enlist.groups.delete(&c, &second, None).await.unwrap();
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
on_every_store!(the_last_admin_is_guarded_by_the_database);

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
on_every_store!(concurrent_member_adds_lose_nothing);

async fn a_failed_unit_of_work_leaves_nothing(env: Env) {
    let o = org(&env, "Contoso", "owner@x.com").await;
    let org_id = o.id.clone();
    let err = env
        .store
        .write(Box::new(move |tx| {
            tx.organizations().add_domain(&org_id, &enlist_core::DomainName::parse("contoso.com")?)?;
            Err(Error::Conflict { detail: "stop here".into() })
        }))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Conflict { .. }));
    assert!(env.enlist.organizations.find("Contoso").await.unwrap().domains.is_empty(), "[{}] rolled back", env.name);
}
on_every_store!(a_failed_unit_of_work_leaves_nothing);
