//! Organizations: creation (with an owning Admin), settings, domains.

use super::*;
use crate::ports::Offboarded;
use crate::value::{Complex, Value};

/// The organization a first start creates for trying Enlist out. It keeps
/// SCIM on without a registered domain, the one organization that may.
pub const DEFAULT_ORGANIZATION: &str = "Default";

/// The DNS label under which an organization publishes its proof.
pub const CHALLENGE_LABEL: &str = "_enlist-challenge";

/// The DNS TXT record an organization Admin publishes to prove control of
/// a domain ([`Organizations::domain_challenge`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DomainChallenge {
    /// The domain.
    pub domain: DomainName,
    /// Where the record goes: `_enlist-challenge.<domain>`.
    pub record_name: String,
    /// The exact TXT value.
    pub record_value: String,
}

/// What [`Organizations::create`] makes: a name, and optionally an owning
/// Admin, the first registered domains and the SCIM switch.
///
/// ```
/// # use enlist_core::{service::NewOrganization, DomainName, Email};
/// let new = NewOrganization::new("Contoso")
///     .owner(Email::parse("it@contoso.com").unwrap())
///     .domain(DomainName::parse("contoso.com").unwrap());
/// assert!(new.scim);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewOrganization {
    /// Unique name, shown to people in mails and the console.
    pub name: String,
    /// The first Admin, created as an active member.
    pub owner: Option<Email>,
    /// Domains registered at creation (the operator's act).
    pub domains: Vec<DomainName>,
    /// Whether the SCIM add-on is on (default true). It takes effect only
    /// with a registered domain.
    pub scim: bool,
}

impl NewOrganization {
    /// An organization named `name`, SCIM asked for, no owner or domain yet.
    pub fn new(name: impl Into<String>) -> Self {
        Self { name: name.into(), owner: None, domains: Vec::new(), scim: true }
    }
    /// With this first Admin.
    #[must_use]
    pub fn owner(mut self, email: Email) -> Self {
        self.owner = Some(email);
        self
    }
    /// With this domain registered.
    #[must_use]
    pub fn domain(mut self, domain: DomainName) -> Self {
        self.domains.push(domain);
        self
    }
    /// With the SCIM add-on on or off.
    #[must_use]
    pub fn scim(mut self, on: bool) -> Self {
        self.scim = on;
        self
    }
}

fn domain_taken(domain: &DomainName) -> Error {
    Error::Uniqueness {
        rule: Uniqueness::Domain,
        detail: format!("{domain} is registered to another organization; a domain belongs to one organization at most"),
    }
}

/// The organization use cases.
#[derive(Clone)]
pub struct Organizations {
    deps: Deps,
}

impl Organizations {
    pub(crate) fn new(deps: Deps) -> Self {
        Self { deps }
    }

    /// Creates an organization with its first domains, owner and SCIM
    /// switch. The owner becomes an active member holding the Admin role,
    /// so the organization never starts without an administrator. SCIM
    /// starts on only when it was asked for and a domain is registered (or
    /// this is the trial [`DEFAULT_ORGANIZATION`]); otherwise the returned
    /// organization's [`Organization::scim_refusal`] says why and how to fix
    /// it. Only the operator.
    ///
    /// # Errors
    /// `Forbidden` for anyone but the operator; `Uniqueness` for a taken
    /// name or a domain registered elsewhere; `InvalidValue` for a blank
    /// name or one with control characters.
    pub async fn create(&self, actor: &Actor, new: NewOrganization) -> Result<Organization> {
        if *actor != Actor::Operator {
            return Err(Error::Forbidden { detail: "only the operator creates organizations".into() });
        }
        let deps = self.deps.clone();
        let NewOrganization { name, owner, mut domains, scim } = new;
        let name = name.trim().to_owned();
        domains.dedup();
        transact(&*self.deps.store, Mode::Write, move |tx| {
            if name.is_empty() {
                return Err(Error::invalid("an organization needs a name"));
            }
            check_display_text("an organization name", &name, 200)?;
            let org = Organization {
                id: OrganizationId::new(deps.ids.id()),
                name: name.clone(),
                domains: Vec::new(),
                scim_enabled: scim && !crate::model::lacks_scim_domain(&name, &domains),
                default_role: Role::FreeMember,
                created_at: deps.clock.now(),
            };
            match tx.organizations().insert(&org) {
                Err(RepoError::Unique(_)) => {
                    return Err(Error::Uniqueness {
                        rule: Uniqueness::OrganizationName,
                        detail: format!("an organization named '{name}' already exists; choose another name"),
                    })
                }
                other => other?,
            }
            let mut changes = vec![AttributeChange {
                attribute: "name".into(),
                before: None,
                after: Some(Value::String(name.clone())),
            }];
            for domain in &domains {
                match tx.organizations().add_domain(&org.id, domain) {
                    Err(RepoError::Unique(_)) => return Err(domain_taken(domain)),
                    other => other?,
                }
                changes.push(AttributeChange {
                    attribute: "domains".into(),
                    before: None,
                    after: Some(Value::String(domain.as_str().to_owned())),
                });
            }
            changes.push(AttributeChange {
                attribute: "scimEnabled".into(),
                before: None,
                after: Some(Value::Bool(org.scim_enabled)),
            });
            Audit::new(
                &org.id,
                &Actor::Operator,
                ResourceKind::Organization,
                org.id.as_str(),
                Operation::Create,
                changes,
            )
            .record(tx, &deps)?;
            let org = Organization { domains: domains.clone(), ..org };
            let caller = Caller::operator(&org.id);
            if let Some(owner) = &owner {
                let mut attrs = Complex::new();
                attrs.insert("userName".into(), Value::String(owner.as_str().to_owned()));
                let mut email = Complex::new();
                email.insert("value".into(), Value::String(owner.as_str().to_owned()));
                email.insert("type".into(), Value::String("work".into()));
                email.insert("primary".into(), Value::Bool(true));
                attrs.insert("emails".into(), Value::Multi(vec![Value::Complex(email)]));
                let mut role = Complex::new();
                role.insert("value".into(), Value::String(Role::Admin.as_str().into()));
                attrs.insert("roles".into(), Value::Multi(vec![Value::Complex(role)]));
                super::users::create(tx, &deps, &caller, NewUser { attrs, password: false })?;
            }
            Ok(org)
        })
        .await
    }

