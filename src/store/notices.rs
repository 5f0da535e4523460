//! Failed and held messages whose authors have not been told yet.

use chrono::{DateTime, Utc};

use super::{Db, Store, StoreError};
use crate::domain::MessageStatus;

/// A message its author must hear about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    pub id: i64,
    pub author_id: i64,
    pub team_id: String,
    pub user_id: String,
    pub channel_id: String,
    pub text: String,
    pub due_at: DateTime<Utc>,
    pub status: MessageStatus,
    pub reason: Option<String>,
}

#[derive(sqlx::FromRow)]
struct NoticeRow {
    id: i64,
    author_id: i64,
    team_id: String,
    user_id: String,
    channel_id: String,
    text: String,
    due_at: DateTime<Utc>,
    status: String,
    reason: Option<String>,
}

const CLAIM_SQLITE: &str = "
UPDATE scheduled_messages SET needs_notice = FALSE
WHERE id IN (SELECT id FROM scheduled_messages WHERE needs_notice ORDER BY id LIMIT $1)
RETURNING id, author_id, team_id, user_id, channel_id, text, due_at, status, reason";

/// SKIP LOCKED: two processes never tell an author the same thing twice.
const CLAIM_POSTGRES: &str = "
UPDATE scheduled_messages AS m SET needs_notice = FALSE
FROM (SELECT id FROM scheduled_messages WHERE needs_notice ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED) AS n
WHERE m.id = n.id
RETURNING m.id, m.author_id, m.team_id, m.user_id, m.channel_id, m.text, m.due_at, m.status, m.reason";

impl Store {
    /// Takes up to `limit` pending notices, in one statement. Each is handed
    /// out once: a notice whose DM then fails is logged, not retried.
    pub async fn claim_notices(&self, limit: i64) -> Result<Vec<Notice>, StoreError> {
        self.count_statement();
        let rows: Vec<NoticeRow> = match &self.db {
            Db::Sqlite(pool) => {
                sqlx::query_as(CLAIM_SQLITE)
                    .bind(limit)
                    .fetch_all(pool)
                    .await?
            }
            Db::Postgres(pool) => {
                sqlx::query_as(CLAIM_POSTGRES)
                    .bind(limit)
                    .fetch_all(pool)
                    .await?
            }
        };
        let mut notices = rows
            .into_iter()
            .map(|r| {
                let status = MessageStatus::parse(&r.status)
                    .ok_or_else(|| StoreError::Corrupt(format!("message status {:?}", r.status)))?;
                Ok(Notice {
                    id: r.id,
                    author_id: r.author_id,
                    team_id: r.team_id,
                    user_id: r.user_id,
                    channel_id: r.channel_id,
                    text: r.text,
                    due_at: r.due_at,
                    status,
                    reason: r.reason,
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        notices.sort_by_key(|n| n.id);
        Ok(notices)
    }
}
