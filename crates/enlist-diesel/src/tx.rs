//! The repositories of one transaction, on either backend.

use crate::codec::{decode, encode, flatten};
use crate::conn::{binds, placeholders, Backend, Bind, Count, Db, Str};
use crate::sql::{Resource, Sql};
use chrono::{DateTime, Utc};
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel::sql_types::{BigInt, Bool, Nullable, Text};
use diesel::QueryableByName;
use enlist_core::model::*;
use enlist_core::ports::*;
use enlist_core::query::{ListPage, ListQuery, Page};
use enlist_core::types::*;
use enlist_core::{RepoError, Uniqueness};

/// Rows per multi-row statement (well under both backends' bind limits).
const CHUNK: usize = 500;

pub(crate) struct DieselTx<'c> {
    pub(crate) db: Db<'c>,
}

pub(crate) fn micros(t: DateTime<Utc>) -> i64 {
    t.timestamp_micros()
}
pub(crate) fn time(m: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(m).unwrap_or_default()
}

/// Maps a driver error; `unique` names the rule a unique violation breaks.
fn db_err(e: DieselError, unique: impl Fn(&str) -> Uniqueness) -> RepoError {
    match &e {
        DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, info) => {
            let what = format!("{} {}", info.message(), info.constraint_name().unwrap_or_default());
            RepoError::Unique(unique(&what))
        }
        DieselError::DatabaseError(DatabaseErrorKind::ForeignKeyViolation, _) => RepoError::MissingReference,
        _ => RepoError::other(e),
    }
}
fn other(e: DieselError) -> RepoError {
    RepoError::other(e)
}
fn corrupt(what: &str) -> RepoError {
    RepoError::other(std::io::Error::other(format!("stored {what} cannot be read")))
}

#[derive(QueryableByName)]
struct OrgRow {
    #[diesel(sql_type = Text)]
    id: String,
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = Bool)]
    scim_enabled: bool,
    #[diesel(sql_type = Text)]
    default_role: String,
    #[diesel(sql_type = BigInt)]
    created_at: i64,
}

#[derive(QueryableByName)]
struct AccountRow {
    #[diesel(sql_type = Text)]
    id: String,
    #[diesel(sql_type = Text)]
    email: String,
    #[diesel(sql_type = BigInt)]
    created_at: i64,
}

#[derive(QueryableByName)]
pub(crate) struct UserRow {
    #[diesel(sql_type = BigInt)]
    pub(crate) seq: i64,
    #[diesel(sql_type = Text)]
    id: String,
    #[diesel(sql_type = Text)]
    organization_id: String,
    #[diesel(sql_type = Text)]
    account_id: String,
    #[diesel(sql_type = Text)]
    profile: String,
    #[diesel(sql_type = Text)]
    effective_role: String,
    #[diesel(sql_type = Text)]
    role_source: String,
    #[diesel(sql_type = BigInt)]
    created_at: i64,
    #[diesel(sql_type = BigInt)]
    updated_at: i64,
    #[diesel(sql_type = BigInt)]
    version: i64,
}

const USER_COLS: &str =
    "u.seq, u.id, u.organization_id, u.account_id, u.profile, u.effective_role, u.role_source, u.created_at, u.updated_at, u.version";

impl UserRow {
    fn into_user(self) -> Result<User, RepoError> {
        let attrs = decode(&self.profile).ok_or_else(|| corrupt("profile"))?;
        Ok(User {
            id: UserId::new(self.id),
            organization_id: OrganizationId::new(self.organization_id),
            account_id: AccountId::new(self.account_id),
            profile: Profile::parse(attrs).map_err(|_| corrupt("profile"))?,
            effective_role: Role::parse(&self.effective_role).map_err(|_| corrupt("role"))?,
            role_source: RoleSource::parse(&self.role_source).ok_or_else(|| corrupt("role source"))?,
            created_at: time(self.created_at),
            updated_at: time(self.updated_at),
            version: self.version as u64,
        })
    }
}

#[derive(QueryableByName)]
struct GroupRow {
    #[diesel(sql_type = BigInt)]
    seq: i64,
    #[diesel(sql_type = Text)]
    id: String,
    #[diesel(sql_type = Text)]
    organization_id: String,
    #[diesel(sql_type = Text)]
    display_name: String,
    #[diesel(sql_type = Nullable<Text>)]
    external_id: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    role: Option<String>,
    #[diesel(sql_type = BigInt)]
    created_at: i64,
    #[diesel(sql_type = BigInt)]
    updated_at: i64,
    #[diesel(sql_type = BigInt)]
    version: i64,
}

