//! All the outbox SQL: queueing a notification inside a use case's
//! transaction (`Outbox`), and the mail worker's claims, marks and pruning
//! (`OutboxQueue`).

use super::{micros, time, DieselTx};
use crate::conn::{binds, Backend, Count};
use crate::Access;
use crate::Database;
use diesel::sql_types::{BigInt, Nullable, Text};
use diesel::QueryableByName;
use enlist_core::ports::*;
use enlist_core::types::*;
use enlist_core::Error;
use enlist_core::{Notification, NotificationKind};

/// A notification's kind as stored: its name, and its figures as
/// `removed,limit,window_secs`.
fn kind_columns(kind: NotificationKind) -> (&'static str, Option<String>) {
    match kind {
        NotificationKind::Added => ("added", None),
        NotificationKind::DeprovisioningHeld { removed, limit, window_secs } => {
            ("deprovisioning_held", Some(format!("{removed},{limit},{window_secs}")))
        }
    }
}

fn kind_from(kind: &str, facts: Option<&str>) -> NotificationKind {
    let figures: Vec<u64> = facts.unwrap_or_default().split(',').filter_map(|f| f.parse().ok()).collect();
    match (kind, figures.as_slice()) {
        ("deprovisioning_held", [removed, limit, window]) => NotificationKind::DeprovisioningHeld {
            removed: *removed,
            limit: *limit,
            window_secs: u32::try_from(*window).unwrap_or(u32::MAX),
        },
        _ => NotificationKind::Added,
    }
}

impl Outbox for DieselTx<'_> {
    fn enqueue(&mut self, n: &Notification) -> RepoResult<()> {
        let (kind, facts) = kind_columns(n.kind);
        self.insert_later(
            "outbox (id, organization_id, organization_name, recipient, recipient_name, added_by, created_at, \
             next_attempt_at, kind, facts)",
            binds![
                n.id.as_str(),
                n.organization_id.as_str(),
                n.organization_name.as_str(),
                n.recipient.as_str(),
                n.recipient_name.clone(),
                n.added_by.as_str(),
                micros(n.created_at),
                micros(n.created_at),
                kind,
                facts
            ],
        )
    }
}

#[derive(QueryableByName)]
struct OutboxRow {
    #[diesel(sql_type = BigInt)]
    seq: i64,
    #[diesel(sql_type = Text)]
    id: String,
    #[diesel(sql_type = Text)]
    organization_id: String,
    #[diesel(sql_type = Text)]
    organization_name: String,
    #[diesel(sql_type = Text)]
    recipient: String,
    #[diesel(sql_type = Nullable<Text>)]
    recipient_name: Option<String>,
    #[diesel(sql_type = Text)]
    added_by: String,
    #[diesel(sql_type = BigInt)]
    created_at: i64,
    #[diesel(sql_type = BigInt)]
    attempts: i64,
    #[diesel(sql_type = Nullable<BigInt>)]
    set_aside_at: Option<i64>,
    #[diesel(sql_type = Nullable<Text>)]
    last_error: Option<String>,
    #[diesel(sql_type = Text)]
    kind: String,
    #[diesel(sql_type = Nullable<Text>)]
    facts: Option<String>,
}

/// How long a claimed notification is hidden from other workers: well over
/// one send (the SMTP adapter gives up after 20 s). The worker claims one
/// notification at a time, so no claim has to cover a batch.
const CLAIM_LEASE_MICROS: i64 = 120_000_000;

impl OutboxRow {
    fn into_queued(self) -> QueuedNotification {
        QueuedNotification {
            notification: Notification {
                id: self.id,
                organization_id: OrganizationId::new(self.organization_id),
                organization_name: self.organization_name,
                recipient: self.recipient,
                recipient_name: self.recipient_name,
                added_by: self.added_by,
                created_at: time(self.created_at),
                kind: kind_from(&self.kind, self.facts.as_deref()),
            },
            attempts: self.attempts as u32,
        }
    }
}

const OUTBOX_COLS: &str =
    "seq, id, organization_id, organization_name, recipient, recipient_name, added_by, created_at, \
     CAST(attempts AS BIGINT) AS attempts, set_aside_at, last_error, kind, facts";

