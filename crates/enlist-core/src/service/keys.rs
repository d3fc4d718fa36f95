//! API keys: creation (secret shown once, stored as a hash), listing,
//! revocation, and authenticating a bearer token to its organization.
//!
//! A token reads `enlist_<key id>.<secret>`: the id finds the row without
//! scanning, the secret is compared by SHA-256 hash in constant time. The
//! secret has 256 bits of entropy, so a fast hash is the right one.

use super::*;
use crate::value::Value;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

const PREFIX: &str = "enlist_";

/// A freshly created key: the secret token is here and nowhere else.
#[derive(Debug, Clone)]
pub struct NewApiKey {
    /// The stored key.
    pub key: ApiKey,
    /// The bearer token to paste into the identity provider. Shown once.
    pub token: String,
}

/// The API-key use cases.
#[derive(Clone)]
pub struct ApiKeys {
    deps: Deps,
}

/// Hashes a secret for storage.
pub(crate) fn hash_secret(secret: &str) -> Vec<u8> {
    Sha256::digest(secret.as_bytes()).to_vec()
}

fn unauthorized(detail: &str) -> Error {
    Error::Unauthorized { detail: detail.to_owned() }
}

/// Splits a token into key id and secret.
fn split_token(token: &str) -> Option<(&str, &str)> {
    let rest = token.strip_prefix(PREFIX)?;
    let (id, secret) = rest.split_once('.')?;
    (!id.is_empty() && !secret.is_empty()).then_some((id, secret))
}

/// How stale `last_used_at` may get before an authentication refreshes it.
const TOUCH_EVERY_SECONDS: i64 = 60;

impl ApiKeys {
    pub(crate) fn new(deps: Deps) -> Self {
        Self { deps }
    }

    /// Creates a key labelled `label` for the caller's organization.
    ///
    /// # Errors
    /// `Forbidden` unless the caller is the operator or an active Admin;
    /// `InvalidValue` for a blank or over-long label, or one with control
    /// characters (labels reach terminals and mail).
    pub async fn create(&self, caller: &Caller, label: &str) -> Result<NewApiKey> {
        let deps = self.deps.clone();
        let (caller, label) = (caller.clone(), label.trim().to_owned());
        transact(&*self.deps.store, Mode::WriteOnce, move |tx| {
            require_admin(tx, &caller, "create API keys")?;
            if label.is_empty() || label.chars().count() > 100 {
                return Err(Error::invalid(
                    "an API key needs a label of 1 to 100 characters; people see it in notification mails, so name it after the connection (e.g. 'Entra ID provisioning')",
                ));
            }
            check_display_text("an API key label", &label, 100)?;
            let org = load_org(tx, &caller.organization_id)?;
            let id = ApiKeyId::new(deps.ids.id().replace(['.', '_'], "-"));
            let secret = deps.ids.secret();
            let key = ApiKey {
                id: id.clone(),
                organization_id: org.id.clone(),
                label: label.clone(),
                secret_hash: hash_secret(&secret),
                created_at: deps.clock.now(),
                last_used_at: None,
                revoked_at: None,
            };
            tx.api_keys().insert(&key)?;
            Audit::new(&org.id, &caller.actor, ResourceKind::ApiKey, id.as_str(), Operation::Create, vec![AttributeChange { attribute: "label".into(), before: None, after: Some(Value::String(label.clone())) }]).record(tx, &deps)?;
            let data = EventData::ApiKey { id: id.clone(), label: label.clone() };
            emit(tx, &deps, &org.id, &caller.actor, EventKind::ApiKeyCreated, data)?;
            Ok(NewApiKey { key, token: format!("{PREFIX}{id}.{secret}") })
        })
        .await
    }

    /// The organization's keys (hashes included, secrets never).
    ///
    /// # Errors
    /// `Forbidden` unless the operator or an Admin.
    pub async fn list(&self, caller: &Caller) -> Result<Vec<ApiKey>> {
        let caller = caller.clone();
        transact(&*self.deps.store, Mode::Read, move |tx| {
            require_admin(tx, &caller, "list API keys")?;
            Ok(tx.api_keys().list(&caller.organization_id)?)
        })
        .await
    }