const GROUP_COLS: &str =
    "g.seq, g.id, g.organization_id, g.display_name, g.external_id, g.role, g.created_at, g.updated_at, g.version";

impl GroupRow {
    fn into_group(self) -> Result<Group, RepoError> {
        Ok(Group {
            id: GroupId::new(self.id),
            organization_id: OrganizationId::new(self.organization_id),
            display_name: self.display_name,
            external_id: self.external_id,
            role: self.role.map(|r| Role::parse(&r).map_err(|_| corrupt("group role"))).transpose()?,
            created_at: time(self.created_at),
            updated_at: time(self.updated_at),
            version: self.version as u64,
        })
    }
}

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

#[derive(QueryableByName)]
struct MemberRow {
    #[diesel(sql_type = Text)]
    id: String,
    #[diesel(sql_type = Text)]
    user_name: String,
}

#[derive(QueryableByName)]
struct UserGroupRow {
    #[diesel(sql_type = Text)]
    user_id: String,
    #[diesel(sql_type = Text)]
    id: String,
    #[diesel(sql_type = Text)]
    display_name: String,
}

#[derive(QueryableByName)]
struct FloorRow {
    #[diesel(sql_type = Text)]
    user_id: String,
    #[diesel(sql_type = Text)]
    role: String,
}

