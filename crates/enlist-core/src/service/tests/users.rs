//! Users: provisioning, changes (PATCH and PUT), the last active Admin, email changes, delete.

use super::*;

// ---- provisioning ----------------------------------------------------------

fn expect_new_account(tx: &mut MockTx) {
    tx.accounts.expect_get_or_insert().times(1).returning(|a| Ok((a.clone(), true)));
}

#[test]
fn create_queues_a_notification_naming_the_key_label_and_audits_once() {
    let mut w = world(org(&["contoso.com"]), vec![], 0);
    expect_new_account(&mut w.tx);
    w.tx.users.expect_insert().times(1).returning(|_| Ok(()));
    let (mails, audits) = (w.mails.clone(), w.audits.clone());
    let (e, store) = enlist(w.tx);
    let v = block_on(e.users.create(
        &entra(),
        NewUser { attrs: attrs("alice@contoso.com", Some("Alice@Contoso.com"), &["FullMember"]), password: false },
    ))
    .unwrap();
    assert_eq!(v.user.effective_role, Role::FullMember);
    assert_eq!(v.user.role_source, RoleSource::Assigned);
    let mails = mails.lock().unwrap();
    assert_eq!(mails.len(), 1);
    assert_eq!(mails[0].added_by, "Entra provisioning");
    assert_eq!(mails[0].organization_name, "Contoso");
    assert_eq!(mails[0].recipient, "Alice@Contoso.com");
    let audits = audits.lock().unwrap();
    assert_eq!(audits.len(), 1);
    assert_eq!((audits[0].operation, audits[0].actor.as_str()), (Operation::Create, "Entra provisioning"));
    assert_eq!(store.outcomes(), vec![Outcome::Committed]);
}

#[test]
fn create_without_roles_gets_the_default_role() {
    let mut w = world(org(&[]), vec![], 0);
    expect_new_account(&mut w.tx);
    w.tx.users.expect_insert().returning(|_| Ok(()));
    let (e, _) = enlist(w.tx);
    let v =
        block_on(e.users.create(&entra(), NewUser { attrs: attrs("bob@x.com", None, &[]), password: false })).unwrap();
    assert_eq!((v.user.effective_role, v.user.role_source), (Role::FreeMember, RoleSource::Default));
}

#[test]
fn create_with_an_unknown_role_writes_nothing() {
    let mut w = world(org(&[]), vec![], 0);
    w.tx.accounts.expect_get_or_insert().never();
    w.tx.users.expect_insert().never();
    let (e, store) = enlist(w.tx);
    let err =
        block_on(e.users.create(&entra(), NewUser { attrs: attrs("bob@x.com", None, &["User"]), password: false }))
            .unwrap_err();
    assert!(matches!(err, Error::InvalidValue { .. }));
    assert!(detail(&err).contains("Allowed values: Admin, FullMember, FreeMember, Guest"), "{err}");
    assert!(w.mails.lock().unwrap().is_empty());
    assert_eq!(store.outcomes(), vec![Outcome::RolledBack]);
}

#[test]
fn create_without_any_email_names_what_to_map() {
    let w = world(org(&[]), vec![], 0);
    let (e, _) = enlist(w.tx);
    let err =
        block_on(e.users.create(&entra(), NewUser { attrs: attrs("bob", None, &[]), password: false })).unwrap_err();
    assert!(matches!(err, Error::InvalidValue { .. }));
    assert!(detail(&err).contains("emails[type eq \"work\"].value"), "{err}");
}

#[test]
fn password_on_create_is_ignored_not_stored_and_noted_in_the_audit() {
    let mut w = world(org(&[]), vec![], 0);
    expect_new_account(&mut w.tx);
    w.tx.users.expect_insert().withf(|u| !u.profile.attrs().contains_key("password")).times(1).returning(|_| Ok(()));
    let audits = w.audits.clone();
    let (e, _) = enlist(w.tx);
    let mut a = attrs("okta@x.com", None, &[]);
    a.insert("password".into(), s("1mz050nq"));
    block_on(e.users.create(&entra(), NewUser { attrs: a, password: true })).unwrap();
    let audits = audits.lock().unwrap();
    assert!(audits[0].note.as_deref().unwrap_or_default().contains("password"), "{:?}", audits[0].note);
    assert!(audits[0].changes.iter().all(|c| c.attribute != "password"));
}