    /// Revokes a key; it stops working at once.
    ///
    /// # Errors
    /// `Forbidden`; `NotFound` for unknown or already revoked keys.
    pub async fn revoke(&self, caller: &Caller, id: &ApiKeyId) -> Result<()> {
        let deps = self.deps.clone();
        let (caller, id) = (caller.clone(), id.clone());
        transact(&*self.deps.store, Mode::WriteOnce, move |tx| {
            require_admin(tx, &caller, "revoke API keys")?;
            let label = tx.api_keys().get(&id)?.map(|k| k.label).unwrap_or_default();
            if !tx.api_keys().revoke(&caller.organization_id, &id, deps.clock.now())? {
                return Err(Error::NotFound { detail: format!("no active API key {id} in this organization") });
            }
            let data = EventData::ApiKey { id: id.clone(), label };
            emit(tx, &deps, &caller.organization_id, &caller.actor, EventKind::ApiKeyRevoked, data)?;
            Audit::new(
                &caller.organization_id,
                &caller.actor,
                ResourceKind::ApiKey,
                id.as_str(),
                Operation::Revoke,
                Vec::new(),
            )
            .record(tx, &deps)
        })
        .await
    }

    /// Resolves a bearer token to its organization.
    ///
    /// # Errors
    /// `Unauthorized` for a malformed, unknown or revoked key; `Forbidden`
    /// while SCIM is off for the organization ([`Organization::scim_refusal`]).
    pub async fn authenticate(&self, token: &str) -> Result<Caller> {
        let token = token.trim();
        let Some((id, secret)) = split_token(token) else {
            return Err(unauthorized(if token.to_ascii_lowercase().starts_with("bearer ") {
                "The Authorization header says 'Bearer Bearer ...': paste only the Enlist API key into the identity provider's token field"
            } else {
                "This is not an Enlist API key (they start with 'enlist_'); paste the key Enlist showed when it was created"
            }));
        };
        let (id, presented) = (ApiKeyId::new(id), hash_secret(secret));
        let now = self.deps.clock.now();
        let (caller, stale) = transact(&*self.deps.store, Mode::Read, move |tx| {
            let (key, org) = tx.api_keys().get_with_organization(&id)?.ok_or_else(|| {
                unauthorized("Unknown API key: create a key in Enlist and paste it into your identity provider")
            })?;
            if !bool::from(key.secret_hash.as_slice().ct_eq(presented.as_slice())) {
                return Err(unauthorized(
                    "Unknown API key: create a key in Enlist and paste it into your identity provider",
                ));
            }
            if key.revoked_at.is_some() {
                return Err(unauthorized(
                    "This API key was revoked: create a new key in Enlist and paste it into your identity provider",
                ));
            }
            if let Some(detail) = org.scim_refusal() {
                return Err(Error::Forbidden { detail });
            }
            let stale = key.last_used_at.is_none_or(|t| (now - t).num_seconds() >= TOUCH_EVERY_SECONDS);
            Ok((Caller { organization_id: org.id, actor: Actor::ApiKey { id: key.id, label: key.label } }, stale))
        })
        .await?;
        if stale {
            if let Actor::ApiKey { id, .. } = &caller.actor {
                let id = id.clone();
                // Best effort: a failed bookkeeping write never fails a request.
                let _ =
                    transact(&*self.deps.store, Mode::WriteOnce, move |tx| Ok(tx.api_keys().touch(&id, now)?)).await;
            }
        }
        Ok(caller)
    }

    /// Whose a refused token is, for the activity log: a key whose secret
    /// matches (revoked or not, its organization's SCIM on or off). `None`
    /// for anything else. Never a reason to let the request through.
    ///
    /// # Errors
    /// Storage failures.
    pub async fn attribute(&self, token: &str) -> Result<Option<Caller>> {
        let Some((id, secret)) = split_token(token.trim()) else { return Ok(None) };
        let (id, presented) = (ApiKeyId::new(id), hash_secret(secret));
        transact(&*self.deps.store, Mode::Read, move |tx| {
            Ok(tx
                .api_keys()
                .get(&id)?
                .filter(|k| bool::from(k.secret_hash.as_slice().ct_eq(presented.as_slice())))
                .map(|k| Caller {
                    organization_id: k.organization_id,
                    actor: Actor::ApiKey { id: k.id, label: k.label },
                }))
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_split_into_id_and_secret() {
        assert_eq!(split_token("enlist_abc-1.s3cr3t_x-y"), Some(("abc-1", "s3cr3t_x-y")));
        for bad in ["", "enlist_", "enlist_abc", "enlist_.x", "enlist_abc.", "Bearer enlist_a.b", "abc.def"] {
            assert_eq!(split_token(bad), None, "{bad:?}");
        }
    }
}
