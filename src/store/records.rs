//! What authors are shown beyond a message's status: where the posted
//! message is (its permalink), and what the checks made ahead of the due
//! time found (a warning).

use chrono::{DateTime, Utc};

use super::{Db, Store, StoreError, on_db, stamp};
use crate::domain::MessageStatus;

/// A message whose check ahead of time is due.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckItem {
    pub id: i64,
    pub author_id: i64,
    pub team_id: String,
    pub user_id: String,
    pub channel_id: String,
    pub due_at: DateTime<Utc>,
    pub status: MessageStatus,
}

#[derive(sqlx::FromRow)]
struct CheckRow {
    id: i64,
    author_id: i64,
    team_id: String,
    user_id: String,
    channel_id: String,
    due_at: DateTime<Utc>,
    status: String,
}

const CLAIM_CHECKS_SQLITE: &str = "
UPDATE scheduled_messages SET check_at = NULL
WHERE id IN (SELECT id FROM scheduled_messages WHERE check_at <= $1 ORDER BY check_at LIMIT $2)
RETURNING id, author_id, team_id, user_id, channel_id, due_at, status";

/// SKIP LOCKED: processes share the checks without waiting on each other.
const CLAIM_CHECKS_POSTGRES: &str = "
WITH due AS (
    SELECT id FROM scheduled_messages WHERE check_at <= $1
    ORDER BY check_at LIMIT $2 FOR UPDATE SKIP LOCKED
)
UPDATE scheduled_messages AS m SET check_at = NULL
FROM due WHERE m.id = due.id
RETURNING m.id, m.author_id, m.team_id, m.user_id, m.channel_id, m.due_at, m.status";

impl Store {
    /// Takes up to `limit` messages whose check ahead of time is due, each
    /// once (a check lost to a crash is not made again: the message is
    /// still posted or failed in plain words at its time). Settled ones come
    /// back too, with their status, so that their entries leave the index.
    pub async fn claim_checks(
        &self,
        now: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<CheckItem>, StoreError> {
        self.count_statement();
        let rows: Vec<CheckRow> = match &self.db {
            Db::Sqlite(pool) => {
                sqlx::query_as(CLAIM_CHECKS_SQLITE)
                    .bind(stamp(now))
                    .bind(limit)
                    .fetch_all(pool)
                    .await?
            }
            Db::Postgres(pool) => {
                sqlx::query_as(CLAIM_CHECKS_POSTGRES)
                    .bind(stamp(now))
                    .bind(limit)
                    .fetch_all(pool)
                    .await?
            }
        };
        rows.into_iter()
            .map(|row| {
                let status = MessageStatus::parse(&row.status).ok_or_else(|| {
                    StoreError::Corrupt(format!("message status {:?}", row.status))
                })?;
                Ok(CheckItem {
                    id: row.id,
                    author_id: row.author_id,
                    team_id: row.team_id,
                    user_id: row.user_id,
                    channel_id: row.channel_id,
                    due_at: row.due_at,
                    status,
                })
            })
            .collect()
    }

    /// When the next check ahead of time is due, read off its index.
    pub async fn next_check_at(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        let at: Option<DateTime<Utc>> = on_db!(self, |pool| sqlx::query_scalar(
            "SELECT MIN(check_at) FROM scheduled_messages WHERE check_at IS NOT NULL"
        )
        .fetch_one(pool)
        .await)?;
        Ok(at)
    }

    /// Records what a check found on waiting messages (`None`: nothing
    /// wrong). An annotation, not a change: `updated_at` stays, and rows
    /// that already say so are not written.
    pub async fn record_warning(
        &self,
        ids: &[i64],
        warning: Option<&str>,
    ) -> Result<(), StoreError> {
        if ids.is_empty() {
            return Ok(());
        }
        let list = serde_json::to_string(ids).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        self.count_statement();
        match &self.db {
            Db::Sqlite(pool) => {
                sqlx::query(
                    "UPDATE scheduled_messages SET warning = $2
                     WHERE id IN (SELECT value FROM json_each($1))
                       AND status IN ('pending', 'held') AND warning IS NOT $2",
                )
                .bind(list)
                .bind(warning)
                .execute(pool)
                .await?;
            }
            Db::Postgres(pool) => {
                sqlx::query(
                    "UPDATE scheduled_messages SET warning = $2
                     WHERE id = ANY($1) AND status IN ('pending', 'held')
                       AND warning IS DISTINCT FROM $2",
                )
                .bind(ids)
                .bind(warning)
                .execute(pool)
                .await?;
            }
        }
        Ok(())
    }

    /// Keeps where a posted message is.
    pub async fn set_permalink(&self, id: i64, permalink: &str) -> Result<(), StoreError> {
        on_db!(self, |pool| sqlx::query(
            "UPDATE scheduled_messages SET permalink = $2 WHERE id = $1 AND status = 'sent'"
        )
        .bind(id)
        .bind(permalink)
        .execute(pool)
        .await
        .map(|_| ()))?;
        Ok(())
    }
}
