//! Keys and domains, the outbox, roles under concurrent changes, first start, events and their pruning, console links, advisories.

use super::*;

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
    env.db()
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
    assert_eq!(env.db().stats().await.unwrap().pending, 2, "[{}] owner and n", env.name);
    let now = chrono::DateTime::parse_from_rfc3339("2030-01-01T00:00:00Z").unwrap().with_timezone(&chrono::Utc);
    let due = env.db().due(now, 10).await.unwrap();
    assert_eq!(due.len(), 2);
    assert_eq!(due[1].notification.added_by, "Entra provisioning");
    assert!(env.db().due(now, 10).await.unwrap().is_empty(), "[{}] claimed ones are leased", env.name);
    env.db().mark_sent(&due[0].notification.id, now).await.unwrap();
    env.db().mark_failed(&due[1].notification.id, 1, now, "smtp down").await.unwrap();
    assert_eq!(env.db().stats().await.unwrap().pending, 1);
    let again = env.db().due(now, 10).await.unwrap();
    assert_eq!((again.len(), again[0].attempts), (1, 1));
    // Postponed (its organization over its rate): not due until then, and
    // no attempt counted.
    let slot = now + chrono::Duration::seconds(30);
    env.db().postpone(&again[0].notification.id, slot).await.unwrap();
    assert!(env.db().due(slot - chrono::Duration::seconds(1), 10).await.unwrap().is_empty(), "[{}]", env.name);
    let again = env.db().due(slot, 10).await.unwrap();
    assert_eq!((again.len(), again[0].attempts), (1, 1), "[{}] postponing is not an attempt", env.name);
    // Pruning deletes only what was sent before the cut-off.
    assert_eq!(env.db().prune(now).await.unwrap(), 0, "[{}] sent at the cut-off is kept", env.name);
    assert_eq!(env.db().prune(now + chrono::Duration::seconds(1)).await.unwrap(), 1);
    assert_eq!(env.db().stats().await.unwrap().pending, 1, "unsent ones stay");
    // What can never be sent is set aside: counted apart, never claimed,
    // listed for the operator, and back in line when requeued.
    let id = again[0].notification.id.clone();
    env.db().set_aside(&id, 2, now, "550 no such user").await.unwrap();
    let later = now + chrono::Duration::days(1);
    assert_eq!(env.db().stats().await.unwrap(), enlist_core::ports::OutboxStats { pending: 0, set_aside: 1 });
    assert!(env.db().due(later, 10).await.unwrap().is_empty(), "[{}] set aside is never claimed", env.name);
    let listed = env.db().set_aside_list(10).await.unwrap();
    assert_eq!(
        (listed.len(), listed[0].attempts, listed[0].error.as_str(), listed[0].at),
        (1, 2, "550 no such user", now)
    );
    assert!(env.db().requeue(&id, later).await.unwrap());
    assert!(!env.db().requeue(&id, later).await.unwrap(), "[{}] only a set-aside one is requeued", env.name);
    assert_eq!(env.db().stats().await.unwrap().pending, 1);
    assert_eq!(env.db().due(later, 10).await.unwrap().len(), 1);
    assert_eq!(env.db().prune(later).await.unwrap(), 0, "[{}] pruning never deletes unsent mail", env.name);
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
on_every_store!(concurrent_role_and_membership_changes_leave_a_sourced_role);

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
on_every_store!(first_start_is_idempotent_under_a_race);

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
on_every_store!(events_are_numbered_per_organization_without_gaps);

/// Pruning deletes old events only; numbering goes on where it was.
async fn pruned_events_never_reuse_a_number(env: Env) {
    let o = org(&env, "A", "owner@a.com").await;
    env.enlist.users.create(&entra(&o.id), simple("one@x.com")).await.unwrap();
    let far = chrono::DateTime::parse_from_rfc3339("2100-01-01T00:00:00Z").unwrap().with_timezone(&chrono::Utc);
    let past = chrono::DateTime::parse_from_rfc3339("2000-01-01T00:00:00Z").unwrap().with_timezone(&chrono::Utc);
    assert_eq!(env.db().prune_events(past).await.unwrap(), 0, "[{}] nothing is that old", env.name);
    assert_eq!(env.db().prune_events(far).await.unwrap(), 2, "[{}]", env.name);
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
    env.db()
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
    let advice = env.db().advisories().await.unwrap();
    if env.name == "sqlite" {
        assert!(advice.is_empty(), "{advice:?}");
        return;
    }
    let off =
        env.db().execute_raw("SELECT 1 FROM pg_settings WHERE name = 'autovacuum' AND setting = 'off'").await.unwrap()
            == 1;
    assert_eq!(advice.iter().any(|a| a.contains("autovacuum off") && a.contains("ANALYZE")), off, "{advice:?}");
    assert_eq!(advice.len(), usize::from(off), "{advice:?}");
}
on_both!(advisories_name_autovacuum_off);

