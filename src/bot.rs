//! The workspace's bot: its token (rotated by Slack, refreshed here ahead of
//! expiry, once per workspace at a time), and everything it tells users
//! (the Home tab, DMs about messages that could not be posted, modals).

use std::time::Duration;

use chrono::Utc;
use chrono_tz::Tz;
use secrecy::SecretString;
use slack_morphism::prelude::{SlackMessageContent, SlackView};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::domain::MessageStatus;
use crate::slack::blocks::{self, HomeSpec};
use crate::slack::{OAuthError, SlackApi, SlackError};
use crate::store::{Store, StoreError, TokenOwner, TokenStatus};
use crate::tokens::{Refreshed, Refresher, needs_refresh};

/// Bot tokens with less than this left are refreshed before use.
const REFRESH_MARGIN: Duration = Duration::from_secs(2 * 3600);
/// A token this close to expiry is treated as expired: a call would race it.
const EXPIRY_SKEW: chrono::Duration = chrono::Duration::seconds(30);
/// How long a caller waits for a refresh when the current token still works.
const HURRIED_REFRESH_WAIT: Duration = Duration::from_millis(500);
/// How long a caller waits for another process's refresh of an expired token.
const REFRESH_WAIT: Duration = Duration::from_secs(10);
/// A cached time zone is asked for again after this long.
const ZONE_TTL: chrono::Duration = chrono::Duration::days(1);
/// `users.info` may not hold up a slash command for longer than this.
const ZONE_LOOKUP_TIMEOUT: Duration = Duration::from_millis(1_500);
/// How often pending notices are looked for without being told of any.
const NOTICE_CATCH_UP: Duration = Duration::from_secs(60);

#[derive(Debug, thiserror::Error)]
pub enum BotError {
    #[error("Scheduler is not installed in this workspace")]
    NotInstalled,
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Slack(#[from] SlackError),
    #[error("the bot token could not be refreshed: {0}")]
    Refresh(#[from] OAuthError),
}

pub struct Bot {
    store: Store,
    slack: SlackApi,
    public_url: String,
    http: reqwest::Client,
    refresher: Refresher,
}

impl std::fmt::Debug for Bot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bot")
            .field("public_url", &self.public_url)
            .finish_non_exhaustive()
    }
}

impl Bot {
    pub fn new(store: Store, slack: SlackApi, refresher: Refresher, public_url: String) -> Self {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap_or_default();
        Self {
            store,
            slack,
            public_url,
            http,
            refresher,
        }
    }

    /// Where a user connects (or reconnects) their own account.
    pub fn connect_url(&self, team_id: &str) -> String {
        format!("{}/slack/install?team={team_id}", self.public_url)
    }

    /// A usable bot token for the workspace, refreshed first if it expires
    /// soon. A caller in a hurry gets the current token while it still
    /// works; the refresh goes on without it (see [`crate::tokens`]).
    pub async fn token(&self, team_id: &str) -> Result<SecretString, BotError> {
        let now = Utc::now();
        let owner = TokenOwner::Bot {
            team_id: team_id.to_owned(),
        };
        if let Some((_, unsaved)) = self.refresher.unsaved_pair(&owner) {
            return Ok(unsaved.access_token);
        }
        let workspace = self
            .store
            .workspace(team_id)
            .await?
            .filter(|w| w.is_installed())
            .ok_or(BotError::NotInstalled)?;
        let bot = workspace.bot.ok_or(BotError::NotInstalled)?;
        if bot.refresh_token.is_none() || !needs_refresh(bot.expires_at, now, REFRESH_MARGIN) {
            return Ok(bot.access_token);
        }
        let still_works = !bot.expires_before(now + EXPIRY_SKEW);
        let refresh = self
            .refresher
            .refresh(&owner, workspace.bot_token_generation, REFRESH_WAIT);
        let refreshed = if still_works {
            match tokio::time::timeout(HURRIED_REFRESH_WAIT, refresh).await {
                Ok(refreshed) => refreshed,
                Err(_) => return Ok(bot.access_token),
            }
        } else {
            refresh.await
        };
        match refreshed {
            Refreshed::Fresh { credentials, .. } => Ok(credentials.access_token),
            Refreshed::Refused(reason) => Err(BotError::Refresh(OAuthError::Refused(reason))),
            Refreshed::Failed(_) if still_works => Ok(bot.access_token),
            Refreshed::Failed(reason) => Err(BotError::Refresh(OAuthError::Transport(reason))),
        }
    }

    /// The user's time zone: cached for a day, else asked of Slack (briefly).
    /// Slack not answering falls back to the cached zone (or UTC); the
    /// database failing is an error, so nothing is scheduled at an hour the
    /// user did not mean.
    pub async fn user_zone(&self, team_id: &str, user_id: &str) -> Result<Tz, BotError> {
        let now = Utc::now();
        let user = match self.store.user(team_id, user_id).await? {
            Some(user) => user,
            None => {
                self.store.ensure_user(team_id, user_id, now).await?;
                self.store
                    .user(team_id, user_id)
                    .await?
                    .ok_or_else(|| StoreError::Corrupt(format!("user {user_id} vanished")))?
            }
        };
        let cached = user.tz.as_deref().and_then(|tz| tz.parse::<Tz>().ok());
        if let (Some(tz), Some(checked)) = (cached, user.tz_checked_at)
            && checked > now - ZONE_TTL
        {
            return Ok(tz);
        }
        let asked = tokio::time::timeout(ZONE_LOOKUP_TIMEOUT, async {
            let token = match self.token(team_id).await {
                Ok(token) => token,
                Err(BotError::Store(err)) => return Err(err),
                Err(_) => return Ok(None),
            };
            Ok(self
                .slack
                .users_info(&token, team_id, user_id)
                .await
                .ok()
                .and_then(|info| info.tz))
        })
        .await
        .unwrap_or(Ok(None))?;
        match asked.as_deref().and_then(|tz| tz.parse::<Tz>().ok()) {
            Some(tz) => {
                if let Err(err) = self.store.set_user_tz(user.author.id, tz.name(), now).await {
                    tracing::warn!(error = %err, "cannot cache a user's time zone");
                }
                Ok(tz)
            }
            None => Ok(cached.unwrap_or(Tz::UTC)),
        }
    }

