//! Each workspace's `conversations.history` budget, shared by every process
//! on the database: one row per workspace with the earliest time the next
//! look-up may be made.

use chrono::{DateTime, Utc};

use super::{Store, StoreError, on_db, stamp};

impl Store {
    /// Takes the next history call of the workspace's budget: `Ok(None)`
    /// when it is ours now (the one after it is then not before `next`),
    /// else when the budget allows the next one. One statement.
    pub async fn take_history_call(
        &self,
        team_id: &str,
        now: DateTime<Utc>,
        next: DateTime<Utc>,
    ) -> Result<Option<DateTime<Utc>>, StoreError> {
        let taker = hex::encode(rand::random::<[u8; 8]>());
        // Both SET expressions see the row as it was, so they agree.
        let (next_at, taken): (DateTime<Utc>, bool) = on_db!(self, |pool| sqlx::query_as(
            "INSERT INTO history_budget (team_id, next_at, taker) VALUES ($1, $3, $4)
             ON CONFLICT (team_id) DO UPDATE SET
                 next_at = CASE WHEN history_budget.next_at <= $2 THEN $3
                                ELSE history_budget.next_at END,
                 taker = CASE WHEN history_budget.next_at <= $2 THEN $4
                              ELSE history_budget.taker END
             RETURNING next_at, taker = $4"
        )
        .bind(team_id)
        .bind(stamp(now))
        .bind(stamp(next))
        .bind(&taker)
        .fetch_one(pool)
        .await)?;
        Ok((!taken).then_some(next_at))
    }

    /// Slack said the workspace's history is rate limited until `until`:
    /// the call that was refused took none of the budget, and Slack's word
    /// decides when the next one may be made.
    pub async fn defer_history_calls(
        &self,
        team_id: &str,
        until: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        on_db!(self, |pool| sqlx::query(
            "INSERT INTO history_budget (team_id, next_at, taker) VALUES ($1, $2, 'slack')
             ON CONFLICT (team_id) DO UPDATE SET next_at = excluded.next_at"
        )
        .bind(team_id)
        .bind(stamp(until))
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(())
    }
}
