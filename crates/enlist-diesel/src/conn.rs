//! Connections on two backends from one code base. Every statement is
//! written once, with `$n` placeholders, and run through [`Db`], which
//! dispatches to SQLite or PostgreSQL; the few statements that differ
//! branch on [`Backend`].

#[cfg(feature = "postgres")]
use diesel::pg::Pg;
use diesel::sql_types::{BigInt, Bool, Nullable, Text};
#[cfg(feature = "sqlite")]
use diesel::sqlite::Sqlite;
#[cfg(feature = "postgres")]
use diesel::PgConnection;
#[cfg(feature = "sqlite")]
use diesel::SqliteConnection;
use diesel::{QueryResult, QueryableByName, RunQueryDsl};

/// Which database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// The embedded default.
    Sqlite,
    /// For scale.
    Postgres,
}

/// A bound parameter.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Bind {
    Text(String),
    OptText(Option<String>),
    Int(i64),
    OptInt(Option<i64>),
    Bool(bool),
}

impl From<&str> for Bind {
    fn from(s: &str) -> Self {
        Bind::Text(s.to_owned())
    }
}
impl From<String> for Bind {
    fn from(s: String) -> Self {
        Bind::Text(s)
    }
}
impl From<&String> for Bind {
    fn from(s: &String) -> Self {
        Bind::Text(s.clone())
    }
}
impl From<i64> for Bind {
    fn from(i: i64) -> Self {
        Bind::Int(i)
    }
}
impl From<bool> for Bind {
    fn from(b: bool) -> Self {
        Bind::Bool(b)
    }
}
impl From<Option<String>> for Bind {
    fn from(s: Option<String>) -> Self {
        Bind::OptText(s)
    }
}
impl From<Option<&str>> for Bind {
    fn from(s: Option<&str>) -> Self {
        Bind::OptText(s.map(str::to_owned))
    }
}
impl From<Option<i64>> for Bind {
    fn from(i: Option<i64>) -> Self {
        Bind::OptInt(i)
    }
}

/// Builds a bind list: `binds![a, b, c]`.
macro_rules! binds {
    ($($e:expr),* $(,)?) => { vec![$($crate::conn::Bind::from($e)),*] };
}
pub(crate) use binds;

/// A connection inside a transaction, with the database's rule of which
/// dynamic statements its connections keep prepared.
pub(crate) struct Db<'c> {
    conn: Conn<'c>,
    statements: &'c Statements,
}

