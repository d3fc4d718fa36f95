//! The repositories of one transaction, on either backend: [`DieselTx`]
//! holds the connection, and each port of `enlist_core::ports` has its own
//! file beside this one. Shared here: time encoding, driver-error mapping,
//! and the paged list query both resources use.

mod accounts;
mod activity;
mod audit;
mod console;
mod consumers;
mod events;
mod groups;
mod guard;
mod keys;
mod orgs;
mod outbox;
mod users;
mod webhooks;

use crate::conn::{placeholders, Backend, Bind, Count, Db};
use crate::sql::{Resource, Sql};
use chrono::{DateTime, Utc};
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use enlist_core::ports::*;
use enlist_core::query::{ListQuery, Page};
use enlist_core::types::OrganizationId;
use enlist_core::{RepoError, Uniqueness};

/// Rows per multi-row statement (well under both backends' bind limits).
const CHUNK: usize = 500;

pub(crate) struct DieselTx<'c> {
    pub(crate) db: Db<'c>,
    /// Change events of this unit of work, written at commit.
    events: Vec<enlist_core::event::Event>,
    /// PostgreSQL: rows written with the unit's last statement
    /// ([`DieselTx::insert_later`]).
    later: Vec<(&'static str, Vec<Bind>)>,
    /// Deprovisioning records among `later` (organization, time), which
    /// this unit's own counts must include.
    pub(crate) later_removals: Vec<(OrganizationId, i64)>,
}

impl<'c> DieselTx<'c> {
    pub(crate) fn new(db: Db<'c>) -> Self {
        Self { db, events: Vec::new(), later: Vec::new(), later_removals: Vec::new() }
    }

    /// Inserts a row nothing in this unit reads back (`into`: the table
    /// and its columns). On PostgreSQL it travels with the unit's last
    /// statement, the events' (`flush`): the audit record, the
    /// notification and the guard's record of a change cost no round trip
    /// of their own. SQLite, in process, writes it at once.
    pub(crate) fn insert_later(&mut self, into: &'static str, b: Vec<Bind>) -> Result<(), RepoError> {
        if self.db.backend() == Backend::Postgres {
            self.later.push((into, b));
            return Ok(());
        }
        let sql = format!("INSERT INTO {into} VALUES ({})", placeholders(1, b.len()));
        self.db.exec(sql, b).map_err(other)?;
        Ok(())
    }

    /// Rows of `sql(list)` for every chunk of `ids`: `lead` binds `$1…`,
    /// and `list` is the chunk's placeholders after them (`in_list`, so a
    /// few statement texts serve every count).
    pub(crate) fn load_chunked<'i, R: crate::conn::Row>(
        &mut self,
        lead: &[&str],
        ids: impl IntoIterator<Item = &'i str>,
        sql: impl Fn(&str) -> String,
    ) -> Result<Vec<R>, DieselError> {
        let ids: Vec<&str> = ids.into_iter().collect();
        let mut out = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(CHUNK) {
            let (list, ids) = crate::conn::in_list(lead.len() + 1, chunk.iter().copied());
            let mut b: Vec<Bind> = lead.iter().map(|&v| Bind::from(v)).collect();
            b.extend(ids);
            out.extend(self.db.load::<R>(sql(&list), b)?);
        }
        Ok(out)
    }

    /// The rows of [`DieselTx::insert_later`] as `WITH` parts of one
    /// statement (their parameters appended to `b`).
    pub(crate) fn take_later(&mut self, b: &mut Vec<Bind>) -> Vec<String> {
        self.later_removals.clear();
        std::mem::take(&mut self.later)
            .into_iter()
            .map(|(into, binds)| {
                let p = placeholders(b.len() + 1, binds.len());
                b.extend(binds);
                format!("INSERT INTO {into} VALUES ({p})")
            })
            .collect()
    }
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
/// The one policy for a stored value that cannot be read: the read fails
/// as an unexpected error naming the table, the row and the column, which
/// the HTTP front logs with the request id (the client gets a plain 500).
/// Values this crate wrote are trusted otherwise (`from_stored`
/// constructors), so only damage outside Enlist leads here.
fn corrupt(table: &str, id: &str, column: &str) -> RepoError {
    RepoError::other(std::io::Error::other(format!(
        "stored {table}.{column} of row {id} cannot be read; it was changed outside Enlist. Restore the row from a backup or correct it by hand"
    )))
}

