//! `UserRepo`: memberships (SCIM Users), their searchable value rows and
//! effective roles.

use super::{corrupt, db_err, micros, other, time, DieselTx, CHUNK};
use crate::codec::{decode, encode, flatten};
use crate::conn::{binds, placeholders, Backend, Bind, Count, Str};
use crate::sql::Resource;
use diesel::sql_types::{BigInt, Text};
use diesel::QueryableByName;
use enlist_core::model::*;
use enlist_core::ports::*;
use enlist_core::query::{ListPage, ListQuery};
use enlist_core::types::*;
use enlist_core::{RepoError, Uniqueness};

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
        let attrs = decode(&self.profile).ok_or_else(|| corrupt("users", &self.id, "profile"))?;
        Ok(User {
            id: UserId::new(self.id.clone()),
            organization_id: OrganizationId::new(self.organization_id),
            account_id: AccountId::new(self.account_id),
            profile: Profile::from_stored(attrs),
            effective_role: Role::parse(&self.effective_role)
                .map_err(|_| corrupt("users", &self.id, "effective_role"))?,
            role_source: RoleSource::parse(&self.role_source)
                .ok_or_else(|| corrupt("users", &self.id, "role_source"))?,
            created_at: time(self.created_at),
            updated_at: time(self.updated_at),
            version: self.version as u64,
        })
    }
}

#[derive(QueryableByName)]
struct UserName {
    #[diesel(sql_type = Text)]
    id: String,
    #[diesel(sql_type = Text)]
    name: String,
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

/// The groups of the row's user (`u`) as a JSON array of [id,
/// displayName] pairs in group creation order, NULL when there are none:
/// read with the user itself.
fn groups_column(backend: Backend) -> String {
    let agg = match backend {
        Backend::Postgres => "json_agg(json_build_array(g.id, g.display_name) ORDER BY g.seq)::text",
        Backend::Sqlite => "json_group_array(json_array(g.id, g.display_name))",
    };
    format!(
        "(SELECT {agg} FROM (SELECT g.id, g.display_name, g.seq FROM group_members gm \
         CROSS JOIN groups g WHERE g.id = gm.group_id AND g.organization_id = u.organization_id \
         AND gm.user_id = u.id ORDER BY g.seq) AS g) AS groups"
    )
}

/// A user row with [`groups_column`].
#[derive(QueryableByName)]
struct WithGroups {
    #[diesel(embed)]
    user: UserRow,
    #[diesel(sql_type = diesel::sql_types::Nullable<Text>)]
    groups: Option<String>,
}

impl WithGroups {
    fn into_pair(self) -> Result<(User, Vec<GroupRef>), RepoError> {
        let pairs: Vec<(String, String)> = match self.groups.as_deref() {
            None => Vec::new(),
            Some(text) => serde_json::from_str(text).map_err(|_| corrupt("group_members", &self.user.id, "groups"))?,
        };
        let groups =
            pairs.into_iter().map(|(id, display_name)| GroupRef { id: GroupId::new(id), display_name }).collect();
        Ok((self.user.into_user()?, groups))
    }
}

impl DieselTx<'_> {
    /// The user with its groups in one statement (`lock`: what follows
    /// the WHERE clause).
    fn user_with_groups(
        &mut self,
        org: &OrganizationId,
        id: &UserId,
        lock: &str,
    ) -> RepoResult<Option<(User, Vec<GroupRef>)>> {
        let groups = groups_column(self.db.backend());
        let row: Option<WithGroups> = self
            .db
            .first(
                format!("SELECT {USER_COLS}, {groups} FROM users u WHERE u.organization_id = $1 AND u.id = $2{lock}"),
                binds![org.as_str(), id.as_str()],
            )
            .map_err(other)?;
        row.map(WithGroups::into_pair).transpose()
    }

    fn users_where(&mut self, cond: &str, binds: Vec<Bind>) -> Result<Vec<User>, RepoError> {
        let rows: Vec<UserRow> =
            self.db.load(format!("SELECT {USER_COLS} FROM users u WHERE {cond}"), binds).map_err(other)?;
        rows.into_iter().map(UserRow::into_user).collect()
    }

    /// Rows of `sql(list)` for every chunk of `ids`, `$1` binding the
    /// organization (`DieselTx::load_chunked`).
    fn by_ids<R: crate::conn::Row>(
        &mut self,
        org: &OrganizationId,
        ids: &[UserId],
        sql: impl Fn(&str) -> String,
    ) -> Result<Vec<R>, RepoError> {
        self.load_chunked(&[org.as_str()], ids.iter().map(UserId::as_str), sql).map_err(other)
    }

