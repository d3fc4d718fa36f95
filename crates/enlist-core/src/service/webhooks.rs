//! Webhook endpoints: who may register them, for which organizations, and
//! which URLs are acceptable. Delivery (signing, HTTP, retries) is the
//! `enlist-webhooks` adapter's; it reads enabled endpoints and disables
//! one that failed for too long through this service.

use super::webhook_url::{in_admin_words, internal_detail};
use super::*;
use crate::ports::{EventFeed, Standing};
use crate::value::Value;

/// The webhook use cases.
#[derive(Clone)]
pub struct Webhooks {
    deps: Deps,
    /// The operator's development allowance: Admins may register private
    /// and plain-HTTP endpoints too.
    private_for_admins: bool,
}

/// Most endpoints one organization may register: each runs a delivery
/// loop in every process.
pub const MAX_WEBHOOKS_PER_ORGANIZATION: usize = 10;

/// Audits a change to one of the caller's organization's endpoints.
fn audit_endpoint(
    tx: &mut dyn Transaction,
    deps: &Deps,
    caller: &Caller,
    id: &WebhookId,
    change: AttributeChange,
) -> Result<()> {
    Audit::new(
        &caller.organization_id,
        &caller.actor,
        ResourceKind::Organization,
        id.as_str(),
        Operation::Configure,
        vec![change],
    )
    .record(tx, deps)
}

impl Webhooks {
    pub(crate) fn new(deps: Deps) -> Self {
        Self { deps, private_for_admins: false }
    }

    /// Lets organization Admins register endpoints on this machine, a
    /// private network or plain HTTP (`allow_private`), as only the
    /// operator may otherwise: for development and for deployments whose
    /// receivers are all internal. Never on a multi-tenant service that
    /// faces the internet: an Admin could then make Enlist call inside
    /// its network.
    #[must_use]
    pub fn allow_private_for_admins(mut self, yes: bool) -> Self {
        self.private_for_admins = yes;
        self
    }

    /// Whether Admins may register private endpoints
    /// ([`Webhooks::allow_private_for_admins`]).
    pub fn private_for_admins(&self) -> bool {
        self.private_for_admins
    }

    /// Registers an endpoint for the caller's organization, or, for the
    /// operator with `every_organization`, for every organization's events.
    /// `secret` is the signing secret the adapter generated (shown once).
    /// Without `allow_private` (the operator's alone) the URL must be HTTPS
    /// and name neither this machine nor an internal address; a public name
    /// that resolves inside is refused by the delivery adapter, which
    /// checks [`is_internal_address`] on every delivery.
    ///
    /// # Errors
    /// `Forbidden` unless an Admin (or the operator for the operator-only
    /// options); `InvalidValue` for a URL that is not HTTPS, names an
    /// internal host, or past [`MAX_WEBHOOKS_PER_ORGANIZATION`].
    pub async fn add(
        &self,
        caller: &Caller,
        url: &str,
        every_organization: bool,
        allow_private: bool,
        secret: String,
    ) -> Result<Webhook> {
        if (every_organization || (allow_private && !self.private_for_admins)) && caller.actor != Actor::Operator {
            return Err(Error::Forbidden {
                detail: "only the operator registers webhooks for every organization or to private addresses".into(),
            });
        }
        // An Admin reads the refusal in the console: the operator's flag
        // means nothing there.
        let words = |e: Error| if caller.actor == Actor::Operator { e } else { in_admin_words(e) };
        let parsed = check_webhook_url(url, allow_private).map_err(words)?;
        self.destination(&parsed, allow_private).await.map_err(words)?;
        let deps = self.deps.clone();
        let (caller, url) = (caller.clone(), url.to_owned());
        transact(&*self.deps.store, Mode::WriteOnce, move |tx| {
            require_admin(tx, &caller, "register webhooks")?;
            if !every_organization
                && tx.webhooks().list(Some(&caller.organization_id))?.len() >= MAX_WEBHOOKS_PER_ORGANIZATION
            {
                return Err(Error::invalid(format!(
                    "this organization has {MAX_WEBHOOKS_PER_ORGANIZATION} webhook endpoints, the most it may have; \
                     remove one first"
                )));
            }
            let webhook = Webhook {
                id: WebhookId::new(deps.ids.id()),
                organization_id: (!every_organization).then(|| caller.organization_id.clone()),
                url: url.clone(),
                secret: secret.clone(),
                allow_private,
                created_at: deps.clock.now(),
                disabled_at: None,
                disabled_reason: None,
            };
            tx.webhooks().insert(&webhook)?;
            let change =
                AttributeChange { attribute: "webhooks".into(), before: None, after: Some(Value::String(url.clone())) };
            audit_endpoint(tx, &deps, &caller, &webhook.id, change)?;
            Ok(webhook)
        })
        .await
    }

