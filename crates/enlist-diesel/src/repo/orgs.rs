//! `OrganizationRepo`: organizations, their domains, and the row lock of
//! the last-Admin guard.

use super::{corrupt, db_err, micros, other, time, DieselTx};
use crate::conn::{binds, Backend, Str};
use diesel::sql_types::{BigInt, Bool, Text};
use diesel::QueryableByName;
use enlist_core::model::*;
use enlist_core::ports::*;
use enlist_core::types::*;
use enlist_core::{RepoError, Uniqueness};

#[derive(QueryableByName)]
pub(super) struct OrgRow {
    #[diesel(sql_type = Text)]
    pub(super) id: String,
    #[diesel(sql_type = Text)]
    pub(super) name: String,
    #[diesel(sql_type = Bool)]
    pub(super) scim_enabled: bool,
    #[diesel(sql_type = Text)]
    pub(super) default_role: String,
    #[diesel(sql_type = BigInt)]
    pub(super) created_at: i64,
}

impl OrgRow {
    /// The organization, with its domains (unreadable ones left out).
    pub(super) fn into_org(self, domains: impl IntoIterator<Item = String>) -> Result<Organization, RepoError> {
        Ok(Organization {
            default_role: Role::parse(&self.default_role)
                .map_err(|_| corrupt("organizations", &self.id, "default_role"))?,
            id: OrganizationId::new(self.id),
            name: self.name,
            domains: domains.into_iter().filter_map(|d| DomainName::parse(&d).ok()).collect(),
            scim_enabled: self.scim_enabled,
            created_at: time(self.created_at),
        })
    }
}

/// An organization joined with one of its domains (none: `NULL`).
#[derive(QueryableByName)]
struct OrgDomainRow {
    #[diesel(embed)]
    org: OrgRow,
    #[diesel(sql_type = diesel::sql_types::Nullable<Text>)]
    domain: Option<String>,
}

impl DieselTx<'_> {
    fn orgs_with_domains(&mut self, rows: Vec<OrgRow>) -> Result<Vec<Organization>, RepoError> {
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let domains: Vec<Str> = self
                .db
                .load("SELECT domain AS s FROM domains WHERE organization_id = $1 ORDER BY domain", binds![&r.id])
                .map_err(other)?;
            out.push(r.into_org(domains.into_iter().map(|d| d.s))?);
        }
        Ok(out)
    }
}