/// Offboarding removes one organization's people, groups, keys, domains
/// and history in one unit of work, and only its own: the other
/// organization, and the account a person also holds there, stay. The
/// name and the domain are free again; the audit log keeps a record; one
/// last event says the organization is gone.
async fn offboarding_removes_one_organization_and_only_it(env: Env) {
    use enlist_core::event::EventKind;
    use enlist_core::service::NewOrganization;
    use enlist_core::{Actor, DomainName, Email};
    let domain = |d: &str| DomainName::parse(d).unwrap();
    let create = |name: &str, d: &str| {
        NewOrganization::new(name).owner(Email::parse(&format!("boss@{d}")).unwrap()).domain(domain(d))
    };
    let leaving = env.enlist.organizations.create(&Actor::Operator, create("Leaving", "leaving.com")).await.unwrap();
    let staying = env.enlist.organizations.create(&Actor::Operator, create("Staying", "staying.com")).await.unwrap();
    let (l, s) = (entra(&leaving.id), entra(&staying.id));
    let ana = env.enlist.users.create(&l, simple("ana@leaving.com")).await.unwrap();
    let shared_l = env.enlist.users.create(&l, simple("jo@shared.example")).await.unwrap();
    let shared_s = env.enlist.users.create(&s, simple("jo@shared.example")).await.unwrap();
    env.enlist.users.create(&s, simple("bo@staying.com")).await.unwrap();
    let group = |name: &str, members| NewGroup {
        display_name: enlist_core::DisplayName::parse(name).unwrap(),
        external_id: None,
        members,
    };
    env.enlist.groups.create(&l, group("Sales", vec![ana.user.id.clone(), shared_l.user.id.clone()])).await.unwrap();
    env.enlist.groups.create(&s, group("Sales", vec![shared_s.user.id.clone()])).await.unwrap();
    let op_l = operator(&leaving.id);
    env.enlist.api_keys.create(&op_l, "Entra").await.unwrap();
    let kept_key = env.enlist.api_keys.create(&operator(&staying.id), "Okta").await.unwrap();

    let err = env.enlist.organizations.delete(&l.actor, &leaving.id).await.unwrap_err();
    assert!(matches!(err, Error::Forbidden { .. }), "[{}] only the operator: {err}", env.name);
    let gone = env.enlist.organizations.delete(&Actor::Operator, &leaving.id).await.unwrap();
    // Two members and the owner; the shared account stays.
    assert_eq!((gone.users, gone.groups, gone.keys, gone.accounts), (3, 1, 1, 2), "[{}] {gone:?}", env.name);

    assert!(env.enlist.organizations.find("Leaving").await.is_err(), "[{}] gone from reads", env.name);
    assert!(env.enlist.organizations.list().await.unwrap().iter().all(|o| o.id != leaving.id));
    let err = env.enlist.users.get(&l, &ana.user.id, false).await.unwrap_err();
    assert!(matches!(err, Error::NotFound { .. }), "[{}] {err}", env.name);
    // The other organization is whole, and the shared account with it.
    let list = |q| ListQuery { filter: None, sort: None, page: page(q) };
    let theirs = env.enlist.users.list(&s, list(50), true).await.unwrap();
    assert_eq!(theirs.total, 3, "[{}] owner, jo, bo", env.name);
    let jo = env.enlist.users.get(&s, &shared_s.user.id, true).await.unwrap();
    assert_eq!((jo.user.account_id, jo.groups.map(|g| g.len())), (shared_l.user.account_id, Some(1)), "[{}]", env.name);
    assert_eq!(env.enlist.groups.list(&s, list(50), false).await.unwrap().total, 1);
    assert!(env.enlist.api_keys.authenticate(&kept_key.token).await.is_ok(), "[{}] their key works", env.name);
    // Name and domain are free again.
    let again = env.enlist.organizations.create(&Actor::Operator, create("Leaving", "leaving.com")).await;
    assert!(again.is_ok(), "[{}] {:?}", env.name, again.err());
    // The audit log keeps the record; one last event says it is gone.
    let audit = env.enlist.organizations.audit(&op_l, None, 100).await.unwrap();
    assert!(audit.iter().any(|r| r.note.as_deref().is_some_and(|n| n.contains("offboarded"))), "[{}]", env.name);
    let events = env.enlist.events.list(&op_l, 0, 100).await.unwrap();
    let kinds: Vec<EventKind> = events.iter().map(|e| e.kind).collect();
    assert_eq!(kinds, [EventKind::OrganizationDeleted], "[{}] its history went, one event remains", env.name);
}
on_every_store!(offboarding_removes_one_organization_and_only_it);