    /// Opens a modal; the trigger is only good for three seconds.
    pub async fn open_view(
        &self,
        team_id: &str,
        trigger_id: &str,
        view: SlackView,
    ) -> Result<(), BotError> {
        let token = self.token(team_id).await?;
        self.slack
            .open_view(&token, team_id, trigger_id, view)
            .await?;
        Ok(())
    }

    /// A direct message from the bot.
    pub async fn dm(
        &self,
        team_id: &str,
        user_id: &str,
        content: SlackMessageContent,
    ) -> Result<(), BotError> {
        let token = self.token(team_id).await?;
        self.slack
            .post_as_bot(&token, team_id, user_id, content)
            .await?;
        Ok(())
    }

    /// Answers through a `response_url` (ephemeral unless the body says otherwise).
    pub async fn respond(&self, response_url: &str, body: serde_json::Value) {
        let sent = self
            .http
            .post(response_url)
            .json(&body)
            .send()
            .await
            .and_then(|r| r.error_for_status());
        if let Err(err) = sent {
            tracing::warn!(error = %err, "cannot answer through response_url");
        }
    }

    /// Rebuilds and publishes a user's Home tab. Best effort: logged, not returned.
    pub async fn publish_home(&self, team_id: &str, user_id: &str) {
        if let Err(err) = self.try_publish_home(team_id, user_id).await {
            tracing::warn!(team_id, user_id, error = %err, "cannot publish the Home tab");
        }
    }

    async fn try_publish_home(&self, team_id: &str, user_id: &str) -> Result<(), BotError> {
        let now = Utc::now();
        let author = self.store.ensure_user(team_id, user_id, now).await?;
        let user = self.store.user_by_id(author.id).await?;
        let tz = self.user_zone(team_id, user_id).await?;
        let (connect_url, connect_problem) = match user
            .as_ref()
            .map(|u| (u.token_status, u.token_problem.clone()))
        {
            Some((TokenStatus::Active, _)) => (None, None),
            Some((_, problem)) => (Some(self.connect_url(team_id)), problem),
            None => (Some(self.connect_url(team_id)), None),
        };
        let spec = HomeSpec {
            counts: self.store.author_counts(author.id).await?,
            upcoming: self
                .store
                .author_messages(
                    author.id,
                    &[MessageStatus::Pending, MessageStatus::Sending],
                    15,
                    false,
                )
                .await?,
            held: self
                .store
                .author_messages(author.id, &[MessageStatus::Held], 10, false)
                .await?,
            sent: self
                .store
                .author_messages(author.id, &[MessageStatus::Sent], 5, true)
                .await?,
            failed: self
                .store
                .author_messages(author.id, &[MessageStatus::Failed], 5, true)
                .await?,
            tz,
            now,
            connect_url,
            connect_problem,
        };
        let token = self.token(team_id).await?;
        self.slack
            .publish_home(&token, team_id, user_id, blocks::home_view(&spec))
            .await?;
        Ok(())
    }

    /// DMs the authors of failed and held messages, once each. Returns how
    /// many notices were handled.
    pub async fn send_notices(&self) -> usize {
        let mut handled = 0;
        loop {
            let notices = match self.store.claim_notices(100).await {
                Ok(notices) => notices,
                Err(err) => {
                    tracing::warn!(error = %err, "cannot read pending notices");
                    return handled;
                }
            };
            if notices.is_empty() {
                return handled;
            }
            for notice in &notices {
                let tz = match self.user_zone(&notice.team_id, &notice.user_id).await {
                    Ok(tz) => tz,
                    Err(err) => {
                        tracing::warn!(message_id = notice.id, error = %err, "cannot tell the author about their message");
                        continue;
                    }
                };
                let connect = (notice.status == MessageStatus::Held)
                    .then(|| self.connect_url(&notice.team_id));
                let content = blocks::notice_message(notice, tz, connect.as_deref());
                if let Err(err) = self.dm(&notice.team_id, &notice.user_id, content).await {
                    tracing::warn!(message_id = notice.id, error = %err, "cannot tell the author about their message");
                }
            }
            handled += notices.len();
        }
    }

    /// Tells authors about failed and held messages whenever `news` says
    /// there may be some, and once a minute to catch up. Runs until `cancel`.
    pub async fn follow_notices(&self, news: &Notify, cancel: CancellationToken) {
        loop {
            let woken = news.notified();
            tokio::select! {
                _ = self.send_notices() => {}
                () = cancel.cancelled() => return,
            }
            tokio::select! {
                () = woken => {}
                () = tokio::time::sleep(NOTICE_CATCH_UP) => {}
                () = cancel.cancelled() => return,
            }
        }
    }
}
