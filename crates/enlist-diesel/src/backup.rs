//! Online backup of a SQLite database: `VACUUM INTO` writes a consistent
//! copy (one read transaction's view) while the server keeps serving.
//! PostgreSQL has its own tools (`pg_dump`), documented instead.

use crate::Database;
use std::path::Path;

/// Why a backup could not be made.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    /// The database is PostgreSQL.
    #[error(
        "enlist backup copies SQLite databases; for PostgreSQL use pg_dump (pg_dump -Fc DBNAME > enlist.dump) or \
         continuous archiving, as docs/operations.md describes"
    )]
    NotSqlite,
    /// The destination exists: a backup never overwrites.
    #[error("{0} already exists; choose a new path (a backup never overwrites a file)")]
    Exists(String),
    /// SQLite refused.
    #[error("the backup failed: {0}. Check that the destination's directory exists and is writable, and that the disk has room")]
    Failed(String),
}

impl Database {
    /// Writes a consistent copy of this SQLite database to `dest` (a new
    /// file) without stopping writers: every write committed before the
    /// copy began is in it. Blocking: call from a blocking context.
    ///
    /// # Errors
    /// [`BackupError`], saying what to do.
    pub fn backup_to(&self, dest: &Path) -> Result<(), BackupError> {
        #[cfg(feature = "sqlite")]
        #[allow(irrefutable_let_patterns)] // without the postgres feature
        if let crate::Pools::Sqlite(pool) = &*self.pools {
            return sqlite::backup(pool, dest);
        }
        let _ = dest;
        Err(BackupError::NotSqlite)
    }

    /// The size in bytes of the SQLite database file (for a backup's
    /// progress), or `None` on PostgreSQL.
    pub fn sqlite_file_size(&self) -> Option<u64> {
        #[cfg(feature = "sqlite")]
        #[allow(irrefutable_let_patterns)] // without the postgres feature
        if let crate::Pools::Sqlite(pool) = &*self.pools {
            return sqlite::file_size(pool);
        }
        None
    }
}

#[cfg(feature = "sqlite")]
mod sqlite {
    use super::BackupError;
    use diesel::connection::SimpleConnection;
    use diesel::r2d2::{ConnectionManager, Pool};
    use diesel::SqliteConnection;
    use std::path::Path;

    type Sqlite = Pool<ConnectionManager<SqliteConnection>>;

    pub(super) fn backup(pool: &Sqlite, dest: &Path) -> Result<(), BackupError> {
        if dest.exists() {
            return Err(BackupError::Exists(dest.display().to_string()));
        }
        let target = dest.to_str().ok_or_else(|| BackupError::Failed("the path is not UTF-8".into()))?;
        let mut conn = pool.get().map_err(|e| BackupError::Failed(e.to_string()))?;
        // A quoted SQL string literal: the only quote to escape is '.
        conn.batch_execute(&format!("VACUUM INTO '{}'", target.replace('\'', "''")))
            .map_err(|e| BackupError::Failed(e.to_string()))
    }

    pub(super) fn file_size(pool: &Sqlite) -> Option<u64> {
        let mut conn = pool.get().ok()?;
        #[derive(diesel::QueryableByName)]
        struct Size {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            bytes: i64,
        }
        use diesel::RunQueryDsl;
        let size: Size =
            diesel::sql_query("SELECT page_count * page_size AS bytes FROM pragma_page_count(), pragma_page_size()")
                .get_result(&mut *conn)
                .ok()?;
        u64::try_from(size.bytes).ok()
    }
}
