//! `EventFeed`: durable positions of event consumers. A claim picks, for
//! one consumer, the organization with unacknowledged events that was
//! claimed longest ago and that no other process holds (`SKIP LOCKED` on
//! PostgreSQL; SQLite's writers are serial), and leases it with a token;
//! acknowledging moves the position only while that token still holds.

use super::{micros, DieselTx};
use crate::conn::{binds, Backend, Count, Str};
use crate::Access;
use crate::Database;
use diesel::sql_types::{BigInt, Integer};
use diesel::QueryableByName;
use enlist_core::ports::{ClaimedEvents, ConsumerFailure, EventFeed, EventLog, Standing, KEPT_FAILURES};
use enlist_core::types::OrganizationId;
use enlist_core::Error;

#[derive(QueryableByName)]
struct Position {
    #[diesel(sql_type = BigInt)]
    position: i64,
    #[diesel(sql_type = Integer)]
    attempts: i32,
}

type Time = chrono::DateTime<chrono::Utc>;

#[derive(QueryableByName)]
struct Failing {
    #[diesel(sql_type = BigInt)]
    failing_since: i64,
    #[diesel(sql_type = diesel::sql_types::Text)]
    last_error: String,
}

#[derive(QueryableByName)]
struct StandingRow {
    #[diesel(sql_type = BigInt)]
    position: i64,
    #[diesel(sql_type = BigInt)]
    newest: i64,
    #[diesel(sql_type = Integer)]
    attempts: i32,
    #[diesel(sql_type = BigInt)]
    retry_at: i64,
    #[diesel(sql_type = diesel::sql_types::Nullable<BigInt>)]
    failing_since: Option<i64>,
}

#[derive(QueryableByName)]
struct FailureRow {
    #[diesel(sql_type = BigInt)]
    at: i64,
    #[diesel(sql_type = BigInt)]
    seq: i64,
    #[diesel(sql_type = diesel::sql_types::Text)]
    error: String,
}

#[async_trait::async_trait]
impl EventFeed for Database {
    async fn claim(
        &self,
        consumer: &str,
        scope: Option<OrganizationId>,
        now: Time,
        lease_until: Time,
        token: &str,
        limit: u32,
    ) -> Result<Option<ClaimedEvents>, Error> {
        let backend = self.backend();
        let (consumer, token) = (consumer.to_owned(), token.to_owned());
        // An empty scope matches every organization.
        let scope = scope.map(|o| o.as_str().to_owned()).unwrap_or_default();
        self.unit(Access::Write, move |mut db| {
            // Every organization with events gets a position (from 0).
            db.exec(
                "INSERT INTO event_consumers (consumer, organization_id) SELECT $1, o.organization_id FROM event_counters o \
                 WHERE o.seq > 0 AND ($2 = '' OR o.organization_id = $2) \
                 AND NOT EXISTS (SELECT 1 FROM event_consumers c WHERE c.consumer = $1 AND c.organization_id = o.organization_id) \
                 ON CONFLICT DO NOTHING",
                binds![consumer.as_str(), scope.as_str()],
            )?;
            let lock = if backend == Backend::Postgres { " FOR UPDATE OF c SKIP LOCKED" } else { "" };
            let picked: Option<Str> = db.first(
                format!(
                    "SELECT c.organization_id AS s FROM event_consumers c JOIN event_counters o ON o.organization_id = c.organization_id \
                     WHERE c.consumer = $1 AND ($3 = '' OR c.organization_id = $3) AND o.seq > c.position \
                     AND (c.lease_token IS NULL OR c.leased_until <= $2) AND c.retry_at <= $2 \
                     ORDER BY c.leased_until, c.organization_id LIMIT 1{lock}"
                ),
                binds![consumer.as_str(), micros(now), scope.as_str()],
            )?;
            let Some(org) = picked.map(|p| OrganizationId::new(p.s)) else { return Ok(None) };
            db.exec(
                "UPDATE event_consumers SET lease_token = $3, leased_until = $4 WHERE consumer = $1 AND organization_id = $2",
                binds![consumer.as_str(), org.as_str(), token.as_str(), micros(lease_until)],
            )?;
            let at: Option<Position> = db.first(
                "SELECT position, attempts FROM event_consumers WHERE consumer = $1 AND organization_id = $2",
                binds![consumer.as_str(), org.as_str()],
            )?;
            let at = at.unwrap_or(Position { position: 0, attempts: 0 });
            let events = DieselTx::new(db)
                .list(&org, at.position as u64, u64::from(limit))
                .map_err(|e| crate::TxError::Core(e.into()))?;
            Ok(Some(ClaimedEvents { organization_id: org, token, events, attempts: at.attempts.max(0) as u32 }))
        })
        .await
    }

