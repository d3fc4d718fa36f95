//! `ApiKeyRepo`: API keys, stored as the hex of the secret's hash only.

use super::orgs::OrgRow;
use super::{micros, other, time, DieselTx};
use crate::conn::binds;
use chrono::{DateTime, Utc};
use diesel::sql_types::{BigInt, Bool, Nullable, Text};
use diesel::QueryableByName;
use enlist_core::model::*;
use enlist_core::ports::*;
use enlist_core::types::*;

#[derive(QueryableByName)]
struct KeyRow {
    #[diesel(sql_type = Text)]
    id: String,
    #[diesel(sql_type = Text)]
    organization_id: String,
    #[diesel(sql_type = Text)]
    label: String,
    #[diesel(sql_type = Text)]
    secret_hash: String,
    #[diesel(sql_type = BigInt)]
    created_at: i64,
    #[diesel(sql_type = Nullable<BigInt>)]
    last_used_at: Option<i64>,
    #[diesel(sql_type = Nullable<BigInt>)]
    revoked_at: Option<i64>,
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
fn unhex(s: &str) -> Vec<u8> {
    (0..s.len() / 2).filter_map(|i| u8::from_str_radix(s.get(2 * i..2 * i + 2)?, 16).ok()).collect()
}

/// A key with its organization and one of its domains (none: `NULL`).
#[derive(QueryableByName)]
struct KeyOrgRow {
    #[diesel(embed)]
    key: KeyRow,
    #[diesel(sql_type = Text)]
    org_name: String,
    #[diesel(sql_type = Bool)]
    org_scim_enabled: bool,
    #[diesel(sql_type = Text)]
    org_default_role: String,
    #[diesel(sql_type = BigInt)]
    org_created_at: i64,
    #[diesel(sql_type = Nullable<Text>)]
    domain: Option<String>,
}

impl ApiKeyRepo for DieselTx<'_> {
    fn get(&mut self, id: &ApiKeyId) -> RepoResult<Option<ApiKey>> {
        let row: Option<KeyRow> =
            self.db.first("SELECT * FROM api_keys WHERE id = $1", binds![id.as_str()]).map_err(other)?;
        Ok(row.map(key))
    }
    fn get_with_organization(&mut self, id: &ApiKeyId) -> RepoResult<Option<(ApiKey, Organization)>> {
        let rows: Vec<KeyOrgRow> = self
            .db
            .load(
                "SELECT k.id, k.organization_id, k.label, k.secret_hash, k.created_at, k.last_used_at, k.revoked_at, \
                 o.name AS org_name, o.scim_enabled AS org_scim_enabled, o.default_role AS org_default_role, \
                 o.created_at AS org_created_at, d.domain \
                 FROM api_keys k JOIN organizations o ON o.id = k.organization_id \
                 LEFT JOIN domains d ON d.organization_id = o.id WHERE k.id = $1 ORDER BY d.domain",
                binds![id.as_str()],
            )
            .map_err(other)?;
        let mut rows = rows.into_iter();
        let Some(first) = rows.next() else { return Ok(None) };
        let domains: Vec<String> = std::iter::once(first.domain).chain(rows.map(|r| r.domain)).flatten().collect();
        let org = OrgRow {
            id: first.key.organization_id.clone(),
            name: first.org_name,
            scim_enabled: first.org_scim_enabled,
            default_role: first.org_default_role,
            created_at: first.org_created_at,
        }
        .into_org(domains)?;
        Ok(Some((key(first.key), org)))
    }
    fn list(&mut self, org: &OrganizationId) -> RepoResult<Vec<ApiKey>> {
        let rows: Vec<KeyRow> = self
            .db
            .load(
                "SELECT * FROM api_keys WHERE organization_id = $1 ORDER BY created_at DESC, id",
                binds![org.as_str()],
            )
            .map_err(other)?;
        Ok(rows.into_iter().map(key).collect())
    }
    fn insert(&mut self, k: &ApiKey) -> RepoResult<()> {
        self.db
            .exec(
                "INSERT INTO api_keys (id, organization_id, label, secret_hash, created_at) VALUES ($1, $2, $3, $4, $5)",
                binds![k.id.as_str(), k.organization_id.as_str(), k.label.as_str(), hex(&k.secret_hash), micros(k.created_at)],
            )
            .map_err(other)?;
        Ok(())
    }
    fn revoke(&mut self, org: &OrganizationId, id: &ApiKeyId, at: DateTime<Utc>) -> RepoResult<bool> {
        let n = self
            .db
            .exec(
                "UPDATE api_keys SET revoked_at = $1 WHERE organization_id = $2 AND id = $3 AND revoked_at IS NULL",
                binds![micros(at), org.as_str(), id.as_str()],
            )
            .map_err(other)?;
        Ok(n > 0)
    }
    fn touch(&mut self, id: &ApiKeyId, at: DateTime<Utc>) -> RepoResult<()> {
        self.db
            .exec("UPDATE api_keys SET last_used_at = $1 WHERE id = $2", binds![micros(at), id.as_str()])
            .map_err(other)?;
        Ok(())
    }
}

fn key(r: KeyRow) -> ApiKey {
    ApiKey {
        id: ApiKeyId::new(r.id),
        organization_id: OrganizationId::new(r.organization_id),
        label: r.label,
        secret_hash: unhex(&r.secret_hash),
        created_at: time(r.created_at),
        last_used_at: r.last_used_at.map(time),
        revoked_at: r.revoked_at.map(time),
    }
}
