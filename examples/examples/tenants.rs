//! Example 4: set up a tenant from Rust, as a host does at every start:
//! the organization with its domain and SCIM on, one API key for Entra ID
//! (its secret shown once), a group's role once the identity provider has
//! pushed the group, a key rotation, and offboarding. Every step is
//! idempotent or says what it changed. Logs go to stderr through a
//! `tracing` subscriber, as a host should install one.
//!
//! `cargo run -p enlist-examples --example tenants`

use enlist::core::service::NewGroup;
use enlist::core::{DisplayName, DomainName, Email, Role};

/// The host's start-up: everything Contoso needs to provision through
/// Entra ID. Returns the key's secret when it was created now.
async fn set_up_contoso(enlist: &enlist::Enlist) -> Result<Option<String>, enlist::core::Error> {
    let tenants = enlist.tenants();
    let domain = DomainName::parse("contoso.com")?;
    let owner = Email::parse("it-admin@contoso.com")?;
    let org = tenants.ensure("Contoso", &[domain], Some(&owner)).await?;
    let key = tenants.ensure_key(&org.id, "Entra ID provisioning").await?;
    Ok(key.map(|k| k.token))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Enlist logs through `tracing`: without a subscriber a host sees none
    // of its warnings (mail not configured, a webhook disabled, …).
    enlist_examples::logs();
    let (url, _file) = enlist_examples::temp_sqlite("tenants");
    let enlist = enlist::Enlist::builder().database(&url).migrate(true).build().await?;
    if let Some(token) = set_up_contoso(&enlist).await? {
        println!("Contoso is ready; paste this key into Entra ID (shown once): {token}");
    }
    assert!(set_up_contoso(&enlist).await?.is_none(), "the second start changes nothing");
    let org = enlist.services().organizations.find("Contoso").await?;
    let op = enlist::core::Caller::operator(&org.id);

    // Entra pushes the group "Sales"; the host maps it to a role.
    let sales = NewGroup { display_name: DisplayName::parse("Sales")?, external_id: None, members: vec![] };
    enlist.services().groups.create(&op, sales).await?;
    let group = enlist.tenants().map_group_role(&org.id, "Sales", Some(Role::FullMember)).await?;
    println!("every member of {} is at least {:?}", group.display_name.as_str(), group.role);

    // Rotation: a new key works alongside the old one until it is retired.
    let new = enlist.tenants().rotate_key(&org.id, "Entra ID provisioning").await?;
    let retired = enlist.tenants().retire_keys(&org.id, "Entra ID provisioning", &new.key.id).await?;
    println!("rotated: {retired} old key(s) revoked; the new secret is {}", new.token);

    let gone = enlist.tenants().offboard(&org.id).await?;
    println!("offboarded Contoso: {} user(s), {} group(s), {} key(s)", gone.users, gone.groups, gone.keys);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_tenant_is_set_up_once_rotated_and_offboarded() {
        let (url, _file) = enlist_examples::temp_sqlite("tenants-test");
        let enlist = enlist::Enlist::builder().database(&url).migrate(true).build().await.unwrap();
        let token = set_up_contoso(&enlist).await.unwrap().expect("the first start makes the key");
        assert!(set_up_contoso(&enlist).await.unwrap().is_none(), "idempotent");
        let caller = enlist.services().api_keys.authenticate(&token).await.unwrap();
        let org = enlist.services().organizations.find("Contoso").await.unwrap();
        assert_eq!(caller.organization_id, org.id);
        assert!(org.scim_refusal().is_none(), "SCIM is on: {:?}", org.scim_refusal());
        assert_eq!(org.domains.len(), 1);

        let tenants = enlist.tenants();
        assert!(tenants.map_group_role(&org.id, "Sales", Some(Role::Guest)).await.is_err(), "no such group yet");
        let new = tenants.rotate_key(&org.id, "Entra ID provisioning").await.unwrap();
        assert!(enlist.services().api_keys.authenticate(&token).await.is_ok(), "the old key works until retired");
        assert_eq!(tenants.retire_keys(&org.id, "Entra ID provisioning", &new.key.id).await.unwrap(), 1);
        assert!(enlist.services().api_keys.authenticate(&token).await.is_err(), "retired");
        assert!(enlist.services().api_keys.authenticate(&new.token).await.is_ok());

        let gone = tenants.offboard(&org.id).await.unwrap();
        assert_eq!((gone.users, gone.keys), (1, 2), "the owner; both keys");
        assert!(enlist.services().organizations.find("Contoso").await.is_err());
    }
}
