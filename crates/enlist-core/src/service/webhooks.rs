//! Webhook endpoints: who may register them, for which organizations, and
//! which URLs are acceptable. Delivery (signing, HTTP, retries) is the
//! `enlist-webhooks` adapter's; it reads enabled endpoints and disables
//! one that failed for too long through this service.

use super::*;
use crate::value::Value;

/// The webhook use cases.
#[derive(Clone)]
pub struct Webhooks {
    deps: Deps,
}

/// Hosts an `http://` URL may name: development on this machine only.
fn is_loopback_host(host: &str) -> bool {
    let h = host.trim_start_matches('[').trim_end_matches(']');
    h.eq_ignore_ascii_case("localhost") || h.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// The host of an `http(s)://host[:port]/…` URL, refusing what is not one.
pub fn webhook_host(url: &str) -> Result<(bool, String, u16)> {
    let bad = |why: &str| {
        Error::invalid(format!(
            "webhook URL '{url}' {why}; use https://host/path (http:// only to localhost, for development)"
        ))
    };
    let (https, rest) = if let Some(r) = url.strip_prefix("https://") {
        (true, r)
    } else if let Some(r) = url.strip_prefix("http://") {
        (false, r)
    } else {
        return Err(bad("is not an http(s) URL"));
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if authority.contains('@') {
        return Err(bad("carries credentials"));
    }
    if url.len() > 2048 || url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(bad("is too long or contains spaces"));
    }
    let default_port = if https { 443 } else { 80 };
    // `[v6]:port`, `[v6]`, `host:port` or `host`.
    let (host, port) = match authority.strip_prefix('[') {
        Some(v6) => {
            let (h, after) = v6.split_once(']').ok_or_else(|| bad("has an unclosed [IPv6] host"))?;
            (h, after.strip_prefix(':'))
        }
        None => match authority.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        },
    };
    let port = match port {
        Some(p) => p.parse::<u16>().map_err(|_| bad("has an invalid port"))?,
        None => default_port,
    };
    let host = host.to_owned();
    if host.is_empty() {
        return Err(bad("has no host"));
    }
    if !https && !is_loopback_host(&host) {
        return Err(bad("is not HTTPS"));
    }
    Ok((https, host, port))
}

impl Webhooks {
    pub(crate) fn new(deps: Deps) -> Self {
        Self { deps }
    }

    /// Registers an endpoint for the caller's organization, or, for the
    /// operator with `every_organization`, for every organization's events.
    /// `secret` is the signing secret the adapter generated (shown once).
    /// Only the operator may allow a private network address; the adapter
    /// resolves the host and refuses one otherwise.
    ///
    /// # Errors
    /// `Forbidden` unless an Admin (or the operator for the operator-only
    /// options); `InvalidValue` for a URL that is not HTTPS (loopback
    /// `http://` excepted).
    pub async fn add(
        &self,
        caller: &Caller,
        url: &str,
        every_organization: bool,
        allow_private: bool,
        secret: String,
    ) -> Result<Webhook> {
        if (every_organization || allow_private) && caller.actor != Actor::Operator {
            return Err(Error::Forbidden {
                detail: "only the operator registers webhooks for every organization or to private addresses".into(),
            });
        }
        webhook_host(url)?;
        let deps = self.deps.clone();
        let (caller, url) = (caller.clone(), url.to_owned());
        transact(&*self.deps.store, Mode::WriteOnce, move |tx| {
            require_admin(tx, &caller, "register webhooks")?;
            let webhook = Webhook {
                id: deps.ids.id(),
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
            Audit::new(
                &caller.organization_id,
                &caller.actor,
                ResourceKind::Organization,
                &webhook.id,
                Operation::Configure,
                vec![change],
            )
            .record(tx, &deps)?;
            Ok(webhook)
        })
        .await
    }

    /// The caller's organization's endpoints; with `every_organization`
    /// (operator only), the every-organization ones.
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
            Ok(tx.webhooks().list((!every_organization).then_some(&caller.organization_id))?)
        })
        .await
    }

    /// Removes one of the caller's organization's endpoints (the operator:
    /// also an every-organization one).
    ///
    /// # Errors
    /// `Forbidden`; `NotFound` for an unknown id.
    pub async fn remove(&self, caller: &Caller, id: &str) -> Result<()> {
        let deps = self.deps.clone();
        let (caller, id) = (caller.clone(), id.to_owned());
        transact(&*self.deps.store, Mode::WriteOnce, move |tx| {
            require_admin(tx, &caller, "remove webhooks")?;
            let removed = tx.webhooks().delete(Some(&caller.organization_id), &id)?
                || (caller.actor == Actor::Operator && tx.webhooks().delete(None, &id)?);
            if !removed {
                return Err(Error::NotFound {
                    detail: format!("no webhook {id} here; `enlist webhook list ORG` shows them"),
                });
            }
            let change =
                AttributeChange { attribute: "webhooks".into(), before: Some(Value::String(id.clone())), after: None };
            Audit::new(
                &caller.organization_id,
                &caller.actor,
                ResourceKind::Organization,
                &id,
                Operation::Configure,
                vec![change],
            )
            .record(tx, &deps)
        })
        .await
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
    pub async fn disable(&self, id: &str, reason: &str) -> Result<()> {
        let (deps, id, reason) = (self.deps.clone(), id.to_owned(), reason.to_owned());
        transact(&*self.deps.store, Mode::WriteOnce, move |tx| {
            Ok(tx.webhooks().disable(&id, deps.clock.now(), &reason)?)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::webhook_host;

    #[test]
    fn only_https_or_loopback_http_urls_are_accepted() {
        for (url, want) in [
            ("https://hooks.example.com/enlist", Some((true, "hooks.example.com", 443))),
            ("https://hooks.example.com:8443/x?y=1", Some((true, "hooks.example.com", 8443))),
            ("http://127.0.0.1:9000/hook", Some((false, "127.0.0.1", 9000))),
            ("http://localhost/hook", Some((false, "localhost", 80))),
            ("http://[::1]:7000/hook", Some((false, "::1", 7000))),
            ("http://hooks.example.com/x", None),
            ("ftp://x/y", None),
            ("https://user:pw@hooks.example.com/", None),
            ("https:///nohost", None),
            ("https://a b/", None),
        ] {
            let got = webhook_host(url).ok();
            assert_eq!(got.as_ref().map(|(s, h, p)| (*s, h.as_str(), *p)), want, "{url}");
        }
    }
}
