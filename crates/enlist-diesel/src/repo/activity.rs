//! `ActivityLog`: provisioning activity, appended in multi-row batches off
//! the requests' transactions, read newest first with filters, pruned by
//! age.

use super::{micros, time};
use crate::conn::{binds, placeholders, Bind};
use crate::Access;
use crate::Database;
use diesel::sql_types::{BigInt, Integer, Nullable, Text};
use diesel::QueryableByName;
use enlist_core::model::{ActivityQuery, ActivityRecord, KeyUsage};
use enlist_core::ports::ActivityLog;
use enlist_core::types::{fold, OrganizationId};
use enlist_core::Error;

#[derive(QueryableByName)]
struct Row {
    #[diesel(sql_type = Text)]
    id: String,
    #[diesel(sql_type = Text)]
    organization_id: String,
    #[diesel(sql_type = BigInt)]
    at: i64,
    #[diesel(sql_type = Text)]
    key_label: String,
    #[diesel(sql_type = Text)]
    method: String,
    #[diesel(sql_type = Text)]
    route: String,
    #[diesel(sql_type = Nullable<Text>)]
    resource_id: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    subject: Option<String>,
    #[diesel(sql_type = Integer)]
    status: i32,
    #[diesel(sql_type = Nullable<Text>)]
    scim_type: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    detail: Option<String>,
    #[diesel(sql_type = BigInt)]
    latency_ms: i64,
    #[diesel(sql_type = Text)]
    request_id: String,
    #[diesel(sql_type = Text)]
    summary: String,
}

const COLS: &str =
    "id, organization_id, at, key_label, method, route, resource_id, subject, status, scim_type, detail, latency_ms, request_id, summary";

/// Rows per insert statement (15 binds each).
const CHUNK: usize = 60;

#[async_trait::async_trait]
impl ActivityLog for Database {
    async fn append(&self, records: Vec<ActivityRecord>) -> Result<(), Error> {
        if records.is_empty() {
            return Ok(());
        }
        self.unit(Access::Write, move |mut db| {
            for chunk in records.chunks(CHUNK) {
                let mut sql = format!("INSERT INTO activity ({COLS}, subject_folded) VALUES ");
                let mut b: Vec<Bind> = Vec::with_capacity(chunk.len() * 15);
                for (i, r) in chunk.iter().enumerate() {
                    if i > 0 {
                        sql.push_str(", ");
                    }
                    sql.push_str(&format!("({})", placeholders(b.len() + 1, 15)));
                    b.extend(binds![
                        r.id.as_str(),
                        r.organization_id.as_str(),
                        micros(r.at),
                        r.key_label.as_str(),
                        r.method.as_str(),
                        r.route.as_str(),
                        r.resource_id.clone(),
                        r.subject.clone(),
                        i64::from(r.status),
                        r.scim_type.clone(),
                        r.detail.clone(),
                        r.latency_ms.min(i64::MAX as u64) as i64,
                        r.request_id.as_str(),
                        r.summary.as_str(),
                        r.subject.as_deref().map(fold)
                    ]);
                }
                db.exec(sql, b)?;
            }
            Ok(())
        })
        .await
    }

    async fn list(&self, org: &OrganizationId, q: ActivityQuery) -> Result<Vec<ActivityRecord>, Error> {
        let org = org.clone();
        self.unit(Access::Read, move |mut db| {
            let mut sql = format!("SELECT {COLS} FROM activity WHERE organization_id = $1");
            let mut b = binds![org.as_str()];
            if q.failed_only {
                sql.push_str(" AND status >= 400");
            }
            if let Some(since) = q.since {
                b.push(Bind::Int(micros(since)));
                sql.push_str(&format!(" AND at >= ${}", b.len()));
            }
            if let Some(s) = &q.subject {
                b.push(Bind::Text(fold(s)));
                sql.push_str(&format!(" AND subject_folded = ${}", b.len()));
            }
            if let Some(k) = &q.key_label {
                b.push(Bind::Text(k.clone()));
                sql.push_str(&format!(" AND key_label = ${}", b.len()));
            }
            b.push(Bind::Int(q.limit.clamp(1, 10_000) as i64));
            sql.push_str(&format!(" ORDER BY at DESC, id DESC LIMIT ${}", b.len()));
            let rows: Vec<Row> = db.load(sql, b)?;
            Ok(rows
                .into_iter()
                .map(|r| ActivityRecord {
                    id: r.id,
                    organization_id: OrganizationId::new(r.organization_id),
                    at: time(r.at),
                    key_label: r.key_label,
                    method: r.method,
                    route: r.route,
                    resource_id: r.resource_id,
                    subject: r.subject,
                    status: r.status.clamp(0, i32::from(u16::MAX)) as u16,
                    scim_type: r.scim_type,
                    detail: r.detail,
                    latency_ms: r.latency_ms.max(0) as u64,
                    request_id: r.request_id,
                    summary: r.summary,
                })
                .collect())
        })
        .await
    }

