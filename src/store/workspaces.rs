//! Workspaces that installed the app, with their bot token (sealed).

use chrono::{DateTime, Utc};

use super::users::TokenGrant;
use super::{Store, StoreError, UserCredentials, on_db, stamp};

/// What a successful install leaves behind.
#[derive(Debug, Clone)]
pub struct Installation {
    pub team_id: String,
    pub team_name: String,
    pub bot_user_id: Option<String>,
    pub bot: TokenGrant,
    pub installed_by: String,
}

#[derive(Debug, Clone)]
pub struct Workspace {
    pub team_id: String,
    pub team_name: String,
    pub bot_user_id: Option<String>,
    /// `None` once the app was uninstalled or its bot token revoked.
    pub bot: Option<UserCredentials>,
    pub installed_by: Option<String>,
    pub installed_at: DateTime<Utc>,
    pub uninstalled_at: Option<DateTime<Utc>>,
    /// Bumped with every bot pair stored; see [`super::tokens`].
    pub bot_token_generation: i64,
    pub bot_refresh_lock_until: Option<DateTime<Utc>>,
}

impl Workspace {
    pub fn is_installed(&self) -> bool {
        self.uninstalled_at.is_none() && self.bot.is_some()
    }
}

#[derive(sqlx::FromRow)]
struct WorkspaceRow {
    team_id: String,
    team_name: String,
    bot_user_id: Option<String>,
    bot_access_token: Option<Vec<u8>>,
    bot_refresh_token: Option<Vec<u8>>,
    bot_token_expires_at: Option<DateTime<Utc>>,
    installed_by: Option<String>,
    installed_at: DateTime<Utc>,
    uninstalled_at: Option<DateTime<Utc>>,
    bot_token_generation: i64,
    bot_refresh_lock_until: Option<DateTime<Utc>>,
}

pub(super) fn bot_context(team_id: &str, kind: &str) -> String {
    format!("bot:{team_id}:{kind}")
}

impl Store {
    /// Records an install (or a re-install, which replaces the bot token).
    pub async fn upsert_installation(
        &self,
        install: &Installation,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let access = self.seal(
            &install.bot.access_token,
            &bot_context(&install.team_id, "access"),
        );
        let refresh = install
            .bot
            .refresh_token
            .as_ref()
            .map(|r| self.seal(r, &bot_context(&install.team_id, "refresh")));
        on_db!(self, |pool| sqlx::query(
            "INSERT INTO workspaces (team_id, team_name, bot_user_id, bot_access_token,
                 bot_refresh_token, bot_token_expires_at, installed_by, installed_at, updated_at,
                 bot_token_generation)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8, 1)
             ON CONFLICT (team_id) DO UPDATE SET
                 team_name = excluded.team_name,
                 bot_user_id = excluded.bot_user_id,
                 bot_access_token = excluded.bot_access_token,
                 bot_refresh_token = excluded.bot_refresh_token,
                 bot_token_expires_at = excluded.bot_token_expires_at,
                 bot_refresh_lock_until = NULL,
                 bot_token_generation = workspaces.bot_token_generation + 1,
                 -- Another user connecting their account is not a new install.
                 installed_by = CASE WHEN workspaces.uninstalled_at IS NULL
                                     THEN workspaces.installed_by ELSE excluded.installed_by END,
                 installed_at = CASE WHEN workspaces.uninstalled_at IS NULL
                                     THEN workspaces.installed_at ELSE excluded.installed_at END,
                 updated_at = excluded.updated_at,
                 uninstalled_at = NULL"
        )
        .bind(&install.team_id)
        .bind(&install.team_name)
        .bind(&install.bot_user_id)
        .bind(access)
        .bind(refresh)
        .bind(install.bot.expires_at.map(stamp))
        .bind(&install.installed_by)
        .bind(stamp(now))
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// Team ids of workspaces where the app is installed with a bot token,
    /// in order, at most `limit`.
    pub async fn installed_team_ids(&self, limit: i64) -> Result<Vec<String>, StoreError> {
        let ids = on_db!(self, |pool| sqlx::query_scalar(
            "SELECT team_id FROM workspaces
             WHERE uninstalled_at IS NULL AND bot_access_token IS NOT NULL
             ORDER BY team_id LIMIT $1"
        )
        .bind(limit)
        .fetch_all(pool)
        .await)?;
        Ok(ids)
    }

