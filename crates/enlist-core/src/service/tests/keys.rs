//! API keys: authentication, the SCIM switch, who may create keys, hashed secrets.

use super::*;

// ---- API keys ---------------------------------------------------------------

fn key(revoked: bool) -> ApiKey {
    ApiKey {
        id: ApiKeyId::new("k1"),
        organization_id: OrganizationId::new("org-1"),
        label: "Entra provisioning".into(),
        secret_hash: keys_hash("s3cret"),
        created_at: FixedClock.now(),
        last_used_at: Some(FixedClock.now()),
        revoked_at: revoked.then(|| FixedClock.now()),
    }
}
fn keys_hash(s: &str) -> Vec<u8> {
    crate::service::keys::hash_secret(s)
}

#[test]
fn a_valid_key_resolves_to_its_organization_and_a_revoked_one_does_not() {
    let mut w = world(org(&["x.com"]), vec![], 0);
    w.tx.keys.expect_get_with_organization().returning(|_| Ok(Some((key(false), org(&["x.com"])))));
    let (e, _) = enlist(w.tx);
    let caller = block_on(e.api_keys.authenticate("enlist_k1.s3cret")).unwrap();
    assert_eq!(caller, entra());
    let err = block_on(e.api_keys.authenticate("enlist_k1.wrong")).unwrap_err();
    assert!(matches!(err, Error::Unauthorized { .. }));

    let mut w = world(org(&["x.com"]), vec![], 0);
    w.tx.keys.expect_get_with_organization().returning(|_| Ok(Some((key(true), org(&["x.com"])))));
    let (e, _) = enlist(w.tx);
    let err = block_on(e.api_keys.authenticate("enlist_k1.s3cret")).unwrap_err();
    assert!(matches!(err, Error::Unauthorized { .. }));
    assert!(detail(&err).contains("revoked"));
}

#[test]
fn scim_switched_off_is_forbidden() {
    let mut o = org(&["x.com"]);
    o.scim_enabled = false;
    let mut w = world(o.clone(), vec![], 0);
    w.tx.keys.expect_get_with_organization().returning(move |_| Ok(Some((key(false), o.clone()))));
    let (e, _) = enlist(w.tx);
    let err = block_on(e.api_keys.authenticate("enlist_k1.s3cret")).unwrap_err();
    assert!(matches!(err, Error::Forbidden { .. }));
    assert!(detail(&err).contains("Enterprise add-on"));
}

#[test]
fn only_admins_and_the_operator_create_keys_and_the_secret_is_stored_hashed() {
    // An API key (SCIM) cannot mint keys.
    let mut w = world(
        org(&[]),
        vec![user("u2", attrs("u2@x.com", None, &["FullMember"])), user("boss", attrs("b@x.com", None, &["Admin"]))],
        1,
    );
    let stored = Arc::new(Mutex::new(Vec::new()));
    let s2 = stored.clone();
    w.tx.keys.expect_insert().returning(move |k| {
        s2.lock().unwrap().push(k.clone());
        Ok(())
    });
    let (e, _) = enlist(w.tx);
    let as_member = |id: &str| Caller {
        organization_id: OrganizationId::new("org-1"),
        actor: Actor::Member { user: UserId::new(id) },
    };
    for refused in [entra(), as_member("u2")] {
        let err = block_on(e.api_keys.create(&refused, "Okta")).unwrap_err();
        assert!(matches!(err, Error::Forbidden { .. }), "{refused:?}");
    }
    let created = block_on(e.api_keys.create(&as_member("boss"), "Okta provisioning")).unwrap();
    let operator = Caller { organization_id: OrganizationId::new("org-1"), actor: Actor::Operator };
    block_on(e.api_keys.create(&operator, "Entra")).unwrap();
    let stored = stored.lock().unwrap();
    assert_eq!(stored.len(), 2);
    let (id, secret) = created.token.strip_prefix("enlist_").and_then(|t| t.split_once('.')).unwrap();
    assert_eq!(id, stored[0].id.as_str());
    assert_eq!(stored[0].secret_hash, keys_hash(secret));
    assert!(!stored.iter().any(|k| k.secret_hash == secret.as_bytes()), "only the hash is stored");
    assert_eq!(stored[0].label, "Okta provisioning");
}