    /// The caller's organization's endpoints; with `every_organization`
    /// (operator only), the every-organization ones. Their signing secrets
    /// are empty: a secret is shown once, when its endpoint is created.
    ///
    /// # Errors
    /// `Forbidden` unless an Admin or the operator.
    pub async fn list(&self, caller: &Caller, every_organization: bool) -> Result<Vec<Webhook>> {
        let caller = caller.clone();
        transact(&*self.deps.store, Mode::Read, move |tx| {
            require_admin(tx, &caller, "list webhooks")?;
            if every_organization && caller.actor != Actor::Operator {
                return Err(Error::Forbidden { detail: "only the operator lists every-organization webhooks".into() });
            }
            let hooks = tx.webhooks().list((!every_organization).then_some(&caller.organization_id))?;
            Ok(hooks.into_iter().map(|w| Webhook { secret: String::new(), ..w }).collect())
        })
        .await
    }

    /// Removes one of the caller's organization's endpoints (the operator:
    /// also an every-organization one).
    ///
    /// # Errors
    /// `Forbidden`; `NotFound` for an unknown id.
    pub async fn remove(&self, caller: &Caller, id: &WebhookId) -> Result<()> {
        let deps = self.deps.clone();
        let (caller, id) = (caller.clone(), id.to_owned());
        transact(&*self.deps.store, Mode::WriteOnce, move |tx| {
            require_admin(tx, &caller, "remove webhooks")?;
            let removed = tx.webhooks().delete(Some(&caller.organization_id), &id)?
                || (caller.actor == Actor::Operator && tx.webhooks().delete(None, &id)?);
            if !removed {
                return Err(Error::NotFound {
                    detail: format!("no webhook {id} in this organization; the list of its endpoints shows them"),
                });
            }
            let change = AttributeChange {
                attribute: "webhooks".into(),
                before: Some(Value::String(id.to_string())),
                after: None,
            };
            audit_endpoint(tx, &deps, &caller, &id, change)
        })
        .await
    }

    /// One of the caller's organization's endpoints with its signing
    /// secret, to send it a signed test now (the operator: also an
    /// every-organization one). Listings never carry the secret.
    ///
    /// # Errors
    /// `Forbidden` unless an Admin or the operator; `NotFound` for an
    /// endpoint that is not the organization's.
    pub async fn for_test(&self, caller: &Caller, id: &WebhookId) -> Result<Webhook> {
        let (caller, id) = (caller.clone(), id.to_owned());
        transact(&*self.deps.store, Mode::Read, move |tx| {
            require_admin(tx, &caller, "test webhooks")?;
            tx.webhooks()
                .enabled()?
                .into_iter()
                .find(|w| {
                    w.id == id
                        && match &w.organization_id {
                            Some(org) => *org == caller.organization_id,
                            None => caller.actor == Actor::Operator,
                        }
                })
                .ok_or_else(|| Error::NotFound {
                    detail: format!("no enabled webhook {id} in this organization; the list of endpoints shows them"),
                })
        })
        .await
    }

    /// Where one of the caller's organization's endpoints stands: the last
    /// event delivered, the newest, and its latest failures. `feed` is the
    /// adapter's record of consumer positions.
    ///
    /// # Errors
    /// `Forbidden` unless an Admin; `NotFound` for another organization's
    /// endpoint.
    pub async fn standing(&self, caller: &Caller, id: &WebhookId, feed: &dyn EventFeed) -> Result<Standing> {
        self.own(caller, id, "see webhook deliveries").await?;
        feed.standing(&id.consumer_name(), &caller.organization_id).await
    }

