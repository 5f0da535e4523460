//! The seed's delivery cycle, kept as the benchmark's "before"
//! (`slack-scheduler bench --strategy naive`; the loop is
//! `crate::bench::naive`): one query for every due message, then for each
//! message its author's row, a post and an update of its own. The app never
//! calls these; they are here because all SQL is.

use chrono::{DateTime, Utc};

use super::{Store, StoreError, on_db, stamp};

/// A due message as the seed's query read it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct NaiveDue {
    pub id: i64,
    pub author_id: i64,
    pub team_id: String,
    pub channel_id: String,
    pub text: String,
    pub due_at: DateTime<Utc>,
}

impl Store {
    /// Every pending message due by `now`, oldest first, in one query.
    pub async fn naive_due_messages(
        &self,
        now: DateTime<Utc>,
    ) -> Result<Vec<NaiveDue>, StoreError> {
        let rows = on_db!(self, |pool| sqlx::query_as(
            "SELECT id, author_id, team_id, channel_id, text, due_at FROM scheduled_messages
             WHERE status = 'pending' AND due_at <= $1 ORDER BY due_at"
        )
        .bind(stamp(now))
        .fetch_all(pool)
        .await)?;
        Ok(rows)
    }

    /// One message posted: its own update.
    pub async fn naive_mark_sent(
        &self,
        id: i64,
        ts: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        on_db!(self, |pool| sqlx::query(
            "UPDATE scheduled_messages SET status = 'sent', slack_ts = $2, sent_at = $3,
                 attempts = attempts + 1, wake_at = NULL, updated_at = $3
             WHERE id = $1 AND status = 'pending'"
        )
        .bind(id)
        .bind(ts)
        .bind(stamp(now))
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// One message refused: failed, with Slack's reason.
    pub async fn naive_mark_failed(
        &self,
        id: i64,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        on_db!(self, |pool| sqlx::query(
            "UPDATE scheduled_messages SET status = 'failed', reason = $2, attempts = attempts + 1,
                 wake_at = NULL, updated_at = $3
             WHERE id = $1 AND status = 'pending'"
        )
        .bind(id)
        .bind(reason)
        .bind(stamp(now))
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(())
    }
}