    pub async fn workspace(&self, team_id: &str) -> Result<Option<Workspace>, StoreError> {
        let row: Option<WorkspaceRow> = on_db!(self, |pool| sqlx::query_as(
            "SELECT team_id, team_name, bot_user_id, bot_access_token, bot_refresh_token,
                    bot_token_expires_at, installed_by, installed_at, uninstalled_at,
                    bot_token_generation, bot_refresh_lock_until
             FROM workspaces WHERE team_id = $1"
        )
        .bind(team_id)
        .fetch_optional(pool)
        .await)?;
        let Some(row) = row else { return Ok(None) };
        let bot = match row.bot_access_token {
            Some(access) => Some(UserCredentials {
                access_token: self.open(&access, &bot_context(&row.team_id, "access"))?,
                refresh_token: row
                    .bot_refresh_token
                    .map(|r| self.open(&r, &bot_context(&row.team_id, "refresh")))
                    .transpose()?,
                expires_at: row.bot_token_expires_at,
            }),
            None => None,
        };
        Ok(Some(Workspace {
            team_id: row.team_id,
            team_name: row.team_name,
            bot_user_id: row.bot_user_id,
            bot,
            installed_by: row.installed_by,
            installed_at: row.installed_at,
            uninstalled_at: row.uninstalled_at,
            bot_token_generation: row.bot_token_generation,
            bot_refresh_lock_until: row.bot_refresh_lock_until,
        }))
    }
}

impl Store {
    /// The app was uninstalled: every token of the workspace is deleted (bot
    /// and users'). Returns whether the workspace was known.
    pub async fn uninstall_workspace(
        &self,
        team_id: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let known = on_db!(self, |pool| sqlx::query(
            "UPDATE workspaces SET bot_access_token = NULL, bot_refresh_token = NULL,
                 bot_token_expires_at = NULL, bot_refresh_lock_until = NULL,
                 uninstalled_at = COALESCE(uninstalled_at, $2), updated_at = $2
             WHERE team_id = $1"
        )
        .bind(team_id)
        .bind(stamp(now))
        .execute(pool)
        .await
        .map(|r| r.rows_affected() == 1))?;
        on_db!(self, |pool| sqlx::query(
            "UPDATE users SET access_token = NULL, refresh_token = NULL, token_expires_at = NULL,
                 token_status = CASE WHEN token_status = 'none' THEN 'none' ELSE 'invalid' END,
                 token_problem = 'app_uninstalled', refresh_lock_until = NULL, updated_at = $2
             WHERE team_id = $1"
        )
        .bind(team_id)
        .bind(stamp(now))
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(known)
    }

    /// The bot token was revoked (`tokens_revoked` naming the bot user).
    pub async fn revoke_bot_token(
        &self,
        team_id: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        on_db!(self, |pool| sqlx::query(
            "UPDATE workspaces SET bot_access_token = NULL, bot_refresh_token = NULL,
                 bot_token_expires_at = NULL, bot_refresh_lock_until = NULL, updated_at = $2
             WHERE team_id = $1"
        )
        .bind(team_id)
        .bind(stamp(now))
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// Workspaces whose user-token posts cannot carry message metadata.
    pub async fn workspaces_without_metadata(&self) -> Result<Vec<String>, StoreError> {
        let teams: Vec<String> = on_db!(self, |pool| sqlx::query_scalar(
            "SELECT team_id FROM workspaces WHERE metadata_refused_at IS NOT NULL"
        )
        .fetch_all(pool)
        .await)?;
        Ok(teams)
    }

    /// Slack refused or dropped our metadata on a user-token post in `team_id`.
    pub async fn mark_without_metadata(
        &self,
        team_id: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        on_db!(self, |pool| sqlx::query(
            "UPDATE workspaces SET metadata_refused_at = $2
             WHERE team_id = $1 AND metadata_refused_at IS NULL"
        )
        .bind(team_id)
        .bind(stamp(now))
        .execute(pool)
        .await
        .map(|_| ()))?;
        Ok(())
    }
}