enum Conn<'c> {
    #[cfg(feature = "sqlite")]
    Sqlite(&'c mut SqliteConnection),
    #[cfg(feature = "postgres")]
    Pg(&'c mut PgConnection),
}

impl<'c> Db<'c> {
    #[cfg(feature = "sqlite")]
    pub(crate) fn sqlite(c: &'c mut SqliteConnection, statements: &'c Statements) -> Self {
        Self { conn: Conn::Sqlite(c), statements }
    }
    #[cfg(feature = "postgres")]
    pub(crate) fn pg(c: &'c mut PgConnection, statements: &'c Statements) -> Self {
        Self { conn: Conn::Pg(c), statements }
    }
}

/// A statement and its parameters. Diesel caches a prepared statement by
/// its SQL text only when told it is safe; a `&'static str` statement is a
/// fixed text, so a cached statement is reused for every call (SQLite then
/// skips parsing and planning, PostgreSQL a round trip). Dynamic text
/// (filters, lists of placeholders) is cached too once it is one of the
/// first [`DYNAMIC_CACHED`] texts the process has seen twice: values are
/// always parameters, so a client's filters repeat a few shapes (Entra ID's
/// match queries, paging), while the per-connection cache, which never
/// evicts, stays bounded whatever shapes a client invents.
struct Stmt {
    sql: String,
    binds: Vec<Bind>,
    cache: bool,
}

impl diesel::query_builder::QueryId for Stmt {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl diesel::query_builder::Query for Stmt {
    type SqlType = diesel::sql_types::Untyped;
}

impl<C> RunQueryDsl<C> for Stmt {}

macro_rules! stmt_fragment {
    ($db:ty) => {
        impl diesel::query_builder::QueryFragment<$db> for Stmt {
            fn walk_ast<'b>(&'b self, mut out: diesel::query_builder::AstPass<'_, 'b, $db>) -> QueryResult<()> {
                if !self.cache {
                    out.unsafe_to_cache_prepared();
                }
                // Diesel writes each bind's placeholder itself (`$n` or
                // `?`), so the text is pushed in pieces and every `$N` of
                // the source becomes the N-th parameter, in order of
                // appearance (a parameter used twice is bound twice).
                let mut rest = self.sql.as_str();
                while let Some((before, n, after)) = next_placeholder(rest) {
                    out.push_sql(before);
                    let Some(b) = n.checked_sub(1).and_then(|i| self.binds.get(i)) else {
                        return Err(diesel::result::Error::QueryBuilderError(
                            format!("placeholder ${n} has no parameter").into(),
                        ));
                    };
                    match b {
                        Bind::Text(s) => out.push_bind_param::<Text, _>(s)?,
                        Bind::OptText(s) => out.push_bind_param::<Nullable<Text>, _>(s)?,
                        Bind::Int(i) => out.push_bind_param::<BigInt, _>(i)?,
                        Bind::OptInt(i) => out.push_bind_param::<Nullable<BigInt>, _>(i)?,
                        Bind::Bool(v) => out.push_bind_param::<Bool, _>(v)?,
                    }
                    rest = after;
                }
                out.push_sql(rest);
                Ok(())
            }
        }
    };
}
#[cfg(feature = "sqlite")]
stmt_fragment!(Sqlite);
#[cfg(feature = "postgres")]
stmt_fragment!(Pg);

/// The text before the first `$N`, N, and the text after it.
fn next_placeholder(sql: &str) -> Option<(&str, usize, &str)> {
    let bytes = sql.as_bytes();
    let mut i = 0;
    while let Some(off) = sql[i..].find('$') {
        let at = i + off;
        let digits = bytes[at + 1..].iter().take_while(|b| b.is_ascii_digit()).count();
        if digits > 0 {
            let n = sql[at + 1..at + 1 + digits].parse().ok()?;
            return Some((&sql[..at], n, &sql[at + 1 + digits..]));
        }
        i = at + 1;
    }
    None
}

/// A row type every enabled backend can read: readable by SQLite when it
/// is built in, and by PostgreSQL when it is.
pub(crate) trait Row: SqliteRow + PgRow + 'static {}
impl<T: SqliteRow + PgRow + 'static> Row for T {}
#[cfg(feature = "sqlite")]
pub(crate) trait SqliteRow: QueryableByName<Sqlite> {}
#[cfg(feature = "sqlite")]
impl<T: QueryableByName<Sqlite>> SqliteRow for T {}
#[cfg(not(feature = "sqlite"))]
pub(crate) trait SqliteRow {}
#[cfg(not(feature = "sqlite"))]
impl<T> SqliteRow for T {}
#[cfg(feature = "postgres")]
pub(crate) trait PgRow: QueryableByName<Pg> {}
#[cfg(feature = "postgres")]
impl<T: QueryableByName<Pg>> PgRow for T {}
#[cfg(not(feature = "postgres"))]
pub(crate) trait PgRow {}
#[cfg(not(feature = "postgres"))]
impl<T> PgRow for T {}

/// SQL text: fixed (`&'static str`, cached prepared) or built at run time.
pub(crate) type SqlText = std::borrow::Cow<'static, str>;

impl Db<'_> {
    pub(crate) fn backend(&self) -> Backend {
        match self.conn {
            #[cfg(feature = "sqlite")]
            Conn::Sqlite(_) => Backend::Sqlite,
            #[cfg(feature = "postgres")]
            Conn::Pg(_) => Backend::Postgres,
        }
    }

    fn stmt(&self, sql: impl Into<SqlText>, binds: Vec<Bind>) -> Stmt {
        self.statements.sent.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let sql = sql.into();
        let cache = match &sql {
            std::borrow::Cow::Borrowed(_) => true,
            std::borrow::Cow::Owned(text) => self.statements.admit(text),
        };
        Stmt { sql: sql.into_owned(), binds, cache }
    }

    /// Runs a statement; the number of rows it touched.
    pub(crate) fn exec(&mut self, sql: impl Into<SqlText>, binds: Vec<Bind>) -> QueryResult<usize> {
        let q = self.stmt(sql, binds);
        match &mut self.conn {
            #[cfg(feature = "sqlite")]
            Conn::Sqlite(c) => q.execute(*c),
            #[cfg(feature = "postgres")]
            Conn::Pg(c) => q.execute(*c),
        }
    }

    /// Runs a query.
    pub(crate) fn load<T: Row>(&mut self, sql: impl Into<SqlText>, binds: Vec<Bind>) -> QueryResult<Vec<T>> {
        let q = self.stmt(sql, binds);
        match &mut self.conn {
            #[cfg(feature = "sqlite")]
            Conn::Sqlite(c) => q.load(*c),
            #[cfg(feature = "postgres")]
            Conn::Pg(c) => q.load(*c),
        }
    }

    /// Runs a query expected to return at most one row.
    pub(crate) fn first<T: Row>(&mut self, sql: impl Into<SqlText>, binds: Vec<Bind>) -> QueryResult<Option<T>> {
        Ok(self.load(sql, binds)?.into_iter().next())
    }
}