#[derive(QueryableByName)]
struct AuditRow {
    #[diesel(sql_type = Text)]
    id: String,
    #[diesel(sql_type = Text)]
    organization_id: String,
    #[diesel(sql_type = BigInt)]
    at: i64,
    #[diesel(sql_type = Text)]
    actor: String,
    #[diesel(sql_type = Text)]
    resource: String,
    #[diesel(sql_type = Text)]
    resource_id: String,
    #[diesel(sql_type = Text)]
    operation: String,
    #[diesel(sql_type = Text)]
    changes: String,
    #[diesel(sql_type = Nullable<Text>)]
    note: Option<String>,
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
fn unhex(s: &str) -> Vec<u8> {
    (0..s.len() / 2).filter_map(|i| u8::from_str_radix(s.get(2 * i..2 * i + 2)?, 16).ok()).collect()
}

impl DieselTx<'_> {
    fn orgs_with_domains(&mut self, rows: Vec<OrgRow>) -> Result<Vec<Organization>, RepoError> {
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let domains: Vec<Str> = self
                .db
                .load("SELECT domain AS s FROM domains WHERE organization_id = $1 ORDER BY domain", binds![&r.id])
                .map_err(other)?;
            out.push(Organization {
                id: OrganizationId::new(r.id),
                name: r.name,
                domains: domains.into_iter().filter_map(|d| DomainName::parse(&d.s).ok()).collect(),
                scim_enabled: r.scim_enabled,
                default_role: Role::parse(&r.default_role).map_err(|_| corrupt("default role"))?,
                created_at: time(r.created_at),
            });
        }
        Ok(out)
    }

    fn users_where(&mut self, cond: &str, binds: Vec<Bind>) -> Result<Vec<User>, RepoError> {
        let rows: Vec<UserRow> =
            self.db.load(&format!("SELECT {USER_COLS} FROM users u WHERE {cond}"), binds).map_err(other)?;
        rows.into_iter().map(UserRow::into_user).collect()
    }

    /// One page of a list query: `totalResults` (counted under the filter
    /// only), the rows, and the cursor of the next page in cursor paging.
    fn list_rows<R>(
        &mut self,
        r: Resource,
        org: &OrganizationId,
        query: &ListQuery,
        cols: &str,
        from: &str,
        seq: fn(&R) -> i64,
    ) -> Result<(u64, Vec<R>, Option<String>), RepoError>
    where
        R: QueryableByName<diesel::sqlite::Sqlite> + QueryableByName<diesel::pg::Pg> + 'static,
    {
        let alias = if r == Resource::User { "u" } else { "g" };
        let mut sql = Sql::new(self.db.backend());
        let o = sql.param(org.as_str());
        let parts = sql.list_parts(r, query)?;
        let count: Option<Count> = self
            .db
            .first(
                &format!("SELECT COUNT(*) AS n FROM {from} WHERE {alias}.organization_id = {o}{}", parts.filter),
                sql.binds[..parts.filter_binds].to_vec(),
            )
            .map_err(other)?;
        let rows: Vec<R> = self
            .db
            .load(
                &format!(
                    "SELECT {cols} FROM {from} WHERE {alias}.organization_id = {o}{}{} {} {}",
                    parts.filter, parts.cursor, parts.order, parts.limit
                ),
                sql.binds,
            )
            .map_err(other)?;
        let next_cursor = match query.page {
            Page::Cursor { count, .. } if rows.len() as u64 == count && count > 0 => {
                rows.last().map(|row| seq(row).to_string())
            }
            _ => None,
        };
        Ok((count.map_or(0, |c| c.n as u64), rows, next_cursor))
    }

    /// Writes the profile's flattened values.
    fn write_values(&mut self, user: &User) -> Result<(), RepoError> {
        self.db.exec("DELETE FROM user_values WHERE user_id = $1", binds![user.id.as_str()]).map_err(other)?;
        let rows = flatten(user.profile.attrs());
        for chunk in rows.chunks(CHUNK / 5) {
            let mut sql = String::from("INSERT INTO user_values (user_id, attr, idx, sub, value, folded) VALUES ");
            let mut b = Vec::with_capacity(chunk.len() * 6);
            for (i, r) in chunk.iter().enumerate() {
                if i > 0 {
                    sql.push_str(", ");
                }
                sql.push_str(&format!("({})", placeholders(b.len() + 1, 6)));
                b.extend(binds![
                    user.id.as_str(),
                    r.attr.as_str(),
                    r.idx,
                    r.sub.as_str(),
                    r.value.as_str(),
                    r.folded.as_str()
                ]);
            }
            self.db.exec(&sql, b).map_err(other)?;
        }
        Ok(())
    }

    fn user_columns(user: &User) -> Vec<Bind> {
        let p = &user.profile;
        binds![
            p.user_name().as_str(),
            p.user_name().folded(),
            p.external_id(),
            p.display_name().map(fold),
            p.active(),
            user.effective_role.as_str(),
            user.role_source.as_str(),
            p.manager().map(|m| m.as_str().to_owned()),
            encode(p.attrs()),
            micros(user.updated_at),
            user.version as i64,
        ]
    }

    /// Runs `sql` (with `$1` = group, `$2` = org, then the ids) in chunks,
    /// collecting the returned `s` column.
    fn chunked_ids(
        &mut self,
        sql: &str,
        group: &GroupId,
        org: &OrganizationId,
        ids: &[UserId],
    ) -> Result<Vec<UserId>, RepoError> {
        let mut out = Vec::new();
        for chunk in ids.chunks(CHUNK) {
            let q = sql.replace("{ids}", &placeholders(3, chunk.len()));
            let mut b = binds![group.as_str(), org.as_str()];
            b.extend(chunk.iter().map(|i| Bind::Text(i.as_str().to_owned())));
            let rows: Vec<Str> = self.db.load(&q, b).map_err(|e| db_err(e, |_| Uniqueness::Membership))?;
            out.extend(rows.into_iter().map(|r| UserId::new(r.s)));
        }
        Ok(out)
    }
}

impl OrganizationRepo for DieselTx<'_> {
    fn get(&mut self, id: &OrganizationId) -> RepoResult<Option<Organization>> {
        let rows: Vec<OrgRow> =
            self.db.load("SELECT * FROM organizations WHERE id = $1", binds![id.as_str()]).map_err(other)?;
        Ok(self.orgs_with_domains(rows)?.pop())
    }
    fn by_name(&mut self, name: &str) -> RepoResult<Option<Organization>> {
        let rows: Vec<OrgRow> =
            self.db.load("SELECT * FROM organizations WHERE name = $1", binds![name]).map_err(other)?;
        Ok(self.orgs_with_domains(rows)?.pop())
    }
    fn list(&mut self) -> RepoResult<Vec<Organization>> {
        let rows: Vec<OrgRow> = self.db.load("SELECT * FROM organizations ORDER BY name", vec![]).map_err(other)?;
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
}

