//! `EventLog`: change events. A unit of work's events are buffered and
//! written when it commits: the organization's counter is bumped (its row
//! lock serialises numbering until commit, so events become visible in
//! `seq` order) and the events inserted with the numbers that follow. The
//! payload is the core's value tree, stored as JSON text.

use super::{micros, other, time, DieselTx};
use crate::codec::{decode, encode};
use crate::conn::{binds, placeholders, Backend, Bind, Count};
use diesel::result::Error as DieselError;
use diesel::sql_types::{BigInt, Text};
use diesel::QueryableByName;
use enlist_core::event::{Event, EventData, EventKind};
use enlist_core::ports::*;
use enlist_core::types::*;
use enlist_core::RepoError;

#[derive(QueryableByName)]
struct EventRow {
    #[diesel(sql_type = Text)]
    organization_id: String,
    #[diesel(sql_type = BigInt)]
    seq: i64,
    #[diesel(sql_type = Text)]
    id: String,
    #[diesel(sql_type = BigInt)]
    at: i64,
    #[diesel(sql_type = Text)]
    actor: String,
    #[diesel(sql_type = Text)]
    kind: String,
    #[diesel(sql_type = Text)]
    data: String,
}

/// Rows per multi-row insert (7 binds each).
const INSERT_CHUNK: usize = 100;

impl EventRow {
    fn into_event(self) -> Result<Event, RepoError> {
        let unreadable = || {
            RepoError::other(std::io::Error::other(format!(
                "stored event {} of organization {} cannot be read; it was changed outside Enlist",
                self.seq, self.organization_id
            )))
        };
        let kind = EventKind::parse(&self.kind).ok_or_else(unreadable)?;
        let data = decode(&self.data).and_then(|c| EventData::from_value(kind, &c)).ok_or_else(unreadable)?;
        Ok(Event {
            id: enlist_core::EventId::new(self.id),
            organization_id: OrganizationId::new(self.organization_id),
            seq: self.seq as u64,
            at: time(self.at),
            actor: self.actor,
            kind,
            data,
        })
    }
}

impl DieselTx<'_> {
    /// Writes what the unit left for its end: on PostgreSQL the rows of
    /// [`DieselTx::insert_later`] and the events of one organization go in
    /// one statement; then numbers and writes the buffered events. Called
    /// once, just before the write transaction commits.
    pub(crate) fn flush(&mut self) -> Result<(), DieselError> {
        let pending = std::mem::take(&mut self.events);
        let mut orgs: Vec<&OrganizationId> = Vec::new();
        for e in &pending {
            if !orgs.contains(&&e.organization_id) {
                orgs.push(&e.organization_id);
            }
        }
        let mut b: Vec<Bind> = Vec::new();
        let mut with = self.take_later(&mut b);
        if orgs.len() != 1 || pending.len() > INSERT_CHUNK {
            // Rare (an operator's work across organizations, a large group
            // change): the rows first, then the events as below.
            if let Some(last) = with.pop() {
                self.db.exec(with_parts(&with, &last), std::mem::take(&mut b))?;
            }
            with.clear();
        }
        for org in orgs {
            let mine: Vec<&Event> = pending.iter().filter(|e| &e.organization_id == org).collect();
            if self.db.backend() == Backend::Postgres && mine.len() <= INSERT_CHUNK {
                // One statement: the counter's row lock orders this
                // organization's commits, so it is held from the bump to
                // COMMIT; a second round trip in between made every writer
                // of the organization wait longer.
                let o = format!("${}", b.len() + 1);
                let n = format!("${}", b.len() + 2);
                b.extend(binds![org.as_str(), mine.len() as i64]);
                let mut values = String::new();
                for (i, e) in mine.iter().enumerate() {
                    if i > 0 {
                        values.push_str(", ");
                    }
                    values.push_str(&format!("({})", placeholders(b.len() + 1, 6)));
                    b.extend(binds![
                        i as i64 + 1,
                        e.id.as_str(),
                        micros(e.at),
                        e.actor.as_str(),
                        e.kind.as_str(),
                        encode(&e.data.to_value())
                    ]);
                }
                with.push(format!(
                    "c AS (INSERT INTO event_counters (organization_id, seq) VALUES ({o}, {n}) \
                     ON CONFLICT (organization_id) DO UPDATE SET seq = event_counters.seq + excluded.seq \
                     RETURNING seq)"
                ));
                let main = format!(
                    "INSERT INTO events (organization_id, seq, id, at, actor, kind, data) \
                     SELECT {o}, c.seq - {n} + v.n, v.id, v.at, v.actor, v.kind, v.data \
                     FROM c, (VALUES {values}) AS v(n, id, at, actor, kind, data)"
                );
                self.db.exec(with_parts(&with, &main), std::mem::take(&mut b))?;
                with.clear();
                continue;
            }
            let bumped: Option<Count> = self.db.first(
                "INSERT INTO event_counters (organization_id, seq) VALUES ($1, $2) \
                 ON CONFLICT (organization_id) DO UPDATE SET seq = event_counters.seq + excluded.seq \
                 RETURNING seq AS n",
                binds![org.as_str(), mine.len() as i64],
            )?;
            let Some(last) = bumped.map(|c| c.n) else { continue };
            let first = last - mine.len() as i64 + 1;
            for (c, chunk) in mine.chunks(INSERT_CHUNK).enumerate() {
                let mut sql =
                    String::from("INSERT INTO events (organization_id, seq, id, at, actor, kind, data) VALUES ");
                let mut b: Vec<Bind> = Vec::with_capacity(chunk.len() * 7);
                for (i, e) in chunk.iter().enumerate() {
                    if i > 0 {
                        sql.push_str(", ");
                    }
                    sql.push_str(&format!("({})", placeholders(b.len() + 1, 7)));
                    let seq = first + (c * INSERT_CHUNK + i) as i64;
                    b.extend(binds![
                        org.as_str(),
                        seq,
                        e.id.as_str(),
                        micros(e.at),
                        e.actor.as_str(),
                        e.kind.as_str(),
                        encode(&e.data.to_value())
                    ]);
                }
                self.db.exec(sql, b)?;
            }
        }
        // No events: the rows alone.
        if let Some(last) = with.pop() {
            self.db.exec(with_parts(&with, &last), b)?;
        }
        Ok(())
    }
}

/// `WITH w1 AS (…), … main`: the parts already named (`c AS (…)`) or
/// inserts to name.
fn with_parts(parts: &[String], main: &str) -> String {
    if parts.is_empty() {
        return main.to_owned();
    }
    let named: Vec<String> = parts
        .iter()
        .enumerate()
        .map(|(i, p)| if p.starts_with("INSERT") { format!("w{i} AS ({p})") } else { p.clone() })
        .collect();
    format!("WITH {} {main}", named.join(", "))
}

impl EventLog for DieselTx<'_> {
    fn append(&mut self, event: &Event) -> RepoResult<()> {
        self.events.push(event.clone());
        Ok(())
    }
    fn list(&mut self, org: &OrganizationId, after: u64, limit: u64) -> RepoResult<Vec<Event>> {
        let rows: Vec<EventRow> = self
            .db
            .load(
                "SELECT organization_id, seq, id, at, actor, kind, data FROM events \
                 WHERE organization_id = $1 AND seq > $2 ORDER BY seq LIMIT $3",
                binds![org.as_str(), after.min(i64::MAX as u64) as i64, limit.min(i64::MAX as u64) as i64],
            )
            .map_err(other)?;
        rows.into_iter().map(EventRow::into_event).collect()
    }
}
