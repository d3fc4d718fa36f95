//! `ConsoleRepo`: console sign-in links and sessions, by token hash.

use super::{micros, other, time, DieselTx};
use crate::conn::binds;
use diesel::sql_types::{BigInt, Text};
use diesel::QueryableByName;
use enlist_core::model::ConsoleSession;
use enlist_core::ports::*;
use enlist_core::types::{OrganizationId, UserId};

#[derive(QueryableByName)]
struct LinkRow {
    #[diesel(sql_type = Text)]
    organization_id: String,
    #[diesel(sql_type = Text)]
    user_id: String,
}

#[derive(QueryableByName)]
struct SessionRow {
    #[diesel(sql_type = Text)]
    organization_id: String,
    #[diesel(sql_type = Text)]
    user_id: String,
    #[diesel(sql_type = Text)]
    csrf: String,
    #[diesel(sql_type = BigInt)]
    expires_at: i64,
}

type Time = chrono::DateTime<chrono::Utc>;

impl ConsoleRepo for DieselTx<'_> {
    fn insert_link(&mut self, hash: &str, org: &OrganizationId, user: &UserId, expires_at: Time) -> RepoResult<()> {
        self.db
            .exec(
                "INSERT INTO console_links (token_hash, organization_id, user_id, expires_at) VALUES ($1, $2, $3, $4)",
                binds![hash, org.as_str(), user.as_str(), micros(expires_at)],
            )
            .map_err(other)?;
        Ok(())
    }
    fn take_link(&mut self, hash: &str, now: Time) -> RepoResult<Option<(OrganizationId, UserId)>> {
        // One statement: of two concurrent uses, one marks it used.
        let rows: Vec<LinkRow> = self
            .db
            .load(
                "UPDATE console_links SET used_at = $2 WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2 \
                 RETURNING organization_id, user_id",
                binds![hash, micros(now)],
            )
            .map_err(other)?;
        Ok(rows.into_iter().next().map(|r| (OrganizationId::new(r.organization_id), UserId::new(r.user_id))))
    }
    fn link(&mut self, hash: &str, now: Time) -> RepoResult<Option<(OrganizationId, UserId)>> {
        let row: Option<LinkRow> = self
            .db
            .first(
                "SELECT organization_id, user_id FROM console_links \
                 WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2",
                binds![hash, micros(now)],
            )
            .map_err(other)?;
        Ok(row.map(|r| (OrganizationId::new(r.organization_id), UserId::new(r.user_id))))
    }
    fn prune(&mut self, now: Time) -> RepoResult<u64> {
        let links = self
            .db
            .exec("DELETE FROM console_links WHERE used_at IS NOT NULL OR expires_at <= $1", binds![micros(now)])
            .map_err(other)?;
        let sessions =
            self.db.exec("DELETE FROM console_sessions WHERE expires_at <= $1", binds![micros(now)]).map_err(other)?;
        Ok((links + sessions) as u64)
    }
    fn insert_session(&mut self, hash: &str, s: &ConsoleSession) -> RepoResult<()> {
        self.db
            .exec(
                "INSERT INTO console_sessions (token_hash, organization_id, user_id, csrf, expires_at) VALUES ($1, $2, $3, $4, $5)",
                binds![hash, s.organization_id.as_str(), s.user_id.as_str(), s.csrf.as_str(), micros(s.expires_at)],
            )
            .map_err(other)?;
        Ok(())
    }
    fn session(&mut self, hash: &str, now: Time) -> RepoResult<Option<ConsoleSession>> {
        let row: Option<SessionRow> = self
            .db
            .first(
                "SELECT organization_id, user_id, csrf, expires_at FROM console_sessions WHERE token_hash = $1 AND expires_at > $2",
                binds![hash, micros(now)],
            )
            .map_err(other)?;
        Ok(row.map(|r| ConsoleSession {
            organization_id: OrganizationId::new(r.organization_id),
            user_id: UserId::new(r.user_id),
            csrf: r.csrf,
            expires_at: time(r.expires_at),
        }))
    }
    fn delete_session(&mut self, hash: &str) -> RepoResult<()> {
        self.db.exec("DELETE FROM console_sessions WHERE token_hash = $1", binds![hash]).map_err(other)?;
        Ok(())
    }
}