    /// Writes the profile's flattened values. Over a stored user
    /// (`previous`) only the rows that changed are written, found by
    /// flattening both profiles (the stored rows are the previous
    /// profile's, written in the same way): rewriting every row (and its
    /// index entries) made a PATCH of one attribute cost as much as a
    /// create, and reading the rows back was one more statement per PATCH.
    fn write_values(&mut self, user: &User, previous: Option<&User>) -> Result<(), RepoError> {
        let mut rows = flatten(user.profile.attrs());
        if let Some(previous) = previous {
            let mut old = flatten(previous.profile.attrs());
            crate::codec::sort_by_key(&mut old);
            crate::codec::sort_by_key(&mut rows);
            let d = crate::codec::diff(&old, &rows);
            if d.removed.len() + d.changed.len() > rows.len() / 2 {
                // Most of it changed: one statement beats many.
                self.db.exec("DELETE FROM user_values WHERE user_id = $1", binds![user.id.as_str()]).map_err(other)?;
            } else {
                for r in d.removed.iter().map(|&i| &old[i]) {
                    self.db
                        .exec(
                            "DELETE FROM user_values WHERE user_id = $1 AND attr = $2 AND idx = $3 AND sub = $4",
                            binds![user.id.as_str(), r.attr.as_str(), r.idx, r.sub.as_str()],
                        )
                        .map_err(other)?;
                }
                // A row whose place stays and whose value changed (Entra's
                // replace of a title, a phone number) is updated where it
                // is: its place's index entry stays as it is.
                for r in d.changed.iter().map(|&j| &rows[j]) {
                    self.db
                        .exec(
                            "UPDATE user_values SET value = $1, folded = $2 WHERE user_id = $3 AND attr = $4 AND idx = $5 AND sub = $6",
                            binds![
                                r.value.as_str(),
                                r.folded.as_str(),
                                user.id.as_str(),
                                r.attr.as_str(),
                                r.idx,
                                r.sub.as_str()
                            ],
                        )
                        .map_err(other)?;
                }
                // `d.added` is ascending: keep those rows only.
                rows = rows
                    .into_iter()
                    .enumerate()
                    .filter(|(j, _)| d.added.binary_search(j).is_ok())
                    .map(|(_, r)| r)
                    .collect();
            }
        }
        for chunk in rows.chunks(VALUES_CHUNK) {
            let mut b = Vec::with_capacity(chunk.len() * 6);
            let sql = values_insert(user, chunk, &mut b);
            self.db.exec(sql, b).map_err(other)?;
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
}

/// Value rows per multi-row insert (6 parameters each).
const VALUES_CHUNK: usize = CHUNK / 5;

/// `INSERT INTO user_values … VALUES …` for `rows` of `user`, its
/// parameters appended to `b`.
fn values_insert(user: &User, rows: &[crate::codec::ValueRow], b: &mut Vec<Bind>) -> String {
    let mut sql = String::from("INSERT INTO user_values (user_id, attr, idx, sub, value, folded) VALUES ");
    for (i, r) in rows.iter().enumerate() {
        if i > 0 {
            sql.push_str(", ");
        }
        sql.push_str(&format!("({})", placeholders(b.len() + 1, 6)));
        b.extend(binds![user.id.as_str(), r.attr.as_str(), r.idx, r.sub.as_str(), r.value.as_str(), r.folded.as_str()]);
    }
    sql
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
    fn lock(&mut self, org: &OrganizationId, ids: &[UserId]) -> RepoResult<()> {
        // SQLite write transactions are IMMEDIATE: already serial.
        if self.db.backend() != Backend::Postgres {
            return Ok(());
        }
        let mut sorted = ids.to_vec();
        sorted.sort();
        let _: Vec<Str> = self.by_ids(org, &sorted, |list| {
            format!("SELECT id AS s FROM users WHERE organization_id = $1 AND id IN ({list}) ORDER BY id FOR UPDATE")
        })?;
        Ok(())
    }
    fn get_locked(&mut self, org: &OrganizationId, id: &UserId) -> RepoResult<Option<(User, Vec<GroupRef>)>> {
        // One statement: the user, locked (SQLite write transactions are
        // IMMEDIATE: already serial), with its groups.
        let lock = if self.db.backend() == Backend::Postgres { " FOR UPDATE OF u" } else { "" };
        self.user_with_groups(org, id, lock)
    }
    fn get_with_groups(&mut self, org: &OrganizationId, id: &UserId) -> RepoResult<Option<(User, Vec<GroupRef>)>> {
        self.user_with_groups(org, id, "")
    }
    fn get_many(&mut self, org: &OrganizationId, ids: &[UserId]) -> RepoResult<Vec<User>> {
        let rows: Vec<UserRow> = self.by_ids(org, ids, |list| {
            format!("SELECT {USER_COLS} FROM users u WHERE u.organization_id = $1 AND u.id IN ({list})")
        })?;
        rows.into_iter().map(UserRow::into_user).collect()
    }
    fn existing(&mut self, org: &OrganizationId, ids: &[UserId]) -> RepoResult<Vec<UserId>> {
        let rows: Vec<Str> = self.by_ids(org, ids, |list| {
            format!("SELECT id AS s FROM users WHERE organization_id = $1 AND id IN ({list})")
        })?;
        Ok(rows.into_iter().map(|r| UserId::new(r.s)).collect())
    }
    fn display_names(&mut self, org: &OrganizationId, ids: &[UserId]) -> RepoResult<Vec<(UserId, String)>> {
        // The displayName from the stored profile, not the profile decoded.
        let name = match self.db.backend() {
            Backend::Postgres => "COALESCE(profile::json ->> 'displayName', user_name)",
            Backend::Sqlite => "COALESCE(json_extract(profile, '$.displayName'), user_name)",
        };
        let rows: Vec<UserName> = self.by_ids(org, ids, |list| {
            format!("SELECT id, {name} AS name FROM users WHERE organization_id = $1 AND id IN ({list})")
        })?;
        Ok(rows.into_iter().map(|r| (UserId::new(r.id), r.name)).collect())
    }
    fn list(&mut self, org: &OrganizationId, query: &ListQuery) -> RepoResult<ListPage<User>> {
        let (total, rows, next_cursor) =
            self.list_rows::<UserRow>(Resource::User, org, query, USER_COLS, "users u", |r| r.seq)?;
        let items = rows.into_iter().map(UserRow::into_user).collect::<Result<Vec<_>, _>>()?;
        Ok(ListPage { total, items, next_cursor })
    }
    fn list_with_groups(
        &mut self,
        org: &OrganizationId,
        query: &ListQuery,
    ) -> RepoResult<ListPage<(User, Vec<GroupRef>)>> {
        // The page's rows carry their groups: one statement where a page
        // and then its users' groups were two (a third of a PostgreSQL
        // lookup's round trips).
        let cols = format!("{USER_COLS}, {}", groups_column(self.db.backend()));
        let (total, rows, next_cursor) =
            self.list_rows::<WithGroups>(Resource::User, org, query, &cols, "users u", |r| r.user.seq)?;
        let items = rows.into_iter().map(WithGroups::into_pair).collect::<Result<Vec<_>, _>>()?;
        Ok(ListPage { total, items, next_cursor })
    }
    fn insert(&mut self, user: &User) -> RepoResult<()> {
        const INSERT_USER: &str = "INSERT INTO users (id, organization_id, account_id, created_at, user_name, \
             user_name_folded, external_id, display_name_folded, active, effective_role, role_source, manager_id, \
             profile, updated_at, version) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)";
        let unique =
            |e| db_err(e, |w| if w.contains("user_name") { Uniqueness::UserName } else { Uniqueness::Membership });
        let mut b =
            binds![user.id.as_str(), user.organization_id.as_str(), user.account_id.as_str(), micros(user.created_at)];
        b.extend(Self::user_columns(user));
        let rows = flatten(user.profile.attrs());
        if self.db.backend() == Backend::Postgres && !rows.is_empty() && rows.len() <= VALUES_CHUNK {
            // The user and its value rows in one round trip (the foreign
            // key is checked at the statement's end, the user there).
            let values = values_insert(user, &rows, &mut b);
            return self.db.exec(format!("WITH u AS ({INSERT_USER}) {values}"), b).map(|_| ()).map_err(unique);
        }
        self.db.exec(INSERT_USER, b).map_err(unique)?;
        self.write_values(user, None)
    }
    fn update(&mut self, user: &User, previous: &User) -> RepoResult<()> {
        let mut b = Self::user_columns(user);
        b.extend(binds![user.organization_id.as_str(), user.id.as_str(), previous.version as i64]);
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
        self.write_values(user, Some(previous))
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
    fn count_active(&mut self, org: &OrganizationId) -> RepoResult<u64> {
        let c: Option<Count> = self
            .db
            .first(
                "SELECT COUNT(*) AS n FROM users WHERE organization_id = $1 AND active = $2",
                binds![org.as_str(), true],
            )
            .map_err(other)?;
        Ok(c.map_or(0, |c| c.n as u64))
    }
    fn active_admins(&mut self, org: &OrganizationId, limit: u64) -> RepoResult<Vec<User>> {
        self.users_where(
            "u.organization_id = $1 AND u.effective_role = 'Admin' AND u.active = $2 ORDER BY u.seq LIMIT $3",
            binds![org.as_str(), true, i64::try_from(limit).unwrap_or(i64::MAX)],
        )
    }
    fn managed_by(&mut self, org: &OrganizationId, manager: &UserId) -> RepoResult<Vec<User>> {
        self.users_where("u.organization_id = $1 AND u.manager_id = $2", binds![org.as_str(), manager.as_str()])
    }
    fn groups_of(&mut self, org: &OrganizationId, ids: &[UserId]) -> RepoResult<Vec<(UserId, GroupRef)>> {
        let rows: Vec<UserGroupRow> = self.by_ids(org, ids, |list| {
            // CROSS JOIN: SQLite starts from the users' memberships (an
            // index on user_id), not from every group of the organization
            // probed for each user; PostgreSQL plans it as any join.
            format!(
                "SELECT gm.user_id, g.id, g.display_name FROM group_members gm CROSS JOIN groups g \
                 WHERE g.id = gm.group_id AND g.organization_id = $1 AND gm.user_id IN ({list}) ORDER BY g.seq"
            )
        })?;
        Ok(rows
            .into_iter()
            .map(|r| (UserId::new(r.user_id), GroupRef { id: GroupId::new(r.id), display_name: r.display_name }))
            .collect())
    }
}
