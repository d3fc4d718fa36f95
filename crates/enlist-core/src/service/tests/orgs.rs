//! Organizations: who may configure them, and domains belonging to one
//! organization at most.

use super::*;

fn operator() -> Caller {
    Caller { organization_id: OrganizationId::new("org-1"), actor: Actor::Operator }
}

#[test]
fn an_api_key_cannot_register_a_domain_and_nothing_is_written() {
    // No expectation on add_domain or append: a call would fail the test.
    let (e, _) = enlist(world(org(&[]), vec![], 1).tx);
    let err = block_on(e.organizations.add_domain(&entra(), DomainName::parse("contoso.com").unwrap())).unwrap_err();
    assert!(matches!(err, Error::Forbidden { .. }), "{err}");
    assert!(detail(&err).contains("enlist domain add"), "{err}");
}

#[test]
fn a_domain_of_another_organization_is_a_uniqueness_error_and_not_audited() {
    let mut w = world(org(&[]), vec![], 1);
    w.tx.orgs.expect_add_domain().returning(|_, _| Err(RepoError::Unique(Uniqueness::Domain)));
    let (e, _) = enlist(w.tx);
    let err =
        block_on(e.organizations.add_domain(&operator(), DomainName::parse("fabrikam.com").unwrap())).unwrap_err();
    assert!(matches!(err, Error::Uniqueness { rule: Uniqueness::Domain, .. }), "{err}");
    assert!(w.audits.lock().unwrap().is_empty());
}

#[test]
fn registering_a_domain_audits_it_once() {
    let mut w = world(org(&[]), vec![], 1);
    w.tx.orgs.expect_add_domain().times(1).returning(|_, _| Ok(()));
    let (e, _) = enlist(w.tx);
    block_on(e.organizations.add_domain(&operator(), DomainName::parse("Contoso.com").unwrap())).unwrap();
    let audits = w.audits.lock().unwrap();
    assert_eq!(audits.len(), 1);
    assert_eq!(audits[0].changes[0].attribute, "domains");
    assert_eq!(audits[0].changes[0].after, Some(Value::String("contoso.com".into())));
}

fn scim_off(name: &str, domains: &[&str]) -> Organization {
    Organization { name: name.into(), scim_enabled: false, ..org(domains) }
}

#[test]
fn scim_is_switched_on_only_with_a_registered_domain_except_for_the_trial_default() {
    let mut w = world(scim_off("Contoso", &[]), vec![], 1);
    w.tx.orgs.expect_update().never();
    let (e, _) = enlist(w.tx);
    let err = block_on(e.organizations.set_scim(&operator(), true)).unwrap_err();
    assert!(matches!(err, Error::InvalidValue { .. }), "{err}");
    assert!(detail(&err).contains("enlist domain add 'Contoso'"), "{err}");
    // Switching off never needs one.
    let (e, _) = enlist(world(scim_off("Contoso", &[]), vec![], 1).tx);
    block_on(e.organizations.set_scim(&operator(), false)).unwrap();
    for o in [scim_off("Contoso", &["contoso.com"]), scim_off(DEFAULT_ORGANIZATION, &[])] {
        let mut w = world(o, vec![], 1);
        w.tx.orgs.expect_update().times(1).returning(|_| Ok(()));
        let (e, _) = enlist(w.tx);
        assert!(block_on(e.organizations.set_scim(&operator(), true)).unwrap().scim_enabled);
    }
}

/// An active Admin member of org-1 ("boss"), as the host product's admin
/// screens call the library.
fn admin() -> (Caller, User) {
    let boss = user("boss", attrs("boss@x.com", None, &["Admin"]));
    (Caller { organization_id: OrganizationId::new("org-1"), actor: Actor::Member { user: boss.id.clone() } }, boss)
}

#[test]
fn an_admin_cannot_register_a_domain_without_proof() {
    let (caller, boss) = admin();
    let mut w = world(org(&[]), vec![boss], 1);
    w.tx.orgs.expect_add_domain().never();
    let (e, _) = enlist(w.tx);
    let err = block_on(e.organizations.add_domain(&caller, DomainName::parse("victim.com").unwrap())).unwrap_err();
    assert!(matches!(err, Error::Forbidden { .. }), "{err}");
    assert!(detail(&err).contains("DNS TXT"), "{err}");
}

#[test]
fn an_admin_registers_a_domain_once_its_txt_record_is_published() {
    let (caller, boss) = admin();
    let domain = DomainName::parse("contoso.com").unwrap();
    let dns = Arc::new(crate::testing::FakeDns::default());
    // Not published yet: refused, naming the record, nothing written.
    let mut w = world(org(&[]), vec![boss.clone()], 1);
    w.tx.orgs.expect_add_domain().never();
    let (e, _) = enlist_with_dns(w.tx, dns.clone());
    let challenge = e.organizations.domain_challenge(&caller.organization_id, &domain);
    assert_eq!(challenge.record_name, "_enlist-challenge.contoso.com");
    let err = block_on(e.organizations.verify_domain(&caller, domain.clone())).unwrap_err();
    assert!(matches!(err, Error::InvalidValue { .. }), "{err}");
    assert!(detail(&err).contains(&challenge.record_value) && detail(&err).contains(&challenge.record_name), "{err}");
    // Another organization's proof is not this one's.
    let other = e.organizations.domain_challenge(&OrganizationId::new("org-2"), &domain);
    assert_ne!(other.record_value, challenge.record_value);
    assert!(detail(&err).contains("no TXT record there yet"), "{err}");
    dns.publish(&other.record_name, &other.record_value);
    let err = block_on(e.organizations.verify_domain(&caller, domain.clone())).unwrap_err();
    assert!(detail(&err).contains(&format!("found instead: \"{}\"", other.record_value)), "{err}");
    // Published: registered and audited once.
    dns.publish(&challenge.record_name, &challenge.record_value);
    let mut w = world(org(&[]), vec![boss], 1);
    w.tx.orgs.expect_add_domain().times(1).returning(|_, _| Ok(()));
    let audits = w.audits.clone();
    let (e, _) = enlist_with_dns(w.tx, dns);
    block_on(e.organizations.verify_domain(&caller, domain)).unwrap();
    assert_eq!(audits.lock().unwrap().len(), 1);
}

#[test]
fn a_dns_outage_or_a_non_admin_changes_nothing() {
    let (caller, boss) = admin();
    let domain = DomainName::parse("contoso.com").unwrap();
    let dns = Arc::new(crate::testing::FakeDns::default());
    dns.fail("_enlist-challenge.contoso.com");
    let mut w = world(org(&[]), vec![boss], 1);
    w.tx.orgs.expect_add_domain().never();
    let (e, _) = enlist_with_dns(w.tx, dns);
    let err = block_on(e.organizations.verify_domain(&caller, domain.clone())).unwrap_err();
    assert!(matches!(err, Error::Unavailable { .. }) && detail(&err).contains("Try again"), "{err}");
    let err = block_on(e.organizations.verify_domain(&entra(), domain)).unwrap_err();
    assert!(matches!(err, Error::Forbidden { .. }), "an API key never registers domains: {err}");
}