    async fn pending(&self, consumer: &str, scope: Option<OrganizationId>, now: Time) -> Result<bool, Error> {
        let consumer = consumer.to_owned();
        let scope = scope.map(|o| o.as_str().to_owned()).unwrap_or_default();
        // The claim's own conditions, as a read; an organization with events
        // and no position yet counts (the claim gives it one).
        self.unit(Access::Read, move |mut db| {
            let n: Option<Count> = db.first(
                "SELECT CAST(COUNT(*) AS BIGINT) AS n FROM (SELECT 1 FROM event_counters o \
                 LEFT JOIN event_consumers c ON c.organization_id = o.organization_id AND c.consumer = $1 \
                 WHERE o.seq > COALESCE(c.position, 0) AND ($3 = '' OR o.organization_id = $3) \
                 AND (c.consumer IS NULL OR ((c.lease_token IS NULL OR c.leased_until <= $2) AND c.retry_at <= $2)) \
                 LIMIT 1) AS pending",
                binds![consumer.as_str(), micros(now), scope.as_str()],
            )?;
            Ok(n.is_some_and(|c| c.n > 0))
        })
        .await
    }

    async fn extend(
        &self,
        consumer: &str,
        org: &OrganizationId,
        token: &str,
        lease_until: Time,
    ) -> Result<bool, Error> {
        let (consumer, org, token) = (consumer.to_owned(), org.clone(), token.to_owned());
        self.unit(Access::Write, move |mut db| {
            let n = db.exec(
                "UPDATE event_consumers SET leased_until = $4 WHERE consumer = $1 AND organization_id = $2 AND lease_token = $3",
                binds![consumer.as_str(), org.as_str(), token.as_str(), micros(lease_until)],
            )?;
            Ok(n > 0)
        })
        .await
    }

    async fn ack(&self, consumer: &str, org: &OrganizationId, token: &str, seq: u64) -> Result<bool, Error> {
        let (consumer, org, token) = (consumer.to_owned(), org.clone(), token.to_owned());
        self.unit(Access::Write, move |mut db| {
            let n = db.exec(
                "UPDATE event_consumers SET position = $4, lease_token = NULL, attempts = 0, retry_at = 0, last_error = NULL, \
                 failing_since = NULL \
                 WHERE consumer = $1 AND organization_id = $2 AND lease_token = $3 AND position < $4",
                binds![consumer.as_str(), org.as_str(), token.as_str(), seq.min(i64::MAX as u64) as i64],
            )?;
            Ok(n > 0)
        })
        .await
    }

    async fn retry_later(
        &self,
        consumer: &str,
        org: &OrganizationId,
        token: &str,
        handled: Option<u64>,
        now: Time,
        retry_at: Time,
        error: &str,
    ) -> Result<(), Error> {
        let (consumer, org, token, error) = (consumer.to_owned(), org.clone(), token.to_owned(), error.to_owned());
        self.unit(Access::Write, move |mut db| {
            let b = binds![consumer.as_str(), org.as_str(), token.as_str(), micros(retry_at), error.as_str(), micros(now)];
            let held = match handled {
                // Progress before the failure counts; attempts restart with it.
                Some(seq) => db.exec(
                    "UPDATE event_consumers SET position = $7, lease_token = NULL, retry_at = $4, attempts = 1, last_error = $5, \
                     failing_since = $6 \
                     WHERE consumer = $1 AND organization_id = $2 AND lease_token = $3",
                    b.into_iter().chain(binds![seq.min(i64::MAX as u64) as i64]).collect(),
                )?,
                None => db.exec(
                    "UPDATE event_consumers SET lease_token = NULL, retry_at = $4, attempts = attempts + 1, last_error = $5, \
                     failing_since = COALESCE(failing_since, $6) \
                     WHERE consumer = $1 AND organization_id = $2 AND lease_token = $3",
                    b,
                )?,
            };
            if held == 0 {
                return Ok(());
            }
            // The failure is kept for the console, at the event it failed
            // at (the one after the position), and only the newest few.
            let (c, o) = (consumer.as_str(), org.as_str());
            db.exec(
                "INSERT INTO consumer_failures (consumer, organization_id, at, seq, error) \
                 SELECT consumer, organization_id, $3, position + 1, $4 FROM event_consumers \
                 WHERE consumer = $1 AND organization_id = $2",
                binds![c, o, micros(now), error.as_str()],
            )?;
            db.exec(
                format!(
                    "DELETE FROM consumer_failures WHERE consumer = $1 AND organization_id = $2 AND at < \
                     (SELECT at FROM consumer_failures WHERE consumer = $1 AND organization_id = $2 \
                     ORDER BY at DESC LIMIT 1 OFFSET {})",
                    KEPT_FAILURES - 1
                ),
                binds![c, o],
            )?;
            Ok(())
        })
        .await
    }

