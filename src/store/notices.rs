//! Failed and held messages whose authors have not been told yet.
//!
//! A notice is delivered at least once: claiming it leases it (until
//! `notice_after`) rather than clearing `needs_notice`, and only a DM that
//! went out clears it. A DM that failed is offered again at `notice_after`;
//! a process that died holding a lease lets it run out. `notice_attempts`
//! counts the tries so the caller can give up on one that keeps failing.

use chrono::{DateTime, Utc};

use super::{Db, Store, StoreError, on_db, stamp};
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
    /// Tries so far, this claim included.
    pub attempts: i32,
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
    notice_attempts: i32,
}

const CLAIM_SQLITE: &str = "
UPDATE scheduled_messages SET notice_after = $3, notice_attempts = notice_attempts + 1
WHERE id IN (SELECT id FROM scheduled_messages
             WHERE needs_notice AND (notice_after IS NULL OR notice_after <= $2)
             ORDER BY id LIMIT $1)
RETURNING id, author_id, team_id, user_id, channel_id, text, due_at, status, reason, notice_attempts";

/// SKIP LOCKED, then the lease: two processes never hold the same notice.
const CLAIM_POSTGRES: &str = "
UPDATE scheduled_messages AS m SET notice_after = $3, notice_attempts = m.notice_attempts + 1
FROM (SELECT id FROM scheduled_messages
      WHERE needs_notice AND (notice_after IS NULL OR notice_after <= $2)
      ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED) AS n
WHERE m.id = n.id
RETURNING m.id, m.author_id, m.team_id, m.user_id, m.channel_id, m.text, m.due_at, m.status,
          m.reason, m.notice_attempts";

impl Store {
    /// Takes up to `limit` notices that are due (never tried, or their
    /// retry time or lease has come), in one statement, leasing each until
    /// `lease_until`. Nobody else gets them before then.
    pub async fn claim_notices(
        &self,
        limit: i64,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> Result<Vec<Notice>, StoreError> {
        self.count_statement();
        let (now, lease_until) = (stamp(now), stamp(lease_until));
        let rows: Vec<NoticeRow> = match &self.db {
            Db::Sqlite(pool) => {
                sqlx::query_as(CLAIM_SQLITE)
                    .bind(limit)
                    .bind(now)
                    .bind(lease_until)
                    .fetch_all(pool)
                    .await?
            }
            Db::Postgres(pool) => {
                sqlx::query_as(CLAIM_POSTGRES)
                    .bind(limit)
                    .bind(now)
                    .bind(lease_until)
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
                    attempts: r.notice_attempts,
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        notices.sort_by_key(|n| n.id);
        Ok(notices)
    }
}

impl Store {
    /// The author was told: the notice is settled.
    pub async fn notice_sent(&self, id: i64) -> Result<(), StoreError> {
        self.settle_notice(id).await
    }

    /// The DM failed: offer the notice again at `retry_at`.
    pub async fn notice_failed(&self, id: i64, retry_at: DateTime<Utc>) -> Result<(), StoreError> {
        on_db!(self, |pool| sqlx::query(
            "UPDATE scheduled_messages SET notice_after = $2 WHERE id = $1 AND needs_notice"
        )
        .bind(id)
        .bind(stamp(retry_at))
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// The DM kept failing (or can never work): stop trying.
    pub async fn notice_given_up(&self, id: i64) -> Result<(), StoreError> {
        self.settle_notice(id).await
    }

    async fn settle_notice(&self, id: i64) -> Result<(), StoreError> {
        on_db!(self, |pool| sqlx::query(
            "UPDATE scheduled_messages
             SET needs_notice = FALSE, notice_attempts = 0, notice_after = NULL WHERE id = $1"
        )
        .bind(id)
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(())
    }
}
