//! The operator's figures: what is waiting, and what was sent or failed.
//!
//! Counts come from `message_counts`, which triggers keep exact on every
//! write, so they cost the same with a thousand messages or ten million;
//! the earliest and latest pending due times are the ends of an index.

use chrono::{DateTime, Utc};

use super::{Db, Store, StoreError, on_db};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageStats {
    pub pending: i64,
    pub earliest_pending: Option<DateTime<Utc>>,
    pub latest_pending: Option<DateTime<Utc>>,
    pub sent: i64,
    pub failed: i64,
    pub held: i64,
    pub sending: i64,
    pub skipped: i64,
}

#[derive(sqlx::FromRow)]
struct Range {
    earliest: Option<DateTime<Utc>>,
    latest: Option<DateTime<Utc>>,
}

impl Store {
    /// Figures for the whole deployment, or for one workspace.
    pub async fn message_stats(&self, team_id: Option<&str>) -> Result<MessageStats, StoreError> {
        let (counts, range): (Vec<(String, i64)>, Range) = match team_id {
            None => {
                let counts = on_db!(self, |pool| sqlx::query_as(
                    "SELECT status, CAST(SUM(n) AS BIGINT) FROM message_counts GROUP BY status"
                )
                .fetch_all(pool)
                .await)?;
                // SQLite's planner may prefer a skip-scan of the author index
                // when its statistics show few authors; name the right index.
                self.count_statement();
                let range = match &self.db {
                    Db::Sqlite(pool) => sqlx::query_as(
                        "SELECT (SELECT due_at FROM scheduled_messages INDEXED BY scheduled_messages_pending_due
                                 WHERE status = 'pending' ORDER BY due_at LIMIT 1) AS earliest,
                                (SELECT due_at FROM scheduled_messages INDEXED BY scheduled_messages_pending_due
                                 WHERE status = 'pending' ORDER BY due_at DESC LIMIT 1) AS latest",
                    )
                    .fetch_one(pool)
                    .await?,
                    Db::Postgres(pool) => sqlx::query_as(
                        "SELECT (SELECT due_at FROM scheduled_messages WHERE status = 'pending' ORDER BY due_at LIMIT 1) AS earliest,
                                (SELECT due_at FROM scheduled_messages WHERE status = 'pending' ORDER BY due_at DESC LIMIT 1) AS latest",
                    )
                    .fetch_one(pool)
                    .await?,
                };
                (counts, range)
            }
            Some(team_id) => {
                let counts = on_db!(self, |pool| sqlx::query_as(
                    "SELECT status, n FROM message_counts WHERE team_id = $1"
                )
                .bind(team_id)
                .fetch_all(pool)
                .await)?;
                let range = on_db!(self, |pool| {
                    sqlx::query_as(
                    "SELECT (SELECT due_at FROM scheduled_messages WHERE status = 'pending' AND team_id = $1 ORDER BY due_at LIMIT 1) AS earliest,
                            (SELECT due_at FROM scheduled_messages WHERE status = 'pending' AND team_id = $1 ORDER BY due_at DESC LIMIT 1) AS latest"
                )
                .bind(team_id)
                .fetch_one(pool)
                .await
                })?;
                (counts, range)
            }
        };
        let count = |status: &str| {
            counts
                .iter()
                .filter(|(s, _)| s == status)
                .map(|(_, n)| *n)
                .sum::<i64>()
        };
        Ok(MessageStats {
            pending: count("pending"),
            earliest_pending: range.earliest,
            latest_pending: range.latest,
            sent: count("sent"),
            failed: count("failed"),
            held: count("held"),
            sending: count("sending"),
            skipped: count("skipped"),
        })
    }
}