    async fn failing_since(&self, consumer: &str) -> Result<Option<(Time, String)>, Error> {
        let consumer = consumer.to_owned();
        self.unit(Access::Read, move |mut db| {
            let row: Option<Failing> = db.first(
                "SELECT failing_since, COALESCE(last_error, '') AS last_error FROM event_consumers \
                 WHERE consumer = $1 AND failing_since IS NOT NULL ORDER BY failing_since LIMIT 1",
                binds![consumer.as_str()],
            )?;
            Ok(row.map(|r| (super::time(r.failing_since), r.last_error)))
        })
        .await
    }

    async fn standing(&self, consumer: &str, org: &OrganizationId) -> Result<Standing, Error> {
        let (consumer, org) = (consumer.to_owned(), org.clone());
        self.unit(Access::Read, move |mut db| {
            let (c, o) = (consumer.as_str(), org.as_str());
            let row: Option<StandingRow> = db.first(
                "SELECT COALESCE(c.position, 0) AS position, COALESCE(n.seq, 0) AS newest, COALESCE(c.attempts, 0) AS attempts, \
                 COALESCE(c.retry_at, 0) AS retry_at, c.failing_since \
                 FROM (SELECT $2 AS organization_id) x \
                 LEFT JOIN event_counters n ON n.organization_id = x.organization_id \
                 LEFT JOIN event_consumers c ON c.organization_id = x.organization_id AND c.consumer = $1",
                binds![c, o],
            )?;
            let failures: Vec<FailureRow> = db.load(
                format!(
                    "SELECT at, seq, error FROM consumer_failures WHERE consumer = $1 AND organization_id = $2 \
                     ORDER BY at DESC LIMIT {KEPT_FAILURES}"
                ),
                binds![c, o],
            )?;
            let row = row.unwrap_or(StandingRow { position: 0, newest: 0, attempts: 0, retry_at: 0, failing_since: None });
            let failing = row.failing_since.is_some();
            Ok(Standing {
                delivered: row.position.max(0) as u64,
                newest: row.newest.max(0) as u64,
                attempts: row.attempts.max(0) as u32,
                retry_at: (failing && row.retry_at > 0).then(|| super::time(row.retry_at)),
                failing_since: row.failing_since.map(super::time),
                failures: failures
                    .into_iter()
                    .map(|f| ConsumerFailure { at: super::time(f.at), seq: f.seq.max(0) as u64, error: f.error })
                    .collect(),
            })
        })
        .await
    }

    async fn rewind(&self, consumer: &str, org: &OrganizationId, from: u64) -> Result<(), Error> {
        let (consumer, org) = (consumer.to_owned(), org.clone());
        let position = from.saturating_sub(1).min(i64::MAX as u64) as i64;
        self.unit(Access::Write, move |mut db| {
            let (c, o) = (consumer.as_str(), org.as_str());
            // A new lease token of NULL ends any claim: its holder's ack
            // (which needs its token) can no longer move the position past
            // the replay.
            let n = db.exec(
                "UPDATE event_consumers SET position = $3, lease_token = NULL, leased_until = 0, retry_at = 0, attempts = 0, \
                 failing_since = NULL, last_error = NULL WHERE consumer = $1 AND organization_id = $2",
                binds![c, o, position],
            )?;
            if n == 0 {
                db.exec(
                    "INSERT INTO event_consumers (consumer, organization_id, position) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                    binds![c, o, position],
                )?;
            }
            Ok(())
        })
        .await
    }

    async fn lag(&self, consumer: &str) -> Result<u64, Error> {
        let consumer = consumer.to_owned();
        self.unit(Access::Read, move |mut db| {
            let c: Option<Count> = db.first(
                "SELECT CAST(COALESCE(SUM(o.seq - COALESCE(c.position, 0)), 0) AS BIGINT) AS n \
                 FROM event_counters o LEFT JOIN event_consumers c ON c.organization_id = o.organization_id AND c.consumer = $1",
                binds![consumer.as_str()],
            )?;
            Ok(c.map_or(0, |c| c.n.max(0) as u64))
        })
        .await
    }
}
