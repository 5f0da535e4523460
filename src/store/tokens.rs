//! Rotating token pairs, a user's or a workspace's bot's, and the right to
//! refresh them.
//!
//! Slack's refresh tokens work once: two refreshes with the same one lose the
//! pair. So a refresh is taken as a right (a lease on the row, renewed while
//! the call to Slack lasts), and every write after a refresh names the
//! generation it was based on: a pair stored meanwhile (a reconnect, another
//! process's refresh) is never overwritten by a stale result, nor wiped by a
//! refusal of a token it already replaced.

use chrono::{DateTime, Utc};
use secrecy::SecretString;

use super::users::{TokenGrant, token_context};
use super::workspaces::bot_context;
use super::{Store, StoreError, on_db, stamp};

/// Whose token pair.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum TokenOwner {
    /// A user's own pair, by our row id (team and user bind the sealing).
    User {
        id: i64,
        team_id: String,
        user_id: String,
    },
    /// A workspace's bot pair.
    Bot { team_id: String },
}

impl TokenOwner {
    pub fn team_id(&self) -> &str {
        match self {
            Self::User { team_id, .. } | Self::Bot { team_id } => team_id,
        }
    }

    /// `user` or `bot`, for logs and metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::User { .. } => "user",
            Self::Bot { .. } => "bot",
        }
    }

    fn context(&self, kind: &str) -> String {
        match self {
            Self::User {
                team_id, user_id, ..
            } => token_context(team_id, user_id, kind),
            Self::Bot { team_id } => bot_context(team_id, kind),
        }
    }
}

/// The right to refresh one pair: the refresh token as stored when the
/// right was taken, and the generation every write must name.
#[derive(Debug, Clone)]
pub struct RefreshRight {
    pub generation: i64,
    pub refresh_token: SecretString,
}

/// What taking a refresh right found.
#[derive(Debug, Clone)]
pub enum RefreshTake {
    /// The right is ours.
    Taken(RefreshRight),
    /// Someone else holds it, or the pair changed since it was read (its
    /// current generation is given): read the row again.
    Busy { generation: i64 },
    /// Nothing to refresh: no row, no refresh token, or credentials refused.
    Gone,
}

#[derive(sqlx::FromRow)]
struct TakeRow {
    generation: i64,
    refresh_token: Option<Vec<u8>>,
    taken: bool,
}

impl Store {
    /// Takes the right to refresh `owner`'s pair, if nobody holds it and it
    /// is still `generation` (or any, for `None`). One statement, which also
    /// re-reads the refresh token to use.
    pub async fn take_refresh_right(
        &self,
        owner: &TokenOwner,
        generation: Option<i64>,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> Result<RefreshTake, StoreError> {
        // The CASE keeps the statement one round trip whether or not the
        // right is free: RETURNING then tells which it was.
        let taker = hex::encode(rand::random::<[u8; 8]>());
        // Both SET expressions see the row as it was, so they agree on
        // whether the right was free.
        let row: Option<TakeRow> = match owner {
            TokenOwner::User { id, .. } => on_db!(self, |pool| sqlx::query_as(
                "UPDATE users SET
                     refresh_lock_until = CASE
                         WHEN (refresh_lock_until IS NULL OR refresh_lock_until <= $2)
                              AND ($4 IS NULL OR token_generation = $4)
                         THEN $3 ELSE refresh_lock_until END,
                     refresh_lock_owner = CASE
                         WHEN (refresh_lock_until IS NULL OR refresh_lock_until <= $2)
                              AND ($4 IS NULL OR token_generation = $4)
                         THEN $5 ELSE refresh_lock_owner END
                 WHERE id = $1 AND token_status = 'active' AND refresh_token IS NOT NULL
                 RETURNING token_generation AS generation, refresh_token,
                           COALESCE(refresh_lock_owner = $5, FALSE) AS taken"
            )
            .bind(id)
            .bind(stamp(now))
            .bind(stamp(lease_until))
            .bind(generation)
            .bind(&taker)
            .fetch_optional(pool)
            .await)?,
            TokenOwner::Bot { team_id } => on_db!(self, |pool| sqlx::query_as(
                "UPDATE workspaces SET
                     bot_refresh_lock_until = CASE
                         WHEN (bot_refresh_lock_until IS NULL OR bot_refresh_lock_until <= $2)
                              AND ($4 IS NULL OR bot_token_generation = $4)
                         THEN $3 ELSE bot_refresh_lock_until END,
                     bot_refresh_lock_owner = CASE
                         WHEN (bot_refresh_lock_until IS NULL OR bot_refresh_lock_until <= $2)
                              AND ($4 IS NULL OR bot_token_generation = $4)
                         THEN $5 ELSE bot_refresh_lock_owner END
                 WHERE team_id = $1 AND bot_refresh_token IS NOT NULL
                 RETURNING bot_token_generation AS generation, bot_refresh_token AS refresh_token,
                           COALESCE(bot_refresh_lock_owner = $5, FALSE) AS taken"
            )
            .bind(team_id)
            .bind(stamp(now))
            .bind(stamp(lease_until))
            .bind(generation)
            .bind(&taker)
            .fetch_optional(pool)
            .await)?,
        };
        let Some(row) = row else {
            return Ok(RefreshTake::Gone);
        };
        match (row.taken, row.refresh_token) {
            (true, Some(sealed)) => Ok(RefreshTake::Taken(RefreshRight {
                generation: row.generation,
                refresh_token: self.open(&sealed, &owner.context("refresh"))?,
            })),
            (true, None) => Ok(RefreshTake::Gone),
            (false, _) => Ok(RefreshTake::Busy {
                generation: row.generation,
            }),
        }
    }

    /// Extends a refresh right still held on `generation`; false if it was
    /// lost (the pair changed, or the right was released).
    pub async fn renew_refresh_right(
        &self,
        owner: &TokenOwner,
        generation: i64,
        lease_until: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let renewed = match owner {
            TokenOwner::User { id, .. } => on_db!(self, |pool| sqlx::query(
                "UPDATE users SET refresh_lock_until = $3
                 WHERE id = $1 AND token_generation = $2 AND refresh_lock_until IS NOT NULL"
            )
            .bind(id)
            .bind(generation)
            .bind(stamp(lease_until))
            .execute(pool)
            .await
            .map(|r| r.rows_affected() == 1))?,
            TokenOwner::Bot { team_id } => on_db!(self, |pool| {
                sqlx::query(
                "UPDATE workspaces SET bot_refresh_lock_until = $3
                 WHERE team_id = $1 AND bot_token_generation = $2 AND bot_refresh_lock_until IS NOT NULL"
            )
            .bind(team_id)
            .bind(generation)
            .bind(stamp(lease_until))
            .execute(pool)
            .await
            .map(|r| r.rows_affected() == 1)
            })?,
        };
        Ok(renewed)
    }

    /// Gives a refresh right back without new tokens (the refresh failed in
    /// a way worth retrying), so the next attempt need not wait for the lease.
    pub async fn release_refresh_right(
        &self,
        owner: &TokenOwner,
        generation: i64,
    ) -> Result<(), StoreError> {
        match owner {
            TokenOwner::User { id, .. } => on_db!(self, |pool| {
                sqlx::query(
                "UPDATE users SET refresh_lock_until = NULL WHERE id = $1 AND token_generation = $2"
            )
            .bind(id)
            .bind(generation)
            .execute(pool)
            .await
            .map(|r| r.rows_affected())
            })?,
            TokenOwner::Bot { team_id } => on_db!(self, |pool| sqlx::query(
                "UPDATE workspaces SET bot_refresh_lock_until = NULL
                 WHERE team_id = $1 AND bot_token_generation = $2"
            )
            .bind(team_id)
            .bind(generation)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))?,
        };
        Ok(())
    }