    /// One organization by id, or else by its unique name.
    ///
    /// # Errors
    /// `NotFound`.
    pub async fn find(&self, id_or_name: &str) -> Result<Organization> {
        let key = id_or_name.to_owned();
        transact(&*self.deps.store, Mode::Read, move |tx| {
            if let Some(o) = tx.organizations().get(&OrganizationId::new(key.clone()))? {
                return Ok(o);
            }
            tx.organizations().by_name(&key)?.ok_or_else(|| Error::NotFound {
                detail: format!("no organization with id or name '{key}'; run `enlist org list` to see them"),
            })
        })
        .await
    }

    /// Offboards an organization, in one unit of work: its members,
    /// groups, role mappings, keys, domains, webhooks, activity, console
    /// sessions, mail and change events are removed, and every account no
    /// other organization holds (a person who also belongs elsewhere keeps
    /// that membership). Its audit log stays, with an operator record of
    /// this; consumers and every-organization webhooks get one last event,
    /// `organization.deleted`. The name is free again at once.
    ///
    /// # Errors
    /// `Forbidden` unless the operator; `NotFound`.
    pub async fn delete(&self, actor: &Actor, id: &OrganizationId) -> Result<Offboarded> {
        if *actor != Actor::Operator {
            return Err(Error::Forbidden {
                detail: "only the Enlist operator offboards an organization (enlist org delete)".into(),
            });
        }
        let (deps, actor, id) = (self.deps.clone(), actor.clone(), id.clone());
        transact(&*self.deps.store, Mode::WriteOnce, move |tx| {
            tx.organizations().lock(&id)?;
            let org = load_org(tx, &id)?;
            let gone = tx.organizations().offboard(&id, deps.clock.now())?;
            let removed =
                format!("{} users, {} groups, {} keys, {} accounts", gone.users, gone.groups, gone.keys, gone.accounts);
            let change = AttributeChange {
                attribute: "organization".into(),
                before: Some(Value::String(org.name.clone())),
                after: None,
            };
            Audit::new(&id, &actor, ResourceKind::Organization, id.as_str(), Operation::Delete, vec![change])
                .note(Some(format!("offboarded: removed {removed}")))
                .record(tx, &deps)?;
            emit(tx, &deps, &id, &actor, EventKind::OrganizationDeleted, EventData::Organization { name: org.name })?;
            Ok(gone)
        })
        .await
    }

    /// Every organization.
    ///
    /// # Errors
    /// Storage failures only.
    pub async fn list(&self) -> Result<Vec<Organization>> {
        transact(&*self.deps.store, Mode::Read, |tx| Ok(tx.organizations().list()?)).await
    }

    /// The organization's audit log since `since`, oldest first.
    ///
    /// # Errors
    /// `Forbidden` unless the operator or an Admin.
    pub async fn audit(
        &self,
        caller: &Caller,
        since: Option<chrono::DateTime<chrono::Utc>>,
        limit: u64,
    ) -> Result<Vec<AuditRecord>> {
        let caller = caller.clone();
        transact(&*self.deps.store, Mode::Read, move |tx| {
            require_admin(tx, &caller, "read the audit log")?;
            Ok(tx.audit().list(&caller.organization_id, since, limit)?)
        })
        .await
    }

