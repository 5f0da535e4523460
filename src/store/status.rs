//! What the status page reads besides the counts: the samples behind its
//! 24-hour chart, and how many authors have messages held.

use chrono::{DateTime, Utc};

use super::{MessageStats, Store, StoreError, on_db, stamp};

/// The counts at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::FromRow)]
pub struct StatusSample {
    pub taken_at: DateTime<Utc>,
    pub pending: i64,
    /// Running totals.
    pub sent: i64,
    pub failed: i64,
    pub held: i64,
}

impl StatusSample {
    pub fn of(taken_at: DateTime<Utc>, stats: &MessageStats) -> Self {
        Self {
            taken_at,
            pending: stats.pending,
            sent: stats.sent,
            failed: stats.failed,
            held: stats.held,
        }
    }
}

impl Store {
    /// Stores a sample unless one was already taken for that slot (by
    /// another process); returns whether this one was stored.
    pub async fn record_status_sample(&self, sample: &StatusSample) -> Result<bool, StoreError> {
        let stored = on_db!(self, |pool| sqlx::query(
            "INSERT INTO status_samples (taken_at, pending, sent, failed, held)
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (taken_at) DO NOTHING"
        )
        .bind(stamp(sample.taken_at))
        .bind(sample.pending)
        .bind(sample.sent)
        .bind(sample.failed)
        .bind(sample.held)
        .execute(pool)
        .await
        .map(|r| r.rows_affected() == 1))?;
        Ok(stored)
    }

    /// Samples taken at or after `since`, oldest first.
    pub async fn status_samples(
        &self,
        since: DateTime<Utc>,
    ) -> Result<Vec<StatusSample>, StoreError> {
        let samples = on_db!(self, |pool| sqlx::query_as(
            "SELECT taken_at, pending, sent, failed, held FROM status_samples
             WHERE taken_at >= $1 ORDER BY taken_at"
        )
        .bind(stamp(since))
        .fetch_all(pool)
        .await)?;
        Ok(samples)
    }

    /// Forgets samples older than `before`.
    pub async fn prune_status_samples(&self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        let pruned = on_db!(self, |pool| sqlx::query(
            "DELETE FROM status_samples WHERE taken_at < $1"
        )
        .bind(stamp(before))
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(pruned)
    }

    /// Authors with at least one held message (their token stopped working).
    pub async fn held_users(&self) -> Result<i64, StoreError> {
        let count = on_db!(self, |pool| sqlx::query_scalar(
            "SELECT COUNT(DISTINCT author_id) FROM scheduled_messages WHERE status = 'held'"
        )
        .fetch_one(pool)
        .await)?;
        Ok(count)
    }
}