impl AccountRepo for DieselTx<'_> {
    fn by_email(&mut self, email: &Email) -> RepoResult<Option<Account>> {
        let row: Option<AccountRow> = self
            .db
            .first("SELECT id, email, created_at FROM accounts WHERE email_folded = $1", binds![email.folded()])
            .map_err(other)?;
        row.map(account).transpose()
    }
    fn get(&mut self, id: &AccountId) -> RepoResult<Option<Account>> {
        let row: Option<AccountRow> = self
            .db
            .first("SELECT id, email, created_at FROM accounts WHERE id = $1", binds![id.as_str()])
            .map_err(other)?;
        row.map(account).transpose()
    }
    fn insert(&mut self, a: &Account) -> RepoResult<()> {
        self.db
            .exec(
                "INSERT INTO accounts (id, email, email_folded, created_at) VALUES ($1, $2, $3, $4)",
                binds![a.id.as_str(), a.email.as_str(), a.email.folded(), micros(a.created_at)],
            )
            .map_err(|e| db_err(e, |_| Uniqueness::AccountEmail))?;
        Ok(())
    }
    fn set_email(&mut self, id: &AccountId, email: &Email) -> RepoResult<()> {
        self.db
            .exec(
                "UPDATE accounts SET email = $1, email_folded = $2 WHERE id = $3",
                binds![email.as_str(), email.folded(), id.as_str()],
            )
            .map_err(|e| db_err(e, |_| Uniqueness::AccountEmail))?;
        Ok(())
    }
    fn delete_if_orphan(&mut self, id: &AccountId) -> RepoResult<bool> {
        let n = self
            .db
            .exec(
                "DELETE FROM accounts WHERE id = $1 AND NOT EXISTS (SELECT 1 FROM users WHERE account_id = $1)",
                binds![id.as_str()],
            )
            .map_err(other)?;
        Ok(n > 0)
    }
}

fn account(r: AccountRow) -> RepoResult<Account> {
    Ok(Account {
        id: AccountId::new(r.id),
        email: Email::parse(&r.email).map_err(|_| corrupt("email"))?,
        created_at: time(r.created_at),
    })
}

