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
    /// Bumped with every pair stored; see [`super::tokens`].
    pub token_generation: i64,
    pub refresh_lock_until: Option<DateTime<Utc>>,
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
    token_generation: i64,
    refresh_lock_until: Option<DateTime<Utc>>,
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
            token_generation: row.token_generation,
            refresh_lock_until: row.refresh_lock_until,
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
                                token_status, token_generation, token_granted_at, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, 'active', 1, $6, $6, $6)
             ON CONFLICT (team_id, user_id) DO UPDATE SET
                 access_token = excluded.access_token,
                 refresh_token = excluded.refresh_token,
                 token_expires_at = excluded.token_expires_at,
                 token_status = 'active',
                 token_problem = NULL,
                 refresh_lock_until = NULL,
                 token_generation = users.token_generation + 1,
                 token_granted_at = excluded.updated_at,
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

    /// Slack revoked the user's tokens (`tokens_revoked`, sent at `revoked_at`):
    /// forget the pair, unless it was granted after that (the user
    /// reconnected before the event arrived). True if a pair was forgotten.
    pub async fn revoke_user_tokens(
        &self,
        author_id: i64,
        problem: &str,
        revoked_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let revoked = on_db!(self, |pool| {
            sqlx::query(
            "UPDATE users SET access_token = NULL, refresh_token = NULL, token_expires_at = NULL,
                 token_status = 'invalid', token_problem = $2, refresh_lock_until = NULL,
                 updated_at = $4
             WHERE id = $1 AND token_status = 'active'
               AND (token_granted_at IS NULL OR token_granted_at < $3)"
        )
        .bind(author_id)
        .bind(problem)
        // Slack's event times are whole seconds: a pair granted within the
        // second the event was sent counts as granted before it.
        .bind(stamp(revoked_at + chrono::Duration::seconds(1)))
        .bind(stamp(now))
        .execute(pool)
        .await
        .map(|r| r.rows_affected() == 1)
        })?;
        Ok(revoked)
    }

    pub async fn user_by_id(&self, author_id: i64) -> Result<Option<UserRecord>, StoreError> {
        let row: Option<UserRow> = on_db!(self, |pool| {
            sqlx::query_as(
            "SELECT id, team_id, user_id, tz, tz_checked_at, access_token, refresh_token,
                    token_expires_at, token_status, token_problem, token_generation, refresh_lock_until
             FROM users WHERE id = $1"
        )
        .bind(author_id)
        .fetch_optional(pool)
        .await
        })?;
        row.map(|r| self.user_record(r)).transpose()
    }

    pub async fn user(
        &self,
        team_id: &str,
        user_id: &str,
    ) -> Result<Option<UserRecord>, StoreError> {
        let row: Option<UserRow> = on_db!(self, |pool| {
            sqlx::query_as(
            "SELECT id, team_id, user_id, tz, tz_checked_at, access_token, refresh_token,
                    token_expires_at, token_status, token_problem, token_generation, refresh_lock_until
             FROM users WHERE team_id = $1 AND user_id = $2"
        )
        .bind(team_id)
        .bind(user_id)
        .fetch_optional(pool)
        .await
        })?;
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

/// Who is asking, as one statement finds out: whether their workspace has
/// Scheduler installed, and what we know of them (no token is opened).
#[derive(Debug, Clone)]
pub struct RequestContext {
    pub installed: bool,
    /// `None` when the user has never been seen.
    pub user: Option<UserContext>,
}

#[derive(Debug, Clone)]
pub struct UserContext {
    pub author: Author,
    pub tz: Option<String>,
    pub tz_checked_at: Option<DateTime<Utc>>,
    pub token_status: TokenStatus,
}

#[derive(sqlx::FromRow)]
struct ContextRow {
    installed: bool,
    id: Option<i64>,
    tz: Option<String>,
    tz_checked_at: Option<DateTime<Utc>>,
    token_status: Option<String>,
}

impl Store {
    /// The context of a request from `user_id` in `team_id`, in one
    /// statement: the command path's first and often only read.
    pub async fn request_context(
        &self,
        team_id: &str,
        user_id: &str,
    ) -> Result<RequestContext, StoreError> {
        let row: Option<ContextRow> = on_db!(self, |pool| sqlx::query_as(
            "SELECT (w.bot_access_token IS NOT NULL AND w.uninstalled_at IS NULL) AS installed,
                    u.id, u.tz, u.tz_checked_at, u.token_status
             FROM workspaces AS w
             LEFT JOIN users AS u ON u.team_id = w.team_id AND u.user_id = $2
             WHERE w.team_id = $1"
        )
        .bind(team_id)
        .bind(user_id)
        .fetch_optional(pool)
        .await)?;
        let Some(row) = row else {
            return Ok(RequestContext {
                installed: false,
                user: None,
            });
        };
        let user = match (row.id, row.token_status) {
            (Some(id), Some(status)) => Some(UserContext {
                author: Author {
                    id,
                    team_id: team_id.to_owned(),
                    user_id: user_id.to_owned(),
                },
                tz: row.tz,
                tz_checked_at: row.tz_checked_at,
                token_status: TokenStatus::parse(&status)?,
            }),
            _ => None,
        };
        Ok(RequestContext {
            installed: row.installed,
            user,
        })
    }
}