#[test]
fn second_organization_links_the_existing_account() {
    let mut w = world(org(&[]), vec![], 0);
    let existing = Account {
        id: AccountId::new("acct-shared"),
        email: Email::parse("jo@fabrikam.com").unwrap(),
        created_at: FixedClock.now(),
    };
    // Found, not inserted.
    w.tx.accounts.expect_get_or_insert().times(1).returning(move |_| Ok((existing.clone(), false)));
    w.tx.users.expect_by_account().returning(|_, _| Ok(None));
    w.tx.users.expect_insert().withf(|u| u.account_id.as_str() == "acct-shared").times(1).returning(|_| Ok(()));
    let (e, _) = enlist(w.tx);
    // A B2B guest with a foreign domain: creating is allowed.
    block_on(e.users.create(&entra(), NewUser { attrs: attrs("JO@fabrikam.com", None, &["Guest"]), password: false }))
        .unwrap();
}

#[test]
fn duplicate_user_name_is_a_uniqueness_conflict() {
    let mut w = world(org(&[]), vec![], 0);
    expect_new_account(&mut w.tx);
    w.tx.users.expect_insert().returning(|_| Err(RepoError::Unique(Uniqueness::UserName)));
    let (e, store) = enlist(w.tx);
    let err = block_on(e.users.create(&entra(), NewUser { attrs: attrs("a@x.com", None, &[]), password: false }))
        .unwrap_err();
    assert!(matches!(err, Error::Uniqueness { rule: Uniqueness::UserName, .. }), "{err:?}");
    assert!(detail(&err).contains("'a@x.com'"));
    assert_eq!(store.outcomes(), vec![Outcome::RolledBack]);
}

#[test]
fn a_failure_midway_rolls_the_whole_unit_back() {
    let mut tx = world(org(&[]), vec![], 0).tx;
    expect_new_account(&mut tx);
    tx.users.expect_insert().times(1).returning(|_| Ok(()));
    tx.outbox = Default::default();
    tx.outbox.expect_enqueue().returning(|_| Err(RepoError::other(std::io::Error::other("disk full"))));
    let (e, store) = enlist(tx);
    let err = block_on(e.users.create(&entra(), NewUser { attrs: attrs("a@x.com", None, &[]), password: false }))
        .unwrap_err();
    assert!(matches!(err, Error::Unexpected(_)));
    // The insert and the audit happened inside the unit; it ended in Err, so
    // the store rolls them back with it.
    assert_eq!(store.outcomes(), vec![Outcome::RolledBack]);
}

// ---- changes ---------------------------------------------------------------

#[test]
fn update_writes_one_audit_record_and_queues_no_notification() {
    let w = world(org(&[]), vec![user("u1", attrs("a@x.com", None, &[]))], 0);
    let (mails, audits) = (w.mails.clone(), w.audits.clone());
    let (e, _) = enlist(w.tx);
    let v = block_on(e.users.change(
        &entra(),
        &UserId::new("u1"),
        patch(vec![op(PatchKind::Replace, path("title", None), Some(s("Buyer")))]),
        None,
    ))
    .unwrap();
    assert_eq!(v.user.profile.attrs().get("title"), Some(&s("Buyer")));
    assert_eq!(v.user.version, 4);
    assert!(mails.lock().unwrap().is_empty());
    let audits = audits.lock().unwrap();
    assert_eq!(audits.len(), 1);
    assert_eq!(audits[0].changes.len(), 1);
    assert_eq!(audits[0].changes[0].attribute, "title");
}

#[test]
fn a_change_that_changes_nothing_writes_nothing() {
    let mut w = world(org(&[]), vec![user("u1", attrs("a@x.com", None, &[]))], 0);
    w.own_users();
    let u = user("u1", attrs("a@x.com", None, &[]));
    w.user_is(u);
    w.tx.users.expect_groups_of().returning(|_, _| Ok(Vec::new()));
    w.tx.users.expect_update().never();
    let audits = w.audits.clone();
    let (e, _) = enlist(w.tx);
    let put = UserChange::Replace { attrs: attrs("a@x.com", None, &[]), password: false };
    block_on(e.users.change(&entra(), &UserId::new("u1"), put, None)).unwrap();
    assert!(audits.lock().unwrap().is_empty());
}

