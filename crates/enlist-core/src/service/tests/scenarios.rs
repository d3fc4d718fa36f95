//! Whole stories through the real services on the in-memory store
//! (`testing::MemoryStore`): what a sequence of provisioning calls leaves
//! behind, read back from the store rather than scripted port by port.

use super::*;
use crate::testing::MemoryStore;

struct Env {
    enlist: Services,
    store: Arc<MemoryStore>,
}

fn env() -> Env {
    let store = Arc::new(MemoryStore::new());
    Env { enlist: crate::testing::services(store.clone()), store }
}

fn op(org: &Organization) -> Caller {
    Caller { organization_id: org.id.clone(), actor: Actor::Operator }
}
fn key(org: &Organization) -> Caller {
    Caller { organization_id: org.id.clone(), actor: Actor::ApiKey { id: ApiKeyId::new("k"), label: "Entra".into() } }
}
fn org_named(e: &Env, name: &str, owner: &str, domains: &[&str]) -> Organization {
    let o = block_on(
        e.enlist.organizations.create(&Actor::Operator, NewOrganization::new(name).owner(Email::parse(owner).unwrap())),
    )
    .unwrap();
    for d in domains {
        block_on(e.enlist.organizations.add_domain(&op(&o), DomainName::parse(d).unwrap())).unwrap();
    }
    o
}
fn new_user(user_name: &str, roles: &[&str]) -> NewUser {
    NewUser { attrs: attrs(user_name, Some(user_name), roles), password: false }
}
fn set_email(to: &str) -> UserChange {
    let work = crate::query::Filter::Compare {
        path: USER_RESOURCE.resolve(None, "emails", Some("type")).unwrap(),
        op: crate::query::CompareOp::Eq,
        value: crate::query::Literal::String("work".into()),
    };
    let p = PatchPath { target: USER_RESOURCE.resolve(None, "emails", Some("value")).unwrap(), filter: Some(work) };
    patch(vec![op_(PatchKind::Replace, p, Some(s(to)))])
}
fn op_(kind: PatchKind, p: PatchPath, value: Option<Value>) -> PatchOp {
    super::op(kind, p, value)
}

#[test]
fn a_role_mapped_group_raises_and_lowers_roles_and_the_last_admin_holds() {
    let e = env();
    let o = org_named(&e, "Contoso", "boss@contoso.com", &["contoso.com"]);
    let c = key(&o);
    let ana = block_on(e.enlist.users.create(&c, new_user("ana@contoso.com", &["Guest"]))).unwrap().user;
    assert_eq!((ana.effective_role, ana.role_source), (Role::Guest, RoleSource::Assigned));
    let g = block_on(e.enlist.groups.create(
        &c,
        NewGroup {
            display_name: DisplayName::parse("Admins").unwrap(),
            external_id: None,
            members: vec![ana.id.clone()],
        },
    ))
    .unwrap()
    .group;
    block_on(e.enlist.groups.set_role(&op(&o), &g.id, Some(Role::Admin))).unwrap();
    let v = block_on(e.enlist.users.get(&c, &ana.id, true)).unwrap();
    assert_eq!((v.user.effective_role, v.user.role_source), (Role::Admin, RoleSource::Group));
    assert_eq!(v.groups.unwrap()[0].display_name, "Admins");
    // The owner steps down: ana (Admin through the group) remains.
    let owner = e
        .store
        .snapshot()
        .users()
        .iter()
        .find(|u| u.profile.user_name().as_str() == "boss@contoso.com")
        .unwrap()
        .clone();
    let demote = patch(vec![op_(
        PatchKind::Replace,
        path("roles", None),
        Some(Value::Multi(vec![obj(&[("value", s("FullMember"))])])),
    )]);
    block_on(e.enlist.users.change(&c, &owner.id, demote, None)).unwrap();
    // Now ana is the last Admin: leaving the group is refused, and nothing changes.
    let before = e.store.snapshot().audit_records().len();
    let err = block_on(e.enlist.groups.change(&c, &g.id, vec![GroupChange::RemoveMembers(vec![ana.id.clone()])], None))
        .unwrap_err();
    assert!(matches!(err, Error::Conflict { .. }), "{err}");
    assert_eq!(e.store.snapshot().audit_records().len(), before, "a refused change leaves no audit record");
    let v = block_on(e.enlist.users.get(&c, &ana.id, true)).unwrap();
    assert_eq!((v.user.effective_role, v.groups.unwrap().len()), (Role::Admin, 1));
}

