//! Tenant administration for a host, as the operator: idempotent helpers a
//! host can run at every start (find or create an organization, its
//! domains, SCIM on, a key per identity provider), key rotation, a group's
//! role, offboarding. Each is one or a few calls of the core services,
//! which keep every rule (a domain belongs to one organization, SCIM needs
//! a domain, keys are stored as hashes, every change is audited).

use enlist_core::ports::Offboarded;
use enlist_core::service::{NewApiKey, NewOrganization, Services};
use enlist_core::{Actor, ApiKeyId, Caller, DomainName, Email, Error, Group, Organization, OrganizationId, Role};

/// Tenant administration as the operator; from [`crate::Enlist::tenants`].
#[derive(Clone, Copy)]
pub struct Tenants<'a> {
    services: &'a Services,
}

impl<'a> Tenants<'a> {
    pub(crate) fn new(services: &'a Services) -> Self {
        Self { services }
    }

    /// The organization named `name`, if there is one (names are unique).
    ///
    /// # Errors
    /// Storage errors only: a missing organization is `Ok(None)`.
    pub async fn find(&self, name: &str) -> Result<Option<Organization>, Error> {
        match self.services.organizations.find(name).await {
            Ok(o) => Ok(Some(o)),
            Err(Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The organization named `name`, created when missing (with `owner`,
    /// an active Admin, when given); then each of `domains` it lacks is
    /// registered and SCIM is switched on when it has a domain. Run it at
    /// every start: a second run changes nothing.
    ///
    /// # Errors
    /// `Uniqueness` when another organization holds one of the domains;
    /// `InvalidValue` for a name with control characters; storage errors.
    pub async fn ensure(
        &self,
        name: &str,
        domains: &[DomainName],
        owner: Option<&Email>,
    ) -> Result<Organization, Error> {
        let orgs = &self.services.organizations;
        let mut org = match self.find(name).await? {
            Some(o) => o,
            None => {
                let mut new = NewOrganization::new(name);
                if let Some(owner) = owner {
                    new = new.owner(owner.clone());
                }
                for d in domains {
                    new = new.domain(d.clone());
                }
                match orgs.create(&Actor::Operator, new).await {
                    Ok(o) => o,
                    // Another process of the host created it meanwhile.
                    Err(e @ Error::Uniqueness { .. }) => orgs.find(name).await.map_err(|_| e)?,
                    Err(e) => return Err(e),
                }
            }
        };
        let op = Caller::operator(&org.id);
        let missing: Vec<DomainName> = domains.iter().filter(|d| !org.domains.contains(d)).cloned().collect();
        for d in missing {
            org = orgs.add_domain(&op, d).await?;
        }
        if !org.scim_enabled && !org.domains.is_empty() {
            org = orgs.set_scim(&op, true).await?;
        }
        Ok(org)
    }

    /// An active API key labelled `label` (one per identity provider, say
    /// "Entra ID provisioning"): `Some` with its secret, shown only here,
    /// when it had to be created; `None` when one exists.
    ///
    /// # Errors
    /// `NotFound` for an unknown organization; storage errors.
    pub async fn ensure_key(&self, org: &OrganizationId, label: &str) -> Result<Option<NewApiKey>, Error> {
        let op = Caller::operator(org);
        let keys = self.services.api_keys.list(&op).await?;
        if keys.iter().any(|k| k.label == label && k.revoked_at.is_none()) {
            return Ok(None);
        }
        self.services.api_keys.create(&op, label).await.map(Some)
    }

    /// Key rotation, first half: a new key labelled `label` (its secret
    /// shown only here). The older keys with that label keep working until
    /// [`Tenants::retire_keys`], so provisioning goes on while the secret
    /// is changed in the identity provider.
    ///
    /// # Errors
    /// As [`Tenants::ensure_key`].
    pub async fn rotate_key(&self, org: &OrganizationId, label: &str) -> Result<NewApiKey, Error> {
        self.services.api_keys.create(&Caller::operator(org), label).await
    }

    /// Key rotation, second half: revokes every active key labelled
    /// `label` but `keep`; how many. Revoked keys stop working at once.
    ///
    /// # Errors
    /// As [`Tenants::ensure_key`].
    pub async fn retire_keys(&self, org: &OrganizationId, label: &str, keep: &ApiKeyId) -> Result<usize, Error> {
        let op = Caller::operator(org);
        let old: Vec<ApiKeyId> = self
            .services
            .api_keys
            .list(&op)
            .await?
            .into_iter()
            .filter(|k| k.label == label && k.revoked_at.is_none() && &k.id != keep)
            .map(|k| k.id)
            .collect();
        for id in &old {
            self.services.api_keys.revoke(&op, id).await?;
        }
        Ok(old.len())
    }

    /// Every member of the group `group` (its id or displayName, as the
    /// identity provider pushed it) holds at least `role`; `None` removes
    /// the floor. Members' effective roles change at once, with events.
    ///
    /// # Errors
    /// `NotFound` when the group has not been provisioned yet.
    pub async fn map_group_role(&self, org: &OrganizationId, group: &str, role: Option<Role>) -> Result<Group, Error> {
        let op = Caller::operator(org);
        let g = self.services.groups.find(&op, group).await?;
        self.services.groups.set_role(&op, &g.id, role).await
    }

    /// Offboards the organization (see
    /// [`enlist_core::service::Organizations::delete`]): its people,
    /// groups, keys, domains and history go; its audit log stays.
    ///
    /// # Errors
    /// `NotFound`; storage errors.
    pub async fn offboard(&self, org: &OrganizationId) -> Result<Offboarded, Error> {
        self.services.organizations.delete(&Actor::Operator, org).await
    }
}
