//! Connections on two backends from one code base. Every statement is
//! written once, with `$n` placeholders, and run through [`Db`], which
//! dispatches to SQLite or PostgreSQL; the few statements that differ
//! branch on [`Backend`].

use diesel::pg::Pg;
use diesel::sql_types::{BigInt, Bool, Nullable, Text};
use diesel::sqlite::Sqlite;
use diesel::{PgConnection, QueryResult, QueryableByName, RunQueryDsl, SqliteConnection};

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

/// A connection inside a transaction.
pub(crate) enum Db<'c> {
    Sqlite(&'c mut SqliteConnection),
    Pg(&'c mut PgConnection),
}

/// SQLite reads `?NNN` as "parameter NNN"; PostgreSQL reads `$NNN`. The SQL
/// is written with `$NNN` and rewritten here for SQLite.
pub(crate) fn dialect(sql: &str, backend: Backend) -> std::borrow::Cow<'_, str> {
    if backend == Backend::Postgres || !sql.contains('$') {
        return sql.into();
    }
    let mut out = String::with_capacity(sql.len());
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '$' && chars.peek().is_some_and(char::is_ascii_digit) {
            out.push('?');
        } else {
            out.push(c);
        }
    }
    out.into()
}

macro_rules! boxed {
    ($db:ty, $sql:expr, $binds:expr) => {{
        let mut q = diesel::sql_query($sql).into_boxed::<$db>();
        for b in $binds {
            q = match b {
                Bind::Text(s) => q.bind::<Text, _>(s),
                Bind::OptText(s) => q.bind::<Nullable<Text>, _>(s),
                Bind::Int(i) => q.bind::<BigInt, _>(i),
                Bind::OptInt(i) => q.bind::<Nullable<BigInt>, _>(i),
                Bind::Bool(v) => q.bind::<Bool, _>(v),
            };
        }
        q
    }};
}

impl Db<'_> {
    pub(crate) fn backend(&self) -> Backend {
        match self {
            Db::Sqlite(_) => Backend::Sqlite,
            Db::Pg(_) => Backend::Postgres,
        }
    }

    /// Runs a statement; the number of rows it touched.
    pub(crate) fn exec(&mut self, sql: &str, binds: Vec<Bind>) -> QueryResult<usize> {
        let backend = self.backend();
        let sql = dialect(sql, backend).into_owned();
        match self {
            Db::Sqlite(c) => boxed!(Sqlite, sql, binds).execute(*c),
            Db::Pg(c) => boxed!(Pg, sql, binds).execute(*c),
        }
    }

    /// Runs a query.
    pub(crate) fn load<T>(&mut self, sql: &str, binds: Vec<Bind>) -> QueryResult<Vec<T>>
    where
        T: QueryableByName<Sqlite> + QueryableByName<Pg> + 'static,
    {
        let backend = self.backend();
        let sql = dialect(sql, backend).into_owned();
        match self {
            Db::Sqlite(c) => boxed!(Sqlite, sql, binds).load(*c),
            Db::Pg(c) => boxed!(Pg, sql, binds).load(*c),
        }
    }

    /// Runs a query expected to return at most one row.
    pub(crate) fn first<T>(&mut self, sql: &str, binds: Vec<Bind>) -> QueryResult<Option<T>>
    where
        T: QueryableByName<Sqlite> + QueryableByName<Pg> + 'static,
    {
        Ok(self.load(sql, binds)?.into_iter().next())
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

/// `$a, $b, …` for `n` parameters starting at `first`.
pub(crate) fn placeholders(first: usize, n: usize) -> String {
    (first..first + n).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_placeholders_are_numbered_question_marks() {
        assert_eq!(dialect("a = $1 AND b = $12 AND c = '$x'", Backend::Sqlite), "a = ?1 AND b = ?12 AND c = '$x'");
        assert_eq!(dialect("a = $1", Backend::Postgres), "a = $1");
    }
}