    /// Delivers the caller's organization's events to one of its endpoints
    /// again, from event `from` on (each keeps its `webhook-id`, so a
    /// receiver that deduplicates sees the replay as repeats). Audited.
    ///
    /// # Errors
    /// `Forbidden` unless an Admin; `NotFound` for another organization's
    /// endpoint; `InvalidValue` when `from` is 0, past the newest event
    /// plus one, or older than the oldest event still kept.
    pub async fn replay(&self, caller: &Caller, id: &WebhookId, from: u64, feed: &dyn EventFeed) -> Result<()> {
        self.own(caller, id, "replay webhook deliveries").await?;
        let org = caller.organization_id.clone();
        let oldest =
            transact(&*self.deps.store, Mode::Read, move |tx| Ok(tx.events().list(&org, 0, 1)?.first().map(|e| e.seq)))
                .await?;
        let newest = feed.standing(&id.consumer_name(), &caller.organization_id).await?.newest;
        let kept = match oldest {
            Some(o) => format!("events {o} to {newest} are kept"),
            None => "no event is kept yet".to_owned(),
        };
        if from == 0 || from > newest + 1 || oldest.is_some_and(|o| from < o) {
            return Err(Error::invalid(format!(
                "cannot replay from event {from}: {kept}; choose a number in that range (events are kept for a \
                 limited time, 30 days unless the operator set otherwise)"
            )));
        }
        feed.rewind(&id.consumer_name(), &caller.organization_id, from).await?;
        let (deps, caller, id) = (self.deps.clone(), caller.clone(), id.to_owned());
        transact(&*self.deps.store, Mode::WriteOnce, move |tx| {
            let change = AttributeChange {
                attribute: "webhookReplay".into(),
                before: None,
                after: Some(Value::String(format!("from event {from}"))),
            };
            audit_endpoint(tx, &deps, &caller, &id, change)
        })
        .await
    }

    /// Checks the caller is an Admin of the organization `id` belongs to.
    async fn own(&self, caller: &Caller, id: &WebhookId, what: &'static str) -> Result<()> {
        let (caller, id) = (caller.clone(), id.to_owned());
        transact(&*self.deps.store, Mode::Read, move |tx| {
            require_admin(tx, &caller, what)?;
            if tx.webhooks().list(Some(&caller.organization_id))?.iter().any(|w| w.id == id) {
                Ok(())
            } else {
                Err(Error::NotFound { detail: format!("no webhook {id} in this organization") })
            }
        })
        .await
    }

    /// Where `url` may be delivered now: its addresses (see
    /// [`Webhooks::addresses`]) with its port.
    ///
    /// # Errors
    /// As [`Webhooks::addresses`].
    pub async fn destination(&self, url: &WebhookUrl, allow_private: bool) -> Result<Vec<std::net::SocketAddr>> {
        let ips = self.addresses(url.host(), allow_private).await.map_err(|e| match e {
            Error::InvalidValue { detail } => Error::invalid(format!("webhook URL '{}': {detail}", url.redacted())),
            other => other,
        })?;
        Ok(ips.into_iter().map(|ip| std::net::SocketAddr::new(ip, url.port())).collect())
    }

    /// The addresses a webhook host may be reached at now: a literal, or
    /// a name through the DNS port (asked again whenever a delivery opens
    /// a connection, as DNS may change), with every internal address
    /// refused unless `allow_private`. The delivery client's resolver
    /// calls this, so no connection is ever opened to an address that
    /// was not checked.
    ///
    /// # Errors
    /// `InvalidValue` when the host does not resolve or resolves inside;
    /// `Unexpected` when DNS could not be asked.
    pub async fn addresses(&self, host: &str, allow_private: bool) -> Result<Vec<std::net::IpAddr>> {
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let ips = match host.parse::<std::net::IpAddr>() {
            Ok(ip) => vec![ip],
            Err(_) => self.deps.dns.addresses(host).await.map_err(|e| Error::Unexpected(Box::new(e)))?,
        };
        if ips.is_empty() {
            return Err(Error::invalid(format!("{host} does not resolve; check the host name")));
        }
        if let Some(bad) = ips.iter().find(|ip| !allow_private && is_internal_address(**ip)) {
            return Err(Error::invalid(internal_detail(host, Some(*bad))));
        }
        Ok(ips)
    }

    /// Every enabled endpoint: for the delivery worker.
    ///
    /// # Errors
    /// Storage failures.
    pub async fn enabled(&self) -> Result<Vec<Webhook>> {
        transact(&*self.deps.store, Mode::Read, |tx| Ok(tx.webhooks().enabled()?)).await
    }

    /// Disables an endpoint with the reason the operator will see: for the
    /// delivery worker, after it failed for too long.
    ///
    /// # Errors
    /// Storage failures.
    pub async fn disable(&self, id: &WebhookId, reason: &str) -> Result<()> {
        let (deps, id, reason) = (self.deps.clone(), id.to_owned(), reason.to_owned());
        transact(&*self.deps.store, Mode::WriteOnce, move |tx| {
            Ok(tx.webhooks().disable(&id, deps.clock.now(), &reason)?)
        })
        .await
    }
}