#[test]
fn one_person_in_two_organizations_is_one_account_until_the_last_membership_goes() {
    let e = env();
    let a = org_named(&e, "A", "boss@a.com", &["a.com"]);
    let b = org_named(&e, "B", "boss@b.com", &[]);
    let in_a = block_on(e.enlist.users.create(&key(&a), new_user("p@a.com", &[]))).unwrap().user;
    let in_b = block_on(e.enlist.users.create(&key(&b), new_user("P@A.com", &[]))).unwrap().user;
    assert_eq!(in_a.account_id, in_b.account_id, "linked, not a second account");
    // Each provisioning sends its own notification, naming the key's label.
    let mails: Vec<String> = e
        .store
        .snapshot()
        .notifications()
        .iter()
        .filter(|n| n.recipient.eq_ignore_ascii_case("p@a.com"))
        .map(|n| n.added_by.clone())
        .collect();
    assert_eq!(mails, ["Entra", "Entra"]);
    // A changes the address inside its domains; B catches up without domains.
    block_on(e.enlist.users.change(&key(&a), &in_a.id, set_email("q@a.com"), None)).unwrap();
    block_on(e.enlist.users.change(&key(&b), &in_b.id, set_email("q@a.com"), None)).unwrap();
    // B moving the account anywhere else is refused: B has no domains.
    let err = block_on(e.enlist.users.change(&key(&b), &in_b.id, set_email("r@a.com"), None)).unwrap_err();
    assert!(detail(&err).contains("q@a.com -> r@a.com"), "{err}");
    // Deleting one membership keeps the account; the last one removes it.
    block_on(e.enlist.users.delete(&key(&a), &in_a.id, None)).unwrap();
    assert_eq!(e.store.snapshot().accounts().iter().filter(|x| x.id == in_a.account_id).count(), 1);
    block_on(e.enlist.users.delete(&key(&b), &in_b.id, None)).unwrap();
    assert_eq!(e.store.snapshot().accounts().iter().filter(|x| x.id == in_a.account_id).count(), 0);
    assert!(matches!(block_on(e.enlist.users.get(&key(&b), &in_b.id, false)), Err(Error::NotFound { .. })));
}

#[test]
fn a_refused_create_leaves_nothing_behind() {
    let e = env();
    let o = org_named(&e, "Contoso", "boss@contoso.com", &[]);
    let before = e.store.snapshot();
    let mut bad = new_user("x@contoso.com", &[]);
    bad.attrs.insert(ENTERPRISE_USER.into(), obj(&[("manager", obj(&[("value", s("no-such-user"))]))]));
    assert!(block_on(e.enlist.users.create(&key(&o), bad)).is_err());
    let after = e.store.snapshot();
    assert_eq!(after.users().len(), before.users().len());
    assert_eq!(after.accounts().len(), before.accounts().len(), "no account without its membership");
    assert_eq!(after.audit_records().len(), before.audit_records().len());
    assert_eq!(after.notifications().len(), before.notifications().len());
}