#[test]
fn password_is_refused_on_replace_and_patch() {
    for change in [
        UserChange::Replace { attrs: attrs("a@x.com", None, &[]), password: true },
        patch(vec![op(PatchKind::Replace, path("password", None), Some(s("Xk4!")))]),
    ] {
        let mut w = world(org(&[]), vec![user("u1", attrs("a@x.com", None, &[]))], 0);
        w.own_users();
        let u = user("u1", attrs("a@x.com", None, &[]));
        w.user_is(u);
        w.tx.users.expect_update().never();
        let (e, _) = enlist(w.tx);
        let err = block_on(e.users.change(&entra(), &UserId::new("u1"), change, None)).unwrap_err();
        assert!(matches!(err, Error::Mutability { .. }), "{err:?}");
        assert!(detail(&err).contains("SSO"));
    }
}

#[test]
fn put_without_active_keeps_it_and_clears_what_it_omits() {
    let mut a = attrs("a@x.com", None, &["FullMember"]);
    a.insert("active".into(), Value::Bool(false));
    a.insert("title".into(), s("Buyer"));
    let w = world(org(&[]), vec![user("u1", a)], 0);
    let (e, _) = enlist(w.tx);
    let v = block_on(e.users.change(
        &entra(),
        &UserId::new("u1"),
        UserChange::Replace { attrs: attrs("a@x.com", None, &[]), password: false },
        None,
    ))
    .unwrap();
    assert!(!v.user.profile.active(), "omitted active must be kept");
    assert!(v.user.profile.attrs().get("title").is_none());
    assert_eq!(v.user.role_source, RoleSource::Default, "roles omitted from a PUT are cleared");
}

#[test]
fn deactivate_keeps_the_membership_and_its_roles() {
    let w = world(org(&[]), vec![user("u1", attrs("a@x.com", None, &["FullMember"]))], 0);
    let (updates, events, removals) = (w.updates.clone(), w.events.clone(), w.removals.clone());
    let (e, _) = enlist(w.tx);
    block_on(e.users.change(
        &entra(),
        &UserId::new("u1"),
        patch(vec![op(PatchKind::Replace, path("active", None), Some(Value::Bool(false)))]),
        None,
    ))
    .unwrap();
    let updates = updates.lock().unwrap();
    assert_eq!(updates.len(), 1);
    assert!(!updates[0].profile.active());
    assert_eq!(updates[0].profile.roles(), &[Role::FullMember]);
    assert_eq!(updates[0].effective_role, Role::FullMember);
    // The host hears it: updated (naming active), then deactivated; the
    // role did not move, so no role event.
    let kinds: Vec<_> = events.lock().unwrap().iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(kinds, ["user.updated", "user.deactivated"]);
    assert_eq!(*removals.lock().unwrap(), [UserId::new("u1")], "the key's deactivation is counted by the guard");
}

#[test]
fn a_change_keeping_assigned_roles_reads_neither_the_organization_nor_group_roles() {
    // Group changes recompute their members' roles as they commit, so a
    // PATCH of other attributes keeps the stored role: two reads fewer
    // per Entra update.
    let mut w = world(org(&[]), vec![user("u1", attrs("a@x.com", None, &["Guest"]))], 0);
    w.tx.orgs.checkpoint();
    w.tx.orgs.expect_get().never();
    w.tx.groups.checkpoint();
    w.tx.groups.expect_group_role_floor().never();
    let (e, _) = enlist(w.tx);
    let v = block_on(e.users.change(
        &entra(),
        &UserId::new("u1"),
        patch(vec![op(PatchKind::Replace, path("title", None), Some(s("Buyer")))]),
        None,
    ))
    .unwrap();
    assert_eq!((v.user.effective_role, v.user.role_source), (Role::Guest, RoleSource::Assigned));
}

