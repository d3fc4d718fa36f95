//! Groups: role-mapped groups raise and lower effective roles; unknown members are refused.

use super::*;

#[test]
fn leaving_an_admin_mapped_group_cannot_remove_the_last_admin() {
    // u2 is Admin only through the group.
    let mut u2 = user("u2", attrs("u2@x.com", None, &["Guest"]));
    u2.effective_role = Role::Admin;
    u2.role_source = RoleSource::Group;
    let mut w = world(org(&[]), vec![u2], 1);
    let group = Group {
        id: GroupId::new("g1"),
        organization_id: OrganizationId::new("org-1"),
        display_name: DisplayName::parse("Admins").unwrap(),
        external_id: None,
        role: Some(Role::Admin),
        created_at: FixedClock.now(),
        updated_at: FixedClock.now(),
        version: 1,
    };
    w.tx.groups.expect_get().returning(move |_, _| Ok(Some(group.clone())));
    w.tx.groups.expect_remove_members().returning(|_, _, ids| Ok(ids.to_vec()));
    w.tx.groups.expect_touch().returning(|_, _, _, _| Ok(2));
    w.tx.users.expect_set_effective_roles().never();
    let (e, store) = enlist(w.tx);
    let err = block_on(e.groups.change(
        &entra(),
        &GroupId::new("g1"),
        vec![GroupChange::RemoveMembers(vec![UserId::new("u2")])],
        None,
    ))
    .unwrap_err();
    assert!(matches!(err, Error::Conflict { .. }), "{err:?}");
    assert!(detail(&err).contains("u2@x.com would no longer be Admin"), "{err}");
    assert_eq!(store.outcomes(), vec![Outcome::RolledBack]);
}

#[test]
fn joining_a_role_mapped_group_raises_the_effective_role() {
    let mut w = world(org(&[]), vec![user("u2", attrs("u2@x.com", None, &["Guest"]))], 1);
    let group = Group {
        id: GroupId::new("g1"),
        organization_id: OrganizationId::new("org-1"),
        display_name: DisplayName::parse("Staff").unwrap(),
        external_id: None,
        role: Some(Role::FullMember),
        created_at: FixedClock.now(),
        updated_at: FixedClock.now(),
        version: 1,
    };
    w.tx.groups.checkpoint();
    w.tx.groups.expect_get().returning(move |_, _| Ok(Some(group.clone())));
    w.tx.groups.expect_add_members().returning(|_, _, ids| Ok(ids.to_vec()));
    w.tx.groups.expect_touch().returning(|_, _, _, _| Ok(2));
    w.tx.groups
        .expect_group_role_floor()
        .returning(|_, ids| Ok(ids.iter().map(|i| (i.clone(), Role::FullMember)).collect()));
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s2 = seen.clone();
    w.tx.users.expect_set_effective_roles().times(1).returning(move |_, ups| {
        s2.lock().unwrap().extend(ups.iter().map(|u| (u.user.clone(), u.role, u.source)));
        Ok(())
    });
    let (e, _) = enlist(w.tx);
    block_on(e.groups.change(
        &entra(),
        &GroupId::new("g1"),
        vec![GroupChange::AddMembers(vec![UserId::new("u2"), UserId::new("u2")])],
        None,
    ))
    .unwrap();
    assert_eq!(*seen.lock().unwrap(), vec![(UserId::new("u2"), Role::FullMember, RoleSource::Group)]);
}

#[test]
fn an_unknown_member_id_is_named_and_nothing_is_added() {
    let mut w = world(org(&[]), vec![user("u2", attrs("u2@x.com", None, &[]))], 1);
    let group = Group {
        id: GroupId::new("g1"),
        organization_id: OrganizationId::new("org-1"),
        display_name: DisplayName::parse("Staff").unwrap(),
        external_id: None,
        role: None,
        created_at: FixedClock.now(),
        updated_at: FixedClock.now(),
        version: 1,
    };
    w.tx.groups.expect_get().returning(move |_, _| Ok(Some(group.clone())));
    w.tx.groups.expect_add_members().never();
    let (e, _) = enlist(w.tx);
    let err = block_on(e.groups.change(
        &entra(),
        &GroupId::new("g1"),
        vec![GroupChange::AddMembers(vec![UserId::new("u2"), UserId::new("ghost")])],
        None,
    ))
    .unwrap_err();
    assert!(matches!(err, Error::InvalidValue { .. }));
    assert!(detail(&err).contains("Unknown member id(s): ghost."), "{err}");
}

#[test]
fn a_group_external_id_over_the_byte_limit_is_refused_and_nothing_is_written() {
    let mut w = world(org(&[]), vec![], 1);
    w.tx.groups.expect_insert().never();
    w.tx.groups.expect_update().never();
    let (e, _) = enlist(w.tx);
    let long = "x".repeat(crate::model::MAX_INDEXED_BYTES + 1);
    let new = NewGroup {
        display_name: DisplayName::parse("Sales").unwrap(),
        external_id: Some(long.clone()),
        members: vec![],
    };
    let err = block_on(e.groups.create(&entra(), new)).unwrap_err();
    assert!(matches!(err, Error::InvalidValue { .. }) && detail(&err).contains("externalId"), "{err}");
}