impl OrganizationRepo for DieselTx<'_> {
    fn get(&mut self, id: &OrganizationId) -> RepoResult<Option<Organization>> {
        // One statement: every use case and every authentication reads its
        // organization, so a second round trip for the domains adds up.
        let rows: Vec<OrgDomainRow> = self
            .db
            .load(
                "SELECT o.id, o.name, o.scim_enabled, o.default_role, o.created_at, d.domain                  FROM organizations o LEFT JOIN domains d ON d.organization_id = o.id WHERE o.id = $1 AND o.deleted_at IS NULL ORDER BY d.domain",
                binds![id.as_str()],
            )
            .map_err(other)?;
        let mut rows = rows.into_iter();
        let Some(first) = rows.next() else { return Ok(None) };
        let domains: Vec<String> = std::iter::once(first.domain).chain(rows.map(|r| r.domain)).flatten().collect();
        Ok(Some(first.org.into_org(domains)?))
    }
    fn by_name(&mut self, name: &str) -> RepoResult<Option<Organization>> {
        let rows: Vec<OrgRow> = self
            .db
            .load("SELECT * FROM organizations WHERE name = $1 AND deleted_at IS NULL", binds![name])
            .map_err(other)?;
        Ok(self.orgs_with_domains(rows)?.pop())
    }
    fn list(&mut self) -> RepoResult<Vec<Organization>> {
        let rows: Vec<OrgRow> = self
            .db
            .load("SELECT * FROM organizations WHERE deleted_at IS NULL ORDER BY name", vec![])
            .map_err(other)?;
        self.orgs_with_domains(rows)
    }
    fn insert(&mut self, org: &Organization) -> RepoResult<()> {
        self.db
            .exec(
                "INSERT INTO organizations (id, name, scim_enabled, default_role, created_at) VALUES ($1, $2, $3, $4, $5)",
                binds![org.id.as_str(), org.name.as_str(), org.scim_enabled, org.default_role.as_str(), micros(org.created_at)],
            )
            .map_err(|e| db_err(e, |_| Uniqueness::OrganizationName))?;
        Ok(())
    }
    fn update(&mut self, org: &Organization) -> RepoResult<()> {
        self.db
            .exec(
                "UPDATE organizations SET name = $1, scim_enabled = $2, default_role = $3 WHERE id = $4",
                binds![org.name.as_str(), org.scim_enabled, org.default_role.as_str(), org.id.as_str()],
            )
            .map_err(|e| db_err(e, |_| Uniqueness::OrganizationName))?;
        Ok(())
    }
    fn lock(&mut self, id: &OrganizationId) -> RepoResult<()> {
        // SQLite write transactions are IMMEDIATE: the whole database is
        // already locked for writing. PostgreSQL locks the row.
        if self.db.backend() == Backend::Postgres {
            let _: Vec<Str> = self
                .db
                .load("SELECT id AS s FROM organizations WHERE id = $1 FOR UPDATE", binds![id.as_str()])
                .map_err(other)?;
        }
        Ok(())
    }
    fn add_domain(&mut self, id: &OrganizationId, domain: &DomainName) -> RepoResult<()> {
        self.db
            .exec("INSERT INTO domains (domain, organization_id) VALUES ($1, $2)", binds![domain.as_str(), id.as_str()])
            .map_err(|e| db_err(e, |_| Uniqueness::Domain))?;
        Ok(())
    }
    fn remove_domain(&mut self, id: &OrganizationId, domain: &DomainName) -> RepoResult<bool> {
        let n = self
            .db
            .exec(
                "DELETE FROM domains WHERE domain = $1 AND organization_id = $2",
                binds![domain.as_str(), id.as_str()],
            )
            .map_err(other)?;
        Ok(n > 0)
    }
    fn offboard(&mut self, id: &OrganizationId, at: chrono::DateTime<chrono::Utc>) -> RepoResult<Offboarded> {
        #[derive(QueryableByName)]
        struct Count {
            #[diesel(sql_type = BigInt)]
            n: i64,
        }
        let org = id.as_str();
        let mut count = |sql: &'static str| -> RepoResult<u64> {
            let rows: Vec<Count> = self.db.load(sql, binds![org]).map_err(other)?;
            Ok(rows.first().map_or(0, |c| c.n.max(0) as u64))
        };
        let users = count("SELECT COUNT(*) AS n FROM users WHERE organization_id = $1")?;
        let groups = count("SELECT COUNT(*) AS n FROM groups WHERE organization_id = $1")?;
        let keys = count("SELECT COUNT(*) AS n FROM api_keys WHERE organization_id = $1")?;
        // Accounts only this organization holds: read before their
        // memberships go (users reference accounts), deleted after.
        let orphans: Vec<Str> = self
            .db
            .load(
                "SELECT u.account_id AS s FROM users u WHERE u.organization_id = $1 AND NOT EXISTS \
                 (SELECT 1 FROM users o WHERE o.account_id = u.account_id AND o.organization_id <> $1)",
                binds![org],
            )
            .map_err(other)?;
        // Members' values and group memberships go with them (ON DELETE
        // CASCADE); the rest hangs off the organization and is cleared
        // here, since the row itself stays as a tombstone.
        for table in [
            "users",
            "groups",
            "api_keys",
            "domains",
            "webhooks",
            "activity",
            "console_links",
            "console_sessions",
            "outbox",
            "events",
            "event_consumers",
            "deprovision_guards",
            "deprovisions",
            "held_deprovisions",
            "key_usage",
            "consumer_failures",
        ] {
            self.db.exec(format!("DELETE FROM {table} WHERE organization_id = $1"), binds![org]).map_err(other)?;
        }
        for a in &orphans {
            self.db.exec("DELETE FROM accounts WHERE id = $1", binds![&a.s]).map_err(other)?;
        }
        self.db
            .exec(
                "UPDATE organizations SET deleted_at = $1, name = $2, scim_enabled = $3 WHERE id = $4",
                binds![micros(at), format!("deleted:{org}"), false, org],
            )
            .map_err(other)?;
        Ok(Offboarded { users, groups, keys, accounts: orphans.len() as u64 })
    }
}
