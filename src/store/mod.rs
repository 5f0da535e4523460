//! The only module that writes SQL.
//!
//! One concrete [`Store`] holds whichever native pool `DATABASE_URL` names.
//! Most statements are written once with `$n` placeholders (both drivers
//! accept them) and run through [`on_db!`]; only the statements whose
//! dialects truly differ (the claim and the bulk outcome writes) have two
//! arms, side by side in one file.
//!
//! Timestamps are UTC. PostgreSQL keeps them as `timestamptz`; SQLite as
//! RFC 3339 text, which sorts chronologically because every value is written
//! by the same encoder with the same `+00:00` suffix (see [`stamp`]).

mod backup;
mod bench;
mod changes;
mod claim;
mod history;
mod keys;
mod messages;
mod naive;
mod notices;
mod outcomes;
mod records;
mod retention;
mod series;
mod series_changes;
mod stats;
mod status;
mod surface;
mod tokens;
mod users;
mod workspaces;

use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use chrono::{DateTime, DurationRound, Utc};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

use crate::crypto::{DecryptError, TokenCipher};

pub use bench::{DeliveryRow, SeedMessages, SeedUser};
pub use changes::{ChangeError, MessageCounts, MessageEdit};
pub use claim::{ClaimRequest, ClaimedMessage};
pub use keys::{ResealReport, SealedPair, TokenAudit};
pub use messages::{InsertError, MessageRecord, NewMessage, PostOptions};
pub use naive::NaiveDue;
pub use notices::Notice;
pub use outcomes::{OutcomeRecord, RecordReport};
pub use records::CheckItem;
pub use retention::SETTLED;
pub use series::{NewSeries, SeriesRecord, SeriesStatus};
pub use series_changes::SeriesEdit;
pub use stats::MessageStats;
pub use status::StatusSample;
pub use tokens::{RefreshRight, RefreshTake, TokenOwner};
pub use users::{
    Author, RequestContext, TokenGrant, TokenStatus, UserContext, UserCredentials, UserRecord,
};
pub use workspaces::{Installation, Workspace};

/// Runs `$body` against whichever pool is configured, counting one statement.
/// `$body` is written once and compiled for both drivers.
macro_rules! on_db {
    ($store:expr, |$pool:ident| $body:expr) => {{
        $store.count_statement();
        match &$store.db {
            $crate::store::Db::Sqlite($pool) => $body,
            $crate::store::Db::Postgres($pool) => $body,
        }
    }};
}
pub(crate) use on_db;