impl DieselTx<'_> {
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
        R: crate::conn::Row,
    {
        let alias = if r == Resource::User { "u" } else { "g" };
        let mut sql = Sql::new(self.db.backend());
        let o = sql.param(org.as_str());
        sql.org = Some(o.clone());
        let parts = sql.list_parts(r, query)?;
        let in_org = sql.org_condition(alias, &o);
        let count_sql = match query.page {
            // Counted no further than asked: the count stops there.
            Page::Capped { total_up_to, .. } => format!(
                "SELECT COUNT(*) AS n FROM (SELECT 1 FROM {from} WHERE {in_org}{} LIMIT {}) AS capped",
                parts.filter,
                total_up_to.saturating_add(1).min(i64::MAX as u64)
            ),
            _ => format!("SELECT COUNT(*) AS n FROM {from} WHERE {in_org}{}", parts.filter),
        };
        let count_binds = sql.binds[..parts.filter_binds].to_vec();
        let rows: Vec<R> = self.db.load(parts.page_sql(cols, from, alias, &in_org), sql.binds).map_err(other)?;
        let total = match known_total(&query.page, rows.len() as u64) {
            Some(n) => n,
            None => self.db.first::<Count>(count_sql, count_binds).map_err(other)?.map_or(0, |c| c.n as u64),
        };
        let next_cursor = match query.page {
            Page::Cursor { count, .. } if rows.len() as u64 == count && count > 0 => {
                rows.last().map(|row| seq(row).to_string())
            }
            _ => None,
        };
        Ok((total, rows, next_cursor))
    }
}

/// `totalResults` when the page itself tells it, so no count is run: a page
/// that is not full and starts at the beginning of the results, or ends
/// inside them, holds their end. Entra ID's match query (`userName eq`,
/// one row or none) is always such a page.
fn known_total(page: &Page, rows: u64) -> Option<u64> {
    match page {
        Page::Index { start_index, count } | Page::Capped { start_index, count, .. } if rows < *count => {
            let skipped = start_index.saturating_sub(1);
            (rows > 0 || skipped == 0).then_some(skipped + rows)
        }
        Page::Cursor { after: None, count } if rows < *count => Some(rows),
        _ => None,
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
    fn events(&mut self) -> &mut dyn EventLog {
        self
    }
    fn webhooks(&mut self) -> &mut dyn WebhookRepo {
        self
    }
    fn console(&mut self) -> &mut dyn ConsoleRepo {
        self
    }
    fn guard(&mut self) -> &mut dyn GuardRepo {
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_total_is_read_off_a_page_only_when_the_page_shows_the_end() {
        let index = |start_index, count| Page::Index { start_index, count };
        assert_eq!(known_total(&index(1, 100), 1), Some(1));
        assert_eq!(known_total(&index(1, 100), 0), Some(0));
        assert_eq!(known_total(&index(201, 100), 40), Some(240));
        // Past the end, or a full page, or count=0: the page cannot tell.
        assert_eq!(known_total(&index(201, 100), 0), None);
        assert_eq!(known_total(&index(1, 100), 100), None);
        assert_eq!(known_total(&index(1, 0), 0), None);
        let cursor = |after: Option<&str>, count| Page::Cursor { after: after.map(str::to_owned), count };
        assert_eq!(known_total(&cursor(None, 100), 7), Some(7));
        assert_eq!(known_total(&cursor(Some("12"), 100), 7), None, "a later page does not see the earlier ones");
        assert_eq!(known_total(&cursor(None, 100), 100), None);
    }
}