impl UserRepo for DieselTx<'_> {
    fn get(&mut self, org: &OrganizationId, id: &UserId) -> RepoResult<Option<User>> {
        Ok(self.users_where("u.organization_id = $1 AND u.id = $2", binds![org.as_str(), id.as_str()])?.pop())
    }
    fn by_account(&mut self, org: &OrganizationId, account: &AccountId) -> RepoResult<Option<User>> {
        Ok(self
            .users_where("u.organization_id = $1 AND u.account_id = $2", binds![org.as_str(), account.as_str()])?
            .pop())
    }
    fn get_many(&mut self, org: &OrganizationId, ids: &[UserId]) -> RepoResult<Vec<User>> {
        let mut out = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(CHUNK) {
            let mut b = binds![org.as_str()];
            b.extend(chunk.iter().map(|i| Bind::Text(i.as_str().to_owned())));
            out.extend(
                self.users_where(&format!("u.organization_id = $1 AND u.id IN ({})", placeholders(2, chunk.len())), b)?,
            );
        }
        Ok(out)
    }
    fn list(&mut self, org: &OrganizationId, query: &ListQuery) -> RepoResult<ListPage<User>> {
        let (total, rows, next_cursor) =
            self.list_rows::<UserRow>(Resource::User, org, query, USER_COLS, "users u", |r| r.seq)?;
        let items = rows.into_iter().map(UserRow::into_user).collect::<Result<Vec<_>, _>>()?;
        Ok(ListPage { total, items, next_cursor })
    }
    fn insert(&mut self, user: &User) -> RepoResult<()> {
        let mut b =
            binds![user.id.as_str(), user.organization_id.as_str(), user.account_id.as_str(), micros(user.created_at)];
        b.extend(Self::user_columns(user));
        self.db
            .exec(
                "INSERT INTO users (id, organization_id, account_id, created_at, user_name, user_name_folded, external_id, \
                 display_name_folded, active, effective_role, role_source, manager_id, profile, updated_at, version) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)",
                b,
            )
            .map_err(|e| db_err(e, |w| if w.contains("user_name") { Uniqueness::UserName } else { Uniqueness::Membership }))?;
        self.write_values(user)
    }
    fn update(&mut self, user: &User, expected_version: u64) -> RepoResult<()> {
        let mut b = Self::user_columns(user);
        b.extend(binds![user.organization_id.as_str(), user.id.as_str(), expected_version as i64]);
        let n = self
            .db
            .exec(
                "UPDATE users SET user_name = $1, user_name_folded = $2, external_id = $3, display_name_folded = $4, active = $5, \
                 effective_role = $6, role_source = $7, manager_id = $8, profile = $9, updated_at = $10, version = $11 \
                 WHERE organization_id = $12 AND id = $13 AND version = $14",
                b,
            )
            .map_err(|e| db_err(e, |_| Uniqueness::UserName))?;
        if n == 0 {
            return Err(RepoError::VersionConflict);
        }
        self.write_values(user)
    }
    fn delete(&mut self, org: &OrganizationId, id: &UserId) -> RepoResult<bool> {
        // Side rows and memberships go by ON DELETE CASCADE.
        let n = self
            .db
            .exec("DELETE FROM users WHERE organization_id = $1 AND id = $2", binds![org.as_str(), id.as_str()])
            .map_err(other)?;
        Ok(n > 0)
    }
    fn count_active_admins(&mut self, org: &OrganizationId) -> RepoResult<u64> {
        let c: Option<Count> = self
            .db
            .first(
                "SELECT COUNT(*) AS n FROM users WHERE organization_id = $1 AND effective_role = 'Admin' AND active = $2",
                binds![org.as_str(), true],
            )
            .map_err(other)?;
        Ok(c.map_or(0, |c| c.n as u64))
    }
    fn set_effective_roles<'a>(&mut self, org: &OrganizationId, updates: &[RoleUpdate<'a>]) -> RepoResult<()> {
        for u in updates {
            self.db
                .exec(
                    "UPDATE users SET effective_role = $1, role_source = $2, version = version + 1 WHERE organization_id = $3 AND id = $4",
                    binds![u.role.as_str(), u.source.as_str(), org.as_str(), u.user.as_str()],
                )
                .map_err(other)?;
        }
        Ok(())
    }
    fn managed_by(&mut self, org: &OrganizationId, manager: &UserId) -> RepoResult<Vec<User>> {
        self.users_where("u.organization_id = $1 AND u.manager_id = $2", binds![org.as_str(), manager.as_str()])
    }
    fn groups_of(&mut self, org: &OrganizationId, ids: &[UserId]) -> RepoResult<Vec<(UserId, GroupRef)>> {
        let mut out = Vec::new();
        for chunk in ids.chunks(CHUNK) {
            let mut b = binds![org.as_str()];
            b.extend(chunk.iter().map(|i| Bind::Text(i.as_str().to_owned())));
            let rows: Vec<UserGroupRow> = self
                .db
                .load(
                    &format!(
                        "SELECT gm.user_id, g.id, g.display_name FROM group_members gm JOIN groups g ON g.id = gm.group_id \
                         WHERE g.organization_id = $1 AND gm.user_id IN ({}) ORDER BY g.seq",
                        placeholders(2, chunk.len())
                    ),
                    b,
                )
                .map_err(other)?;
            out.extend(
                rows.into_iter().map(|r| {
                    (UserId::new(r.user_id), GroupRef { id: GroupId::new(r.id), display_name: r.display_name })
                }),
            );
        }
        Ok(out)
    }
}

