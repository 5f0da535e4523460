//! Slack users known to the app: their time zone and their user token pair
//! (sealed), which is what the cycle posts with.

use chrono::{DateTime, Utc};
use secrecy::SecretString;

use super::{Store, StoreError, on_db, stamp};

/// A user's identity in both worlds: our row id and Slack's ids.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Author {
    pub id: i64,
    pub team_id: String,
    pub user_id: String,
}

/// A token pair as Slack hands it out (install or refresh).
#[derive(Debug, Clone)]
pub struct TokenGrant {
    pub access_token: SecretString,
    pub refresh_token: Option<SecretString>,
    /// `None` for tokens that do not expire (rotation off).
    pub expires_at: Option<DateTime<Utc>>,
}

/// A user's usable credentials, opened.
#[derive(Debug, Clone)]
pub struct UserCredentials {
    pub access_token: SecretString,
    pub refresh_token: Option<SecretString>,
    pub expires_at: Option<DateTime<Utc>>,
}

impl UserCredentials {
    /// Whether the access token runs out before `horizon`.
    pub fn expires_before(&self, horizon: DateTime<Utc>) -> bool {
        self.expires_at.is_some_and(|at| at <= horizon)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenStatus {
    /// The user never connected their account.
    None,
    Active,
    /// Slack refused the token or its refresh; the user must reconnect.
    Invalid,
}

impl TokenStatus {
    pub fn parse(s: &str) -> Result<Self, StoreError> {
        match s {
            "none" => Ok(Self::None),
            "active" => Ok(Self::Active),
            "invalid" => Ok(Self::Invalid),
            other => Err(StoreError::Corrupt(format!("token_status {other:?}"))),
        }
    }
}

#[derive(Debug, Clone)]
pub struct UserRecord {
    pub author: Author,
    pub tz: Option<String>,
    pub tz_checked_at: Option<DateTime<Utc>>,
    pub token_status: TokenStatus,
    pub token_problem: Option<String>,
    pub credentials: Option<UserCredentials>,
}

#[derive(sqlx::FromRow)]
pub(super) struct UserRow {
    id: i64,
    team_id: String,
    user_id: String,
    tz: Option<String>,
    tz_checked_at: Option<DateTime<Utc>>,
    access_token: Option<Vec<u8>>,
    refresh_token: Option<Vec<u8>>,
    token_expires_at: Option<DateTime<Utc>>,
    token_status: String,
    token_problem: Option<String>,
}

/// The associated data that binds a sealed user token to its row.
pub(super) fn token_context(team_id: &str, user_id: &str, kind: &str) -> String {
    format!("user:{team_id}:{user_id}:{kind}")
}

impl Store {
    pub(super) fn open_user_credentials(
        &self,
        team_id: &str,
        user_id: &str,
        access: Option<&[u8]>,
        refresh: Option<&[u8]>,
        expires_at: Option<DateTime<Utc>>,
    ) -> Result<Option<UserCredentials>, StoreError> {
        let Some(access) = access else {
            return Ok(None);
        };
        let access_token = self.open(access, &token_context(team_id, user_id, "access"))?;
        let refresh_token = refresh
            .map(|r| self.open(r, &token_context(team_id, user_id, "refresh")))
            .transpose()?;
        Ok(Some(UserCredentials {
            access_token,
            refresh_token,
            expires_at,
        }))
    }

    fn user_record(&self, row: UserRow) -> Result<UserRecord, StoreError> {
        let credentials = self.open_user_credentials(
            &row.team_id,
            &row.user_id,
            row.access_token.as_deref(),
            row.refresh_token.as_deref(),
            row.token_expires_at,
        )?;
        Ok(UserRecord {
            author: Author {
                id: row.id,
                team_id: row.team_id,
                user_id: row.user_id,
            },
            tz: row.tz,
            tz_checked_at: row.tz_checked_at,
            token_status: TokenStatus::parse(&row.token_status)?,
            token_problem: row.token_problem,
            credentials,
        })
    }

    /// The user's row id, creating the row on first sight.
    pub async fn ensure_user(
        &self,
        team_id: &str,
        user_id: &str,
        now: DateTime<Utc>,
    ) -> Result<Author, StoreError> {
        let now = stamp(now);
        // DO UPDATE (not DO NOTHING) so RETURNING yields the id either way.
        let id: i64 = on_db!(self, |pool| sqlx::query_scalar(
            "INSERT INTO users (team_id, user_id, created_at, updated_at)
             VALUES ($1, $2, $3, $3)
             ON CONFLICT (team_id, user_id) DO UPDATE SET team_id = excluded.team_id
             RETURNING id"
        )
        .bind(team_id)
        .bind(user_id)
        .bind(now)
        .fetch_one(pool)
        .await)?;
        Ok(Author {
            id,
            team_id: team_id.to_owned(),
            user_id: user_id.to_owned(),
        })
    }

    /// Stores a user's freshly granted token pair (install or "connect your
    /// account") and marks their credentials usable again.
    pub async fn connect_user(
        &self,
        team_id: &str,
        user_id: &str,
        grant: &TokenGrant,
        now: DateTime<Utc>,
    ) -> Result<Author, StoreError> {
        let now = stamp(now);
        let access = self.seal(
            &grant.access_token,
            &token_context(team_id, user_id, "access"),
        );
        let refresh = grant
            .refresh_token
            .as_ref()
            .map(|r| self.seal(r, &token_context(team_id, user_id, "refresh")));
        let id: i64 = on_db!(self, |pool| {
            sqlx::query_scalar(
            "INSERT INTO users (team_id, user_id, access_token, refresh_token, token_expires_at,
                                token_status, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, 'active', $6, $6)
             ON CONFLICT (team_id, user_id) DO UPDATE SET
                 access_token = excluded.access_token,
                 refresh_token = excluded.refresh_token,
                 token_expires_at = excluded.token_expires_at,
                 token_status = 'active',
                 token_problem = NULL,
                 refresh_lock_until = NULL,
                 updated_at = excluded.updated_at
             RETURNING id"
        )
        .bind(team_id)
        .bind(user_id)
        .bind(access)
        .bind(refresh)
        .bind(grant.expires_at.map(stamp))
        .bind(now)
        .fetch_one(pool)
        .await
        })?;
        Ok(Author {
            id,
            team_id: team_id.to_owned(),
            user_id: user_id.to_owned(),
        })
    }

    /// Stores the pair a refresh returned and releases the refresh lock, in
    /// one statement: Slack has already retired the old refresh token.
    pub async fn store_user_tokens(
        &self,
        author: &Author,
        grant: &TokenGrant,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let access = self.seal(
            &grant.access_token,
            &token_context(&author.team_id, &author.user_id, "access"),
        );
        let refresh = grant.refresh_token.as_ref().map(|r| {
            self.seal(
                r,
                &token_context(&author.team_id, &author.user_id, "refresh"),
            )
        });
        on_db!(self, |pool| sqlx::query(
            "UPDATE users SET access_token = $2, refresh_token = COALESCE($3, refresh_token),
                 token_expires_at = $4, token_status = 'active', token_problem = NULL,
                 refresh_lock_until = NULL, updated_at = $5
             WHERE id = $1"
        )
        .bind(author.id)
        .bind(access)
        .bind(refresh)
        .bind(grant.expires_at.map(stamp))
        .bind(stamp(now))
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// Slack refused the user's credentials: forget them (they are dead) and
    /// remember why, so the user can be asked to reconnect.
    pub async fn invalidate_user_credentials(
        &self,
        author_id: i64,
        problem: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        on_db!(self, |pool| sqlx::query(
            "UPDATE users SET access_token = NULL, refresh_token = NULL, token_expires_at = NULL,
                 token_status = 'invalid', token_problem = $2, refresh_lock_until = NULL,
                 updated_at = $3
             WHERE id = $1"
        )
        .bind(author_id)
        .bind(problem)
        .bind(stamp(now))
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// Takes the right to refresh this user's token, if nobody holds it and
    /// the token still expires before `refresh_before`. Serializes refreshes
    /// across processes without holding a transaction over the Slack call.
    pub async fn lock_user_refresh(
        &self,
        author_id: i64,
        now: DateTime<Utc>,
        lock_until: DateTime<Utc>,
        refresh_before: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let locked = on_db!(self, |pool| sqlx::query(
            "UPDATE users SET refresh_lock_until = $3
             WHERE id = $1 AND refresh_token IS NOT NULL AND token_status = 'active'
               AND (token_expires_at IS NULL OR token_expires_at <= $4)
               AND (refresh_lock_until IS NULL OR refresh_lock_until <= $2)"
        )
        .bind(author_id)
        .bind(stamp(now))
        .bind(stamp(lock_until))
        .bind(stamp(refresh_before))
        .execute(pool)
        .await
        .map(|r| r.rows_affected() == 1))?;
        Ok(locked)
    }

    /// Gives the refresh right back without new tokens (the refresh failed
    /// transiently), so another attempt need not wait for the lock to expire.
    pub async fn unlock_user_refresh(&self, author_id: i64) -> Result<(), StoreError> {
        on_db!(self, |pool| sqlx::query(
            "UPDATE users SET refresh_lock_until = NULL WHERE id = $1"
        )
        .bind(author_id)
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(())
    }

    pub async fn user_by_id(&self, author_id: i64) -> Result<Option<UserRecord>, StoreError> {
        let row: Option<UserRow> = on_db!(self, |pool| sqlx::query_as(
            "SELECT id, team_id, user_id, tz, tz_checked_at, access_token, refresh_token,
                    token_expires_at, token_status, token_problem
             FROM users WHERE id = $1"
        )
        .bind(author_id)
        .fetch_optional(pool)
        .await)?;
        row.map(|r| self.user_record(r)).transpose()
    }

    pub async fn user(
        &self,
        team_id: &str,
        user_id: &str,
    ) -> Result<Option<UserRecord>, StoreError> {
        let row: Option<UserRow> = on_db!(self, |pool| sqlx::query_as(
            "SELECT id, team_id, user_id, tz, tz_checked_at, access_token, refresh_token,
                    token_expires_at, token_status, token_problem
             FROM users WHERE team_id = $1 AND user_id = $2"
        )
        .bind(team_id)
        .bind(user_id)
        .fetch_optional(pool)
        .await)?;
        row.map(|r| self.user_record(r)).transpose()
    }

    /// Caches the user's IANA time zone from `users.info`.
    pub async fn set_user_tz(
        &self,
        author_id: i64,
        tz: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        on_db!(self, |pool| sqlx::query(
            "UPDATE users SET tz = $2, tz_checked_at = $3, updated_at = $3 WHERE id = $1"
        )
        .bind(author_id)
        .bind(tz)
        .bind(stamp(now))
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(())
    }
}