#[test]
fn a_role_that_follows_the_default_takes_a_changed_default_at_the_next_change() {
    // Stored under FreeMember; the organization's default is now Guest.
    let mut w = world(org(&[]), vec![user("u1", attrs("a@x.com", None, &[]))], 0);
    w.tx.orgs.checkpoint();
    w.tx.orgs.expect_get().returning(|_| Ok(Some(Organization { default_role: Role::Guest, ..org(&[]) })));
    let (e, _) = enlist(w.tx);
    let v = block_on(e.users.change(
        &entra(),
        &UserId::new("u1"),
        patch(vec![op(PatchKind::Replace, path("title", None), Some(s("Buyer")))]),
        None,
    ))
    .unwrap();
    assert_eq!((v.user.effective_role, v.user.role_source), (Role::Guest, RoleSource::Default));
}

#[test]
fn role_change_recomputes_the_effective_role_with_group_floor() {
    let mut w = world(org(&[]), vec![user("u1", attrs("a@x.com", None, &["Guest"]))], 0);
    w.tx.groups.checkpoint();
    w.tx.groups
        .expect_group_role_floor()
        .returning(|_, ids| Ok(ids.iter().map(|i| (i.clone(), Role::FullMember)).collect()));
    let (e, _) = enlist(w.tx);
    let roles = Value::Multi(vec![obj(&[("value", s("FreeMember"))])]);
    let v = block_on(e.users.change(
        &entra(),
        &UserId::new("u1"),
        patch(vec![op(PatchKind::Replace, path("roles", None), Some(roles))]),
        None,
    ))
    .unwrap();
    assert_eq!((v.user.effective_role, v.user.role_source), (Role::FullMember, RoleSource::Group));
}

#[test]
fn if_match_with_a_stale_version_fails_and_changes_nothing() {
    let mut w = world(org(&[]), vec![user("u1", attrs("a@x.com", None, &[]))], 0);
    w.own_users();
    let u = user("u1", attrs("a@x.com", None, &[]));
    w.user_is(u);
    w.tx.users.expect_update().never();
    let (e, _) = enlist(w.tx);
    let err = block_on(e.users.change(
        &entra(),
        &UserId::new("u1"),
        patch(vec![op(PatchKind::Replace, path("title", None), Some(s("x")))]),
        Some(2),
    ))
    .unwrap_err();
    assert!(matches!(err, Error::PreconditionFailed { .. }));
}

#[test]
fn a_lost_version_race_is_retried_not_reported() {
    let mut w = world(org(&[]), vec![user("u1", attrs("a@x.com", None, &[]))], 0);
    w.own_users();
    let u = user("u1", attrs("a@x.com", None, &[]));
    w.user_is(u);
    w.tx.users.expect_groups_of().returning(|_, _| Ok(Vec::new()));
    let mut first = true;
    w.tx.users.expect_update().times(2).returning(move |_, _| {
        if std::mem::take(&mut first) {
            Err(RepoError::VersionConflict)
        } else {
            Ok(())
        }
    });
    let (e, store) = enlist(w.tx);
    block_on(e.users.change(
        &entra(),
        &UserId::new("u1"),
        patch(vec![op(PatchKind::Replace, path("title", None), Some(s("x")))]),
        None,
    ))
    .unwrap();
    assert_eq!(store.outcomes(), vec![Outcome::RolledBack, Outcome::Committed]);
}

// ---- the last active Admin ------------------------------------------------

fn admin_world(active_admins: u64) -> World {
    world(
        org(&[]),
        vec![user("boss", attrs("boss@x.com", None, &["Admin"])), user("u2", attrs("u2@x.com", None, &["Guest"]))],
        active_admins,
    )
}