impl GroupRepo for DieselTx<'_> {
    fn get(&mut self, org: &OrganizationId, id: &GroupId) -> RepoResult<Option<Group>> {
        let row: Option<GroupRow> = self
            .db
            .first(
                &format!("SELECT {GROUP_COLS} FROM groups g WHERE g.organization_id = $1 AND g.id = $2"),
                binds![org.as_str(), id.as_str()],
            )
            .map_err(other)?;
        row.map(GroupRow::into_group).transpose()
    }
    fn by_display_name(&mut self, org: &OrganizationId, name: &str) -> RepoResult<Option<Group>> {
        let row: Option<GroupRow> = self
            .db
            .first(
                &format!(
                    "SELECT {GROUP_COLS} FROM groups g WHERE g.organization_id = $1 AND g.display_name_folded = $2"
                ),
                binds![org.as_str(), fold(name)],
            )
            .map_err(other)?;
        row.map(GroupRow::into_group).transpose()
    }
    fn list(&mut self, org: &OrganizationId, query: &ListQuery) -> RepoResult<ListPage<Group>> {
        let (total, rows, next_cursor) =
            self.list_rows::<GroupRow>(Resource::Group, org, query, GROUP_COLS, "groups g", |r| r.seq)?;
        let items = rows.into_iter().map(GroupRow::into_group).collect::<Result<Vec<_>, _>>()?;
        Ok(ListPage { total, items, next_cursor })
    }
    fn insert(&mut self, g: &Group) -> RepoResult<()> {
        self.db
            .exec(
                "INSERT INTO groups (id, organization_id, display_name, display_name_folded, external_id, role, created_at, updated_at, version) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                binds![
                    g.id.as_str(),
                    g.organization_id.as_str(),
                    g.display_name.as_str(),
                    fold(&g.display_name),
                    g.external_id.clone(),
                    g.role.map(|r| r.as_str().to_owned()),
                    micros(g.created_at),
                    micros(g.updated_at),
                    g.version as i64
                ],
            )
            .map_err(|e| db_err(e, |_| Uniqueness::GroupDisplayName))?;
        Ok(())
    }
    fn update(&mut self, g: &Group, expected_version: u64) -> RepoResult<()> {
        let n = self
            .db
            .exec(
                "UPDATE groups SET display_name = $1, display_name_folded = $2, external_id = $3, role = $4, updated_at = $5, version = $6 \
                 WHERE organization_id = $7 AND id = $8 AND version = $9",
                binds![
                    g.display_name.as_str(),
                    fold(&g.display_name),
                    g.external_id.clone(),
                    g.role.map(|r| r.as_str().to_owned()),
                    micros(g.updated_at),
                    g.version as i64,
                    g.organization_id.as_str(),
                    g.id.as_str(),
                    expected_version as i64
                ],
            )
            .map_err(|e| db_err(e, |_| Uniqueness::GroupDisplayName))?;
        if n == 0 {
            return Err(RepoError::VersionConflict);
        }
        Ok(())
    }
    fn touch(&mut self, org: &OrganizationId, id: &GroupId, at: DateTime<Utc>) -> RepoResult<u64> {
        let rows: Vec<Count> = self
            .db
            .load(
                "UPDATE groups SET version = version + 1, updated_at = $1 WHERE organization_id = $2 AND id = $3 RETURNING version AS n",
                binds![micros(at), org.as_str(), id.as_str()],
            )
            .map_err(other)?;
        rows.first().map(|c| c.n as u64).ok_or(RepoError::VersionConflict)
    }
    fn delete(&mut self, org: &OrganizationId, id: &GroupId) -> RepoResult<bool> {
        let n = self
            .db
            .exec("DELETE FROM groups WHERE organization_id = $1 AND id = $2", binds![org.as_str(), id.as_str()])
            .map_err(other)?;
        Ok(n > 0)
    }
    fn add_members(&mut self, org: &OrganizationId, group: &GroupId, users: &[UserId]) -> RepoResult<Vec<UserId>> {
        // One set-based statement per chunk: only users of the organization
        // are inserted, present members are skipped by the primary key.
        self.chunked_ids(
            "INSERT INTO group_members (group_id, user_id) SELECT $1, u.id FROM users u \
             WHERE u.organization_id = $2 AND u.id IN ({ids}) ON CONFLICT DO NOTHING RETURNING user_id AS s",
            group,
            org,
            users,
        )
    }
    fn remove_members(&mut self, org: &OrganizationId, group: &GroupId, users: &[UserId]) -> RepoResult<Vec<UserId>> {
        self.chunked_ids(
            "DELETE FROM group_members WHERE group_id = $1 AND group_id IN (SELECT id FROM groups WHERE organization_id = $2) \
             AND user_id IN ({ids}) RETURNING user_id AS s",
            group,
            org,
            users,
        )
    }
    fn replace_members(
        &mut self,
        org: &OrganizationId,
        group: &GroupId,
        users: &[UserId],
    ) -> RepoResult<(Vec<UserId>, Vec<UserId>)> {
        // Stage the wanted members, then diff in SQL: never load the group.
        self.db
            .exec("CREATE TEMPORARY TABLE IF NOT EXISTS member_push (user_id TEXT PRIMARY KEY NOT NULL)", vec![])
            .map_err(other)?;
        self.db.exec("DELETE FROM member_push", vec![]).map_err(other)?;
        for chunk in users.chunks(CHUNK) {
            let values: Vec<String> = (1..=chunk.len()).map(|i| format!("(${i})")).collect();
            let b = chunk.iter().map(|u| Bind::Text(u.as_str().to_owned())).collect();
            self.db
                .exec(
                    &format!("INSERT INTO member_push (user_id) VALUES {} ON CONFLICT DO NOTHING", values.join(", ")),
                    b,
                )
                .map_err(other)?;
        }
        let removed: Vec<Str> = self
            .db
            .load(
                "DELETE FROM group_members WHERE group_id = $1 AND group_id IN (SELECT id FROM groups WHERE organization_id = $2) \
                 AND user_id NOT IN (SELECT user_id FROM member_push) RETURNING user_id AS s",
                binds![group.as_str(), org.as_str()],
            )
            .map_err(other)?;
        let added: Vec<Str> = self
            .db
            .load(
                "INSERT INTO group_members (group_id, user_id) SELECT $1, u.id FROM member_push p JOIN users u ON u.id = p.user_id \
                 WHERE u.organization_id = $2 ON CONFLICT DO NOTHING RETURNING user_id AS s",
                binds![group.as_str(), org.as_str()],
            )
            .map_err(|e| db_err(e, |_| Uniqueness::Membership))?;
        self.db.exec("DELETE FROM member_push", vec![]).map_err(other)?;
        let ids = |v: Vec<Str>| v.into_iter().map(|s| UserId::new(s.s)).collect();
        Ok((ids(added), ids(removed)))
    }
    fn clear_members(&mut self, org: &OrganizationId, group: &GroupId) -> RepoResult<Vec<UserId>> {
        let rows: Vec<Str> = self
            .db
            .load(
                "DELETE FROM group_members WHERE group_id = $1 AND group_id IN (SELECT id FROM groups WHERE organization_id = $2) RETURNING user_id AS s",
                binds![group.as_str(), org.as_str()],
            )
            .map_err(other)?;
        Ok(rows.into_iter().map(|s| UserId::new(s.s)).collect())
    }
    fn members(
        &mut self,
        org: &OrganizationId,
        group: &GroupId,
        after: Option<&UserId>,
        limit: u64,
    ) -> RepoResult<Vec<MemberRef>> {
        let rows: Vec<MemberRow> = self
            .db
            .load(
                "SELECT u.id, u.user_name FROM group_members gm JOIN users u ON u.id = gm.user_id \
                 WHERE gm.group_id = $1 AND u.organization_id = $2 AND gm.user_id > $3 ORDER BY gm.user_id LIMIT $4",
                binds![group.as_str(), org.as_str(), after.map(|a| a.as_str()).unwrap_or(""), limit as i64],
            )
            .map_err(other)?;
        Ok(rows.into_iter().map(|r| MemberRef { id: UserId::new(r.id), user_name: r.user_name }).collect())
    }
    fn group_role_floor(&mut self, org: &OrganizationId, users: &[UserId]) -> RepoResult<Vec<(UserId, Role)>> {
        let mut best: std::collections::HashMap<String, Role> = std::collections::HashMap::new();
        for chunk in users.chunks(CHUNK) {
            let mut b = binds![org.as_str()];
            b.extend(chunk.iter().map(|i| Bind::Text(i.as_str().to_owned())));
            let rows: Vec<FloorRow> = self
                .db
                .load(
                    &format!(
                        "SELECT gm.user_id, g.role FROM group_members gm JOIN groups g ON g.id = gm.group_id \
                         WHERE g.organization_id = $1 AND g.role IS NOT NULL AND gm.user_id IN ({})",
                        placeholders(2, chunk.len())
                    ),
                    b,
                )
                .map_err(other)?;
            for r in rows {
                let role = Role::parse(&r.role).map_err(|_| corrupt("group role"))?;
                let e = best.entry(r.user_id).or_insert(role);
                *e = (*e).max(role);
            }
        }
        Ok(best.into_iter().map(|(u, r)| (UserId::new(u), r)).collect())
    }
}

