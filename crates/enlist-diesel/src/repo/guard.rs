//! `GuardRepo`: the deprovisioning guard's row per organization (locked by
//! each counted removal: `FOR UPDATE` on PostgreSQL, the one writer on
//! SQLite), the removals it counts, and the requests it held.

use super::{micros, other, time, DieselTx};
use crate::conn::{binds, Backend, Count};
use diesel::sql_types::{BigInt, Bool, Nullable, Text};
use diesel::QueryableByName;
use enlist_core::guard::{GuardSettings, GuardState, HeldRemoval, Removal};
use enlist_core::ports::{GuardRepo, RepoResult};
use enlist_core::types::{OrganizationId, UserId};

#[derive(QueryableByName)]
struct GuardRow {
    #[diesel(sql_type = Bool)]
    enabled: bool,
    #[diesel(sql_type = BigInt)]
    max_count: i64,
    #[diesel(sql_type = BigInt)]
    percent: i64,
    #[diesel(sql_type = BigInt)]
    window_secs: i64,
    #[diesel(sql_type = Nullable<BigInt>)]
    held_since: Option<i64>,
    #[diesel(sql_type = Nullable<BigInt>)]
    approved_until: Option<i64>,
    #[diesel(sql_type = Nullable<BigInt>)]
    counted_since: Option<i64>,
}

impl GuardRow {
    fn state(self) -> GuardState {
        let d = GuardSettings::default();
        GuardState {
            settings: GuardSettings {
                enabled: self.enabled,
                max: u32::try_from(self.max_count).unwrap_or(d.max),
                percent: u8::try_from(self.percent).unwrap_or(d.percent),
                window_secs: u32::try_from(self.window_secs).unwrap_or(d.window_secs),
            },
            held_since: self.held_since.map(time),
            approved_until: self.approved_until.map(time),
            counted_since: self.counted_since.map(time),
        }
    }
}

#[derive(QueryableByName)]
struct HeldRow {
    #[diesel(sql_type = Text)]
    organization_id: String,
    #[diesel(sql_type = Text)]
    user_id: String,
    #[diesel(sql_type = Text)]
    user_name: String,
    #[diesel(sql_type = Text)]
    email: String,
    #[diesel(sql_type = Text)]
    removal: String,
    #[diesel(sql_type = Text)]
    key_label: String,
    #[diesel(sql_type = BigInt)]
    first_at: i64,
    #[diesel(sql_type = BigInt)]
    last_at: i64,
    #[diesel(sql_type = BigInt)]
    attempts: i64,
}

const COLUMNS: &str = "enabled, max_count, percent, window_secs, held_since, approved_until, counted_since";

impl DieselTx<'_> {
    fn guard_row(&mut self, org: &OrganizationId, lock: bool) -> RepoResult<Option<GuardState>> {
        let lock = if lock && self.db.backend() == Backend::Postgres { " FOR UPDATE" } else { "" };
        let row: Option<GuardRow> = self
            .db
            .first(
                format!("SELECT {COLUMNS} FROM deprovision_guards WHERE organization_id = $1{lock}"),
                binds![org.as_str()],
            )
            .map_err(other)?;
        Ok(row.map(GuardRow::state))
    }
}

impl crate::Database {
    /// How many organizations' deprovisioning guards hold removals now,
    /// for the `/metrics` gauge an operator alerts on.
    ///
    /// # Errors
    /// When the database cannot be read.
    pub async fn held_guards(&self) -> Result<u64, enlist_core::Error> {
        self.unit(crate::Access::Read, |mut db| {
            let c: Option<Count> =
                db.first("SELECT COUNT(*) AS n FROM deprovision_guards WHERE held_since IS NOT NULL", binds![])?;
            Ok(c.map_or(0, |c| c.n as u64))
        })
        .await
    }
}