#[test]
fn the_last_active_admin_cannot_be_deactivated_demoted_or_deleted() {
    let cases: Vec<(&str, UserChange)> = vec![
        ("deactivate", patch(vec![op(PatchKind::Replace, path("active", None), Some(Value::Bool(false)))])),
        (
            "demote",
            patch(vec![op(
                PatchKind::Replace,
                path("roles", None),
                Some(Value::Multi(vec![obj(&[("value", s("FullMember"))])])),
            )]),
        ),
        ("demote", patch(vec![op(PatchKind::Remove, path("roles", None), None)])),
    ];
    for (verb, change) in cases {
        let mut w = admin_world(1);
        w.own_users();
        let u = user("boss", attrs("boss@x.com", None, &["Admin"]));
        w.user_is(u);
        w.tx.users.expect_count_active_admins().returning(|_| Ok(1));
        w.tx.users.expect_update().never();
        let (e, store) = enlist(w.tx);
        let err = block_on(e.users.change(&entra(), &UserId::new("boss"), change, None)).unwrap_err();
        assert!(matches!(err, Error::Conflict { .. }), "{verb}: {err:?}");
        assert!(
            detail(&err).starts_with(&format!("Cannot {verb} boss@x.com: they are the last active Admin")),
            "{err}"
        );
        assert_eq!(store.outcomes(), vec![Outcome::RolledBack]);
    }
    let mut w = admin_world(1);
    w.tx.users.expect_delete().never();
    let (e, _) = enlist(w.tx);
    let err = block_on(e.users.delete(&entra(), &UserId::new("boss"), None)).unwrap_err();
    assert!(detail(&err).starts_with("Cannot delete boss@x.com"), "{err}");
}

#[test]
fn an_admin_may_be_deactivated_when_another_remains() {
    let w = admin_world(2);
    let (e, _) = enlist(w.tx);
    let v = block_on(e.users.change(
        &entra(),
        &UserId::new("boss"),
        patch(vec![op(PatchKind::Replace, path("active", None), Some(Value::Bool(false)))]),
        None,
    ))
    .unwrap();
    assert!(!v.user.profile.active());
}

// ---- email changes ----------------------------------------------------------

/// `emails[type eq "work"].value`
fn work_email() -> PatchPath {
    let emails = crate::query::Filter::Compare {
        path: USER_RESOURCE.resolve(None, "emails", Some("type")).unwrap(),
        op: crate::query::CompareOp::Eq,
        value: crate::query::Literal::String("work".into()),
    };
    PatchPath { target: USER_RESOURCE.resolve(None, "emails", Some("value")).unwrap(), filter: Some(emails) }
}

fn email_change(domains: &[&str], from: &str, to: &str) -> Result<UserView> {
    let mut w = world(org(domains), vec![user("u1", attrs(from, Some(from), &[]))], 0);
    w.tx.accounts.expect_set_email().returning(|_, _| Ok(()));
    let (e, _) = enlist(w.tx);
    let p = work_email();
    block_on(e.users.change(&entra(), &UserId::new("u1"), patch(vec![op(PatchKind::Replace, p, Some(s(to)))]), None))
}

#[test]
fn email_changes_follow_the_domain_rule() {
    let allowed = [
        (&["contoso.com"][..], "a@contoso.com", "b@contoso.com"),
        (&["contoso.com", "contoso.co.uk"][..], "a@contoso.com", "a@CONTOSO.co.uk"),
        (&["contoso.com"][..], "a@contoso.com", "A@Contoso.COM"), // letter case only: no change
        (&[][..], "a@contoso.com", "A@contoso.com"),              // letter case only, even without domains
        (&["sub.contoso.com", "contoso.com"][..], "a@contoso.com", "a@sub.contoso.com"),
    ];
    for (domains, from, to) in allowed {
        let v = email_change(domains, from, to).unwrap_or_else(|e| panic!("{from} -> {to} with {domains:?}: {e}"));
        assert_eq!(v.user.profile.email().as_str(), to);
    }
    let refused = [
        (&[][..], "a@contoso.com", "b@contoso.com", "(none registered)"),
        (&["contoso.com"][..], "jo@fabrikam.com", "jo@contoso.com", "(contoso.com)"),
        (&["contoso.com"][..], "a@contoso.com", "a@northwind.com", "(contoso.com)"),
        (&["contoso.com"][..], "a@contoso.com", "a@sub.contoso.com", "(contoso.com)"),
    ];
    for (domains, from, to, listed) in refused {
        let err = email_change(domains, from, to).unwrap_err();
        assert!(matches!(err, Error::InvalidValue { .. }), "{from} -> {to}");
        let d = detail(&err);
        assert!(d.starts_with(&format!("Email change refused for {from} -> {to}")), "{d}");
        assert!(d.contains(listed) && d.contains("guest (B2B)"), "{d}");
    }
}

// ---- delete -----------------------------------------------------------------