impl ApiKeyRepo for DieselTx<'_> {
    fn get(&mut self, id: &ApiKeyId) -> RepoResult<Option<ApiKey>> {
        let row: Option<KeyRow> =
            self.db.first("SELECT * FROM api_keys WHERE id = $1", binds![id.as_str()]).map_err(other)?;
        Ok(row.map(key))
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

fn kind(s: &str) -> ResourceKind {
    match s {
        "User" => ResourceKind::User,
        "Group" => ResourceKind::Group,
        "ApiKey" => ResourceKind::ApiKey,
        _ => ResourceKind::Organization,
    }
}
fn operation(s: &str) -> Operation {
    match s {
        "create" => Operation::Create,
        "replace" => Operation::Replace,
        "patch" => Operation::Patch,
        "delete" => Operation::Delete,
        "revoke" => Operation::Revoke,
        _ => Operation::Configure,
    }
}

fn changes_json(changes: &[AttributeChange]) -> String {
    let v: Vec<serde_json::Value> = changes
        .iter()
        .map(|c| {
            serde_json::json!({
                "attribute": c.attribute,
                "before": c.before.as_ref().map(crate::codec::to_json),
                "after": c.after.as_ref().map(crate::codec::to_json),
            })
        })
        .collect();
    serde_json::Value::Array(v).to_string()
}

fn changes_from(text: &str) -> Vec<AttributeChange> {
    let Ok(serde_json::Value::Array(items)) = serde_json::from_str(text) else { return Vec::new() };
    items
        .iter()
        .map(|i| AttributeChange {
            attribute: i["attribute"].as_str().unwrap_or_default().to_owned(),
            before: crate::codec::from_json(&i["before"]),
            after: crate::codec::from_json(&i["after"]),
        })
        .collect()
}

impl AuditLog for DieselTx<'_> {
    fn append(&mut self, r: &AuditRecord) -> RepoResult<()> {
        self.db
            .exec(
                "INSERT INTO audit_log (id, organization_id, at, actor, resource, resource_id, operation, changes, note) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                binds![
                    r.id.as_str(),
                    r.organization_id.as_str(),
                    micros(r.at),
                    r.actor.as_str(),
                    r.resource.as_str(),
                    r.resource_id.as_str(),
                    r.operation.as_str(),
                    changes_json(&r.changes),
                    r.note.clone()
                ],
            )
            .map_err(other)?;
        Ok(())
    }
    fn list(&mut self, org: &OrganizationId, since: Option<DateTime<Utc>>, limit: u64) -> RepoResult<Vec<AuditRecord>> {
        let rows: Vec<AuditRow> = self
            .db
            .load(
                "SELECT id, organization_id, at, actor, resource, resource_id, operation, changes, note FROM audit_log \
                 WHERE organization_id = $1 AND at >= $2 ORDER BY seq LIMIT $3",
                binds![org.as_str(), since.map_or(i64::MIN, micros), limit as i64],
            )
            .map_err(other)?;
        Ok(rows
            .into_iter()
            .map(|r| AuditRecord {
                id: r.id,
                organization_id: OrganizationId::new(r.organization_id),
                at: time(r.at),
                actor: r.actor,
                resource: kind(&r.resource),
                resource_id: r.resource_id,
                operation: operation(&r.operation),
                changes: changes_from(&r.changes),
                note: r.note,
            })
            .collect())
    }
}

impl Outbox for DieselTx<'_> {
    fn enqueue(&mut self, n: &Notification) -> RepoResult<()> {
        self.db
            .exec(
                "INSERT INTO outbox (id, organization_id, organization_name, recipient, recipient_name, added_by, created_at, next_attempt_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                binds![
                    n.id.as_str(),
                    n.organization_id.as_str(),
                    n.organization_name.as_str(),
                    n.recipient.as_str(),
                    n.recipient_name.clone(),
                    n.added_by.as_str(),
                    micros(n.created_at),
                    micros(n.created_at)
                ],
            )
            .map_err(other)?;
        Ok(())
    }
}

impl Transaction for DieselTx<'_> {
    fn organizations(&mut self) -> &mut dyn OrganizationRepo {
        self
    }
    fn accounts(&mut self) -> &mut dyn AccountRepo {
        self
    }
    fn users(&mut self) -> &mut dyn UserRepo {
        self
    }
    fn groups(&mut self) -> &mut dyn GroupRepo {
        self
    }
    fn api_keys(&mut self) -> &mut dyn ApiKeyRepo {
        self
    }
    fn audit(&mut self) -> &mut dyn AuditLog {
        self
    }
    fn outbox(&mut self) -> &mut dyn Outbox {
        self
    }
}