    async fn prune(&self, before: chrono::DateTime<chrono::Utc>) -> Result<u64, Error> {
        self.unit(Access::Write, move |mut db| {
            db.exec("DELETE FROM key_usage WHERE hour < $1", binds![micros(before)])?;
            Ok(db.exec("DELETE FROM activity WHERE at < $1", binds![micros(before)])? as u64)
        })
        .await
    }

    async fn add_usage(&self, usage: Vec<KeyUsage>) -> Result<(), Error> {
        if usage.is_empty() {
            return Ok(());
        }
        self.unit(Access::Write, move |mut db| {
            // One statement per key and hour (a process flushes a handful at
            // a time); the latest times are kept whichever process saw them.
            for u in &usage {
                db.exec(
                    "INSERT INTO key_usage (key_id, organization_id, hour, requests, refusals, last_request_at, last_success_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (key_id, hour) DO UPDATE SET \
                     requests = key_usage.requests + excluded.requests, refusals = key_usage.refusals + excluded.refusals, \
                     last_request_at = CASE WHEN excluded.last_request_at > key_usage.last_request_at \
                         THEN excluded.last_request_at ELSE key_usage.last_request_at END, \
                     last_success_at = CASE WHEN excluded.last_success_at IS NULL THEN key_usage.last_success_at \
                         WHEN key_usage.last_success_at IS NULL OR excluded.last_success_at > key_usage.last_success_at \
                         THEN excluded.last_success_at ELSE key_usage.last_success_at END",
                    binds![
                        u.key_id.as_str(),
                        u.organization_id.as_str(),
                        micros(u.hour),
                        u.requests as i64,
                        u.refusals as i64,
                        micros(u.last_request_at),
                        u.last_success_at.map(micros)
                    ],
                )?;
            }
            Ok(())
        })
        .await
    }

    async fn usage(&self, org: &OrganizationId, since: chrono::DateTime<chrono::Utc>) -> Result<Vec<KeyUsage>, Error> {
        let org = org.clone();
        self.unit(Access::Read, move |mut db| {
            let rows: Vec<UsageRow> = db.load(
                "SELECT key_id, hour, requests, refusals, last_request_at, last_success_at FROM key_usage \
                 WHERE organization_id = $1 AND hour >= $2 ORDER BY hour",
                binds![org.as_str(), micros(since)],
            )?;
            Ok(rows
                .into_iter()
                .map(|r| KeyUsage {
                    key_id: enlist_core::ApiKeyId::new(r.key_id),
                    organization_id: org.clone(),
                    hour: time(r.hour),
                    requests: r.requests.max(0) as u64,
                    refusals: r.refusals.max(0) as u64,
                    last_request_at: time(r.last_request_at),
                    last_success_at: r.last_success_at.map(time),
                })
                .collect())
        })
        .await
    }
}

#[derive(QueryableByName)]
struct UsageRow {
    #[diesel(sql_type = Text)]
    key_id: String,
    #[diesel(sql_type = BigInt)]
    hour: i64,
    #[diesel(sql_type = BigInt)]
    requests: i64,
    #[diesel(sql_type = BigInt)]
    refusals: i64,
    #[diesel(sql_type = BigInt)]
    last_request_at: i64,
    #[diesel(sql_type = Nullable<BigInt>)]
    last_success_at: Option<i64>,
}
