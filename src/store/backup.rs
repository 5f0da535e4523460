//! A consistent copy of a SQLite database while it is in use.
//!
//! `VACUUM INTO` reads the database inside one read transaction, so the copy
//! is the database as of one instant even while the cycle and the HTTP
//! handlers keep writing (WAL lets them); it is also compacted.

use std::path::Path;

use super::{Db, Store, StoreError};

impl Store {
    /// Writes the database to `path`, which must not exist. SQLite only.
    pub async fn backup_into(&self, path: &Path) -> Result<(), StoreError> {
        let Db::Sqlite(pool) = &self.db else {
            return Err(StoreError::Unsupported(
                "a backup copy is made of SQLite databases only",
            ));
        };
        let target = path
            .to_str()
            .ok_or_else(|| StoreError::Corrupt("the backup path is not UTF-8".into()))?;
        self.count_statement();
        sqlx::query("VACUUM INTO $1")
            .bind(target)
            .execute(pool)
            .await?;
        Ok(())
    }

    /// SQLite's own consistency check: `ok`, or what is wrong.
    pub async fn integrity_check(&self) -> Result<String, StoreError> {
        let Db::Sqlite(pool) = &self.db else {
            return Ok("ok".to_owned());
        };
        self.count_statement();
        let rows: Vec<String> = sqlx::query_scalar("PRAGMA integrity_check")
            .fetch_all(pool)
            .await?;
        Ok(rows.join("; "))
    }
}
