//! Single-use OAuth states, handled Events API deliveries, and the
//! trigger ids of user actions already acted on.

use chrono::{DateTime, Duration, Utc};

use super::{Store, StoreError, on_db, stamp};

/// How long handled event ids are remembered (Slack retries within minutes).
const EVENT_MEMORY: Duration = Duration::days(1);

impl Store {
    /// Remembers an OAuth state (by its hash) until `expires_at`; forgets
    /// states that expired long ago on the way.
    pub async fn create_oauth_state(
        &self,
        state_hash: &str,
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        on_db!(self, |pool| sqlx::query(
            "DELETE FROM oauth_states WHERE expires_at < $1"
        )
        .bind(stamp(now - Duration::hours(1)))
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?;
        on_db!(self, |pool| sqlx::query(
            "INSERT INTO oauth_states (state_hash, created_at, expires_at) VALUES ($1, $2, $3)"
        )
        .bind(state_hash)
        .bind(stamp(now))
        .bind(stamp(expires_at))
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// Uses up an OAuth state: true only the first time, and only before it expires.
    pub async fn consume_oauth_state(
        &self,
        state_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let used = on_db!(self, |pool| sqlx::query(
            "DELETE FROM oauth_states WHERE state_hash = $1 AND expires_at > $2"
        )
        .bind(state_hash)
        .bind(stamp(now))
        .execute(pool)
        .await
        .map(|r| r.rows_affected() == 1))?;
        Ok(used)
    }

    /// Records an Events API delivery as handled (once its work is done):
    /// true the first time its id is recorded.
    pub async fn record_event(
        &self,
        event_id: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let first = on_db!(self, |pool| {
            sqlx::query(
            "INSERT INTO slack_events (event_id, received_at) VALUES ($1, $2) ON CONFLICT (event_id) DO NOTHING"
        )
        .bind(event_id)
        .bind(stamp(now))
        .execute(pool)
        .await
        .map(|r| r.rows_affected() == 1)
        })?;
        if first && rand::random_range(0..100) == 0 {
            // Now and then, forget deliveries too old to be retried.
            on_db!(self, |pool| sqlx::query(
                "DELETE FROM slack_events WHERE received_at < $1"
            )
            .bind(stamp(now - EVENT_MEMORY))
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))?;
        }
        Ok(first)
    }
}

impl Store {
    /// Whether an Events API delivery with this id was already handled.
    pub async fn event_handled(&self, event_id: &str) -> Result<bool, StoreError> {
        let seen: i64 = on_db!(self, |pool| sqlx::query_scalar(
            "SELECT COUNT(*) FROM slack_events WHERE event_id = $1"
        )
        .bind(event_id)
        .fetch_one(pool)
        .await)?;
        Ok(seen > 0)
    }
}

/// How long acted-on trigger ids are remembered: longer than a signature
/// stays valid (five minutes), so a replay is always recognised.
const TRIGGER_MEMORY: Duration = Duration::minutes(15);

impl Store {
    /// Records the `trigger_id` of a user action about to be acted on: true
    /// the first time, false for a replay of the same request. One
    /// statement: old ids are forgotten in the background
    /// ([`Store::forget_old_triggers`]), not on a user's request.
    pub async fn record_trigger(
        &self,
        trigger_id: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let first = on_db!(self, |pool| sqlx::query(
            "INSERT INTO slack_triggers (trigger_id, received_at) VALUES ($1, $2)
             ON CONFLICT (trigger_id) DO NOTHING"
        )
        .bind(trigger_id)
        .bind(stamp(now))
        .execute(pool)
        .await
        .map(|r| r.rows_affected() == 1))?;
        Ok(first)
    }

    /// Forgets trigger ids older than any replay could be; returns how many.
    pub async fn forget_old_triggers(&self, now: DateTime<Utc>) -> Result<u64, StoreError> {
        let forgotten = on_db!(self, |pool| sqlx::query(
            "DELETE FROM slack_triggers WHERE received_at < $1"
        )
        .bind(stamp(now - TRIGGER_MEMORY))
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(forgotten)
    }
}