    /// Stores the pair a refresh of `generation` returned and releases the
    /// right, in one statement. False when the row moved on meanwhile (the
    /// user reconnected): the newer pair stays, this one is not needed.
    pub async fn store_refreshed_pair(
        &self,
        owner: &TokenOwner,
        generation: i64,
        grant: &TokenGrant,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let access = self.seal(&grant.access_token, &owner.context("access"));
        let refresh = grant
            .refresh_token
            .as_ref()
            .map(|r| self.seal(r, &owner.context("refresh")));
        let expires_at = grant.expires_at.map(stamp);
        let stored = match owner {
            TokenOwner::User { id, .. } => on_db!(self, |pool| {
                sqlx::query(
                "UPDATE users SET access_token = $3, refresh_token = COALESCE($4, refresh_token),
                     token_expires_at = $5, token_status = 'active', token_problem = NULL,
                     refresh_lock_until = NULL, token_generation = token_generation + 1,
                     token_granted_at = $6, updated_at = $6
                 WHERE id = $1 AND token_generation = $2"
            )
            .bind(id)
            .bind(generation)
            .bind(access)
            .bind(refresh)
            .bind(expires_at)
            .bind(stamp(now))
            .execute(pool)
            .await
            .map(|r| r.rows_affected() == 1)
            })?,
            TokenOwner::Bot { team_id } => on_db!(self, |pool| sqlx::query(
                "UPDATE workspaces SET bot_access_token = $3,
                     bot_refresh_token = COALESCE($4, bot_refresh_token),
                     bot_token_expires_at = $5, bot_refresh_lock_until = NULL,
                     bot_token_generation = bot_token_generation + 1, updated_at = $6
                 WHERE team_id = $1 AND bot_token_generation = $2"
            )
            .bind(team_id)
            .bind(generation)
            .bind(access)
            .bind(refresh)
            .bind(expires_at)
            .bind(stamp(now))
            .execute(pool)
            .await
            .map(|r| r.rows_affected() == 1))?,
        };
        Ok(stored)
    }

    /// Slack refused the pair of `generation` (or its refresh): forget it and
    /// remember why, unless a newer pair replaced it meanwhile. True if the
    /// pair was forgotten.
    pub async fn refuse_pair(
        &self,
        owner: &TokenOwner,
        generation: i64,
        problem: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let refused = match owner {
            TokenOwner::User { id, .. } => on_db!(self, |pool| {
                sqlx::query(
                "UPDATE users SET access_token = NULL, refresh_token = NULL, token_expires_at = NULL,
                     token_status = 'invalid', token_problem = $3, refresh_lock_until = NULL,
                     updated_at = $4
                 WHERE id = $1 AND token_generation = $2 AND token_status = 'active'"
            )
            .bind(id)
            .bind(generation)
            .bind(problem)
            .bind(stamp(now))
            .execute(pool)
            .await
            .map(|r| r.rows_affected() == 1)
            })?,
            TokenOwner::Bot { team_id } => on_db!(self, |pool| sqlx::query(
                "UPDATE workspaces SET bot_access_token = NULL, bot_refresh_token = NULL,
                     bot_token_expires_at = NULL, bot_refresh_lock_until = NULL, updated_at = $3
                 WHERE team_id = $1 AND bot_token_generation = $2"
            )
            .bind(team_id)
            .bind(generation)
            .bind(stamp(now))
            .execute(pool)
            .await
            .map(|r| r.rows_affected() == 1))?,
        };
        Ok(refused)
    }
}