/// Distinct dynamic statement texts prepared once and kept per connection;
/// later new texts are prepared at each use. A prepared statement costs a
/// few KiB per connection: 128 of them on 9 connections stay under 10 MiB.
pub(crate) const DYNAMIC_CACHED: usize = 128;
/// Texts longer than this are never cached (a long `or` or a big id list
/// is rarely repeated).
const DYNAMIC_CACHED_LEN: usize = 2048;

/// Which dynamic texts the connections of one [`crate::Database`] keep
/// prepared: the first [`DYNAMIC_CACHED`] short texts seen *twice*. A text
/// is admitted on its second use, so shapes a client sends once (a fuzzer,
/// a one-off console search) do not take the places of the ones that
/// repeat; texts seen once are remembered up to a bound, then forgotten
/// together. Owned by the database (not the process), so two databases in
/// one process (a host's tests) do not share places.
#[derive(Default)]
pub(crate) struct Statements {
    kept: std::sync::RwLock<std::collections::HashSet<Box<str>>>,
    once: std::sync::Mutex<std::collections::HashSet<Box<str>>>,
    /// Statements sent, for [`crate::Database::statements_sent`].
    pub(crate) sent: std::sync::atomic::AtomicU64,
}

impl Statements {
    /// Whether `text` is (now) one of the kept texts.
    pub(crate) fn admit(&self, text: &str) -> bool {
        if text.len() > DYNAMIC_CACHED_LEN {
            return false;
        }
        if self.kept.read().unwrap_or_else(|p| p.into_inner()).contains(text) {
            return true;
        }
        let mut once = self.once.lock().unwrap_or_else(|p| p.into_inner());
        if !once.remove(text) {
            if once.len() >= DYNAMIC_CACHED * 8 {
                once.clear();
            }
            once.insert(text.into());
            return false;
        }
        drop(once);
        let mut kept = self.kept.write().unwrap_or_else(|p| p.into_inner());
        if kept.len() < DYNAMIC_CACHED || kept.contains(text) {
            kept.insert(text.into());
            true
        } else {
            false
        }
    }
}

/// A row with one integer column `n`.
#[derive(QueryableByName)]
pub(crate) struct Count {
    #[diesel(sql_type = BigInt)]
    pub(crate) n: i64,
}