#[async_trait::async_trait]
impl OutboxQueue for Database {
    async fn due(&self, now: chrono::DateTime<chrono::Utc>, limit: u32) -> Result<Vec<QueuedNotification>, Error> {
        let backend = self.backend();
        self.unit(Access::Write, move |mut db| {
            // Claim with a lease so several processes never send one
            // notification twice at once; SKIP LOCKED on PostgreSQL.
            let pick = match backend {
                Backend::Postgres => {
                    "SELECT id FROM outbox WHERE sent_at IS NULL AND set_aside_at IS NULL AND next_attempt_at <= $1 \
                                      ORDER BY seq LIMIT $2 FOR UPDATE SKIP LOCKED"
                }
                Backend::Sqlite => {
                    "SELECT id FROM outbox WHERE sent_at IS NULL AND set_aside_at IS NULL AND next_attempt_at <= $1 \
                                    ORDER BY seq LIMIT $2"
                }
            };
            let sql = format!("UPDATE outbox SET next_attempt_at = $3 WHERE id IN ({pick}) RETURNING {OUTBOX_COLS}");
            let n = micros(now);
            let mut rows: Vec<OutboxRow> = db.load(sql, binds![n, i64::from(limit), n + CLAIM_LEASE_MICROS])?;
            // RETURNING has no order: oldest first, as queued.
            rows.sort_by_key(|r| r.seq);
            Ok(rows.into_iter().map(OutboxRow::into_queued).collect())
        })
        .await
    }
    async fn mark_sent(&self, id: &str, at: chrono::DateTime<chrono::Utc>) -> Result<(), Error> {
        let id = id.to_owned();
        self.unit(Access::Write, move |mut db| {
            db.exec("UPDATE outbox SET sent_at = $1, last_error = NULL WHERE id = $2", binds![micros(at), id])?;
            Ok(())
        })
        .await
    }
    async fn mark_failed(
        &self,
        id: &str,
        attempts: u32,
        retry_at: chrono::DateTime<chrono::Utc>,
        error: &str,
    ) -> Result<(), Error> {
        let (id, error) = (id.to_owned(), error.to_owned());
        self.unit(Access::Write, move |mut db| {
            db.exec(
                "UPDATE outbox SET attempts = $1, next_attempt_at = $2, last_error = $3 WHERE id = $4",
                binds![i64::from(attempts), micros(retry_at), error, id],
            )?;
            Ok(())
        })
        .await
    }
    async fn postpone(&self, id: &str, until: chrono::DateTime<chrono::Utc>) -> Result<(), Error> {
        let id = id.to_owned();
        self.unit(Access::Write, move |mut db| {
            db.exec("UPDATE outbox SET next_attempt_at = $1 WHERE id = $2", binds![micros(until), id])?;
            Ok(())
        })
        .await
    }
    async fn prune(&self, before: chrono::DateTime<chrono::Utc>) -> Result<u64, Error> {
        self.unit(Access::Write, move |mut db| {
            Ok(db.exec("DELETE FROM outbox WHERE sent_at IS NOT NULL AND sent_at < $1", binds![micros(before)])? as u64)
        })
        .await
    }
    async fn set_aside(
        &self,
        id: &str,
        attempts: u32,
        at: chrono::DateTime<chrono::Utc>,
        error: &str,
    ) -> Result<(), Error> {
        let (id, error) = (id.to_owned(), error.to_owned());
        self.unit(Access::Write, move |mut db| {
            db.exec(
                "UPDATE outbox SET attempts = $1, set_aside_at = $2, last_error = $3 WHERE id = $4",
                binds![i64::from(attempts), micros(at), error, id],
            )?;
            Ok(())
        })
        .await
    }
    async fn requeue(&self, id: &str, now: chrono::DateTime<chrono::Utc>) -> Result<bool, Error> {
        let id = id.to_owned();
        self.unit(Access::Write, move |mut db| {
            let n = db.exec(
                "UPDATE outbox SET set_aside_at = NULL, next_attempt_at = $1 WHERE id = $2 AND set_aside_at IS NOT NULL",
                binds![micros(now), id],
            )?;
            Ok(n > 0)
        })
        .await
    }
    async fn set_aside_list(&self, limit: u64) -> Result<Vec<SetAside>, Error> {
        self.unit(Access::Read, move |mut db| {
            let rows: Vec<OutboxRow> = db.load(
                format!(
                    "SELECT {OUTBOX_COLS} FROM outbox WHERE set_aside_at IS NOT NULL \
                     ORDER BY set_aside_at DESC, seq DESC LIMIT $1"
                ),
                binds![limit.min(i64::MAX as u64) as i64],
            )?;
            Ok(rows
                .into_iter()
                .map(|mut r| {
                    let (at, error) = (r.set_aside_at.map(time).unwrap_or_default(), r.last_error.take());
                    let q = r.into_queued();
                    SetAside {
                        notification: q.notification,
                        attempts: q.attempts,
                        at,
                        error: error.unwrap_or_default(),
                    }
                })
                .collect())
        })
        .await
    }
    async fn stats(&self) -> Result<OutboxStats, Error> {
        self.unit(Access::Read, |mut db| {
            let count = |db: &mut crate::conn::Db<'_>, cond: &str| -> Result<u64, diesel::result::Error> {
                let c: Option<Count> =
                    db.first(format!("SELECT COUNT(*) AS n FROM outbox WHERE sent_at IS NULL AND {cond}"), vec![])?;
                Ok(c.map_or(0, |c| c.n as u64))
            };
            Ok(OutboxStats {
                pending: count(&mut db, "set_aside_at IS NULL")?,
                set_aside: count(&mut db, "set_aside_at IS NOT NULL")?,
            })
        })
        .await
    }
}