/// The exact sequence of change events a host sees for a story, numbered
/// 1, 2, 3… per organization, role changes caused by group membership and
/// by a group's role mapping included.
#[test]
fn a_host_sees_every_change_as_an_event_in_order() {
    use crate::event::{EventData, EventKind::*};
    let e = env();
    let o = org_named(&e, "Contoso", "boss@contoso.com", &[]);
    let c = key(&o);
    block_on(e.enlist.api_keys.create(&op(&o), "Entra")).unwrap();
    let ana = block_on(e.enlist.users.create(&c, new_user("ana@contoso.com", &["Guest"]))).unwrap().user;
    let g = block_on(e.enlist.groups.create(
        &c,
        NewGroup {
            display_name: DisplayName::parse("Admins").unwrap(),
            external_id: None,
            members: vec![ana.id.clone()],
        },
    ))
    .unwrap()
    .group;
    block_on(e.enlist.groups.set_role(&op(&o), &g.id, Some(Role::Admin))).unwrap();
    let off = patch(vec![op_(PatchKind::Replace, path("active", None), Some(Value::Bool(false)))]);
    block_on(e.enlist.users.change(&c, &ana.id, off, None)).unwrap();
    block_on(e.enlist.groups.change(&c, &g.id, vec![GroupChange::RemoveMembers(vec![ana.id.clone()])], None)).unwrap();
    let rename = vec![GroupChange::DisplayName(DisplayName::parse("Owners").unwrap())];
    block_on(e.enlist.groups.change(&c, &g.id, rename, None)).unwrap();
    block_on(e.enlist.users.delete(&c, &ana.id, None)).unwrap();
    // A refused change adds nothing.
    let bad = patch(vec![op_(
        PatchKind::Replace,
        path("roles", None),
        Some(Value::Multi(vec![obj(&[("value", s("Boss"))])])),
    )]);
    let boss = e
        .store
        .snapshot()
        .users()
        .iter()
        .find(|u| u.profile.user_name().as_str() == "boss@contoso.com")
        .unwrap()
        .id
        .clone();
    assert!(block_on(e.enlist.users.change(&c, &boss, bad, None)).is_err());

    let events = block_on(e.enlist.events.list(&op(&o), 0, 100)).unwrap();
    let kinds: Vec<_> = events.iter().map(|e| e.kind).collect();
    assert_eq!(
        kinds,
        [
            UserCreated,
            ApiKeyCreated,
            UserCreated,
            GroupCreated,
            GroupMembersAdded,
            UserRoleChanged,
            UserUpdated,
            UserDeactivated,
            GroupMembersRemoved,
            UserRoleChanged,
            GroupRenamed,
            UserDeleted,
        ]
    );
    assert_eq!(events.iter().map(|e| e.seq).collect::<Vec<_>>(), (1..=12).collect::<Vec<u64>>());
    assert!(events.iter().all(|e| e.organization_id == o.id));
    assert_eq!(events[2].actor, "Entra");
    match (&events[5].data, &events[9].data) {
        (
            EventData::RoleChanged { user: up, old_role: Role::Guest, old_source: RoleSource::Assigned },
            EventData::RoleChanged { user: down, old_role: Role::Admin, old_source: RoleSource::Group },
        ) => {
            assert_eq!((up.effective_role, up.role_source), (Role::Admin, RoleSource::Group));
            assert_eq!((down.effective_role, down.role_source), (Role::Guest, RoleSource::Assigned));
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(&events[6].data, EventData::User { changed, .. } if changed == &["active".to_owned()]));
    assert!(
        matches!(&events[10].data, EventData::Group { old_name: Some(n), group } if n == "Admins" && group.display_name == "Owners")
    );
    // Replay from a position, and API keys cannot read events.
    let after = block_on(e.enlist.events.list(&op(&o), 10, 100)).unwrap();
    assert_eq!(after.iter().map(|e| e.seq).collect::<Vec<_>>(), [11, 12]);
    assert!(matches!(block_on(e.enlist.events.list(&c, 0, 10)), Err(Error::Forbidden { .. })));
}

#[test]
fn an_email_change_names_the_old_and_new_address() {
    use crate::event::{EventData, EventKind};
    let e = env();
    let o = org_named(&e, "A", "boss@a.com", &["a.com"]);
    let p = block_on(e.enlist.users.create(&key(&o), new_user("p@a.com", &[]))).unwrap().user;
    block_on(e.enlist.users.change(&key(&o), &p.id, set_email("q@a.com"), None)).unwrap();
    let events = block_on(e.enlist.events.list(&op(&o), 0, 100)).unwrap();
    let changed: Vec<_> = events.iter().filter(|e| e.kind == EventKind::UserEmailChanged).collect();
    assert_eq!(changed.len(), 1);
    assert!(
        matches!(&changed[0].data, EventData::EmailChanged { user, old } if old == "p@a.com" && user.email == "q@a.com")
    );
}

/// Console sign-in: a link for an active Admin works once; a non-admin
/// gets none; a suspended Admin's session stops working at once.
#[test]
fn console_links_are_single_use_and_for_active_admins_only() {
    let e = env();
    let o = org_named(&e, "Contoso", "boss@contoso.com", &[]);
    block_on(e.enlist.users.create(&key(&o), new_user("ana@contoso.com", &["FullMember"]))).unwrap();
    let boss = Email::parse("BOSS@contoso.com").unwrap();
    let token = block_on(e.enlist.console.link(&op(&o), &boss)).unwrap();
    assert!(
        matches!(block_on(e.enlist.console.link(&key(&o), &boss)), Err(Error::Forbidden { .. })),
        "only the operator"
    );
    let err = block_on(e.enlist.console.link(&op(&o), &Email::parse("ana@contoso.com").unwrap())).unwrap_err();
    assert!(detail(&err).contains("not an active Admin"), "{err}");

    // Opening the link shows who it signs in where, and spends nothing.
    let preview = block_on(e.enlist.console.preview(&token)).unwrap();
    assert_eq!((preview.organization.as_str(), preview.email.as_str()), ("Contoso", "boss@contoso.com"));
    assert_eq!(block_on(e.enlist.console.preview(&token)).unwrap(), preview);
    let (session_token, session) = block_on(e.enlist.console.sign_in(&token)).unwrap();
    assert_eq!(session.organization_id, o.id);
    assert!(block_on(e.enlist.console.preview(&token)).is_err(), "a used link shows nothing");
    assert!(matches!(block_on(e.enlist.console.sign_in(&token)), Err(Error::Unauthorized { .. })), "single use");
    assert!(matches!(block_on(e.enlist.console.sign_in("forged")), Err(Error::Unauthorized { .. })));
    let signed_in = block_on(e.enlist.console.session(&session_token)).unwrap();
    assert_eq!(signed_in.session.csrf, session.csrf);
    assert_eq!((signed_in.organization.as_str(), signed_in.email.as_str()), ("Contoso", "boss@contoso.com"));

    // Another Admin exists, so the boss can be suspended; the session ends.
    block_on(e.enlist.users.create(&key(&o), new_user("ada@contoso.com", &["Admin"]))).unwrap();
    let off = patch(vec![op_(PatchKind::Replace, path("active", None), Some(Value::Bool(false)))]);
    block_on(e.enlist.users.change(&key(&o), &session.user_id, off, None)).unwrap();
    assert!(matches!(block_on(e.enlist.console.session(&session_token)), Err(Error::Unauthorized { .. })));
    block_on(e.enlist.console.sign_out(&session_token)).unwrap();
}

#[test]
fn scim_works_only_while_the_organization_has_a_registered_domain() {
    use crate::ports::Store;
    let e = env();
    let dn = |d: &str| DomainName::parse(d).unwrap();
    // Without a domain, SCIM starts off and says why and how to fix it.
    let bare = block_on(e.enlist.organizations.create(&Actor::Operator, NewOrganization::new("Bare"))).unwrap();
    assert!(!bare.scim_enabled);
    let why = bare.scim_refusal().unwrap();
    assert!(why.contains("no registered email domain") && why.contains("enlist domain add 'Bare'"), "{why}");
    let bare_key = block_on(e.enlist.api_keys.create(&op(&bare), "Entra")).unwrap().token;
    let err = block_on(e.enlist.api_keys.authenticate(&bare_key)).unwrap_err();
    assert!(matches!(err, Error::Forbidden { .. }) && detail(&err).contains("enlist domain add"), "{err}");
    // With one, it starts on.
    let o = block_on(
        e.enlist.organizations.create(&Actor::Operator, NewOrganization::new("Contoso").domain(dn("contoso.com"))),
    )
    .unwrap();
    assert!(o.scim_enabled && o.scim_refusal().is_none());
    let token = block_on(e.enlist.api_keys.create(&op(&o), "Entra")).unwrap().token;
    block_on(e.enlist.api_keys.authenticate(&token)).unwrap();
    // Removing the last domain switches SCIM off, audited and announced.
    let o = block_on(e.enlist.organizations.remove_domain(&op(&o), dn("contoso.com"))).unwrap();
    assert!(!o.scim_enabled);
    let snap = e.store.snapshot();
    let last = snap.audit_records().last().unwrap();
    assert!(last.changes.iter().any(|c| c.attribute == "scimEnabled" && c.after == Some(Value::Bool(false))));
    assert_eq!(snap.events().last().unwrap().kind, EventKind::OrganizationScimDisabled);
    let err = block_on(e.enlist.api_keys.authenticate(&token)).unwrap_err();
    assert!(detail(&err).contains("no registered email domain"), "{err}");
    // A domain again: still off until the operator switches it on.
    block_on(e.enlist.organizations.add_domain(&op(&o), dn("contoso.com"))).unwrap();
    let err = block_on(e.enlist.api_keys.authenticate(&token)).unwrap_err();
    assert!(detail(&err).contains("Enterprise add-on"), "{err}");
    block_on(e.enlist.organizations.set_scim(&op(&o), true)).unwrap();
    block_on(e.enlist.api_keys.authenticate(&token)).unwrap();
    // A domain another organization holds: refused, and nothing created.
    let before = e.store.snapshot().audit_records().len();
    let err = block_on(
        e.enlist.organizations.create(&Actor::Operator, NewOrganization::new("Copycat").domain(dn("contoso.com"))),
    )
    .unwrap_err();
    assert!(matches!(err, Error::Uniqueness { rule: Uniqueness::Domain, .. }), "{err}");
    assert!(block_on(e.enlist.organizations.find("Copycat")).is_err(), "the organization was rolled back");
    assert_eq!(e.store.snapshot().audit_records().len(), before, "nothing audited");
    // A row written before this rule (SCIM on, no domain) is refused too.
    let legacy = Organization { scim_enabled: true, ..bare.clone() };
    block_on(e.store.write(Box::new(move |tx| Ok(tx.organizations().update(&legacy)?)))).unwrap();
    assert!(block_on(e.enlist.api_keys.authenticate(&bare_key)).is_err());
    // The trial Default organization is the one exception.
    let trial =
        block_on(e.enlist.organizations.create(&Actor::Operator, NewOrganization::new(DEFAULT_ORGANIZATION))).unwrap();
    assert!(trial.scim_enabled && trial.scim_refusal().is_none());
}

#[test]
fn names_and_labels_with_control_characters_are_refused_and_nothing_is_written() {
    let e = env();
    let o = org_named(&e, "Contoso", "boss@contoso.com", &["contoso.com"]);
    let before = e.store.snapshot().audit_records().len();
    for label in ["a\u{1b}]52;c;ZXZpbA==\u{7}b", "two\nlines", "x\u{202e}gpj.exe", "\u{9b}31m"] {
        let err = block_on(e.enlist.api_keys.create(&op(&o), label)).unwrap_err();
        assert!(matches!(err, Error::InvalidValue { .. }) && detail(&err).contains("control characters"), "{err}");
        let err =
            block_on(e.enlist.organizations.create(&Actor::Operator, NewOrganization::new(format!("Org {label}"))))
                .unwrap_err();
        assert!(matches!(err, Error::InvalidValue { .. }), "{label:?}: {err}");
    }
    assert_eq!(e.store.snapshot().audit_records().len(), before, "nothing was written");
    assert!(block_on(e.enlist.api_keys.create(&op(&o), "Entra ID — Zoë's tenant")).is_ok(), "plain Unicode is fine");
}

/// The core resolves a webhook's host through its DNS port, at
/// registration and before every delivery: a public name that resolves
/// inside is refused (DNS rebinding included), a name that does not
/// resolve is refused, and only the operator's allowance reaches inside.
#[test]
fn a_public_name_that_resolves_inside_is_refused_at_registration_and_delivery() {
    use crate::service::WebhookUrl;
    let dns = Arc::new(crate::testing::FakeDns::default());
    let store = Arc::new(MemoryStore::new());
    let e = Env { enlist: Services::new(Deps { dns: dns.clone(), ..crate::testing::deps(store.clone()) }), store };
    let o = org_named(&e, "Contoso", "boss@contoso.com", &["contoso.com"]);
    let hooks = &e.enlist.webhooks;
    let public: std::net::IpAddr = "93.184.216.34".parse().unwrap();
    let inside: std::net::IpAddr = "10.0.0.7".parse().unwrap();
    dns.resolve("hooks.contoso.com", &[public]);
    dns.resolve("sneaky.example.com", &[public, inside]);
    let secret = || "whsec_x".to_owned();
    let w = block_on(hooks.add(&op(&o), "https://hooks.contoso.com/in?token=t0k3n", false, false, secret())).unwrap();
    let err = block_on(hooks.add(&op(&o), "https://sneaky.example.com/x", false, false, secret())).unwrap_err();
    assert!(detail(&err).contains("resolves to 10.0.0.7") && detail(&err).contains("--allow-private"), "{err}");
    let err = block_on(hooks.add(&op(&o), "https://nowhere.example.com/x", false, false, secret())).unwrap_err();
    assert!(detail(&err).contains("does not resolve"), "{err}");
    dns.fail("down.example.com");
    let err = block_on(hooks.add(&op(&o), "https://down.example.com/x", false, false, secret())).unwrap_err();
    assert!(matches!(err, Error::Unexpected(_)), "a DNS outage is not the URL's fault: {err}");
    // Later the registered name moves inside: delivery is refused, and the
    // refusal leaves the URL's query out.
    dns.resolve("hooks.contoso.com", &[inside]);
    let url = WebhookUrl::parse(&w.url).unwrap();
    let err = block_on(hooks.destination(&url, false)).unwrap_err();
    assert!(detail(&err).contains("10.0.0.7") && !detail(&err).contains("t0k3n"), "{err}");
    // The operator's allowance reaches inside (and loopback by name).
    assert_eq!(block_on(hooks.destination(&url, true)).unwrap(), [std::net::SocketAddr::new(inside, 443)]);
    let local = WebhookUrl::parse("http://localhost:9000/x").unwrap();
    assert_eq!(block_on(hooks.destination(&local, true)).unwrap().len(), 2);
    assert!(block_on(hooks.destination(&local, false)).is_err());
    assert_eq!(block_on(hooks.list(&op(&o), false)).unwrap().len(), 1, "only the public one was stored");
}