#[test]
fn delete_removes_the_membership_clears_manager_references_and_offers_the_account_for_cleanup() {
    let mut w = world(org(&[]), vec![user("u1", attrs("a@x.com", None, &[]))], 0);
    let mut managed_attrs = attrs("m@x.com", None, &[]);
    managed_attrs.insert(ENTERPRISE_USER.into(), obj(&[("manager", obj(&[("value", s("u1"))]))]));
    let managed = user("u9", managed_attrs);
    w.tx.users.expect_managed_by().returning(move |_, _| Ok(vec![managed.clone()]));
    w.tx.users.expect_delete().times(1).returning(|_, _| Ok(true));
    w.tx.accounts.expect_delete_if_orphan().withf(|a| a.as_str() == "acct-u1").times(1).returning(|_| Ok(false));
    let (updates, audits) = (w.updates.clone(), w.audits.clone());
    let (e, _) = enlist(w.tx);
    block_on(e.users.delete(&entra(), &UserId::new("u1"), None)).unwrap();
    let updates = updates.lock().unwrap();
    assert_eq!(updates.len(), 1);
    assert_eq!(updates[0].profile.manager(), None);
    assert_eq!(audits.lock().unwrap().len(), 1);
}

/// Organization A changed the person's address p@a.com → q@a.com; B's
/// identity provider now sends q@a.com. B has no domains, yet catching up
/// with the account's email is not an email change (issue 10 #2).
#[test]
fn catching_up_with_the_accounts_email_is_not_a_change() {
    let mut w = world(org(&[]), vec![user("u1", attrs("p@a.com", Some("p@a.com"), &[]))], 0);
    w.tx.accounts.checkpoint();
    w.tx.accounts.expect_get().returning(|id| {
        Ok(Some(Account { id: id.clone(), email: Email::parse("q@a.com").unwrap(), created_at: FixedClock.now() }))
    });
    w.tx.accounts.expect_set_email().never();
    let updates = w.updates.clone();
    let (e, _) = enlist(w.tx);
    let p = work_email();
    let v = block_on(e.users.change(
        &entra(),
        &UserId::new("u1"),
        patch(vec![op(PatchKind::Replace, p, Some(s("q@a.com")))]),
        None,
    ))
    .unwrap();
    assert_eq!(v.user.profile.email().as_str(), "q@a.com");
    assert_eq!(updates.lock().unwrap().len(), 1);
}

/// The same organization moving the account elsewhere is still gated.
#[test]
fn a_real_change_is_decided_against_the_accounts_email() {
    let mut w = world(org(&["a.com"]), vec![user("u1", attrs("p@a.com", Some("p@a.com"), &[]))], 0);
    w.tx.accounts.checkpoint();
    // The account already moved to another organization's domain.
    w.tx.accounts.expect_get().returning(|id| {
        Ok(Some(Account { id: id.clone(), email: Email::parse("q@b.com").unwrap(), created_at: FixedClock.now() }))
    });
    w.tx.accounts.expect_set_email().never();
    let (e, _) = enlist(w.tx);
    let p = work_email();
    let err = block_on(e.users.change(
        &entra(),
        &UserId::new("u1"),
        patch(vec![op(PatchKind::Replace, p, Some(s("r@a.com")))]),
        None,
    ))
    .unwrap_err();
    assert!(detail(&err).contains("q@b.com -> r@a.com"), "{err}");
}

/// The account moved on in another organization; this membership keeps
/// sending its own old address with other changes. Its email did not change,
/// so nothing is decided about the account and the change is accepted.
#[test]
fn a_membership_keeping_its_own_address_is_not_an_email_change() {
    let mut w = world(org(&[]), vec![user("u1", attrs("p@a.com", Some("p@a.com"), &[]))], 0);
    w.tx.accounts.checkpoint();
    w.tx.accounts.expect_get().never();
    w.tx.accounts.expect_set_email().never();
    let (e, _) = enlist(w.tx);
    let v = block_on(e.users.change(
        &entra(),
        &UserId::new("u1"),
        patch(vec![op(PatchKind::Replace, path("title", None), Some(s("Buyer")))]),
        None,
    ))
    .unwrap();
    assert_eq!(v.user.profile.email().as_str(), "p@a.com");
}
