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
    assert!(detail(&err).contains("enlist CLI"), "{err}");
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