impl GuardRepo for DieselTx<'_> {
    fn lock(&mut self, org: &OrganizationId) -> RepoResult<GuardState> {
        if let Some(state) = self.guard_row(org, true)? {
            return Ok(state);
        }
        // First removal of this organization: the row appears with the
        // defaults (a concurrent first removal inserts nothing) and is
        // then locked like any other.
        let d = GuardSettings::default();
        self.db
            .exec(
                "INSERT INTO deprovision_guards (organization_id, enabled, max_count, percent, window_secs) \
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
                binds![org.as_str(), d.enabled, i64::from(d.max), i64::from(d.percent), i64::from(d.window_secs)],
            )
            .map_err(other)?;
        Ok(self.guard_row(org, true)?.unwrap_or_default())
    }

    fn get(&mut self, org: &OrganizationId) -> RepoResult<GuardState> {
        Ok(self.guard_row(org, false)?.unwrap_or_default())
    }

    fn save(&mut self, org: &OrganizationId, state: &GuardState) -> RepoResult<()> {
        let s = state.settings;
        self.db
            .exec(
                format!(
                    "INSERT INTO deprovision_guards (organization_id, {COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
                     ON CONFLICT (organization_id) DO UPDATE SET enabled = excluded.enabled, \
                     max_count = excluded.max_count, percent = excluded.percent, window_secs = excluded.window_secs, \
                     held_since = excluded.held_since, approved_until = excluded.approved_until, \
                     counted_since = excluded.counted_since"
                ),
                binds![
                    org.as_str(),
                    s.enabled,
                    i64::from(s.max),
                    i64::from(s.percent),
                    i64::from(s.window_secs),
                    state.held_since.map(micros),
                    state.approved_until.map(micros),
                    state.counted_since.map(micros)
                ],
            )
            .map_err(other)?;
        Ok(())
    }

    fn removals_since(&mut self, org: &OrganizationId, since: chrono::DateTime<chrono::Utc>) -> RepoResult<u64> {
        let c: Option<Count> = self
            .db
            .first(
                "SELECT COUNT(*) AS n FROM deprovisions WHERE organization_id = $1 AND at > $2",
                binds![org.as_str(), micros(since)],
            )
            .map_err(other)?;
        // This unit's own records, not yet written (`insert_later`).
        let mine = self.later_removals.iter().filter(|(o, at)| o == org && *at > micros(since)).count() as u64;
        Ok(c.map_or(0, |c| c.n as u64) + mine)
    }

    fn record_removal(
        &mut self,
        org: &OrganizationId,
        user: &UserId,
        at: chrono::DateTime<chrono::Utc>,
    ) -> RepoResult<()> {
        self.insert_later(
            "deprovisions (organization_id, user_id, at)",
            binds![org.as_str(), user.as_str(), micros(at)],
        )?;
        if self.db.backend() == Backend::Postgres {
            self.later_removals.push((org.clone(), micros(at)));
        }
        Ok(())
    }

    fn hold(&mut self, h: &HeldRemoval) -> RepoResult<()> {
        self.db
            .exec(
                "INSERT INTO held_deprovisions (organization_id, user_id, user_name, email, removal, key_label, \
                 first_at, last_at, attempts) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
                 ON CONFLICT (organization_id, user_id) DO UPDATE SET last_at = excluded.last_at, \
                 attempts = held_deprovisions.attempts + 1, removal = excluded.removal, key_label = excluded.key_label",
                binds![
                    h.organization_id.as_str(),
                    h.user_id.as_str(),
                    h.user_name.as_str(),
                    h.email.as_str(),
                    h.removal.as_str(),
                    h.key_label.as_str(),
                    micros(h.first_at),
                    micros(h.last_at),
                    h.attempts as i64
                ],
            )
            .map_err(other)?;
        Ok(())
    }

    fn held(&mut self, org: &OrganizationId, limit: u64) -> RepoResult<Vec<HeldRemoval>> {
        let rows: Vec<HeldRow> = self
            .db
            .load(
                "SELECT organization_id, user_id, user_name, email, removal, key_label, first_at, last_at, attempts \
                 FROM held_deprovisions WHERE organization_id = $1 ORDER BY first_at, user_id LIMIT $2",
                binds![org.as_str(), i64::try_from(limit).unwrap_or(i64::MAX)],
            )
            .map_err(other)?;
        Ok(rows
            .into_iter()
            .map(|r| HeldRemoval {
                organization_id: OrganizationId::new(r.organization_id),
                user_id: UserId::new(r.user_id),
                user_name: r.user_name,
                email: r.email,
                // Only this crate writes the column.
                removal: Removal::parse(&r.removal).unwrap_or(Removal::Deactivate),
                key_label: r.key_label,
                first_at: time(r.first_at),
                last_at: time(r.last_at),
                attempts: r.attempts.max(0) as u64,
            })
            .collect())
    }

    fn clear_held(&mut self, org: &OrganizationId) -> RepoResult<u64> {
        let n = self
            .db
            .exec("DELETE FROM held_deprovisions WHERE organization_id = $1", binds![org.as_str()])
            .map_err(other)?;
        Ok(n as u64)
    }

    fn prune(&mut self, before: chrono::DateTime<chrono::Utc>) -> RepoResult<u64> {
        let n = self.db.exec("DELETE FROM deprovisions WHERE at < $1", binds![micros(before)]).map_err(other)?;
        Ok(n as u64)
    }
}