/// Runs `$body` inside one transaction on whichever pool is configured,
/// with `$tx` the transaction; commits when `$body` succeeds (`?` inside it
/// rolls back by dropping the transaction). `$body` is written once.
macro_rules! in_transaction {
    ($store:expr, |$tx:ident| $body:expr) => {{
        match &$store.db {
            $crate::store::Db::Sqlite(pool) => {
                let mut $tx = pool
                    .begin()
                    .await
                    .map_err($crate::store::StoreError::from)?;
                let out = $body;
                $tx.commit()
                    .await
                    .map_err($crate::store::StoreError::from)?;
                out
            }
            $crate::store::Db::Postgres(pool) => {
                let mut $tx = pool
                    .begin()
                    .await
                    .map_err($crate::store::StoreError::from)?;
                let out = $body;
                $tx.commit()
                    .await
                    .map_err($crate::store::StoreError::from)?;
                out
            }
        }
    }};
}
pub(crate) use in_transaction;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error(transparent)]
    Decrypt(#[from] DecryptError),
    #[error("DATABASE_URL must start with sqlite:// or postgres://")]
    UnsupportedUrl,
    #[error("{0}")]
    Unsupported(&'static str),
    #[error("a stored value is not valid: {0}")]
    Corrupt(String),
}

/// The database's migrations against the binary's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationStatus {
    /// Migrations this binary carries.
    pub known: usize,
    /// Known but not (successfully) applied.
    pub pending: Vec<i64>,
    /// Recorded as failed.
    pub failed: Vec<i64>,
    /// Applied by a newer binary than this one.
    pub unknown: Vec<i64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

#[derive(Debug, Clone)]
pub(crate) enum Db {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// The database, its token cipher and a count of the statements run through
/// this handle. Clones share the pool and the count; [`Store::counted`]
/// starts a fresh count over the same pool.
#[derive(Debug, Clone)]
pub struct Store {
    db: Db,
    cipher: TokenCipher,
    statements: Arc<AtomicU64>,
}

/// Each SQLite connection's page cache, in KiB (negative: a size, not pages).
const SQLITE_CACHE_KIB: &str = "-32768";
/// What all SQLite connections of the process may hold in memory together,
/// caches included, before SQLite reuses cached pages rather than grow.
const SQLITE_HEAP_BYTES: &str = "50331648";

/// Reads a [`Store`]'s statement count (its own and its clones').
#[derive(Debug, Clone, Default)]
pub struct StatementCount(Arc<AtomicU64>);

impl StatementCount {
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("migrations/postgres");

impl Store {
    /// Connects to `sqlite://…` (creating the file) or `postgres://…`.
    pub async fn connect(url: &str, cipher: TokenCipher) -> Result<Self, StoreError> {
        Self::connect_with(url, cipher, true).await
    }

    /// Connects to a database that must exist already: the operator's
    /// commands never create an empty SQLite file where they expected data.
    pub async fn connect_existing(url: &str, cipher: TokenCipher) -> Result<Self, StoreError> {
        Self::connect_with(url, cipher, false).await
    }

    async fn connect_with(
        url: &str,
        cipher: TokenCipher,
        create: bool,
    ) -> Result<Self, StoreError> {
        let db = if url.starts_with("sqlite:") {
            let options = SqliteConnectOptions::from_str(url)?
                .create_if_missing(create)
                // WAL lets the HTTP handlers read while the cycle writes; the
                // busy timeout turns brief write contention into a wait.
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(Duration::from_secs(10))
                .foreign_keys(true)
                // SQLite's default page cache (2 MB a connection) holds a
                // fraction of the author index and the users table once a
                // table has a million rows; every claim and outcome then
                // rereads pages from the OS. A larger cache per connection,
                // bounded for the whole process by the soft heap limit.
                .pragma("cache_size", SQLITE_CACHE_KIB)
                .pragma("soft_heap_limit", SQLITE_HEAP_BYTES);
            let pool = SqlitePoolOptions::new()
                .max_connections(8)
                .acquire_timeout(Duration::from_secs(10))
                .connect_with(options)
                .await?;
            Db::Sqlite(pool)
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            let options = PgConnectOptions::from_str(url)?;
            let pool = PgPoolOptions::new()
                .max_connections(16)
                .acquire_timeout(Duration::from_secs(10))
                .connect_with(options)
                .await?;
            Db::Postgres(pool)
        } else {
            return Err(StoreError::UnsupportedUrl);
        };
        Ok(Self {
            db,
            cipher,
            statements: Arc::default(),
        })
    }

    /// Applies pending migrations. On PostgreSQL sqlx holds an advisory lock
    /// while it does, so processes starting together do not race.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        match &self.db {
            Db::Sqlite(pool) => SQLITE_MIGRATIONS.run(pool).await?,
            Db::Postgres(pool) => POSTGRES_MIGRATIONS.run(pool).await?,
        }
        Ok(())
    }

    /// Which of the binary's migrations the database has applied (doctor).
    pub async fn migration_status(&self) -> Result<MigrationStatus, StoreError> {
        let migrator = match self.backend() {
            Backend::Sqlite => &SQLITE_MIGRATIONS,
            Backend::Postgres => &POSTGRES_MIGRATIONS,
        };
        let known: Vec<i64> = migrator
            .iter()
            .filter(|m| m.migration_type.is_up_migration())
            .map(|m| m.version)
            .collect();
        self.count_statement();
        let exists: bool = match &self.db {
            Db::Sqlite(pool) => sqlx::query_scalar(
                "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations')",
            )
            .fetch_one(pool)
            .await?,
            Db::Postgres(pool) => sqlx::query_scalar("SELECT to_regclass('_sqlx_migrations') IS NOT NULL")
                .fetch_one(pool)
                .await?,
        };
        let applied: Vec<(i64, bool)> = if exists {
            on_db!(self, |pool| sqlx::query_as(
                "SELECT version, success FROM _sqlx_migrations ORDER BY version"
            )
            .fetch_all(pool)
            .await)?
        } else {
            Vec::new()
        };
        Ok(MigrationStatus {
            pending: known
                .iter()
                .copied()
                .filter(|v| !applied.iter().any(|(a, ok)| a == v && *ok))
                .collect(),
            failed: applied
                .iter()
                .filter(|(_, ok)| !ok)
                .map(|(v, _)| *v)
                .collect(),
            unknown: applied
                .iter()
                .map(|(v, _)| *v)
                .filter(|v| !known.contains(v))
                .collect(),
            known: known.len(),
        })
    }

    pub fn backend(&self) -> Backend {
        match self.db {
            Db::Sqlite(_) => Backend::Sqlite,
            Db::Postgres(_) => Backend::Postgres,
        }
    }

    /// The same pool with its own statement count, so the delivery cycle can
    /// report exactly the statements it ran.
    pub fn counted(&self) -> Self {
        Self {
            db: self.db.clone(),
            cipher: self.cipher.clone(),
            statements: Arc::default(),
        }
    }

    /// Statements run through this handle (and its clones) so far.
    pub fn statements(&self) -> u64 {
        self.statements.load(Ordering::Relaxed)
    }

    /// A handle on this store's statement count, for whoever reports it.
    pub fn statement_count(&self) -> StatementCount {
        StatementCount(self.statements.clone())
    }

    fn count_statement(&self) {
        self.statements.fetch_add(1, Ordering::Relaxed);
    }

    /// Readiness: the database answers a trivial query.
    pub async fn ping(&self) -> Result<(), StoreError> {
        on_db!(self, |pool| sqlx::query("SELECT 1")
            .execute(pool)
            .await
            .map(|_| ()))?;
        Ok(())
    }

    /// The database's own clock (leases are reckoned in it; see `crate::clock`).
    pub async fn database_now(&self) -> Result<DateTime<Utc>, StoreError> {
        self.count_statement();
        let now = match &self.db {
            Db::Sqlite(pool) => {
                let text: String =
                    sqlx::query_scalar("SELECT strftime('%Y-%m-%dT%H:%M:%fZ', 'now')")
                        .fetch_one(pool)
                        .await?;
                DateTime::parse_from_rfc3339(&text)
                    .map_err(|e| StoreError::Corrupt(format!("the database's clock: {e}")))?
                    .with_timezone(&Utc)
            }
            Db::Postgres(pool) => {
                sqlx::query_scalar("SELECT clock_timestamp()")
                    .fetch_one(pool)
                    .await?
            }
        };
        Ok(now)
    }

    pub async fn close(&self) {
        match &self.db {
            Db::Sqlite(pool) => pool.close().await,
            Db::Postgres(pool) => pool.close().await,
        }
    }

    /// Runs a statement of the caller's own, for tests and operator tooling
    /// (fault injection with triggers, EXPLAIN). Not used by the app itself.
    pub async fn execute_raw(&self, sql: &str) -> Result<u64, StoreError> {
        let sql = sqlx::AssertSqlSafe(sql.to_owned());
        let done = on_db!(self, |pool| sqlx::raw_sql(sql)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(done)
    }

    /// The rows of a query of the caller's own, each column rendered as text
    /// (EXPLAIN output in tests and benchmarks).
    pub async fn query_text_raw(&self, sql: &str) -> Result<Vec<Vec<String>>, StoreError> {
        use sqlx::{Row, ValueRef};
        fn render<R: Row>(row: &R) -> Vec<String>
        where
            usize: sqlx::ColumnIndex<R>,
            for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
            for<'r> i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
        {
            (0..row.columns().len())
                .map(|i| {
                    if row.try_get_raw(i).map(|v| v.is_null()).unwrap_or(true) {
                        return "NULL".to_owned();
                    }
                    row.try_get::<String, _>(i)
                        .or_else(|_| row.try_get::<i64, _>(i).map(|n| n.to_string()))
                        .unwrap_or_else(|_| "?".to_owned())
                })
                .collect()
        }
        let sql = sqlx::AssertSqlSafe(sql.to_owned());
        let rows = on_db!(self, |pool| sqlx::query(sql)
            .fetch_all(pool)
            .await
            .map(|rows| rows.iter().map(render).collect::<Vec<_>>()))?;
        Ok(rows)
    }

    /// Where the token key came from (for messages that say what to fix).
    pub fn key_source(&self) -> &crate::crypto::KeySource {
        self.cipher.source()
    }

    /// The fingerprint of the key that seals.
    pub fn sealing_key_id(&self) -> String {
        self.cipher.sealing_key_id()
    }

    fn seal(&self, secret: &secrecy::SecretString, context: &str) -> Vec<u8> {
        self.cipher.seal(secret, context)
    }

    fn open(&self, sealed: &[u8], context: &str) -> Result<secrecy::SecretString, StoreError> {
        Ok(self.cipher.open(sealed, context)?)
    }
}

/// Every timestamp goes to the database at millisecond precision, the finest
/// both backends keep alike, so values read back compare equal to those written.
pub(crate) fn stamp(at: DateTime<Utc>) -> DateTime<Utc> {
    at.duration_trunc(chrono::Duration::milliseconds(1))
        .unwrap_or(at)
}

/// The text SQLite stores for a timestamp: exactly what sqlx's encoder writes,
/// so values that travel inside JSON (the bulk writes) compare like bound ones.
pub(crate) fn sqlite_text(at: DateTime<Utc>) -> String {
    stamp(at).to_rfc3339_opts(chrono::SecondsFormat::AutoSi, false)
}
