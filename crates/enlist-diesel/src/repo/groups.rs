//! `GroupRepo`: groups and their members, changed in set-based batches
//! that cost the batch, never the group.

use super::{corrupt, db_err, micros, other, time, DieselTx, CHUNK};
use crate::conn::{binds, Bind, Count, Str};
use crate::sql::Resource;
use chrono::{DateTime, Utc};
use diesel::sql_types::{BigInt, Nullable, Text};
use diesel::QueryableByName;
use enlist_core::model::*;
use enlist_core::ports::*;
use enlist_core::query::{ListPage, ListQuery};
use enlist_core::types::*;
use enlist_core::{RepoError, Uniqueness};

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
            id: GroupId::new(self.id.clone()),
            organization_id: OrganizationId::new(self.organization_id),
            display_name: DisplayName::from_stored(&self.display_name),
            external_id: self.external_id,
            role: self.role.map(|r| Role::parse(&r).map_err(|_| corrupt("groups", &self.id, "role"))).transpose()?,
            created_at: time(self.created_at),
            updated_at: time(self.updated_at),
            version: self.version as u64,
        })
    }
}

#[derive(QueryableByName)]
struct MemberRow {
    #[diesel(sql_type = Text)]
    id: String,
    #[diesel(sql_type = Text)]
    user_name: String,
}

#[derive(QueryableByName)]
struct GroupCount {
    #[diesel(sql_type = Text)]
    group_id: String,
    #[diesel(sql_type = BigInt)]
    n: i64,
}

#[derive(QueryableByName)]
struct FloorRow {
    #[diesel(sql_type = Text)]
    user_id: String,
    #[diesel(sql_type = Text)]
    role: String,
}

impl DieselTx<'_> {
    /// Runs `sql` (with `$1` = group, `$2` = org, then the ids) in chunks,
    /// collecting the returned `s` column.
    fn chunked_ids(
        &mut self,
        sql: &str,
        group: &GroupId,
        org: &OrganizationId,
        ids: &[UserId],
    ) -> Result<Vec<UserId>, RepoError> {
        let rows: Vec<Str> = self
            .load_chunked(&[group.as_str(), org.as_str()], ids.iter().map(UserId::as_str), |list| {
                sql.replace("{ids}", list)
            })
            .map_err(|e| db_err(e, |_| Uniqueness::Membership))?;
        Ok(rows.into_iter().map(|r| UserId::new(r.s)).collect())
    }
}

impl GroupRepo for DieselTx<'_> {
    fn get(&mut self, org: &OrganizationId, id: &GroupId) -> RepoResult<Option<Group>> {
        let row: Option<GroupRow> = self
            .db
            .first(
                format!("SELECT {GROUP_COLS} FROM groups g WHERE g.organization_id = $1 AND g.id = $2"),
                binds![org.as_str(), id.as_str()],
            )
            .map_err(other)?;
        row.map(GroupRow::into_group).transpose()
    }
    fn by_display_name(&mut self, org: &OrganizationId, name: &str) -> RepoResult<Option<Group>> {
        let row: Option<GroupRow> = self
            .db
            .first(
                format!(
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
                    g.display_name.folded(),
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
                    g.display_name.folded(),
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
    fn touch(
        &mut self,
        org: &OrganizationId,
        id: &GroupId,
        at: DateTime<Utc>,
        expected: Option<u64>,
    ) -> RepoResult<u64> {
        let rows: Vec<Count> = self
            .db
            .load(
                "UPDATE groups SET version = version + 1, updated_at = $1 WHERE organization_id = $2 AND id = $3 \
                 AND ($4 < 0 OR version = $4) RETURNING version AS n",
                binds![micros(at), org.as_str(), id.as_str(), expected.map_or(-1, |v| v.min(i64::MAX as u64) as i64)],
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
                    format!("INSERT INTO member_push (user_id) VALUES {} ON CONFLICT DO NOTHING", values.join(", ")),
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
    fn member_counts(&mut self, org: &OrganizationId, groups: &[GroupId]) -> RepoResult<Vec<(GroupId, u64)>> {
        let rows: Vec<GroupCount> = self
            .load_chunked(&[org.as_str()], groups.iter().map(GroupId::as_str), |list| {
                format!(
                    "SELECT gm.group_id, COUNT(*) AS n FROM group_members gm JOIN groups g ON g.id = gm.group_id \
                     WHERE g.organization_id = $1 AND gm.group_id IN ({list}) GROUP BY gm.group_id"
                )
            })
            .map_err(other)?;
        Ok(rows.into_iter().map(|r| (GroupId::new(r.group_id), r.n.max(0) as u64)).collect())
    }
    fn group_role_floor(&mut self, org: &OrganizationId, users: &[UserId]) -> RepoResult<Vec<(UserId, Role)>> {
        let rows: Vec<FloorRow> = self
            .load_chunked(&[org.as_str()], users.iter().map(UserId::as_str), |list| {
                format!(
                    // CROSS JOIN: from the users' memberships, as in `groups_of`.
                    "SELECT gm.user_id, g.role FROM group_members gm CROSS JOIN groups g \
                     WHERE g.id = gm.group_id AND g.organization_id = $1 AND g.role IS NOT NULL AND gm.user_id IN ({list})"
                )
            })
            .map_err(other)?;
        let mut best: std::collections::HashMap<String, Role> = std::collections::HashMap::new();
        for r in rows {
            let role = Role::parse(&r.role).map_err(|_| corrupt("groups", &r.user_id, "role of a group of user"))?;
            let e = best.entry(r.user_id).or_insert(role);
            *e = (*e).max(role);
        }
        Ok(best.into_iter().map(|(u, r)| (UserId::new(u), r)).collect())
    }
}