    /// First start: creates the [`DEFAULT_ORGANIZATION`] (SCIM on, no
    /// domain, for trying Enlist out) when the database has no organization.
    /// Idempotent under races: when several processes start on one empty
    /// database, one creates it and the others get `None`.
    ///
    /// # Errors
    /// Storage failures only.
    pub async fn first_start(&self) -> Result<Option<Organization>> {
        if !self.list().await?.is_empty() {
            return Ok(None);
        }
        match self.create(&Actor::Operator, NewOrganization::new(DEFAULT_ORGANIZATION)).await {
            Ok(o) => Ok(Some(o)),
            // Another process won the race: it is set up.
            Err(Error::Uniqueness { rule: Uniqueness::OrganizationName, .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Turns the SCIM add-on on or off. Switching it on needs a registered
    /// domain (email changes and account linking are decided by domains);
    /// the [`DEFAULT_ORGANIZATION`] of a first start is the one exception.
    ///
    /// # Errors
    /// `Forbidden` unless the operator; `InvalidValue` when switching on an
    /// organization without a registered domain.
    pub async fn set_scim(&self, caller: &Caller, enabled: bool) -> Result<Organization> {
        if caller.actor != Actor::Operator {
            return Err(Error::Forbidden { detail: "only the operator switches the SCIM add-on".into() });
        }
        let event = |o: &Organization| {
            Some(if o.scim_enabled { EventKind::OrganizationScimEnabled } else { EventKind::OrganizationScimDisabled })
        };
        self.configure(caller, "scimEnabled", event, move |o| {
            if enabled && !o.scim_enabled && o.lacks_scim_domain() {
                return Err(Error::invalid(format!(
                    "SCIM can be switched on only for an organization with a registered email domain. \
                     Register one first: enlist domain add '{}' example.com",
                    o.name
                )));
            }
            let before = Value::Bool(o.scim_enabled);
            o.scim_enabled = enabled;
            Ok((before, Value::Bool(enabled)))
        })
        .await
    }

    /// Sets the role of users provisioned without one. Existing users keep
    /// their current effective role until their next change.
    ///
    /// # Errors
    /// `Forbidden` unless the operator or an Admin.
    pub async fn set_default_role(&self, caller: &Caller, role: Role) -> Result<Organization> {
        self.configure(
            caller,
            "defaultRole",
            |_| None,
            move |o| {
                let before = Value::String(o.default_role.as_str().into());
                o.default_role = role;
                Ok((before, Value::String(role.as_str().into())))
            },
        )
        .await
    }

    /// Changes one setting with `f`; when it changed, audits it and emits
    /// the event `event` names for the organization after the change.
    async fn configure<F>(
        &self,
        caller: &Caller,
        attribute: &'static str,
        event: fn(&Organization) -> Option<EventKind>,
        f: F,
    ) -> Result<Organization>
    where
        F: Fn(&mut Organization) -> Result<(Value, Value)> + Send + Sync + 'static,
    {
        let deps = self.deps.clone();
        let caller = caller.clone();
        transact(&*self.deps.store, Mode::WriteOnce, move |tx| {
            require_admin(tx, &caller, "change organization settings")?;
            let mut org = load_org(tx, &caller.organization_id)?;
            let (before, after) = f(&mut org)?;
            if before == after {
                return Ok(org);
            }
            tx.organizations().update(&org)?;
            Audit::new(
                &org.id,
                &caller.actor,
                ResourceKind::Organization,
                org.id.as_str(),
                Operation::Configure,
                vec![AttributeChange { attribute: attribute.into(), before: Some(before), after: Some(after) }],
            )
            .record(tx, &deps)?;
            if let Some(kind) = event(&org) {
                emit(tx, &deps, &org.id, &caller.actor, kind, EventData::Organization { name: org.name.clone() })?;
            }
            Ok(org)
        })
        .await
    }

    /// Registers a domain: the operator's act (the product's support staff,
    /// `enlist domain add`). A domain belongs to one organization at most.
    /// An organization Admin proves control instead: [`Self::verify_domain`].
    ///
    /// # Errors
    /// `Forbidden` for anyone but the operator; `Uniqueness` when any
    /// organization has it.
    pub async fn add_domain(&self, caller: &Caller, domain: DomainName) -> Result<Organization> {
        if caller.actor != Actor::Operator {
            return Err(Error::Forbidden {
                detail: format!(
                    "registering {domain} is the operator's act (enlist domain add); an organization Admin proves \
                     control of it with a DNS TXT record instead (verify_domain)"
                ),
            });
        }
        self.domain(caller, domain, true).await
    }

    /// The DNS TXT record that proves the caller's organization controls
    /// `domain`. The value is bound to the organization and the domain, so
    /// one organization's proof never registers the domain for another.
    pub fn domain_challenge(&self, org: &OrganizationId, domain: &DomainName) -> DomainChallenge {
        use sha2::{Digest, Sha256};
        let digest = Sha256::digest(format!("enlist-domain-verification:{org}:{domain}").as_bytes());
        let token: String = digest.iter().take(16).map(|b| format!("{b:02x}")).collect();
        DomainChallenge {
            domain: domain.clone(),
            record_name: format!("{CHALLENGE_LABEL}.{domain}"),
            record_value: format!("enlist-domain-verification={token}"),
        }
    }

    /// Registers `domain` for an organization Admin (or the operator) once
    /// the organization's [`DomainChallenge`] record is published in DNS.
    ///
    /// # Errors
    /// `Forbidden` unless an active Admin or the operator; `InvalidValue`
    /// naming the record to publish and what was found instead when it is
    /// not there; `Unavailable` (try again later) when DNS could not be
    /// asked; `Uniqueness` when another organization has the domain.
    pub async fn verify_domain(&self, caller: &Caller, domain: DomainName) -> Result<Organization> {
        let who = caller.clone();
        transact(&*self.deps.store, Mode::Read, move |tx| require_admin(tx, &who, "register domains")).await?;
        let challenge = self.domain_challenge(&caller.organization_id, &domain);
        let records = self.deps.dns.txt(&challenge.record_name).await.map_err(|e| Error::Unavailable {
            detail: format!(
                "DNS did not answer for {} ({e}); nothing was registered. Try again in a few minutes",
                challenge.record_name
            ),
        })?;
        if !records.iter().any(|r| r.trim() == challenge.record_value) {
            // What is there instead, shortened and with control characters
            // shown: DNS text is anyone's.
            let found = if records.is_empty() {
                "no TXT record there yet".to_owned()
            } else {
                let shown: Vec<String> = records
                    .iter()
                    .take(5)
                    .map(|r| {
                        let clean: String =
                            r.chars().map(|c| if is_hostile_char(c) { '?' } else { c }).take(100).collect();
                        format!("\"{clean}\"")
                    })
                    .collect();
                format!("found instead: {}", shown.join(", "))
            };
            return Err(Error::invalid(format!(
                "{domain} is not verified yet: publish a DNS TXT record at {} with the value {} ({found}); \
                 wait for it to propagate (often minutes, up to your DNS host's TTL), then check again",
                challenge.record_name, challenge.record_value,
            )));
        }
        self.domain(caller, domain, true).await
    }

    /// Removes a registered domain.
    ///
    /// # Errors
    /// `Forbidden`; `NotFound` when it is not registered here.
    pub async fn remove_domain(&self, caller: &Caller, domain: DomainName) -> Result<Organization> {
        self.domain(caller, domain, false).await
    }

    async fn domain(&self, caller: &Caller, domain: DomainName, add: bool) -> Result<Organization> {
        let deps = self.deps.clone();
        let caller = caller.clone();
        transact(&*self.deps.store, Mode::WriteOnce, move |tx| {
            require_admin(tx, &caller, "register domains")?;
            let org = load_org(tx, &caller.organization_id)?;
            if add {
                if org.domains.contains(&domain) {
                    return Ok(org);
                }
                match tx.organizations().add_domain(&org.id, &domain) {
                    Err(RepoError::Unique(_)) => return Err(domain_taken(&domain)),
                    other => other?,
                }
            } else if !tx.organizations().remove_domain(&org.id, &domain)? {
                return Err(Error::NotFound { detail: format!("{domain} is not registered to this organization") });
            }
            let v = Value::String(domain.as_str().to_owned());
            let (before, after) = if add { (None, Some(v)) } else { (Some(v), None) };
            let mut changes = vec![AttributeChange { attribute: "domains".into(), before, after }];
            let mut org = load_org(tx, &org.id)?;
            // SCIM works only while a domain is registered: the last one
            // gone switches it off, and only the operator turns it on again.
            let switch_off = !add && org.scim_enabled && org.lacks_scim_domain();
            if switch_off {
                org.scim_enabled = false;
                tx.organizations().update(&org)?;
                changes.push(AttributeChange {
                    attribute: "scimEnabled".into(),
                    before: Some(Value::Bool(true)),
                    after: Some(Value::Bool(false)),
                });
            }
            Audit::new(
                &org.id,
                &caller.actor,
                ResourceKind::Organization,
                org.id.as_str(),
                Operation::Configure,
                changes,
            )
            .record(tx, &deps)?;
            if switch_off {
                let data = EventData::Organization { name: org.name.clone() };
                emit(tx, &deps, &org.id, &caller.actor, EventKind::OrganizationScimDisabled, data)?;
            }
            Ok(org)
        })
        .await
    }
}