/// A row with one text column `s`.
#[derive(QueryableByName)]
pub(crate) struct Str {
    #[diesel(sql_type = Text)]
    pub(crate) s: String,
}

/// An `IN (…)` list of `ids` whose parameters start at `first`: the
/// placeholders and the binds. The list is padded to a power of two by
/// repeating its last id (a repeat changes nothing in `IN`), so lists of
/// 1 to 500 ids come in ten statement texts, not 500 that would crowd the
/// prepared-statement cache ([`DYNAMIC_CACHED`]).
pub(crate) fn in_list<'a>(first: usize, ids: impl ExactSizeIterator<Item = &'a str>) -> (String, Vec<Bind>) {
    let n = ids.len();
    let mut binds: Vec<Bind> = Vec::with_capacity(n.next_power_of_two());
    binds.extend(ids.map(Bind::from));
    if let Some(last) = binds.last().cloned() {
        binds.resize(n.next_power_of_two(), last);
    }
    (placeholders(first, binds.len()), binds)
}

/// `$a, $b, …` for `n` parameters starting at `first`.
pub(crate) fn placeholders(first: usize, n: usize) -> String {
    (first..first + n).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_found_in_order_with_their_numbers() {
        let sql = "a = $1 AND b = $12 AND c = '$x' AND d = $1";
        let (before, n, rest) = next_placeholder(sql).unwrap_or_else(|| unreachable!());
        assert_eq!((before, n), ("a = ", 1));
        let (before, n, rest) = next_placeholder(rest).unwrap_or_else(|| unreachable!());
        assert_eq!((before, n), (" AND b = ", 12));
        let (before, n, rest) = next_placeholder(rest).unwrap_or_else(|| unreachable!());
        assert_eq!((before, n, rest), (" AND c = '$x' AND d = ", 1, ""));
        assert!(next_placeholder("no parameters, $ alone").is_none());
    }

    #[test]
    fn id_lists_are_padded_to_a_power_of_two_with_their_last_id() {
        let (sql, binds) = in_list(2, ["a", "b", "c"].into_iter());
        assert_eq!(sql, "$2, $3, $4, $5");
        assert_eq!(binds, vec![Bind::from("a"), Bind::from("b"), Bind::from("c"), Bind::from("c")]);
        let (sql, binds) = in_list(3, ["a"].into_iter());
        assert_eq!((sql.as_str(), binds.len()), ("$3", 1));
        let texts: std::collections::HashSet<String> =
            (1..=500).map(|n| in_list(2, std::iter::repeat_n("x", n)).0).collect();
        assert_eq!(texts.len(), 10, "1 to 500 ids: ten texts");
    }

    #[test]
    fn dynamic_texts_are_cached_from_their_second_use_up_to_the_bound() {
        let statements = Statements::default();
        let cached = |t: &str| statements.admit(t);
        let long = "x".repeat(DYNAMIC_CACHED_LEN + 1);
        assert!(!cached(&long) && !cached(&long), "long texts are never kept");
        let base = "SELECT 1 WHERE a = $1 -- test shape ";
        let first = format!("{base}0");
        assert!(!cached(&first), "a text seen once is not kept");
        assert!(cached(&first), "its second use keeps it");
        // Texts sent once each (a fuzzer) take no place.
        assert!((1..=DYNAMIC_CACHED * 2).all(|i| !cached(&format!("{base}once {i}"))));
        // Repeated texts fill the places that are left, and no more.
        let kept = (1..=DYNAMIC_CACHED * 2)
            .filter(|i| {
                let t = format!("{base}{i}");
                cached(&t);
                cached(&t)
            })
            .count();
        assert_eq!(kept, DYNAMIC_CACHED - 1, "the bound holds exactly");
        let late = format!("{base}late");
        assert!(!cached(&late) && !cached(&late), "past the bound nothing more is kept");
        assert!(cached(&first), "a kept text stays kept");
        let other = Statements::default();
        assert!(!other.admit(&first), "another database has places of its own");
    }
}
