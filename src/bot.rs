//! The workspace's bot: its token (rotated by Slack, refreshed here ahead of
//! expiry, once per workspace at a time), and everything it tells users
//! (the Home tab, DMs about messages that could not be posted, modals).

mod home;

use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBuilder};
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use secrecy::SecretString;
use slack_morphism::prelude::{SlackMessageContent, SlackView};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::domain::MessageStatus;
use crate::slack::blocks;
use crate::slack::{OAuthError, SlackApi, SlackError};
use crate::store::{Author, Notice, Store, StoreError, TokenOwner};
use crate::telemetry;
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
/// How often notices are looked for without being told of any: notices
/// waiting for another try come due on their own.
const NOTICE_CATCH_UP: Duration = Duration::from_secs(30);
/// Tries of one notice before it is given up.
pub const NOTICE_MAX_ATTEMPTS: i32 = 5;
/// How long a claimed notice is nobody else's: longer than one DM can take.
pub const NOTICE_LEASE: chrono::Duration = chrono::Duration::minutes(2);
/// The wait after a notice's first failed try; it doubles after each.
const NOTICE_RETRY_BASE: Duration = Duration::from_secs(30);
const NOTICE_RETRY_CAP: Duration = Duration::from_secs(30 * 60);

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
        self.zone_of(&user.author, user.tz.as_deref(), user.tz_checked_at)
            .await
    }

    /// The zone of a user whose row was read already: the cached one while
    /// it is fresh (no statement, no call), else asked of Slack.
    pub async fn zone_of(
        &self,
        author: &Author,
        cached: Option<&str>,
        checked_at: Option<chrono::DateTime<Utc>>,
    ) -> Result<Tz, BotError> {
        let now = Utc::now();
        let cached = cached.and_then(|tz| tz.parse::<Tz>().ok());
        if let (Some(tz), Some(checked)) = (cached, checked_at)
            && checked > now - ZONE_TTL
        {
            return Ok(tz);
        }
        let (team_id, user_id) = (author.team_id.as_str(), author.user_id.as_str());
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
                if let Err(err) = self.store.set_user_tz(author.id, tz.name(), now).await {
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

    /// Replaces an open modal, as the user's choice in it asked.
    pub async fn update_view(
        &self,
        team_id: &str,
        view_id: &str,
        hash: &str,
        view: SlackView,
    ) -> Result<(), BotError> {
        let token = self.token(team_id).await?;
        self.slack
            .update_view(&token, team_id, view_id, hash, view)
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
        let spec = self.home_spec(team_id, user_id).await?;
        let token = self.token(team_id).await?;
        self.slack
            .publish_home(&token, team_id, user_id, blocks::home_view(&spec))
            .await?;
        Ok(())
    }

    /// DMs the authors of failed and held messages whose notice is due, at
    /// least once each: a DM that fails is tried again after a backoff, up to
    /// [`NOTICE_MAX_ATTEMPTS`] tries, then given up (logged and counted).
    /// Stops at once when `cancel` fires; a notice it was working on stays
    /// leased and is tried again when the lease runs out.
    pub async fn send_notices(
        &self,
        now: DateTime<Utc>,
        cancel: &CancellationToken,
    ) -> NoticeReport {
        let mut report = NoticeReport::default();
        loop {
            let claimed = tokio::select! {
                claimed = self.store.claim_notices(100, now, now + NOTICE_LEASE) => claimed,
                () = cancel.cancelled() => return report,
            };
            let notices = match claimed {
                Ok(notices) => notices,
                Err(err) => {
                    tracing::warn!(error = %err, "cannot read pending notices");
                    return report;
                }
            };
            if notices.is_empty() {
                return report;
            }
            for notice in &notices {
                let handled = tokio::select! {
                    handled = self.handle_notice(notice, now) => handled,
                    () = cancel.cancelled() => return report,
                };
                match handled {
                    Ok(outcome) => {
                        telemetry::record_notice(outcome.as_str());
                        match outcome {
                            NoticeOutcome::Sent => report.sent += 1,
                            NoticeOutcome::Retry => report.retrying += 1,
                            NoticeOutcome::GivenUp => report.given_up += 1,
                        }
                    }
                    Err(err) => {
                        // The lease runs out and the notice is offered again.
                        tracing::warn!(message_id = notice.id, error = %err, "cannot record a notice's outcome");
                    }
                }
            }
        }
    }

    /// One try at one notice, and its outcome recorded.
    async fn handle_notice(
        &self,
        notice: &Notice,
        now: DateTime<Utc>,
    ) -> Result<NoticeOutcome, StoreError> {
        let told = self.tell_author(notice).await;
        let Err(err) = told else {
            self.store.notice_sent(notice.id).await?;
            return Ok(NoticeOutcome::Sent);
        };
        // Without Scheduler in the workspace no later try can work.
        if matches!(err, BotError::NotInstalled) || notice.attempts >= NOTICE_MAX_ATTEMPTS {
            tracing::error!(message_id = notice.id, attempts = notice.attempts, error = %err,
                "gave up telling the author about their message");
            self.store.notice_given_up(notice.id).await?;
            return Ok(NoticeOutcome::GivenUp);
        }
        let retry_at = now + notice_backoff(notice.attempts);
        tracing::warn!(message_id = notice.id, attempts = notice.attempts, retry_at = %retry_at,
            error = %err, "cannot tell the author about their message; will try again");
        self.store.notice_failed(notice.id, retry_at).await?;
        Ok(NoticeOutcome::Retry)
    }

    async fn tell_author(&self, notice: &Notice) -> Result<(), BotError> {
        let tz = self.user_zone(&notice.team_id, &notice.user_id).await?;
        let connect =
            (notice.status == MessageStatus::Held).then(|| self.connect_url(&notice.team_id));
        let content = blocks::notice_message(notice, tz, connect.as_deref());
        self.dm(&notice.team_id, &notice.user_id, content).await
    }

    /// Tells authors about failed and held messages whenever `news` says
    /// there may be some, and every [`NOTICE_CATCH_UP`] for notices waiting
    /// for another try. Runs until `cancel`, which also stops a pass midway.
    pub async fn follow_notices(&self, news: &Notify, cancel: CancellationToken) {
        loop {
            let woken = news.notified();
            self.send_notices(Utc::now(), &cancel).await;
            tokio::select! {
                () = woken => {}
                () = tokio::time::sleep(NOTICE_CATCH_UP) => {}
                () = cancel.cancelled() => return,
            }
        }
    }
}

/// What one pass over the due notices did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NoticeReport {
    pub sent: usize,
    /// Failed this time, to be tried again later.
    pub retrying: usize,
    pub given_up: usize,
}

#[derive(Debug, Clone, Copy)]
enum NoticeOutcome {
    Sent,
    Retry,
    GivenUp,
}

impl NoticeOutcome {
    fn as_str(self) -> &'static str {
        match self {
            Self::Sent => "sent",
            Self::Retry => "retry",
            Self::GivenUp => "given_up",
        }
    }
}

/// The wait before the next try of a notice that failed `attempts` times:
/// [`NOTICE_RETRY_BASE`], doubling, at most [`NOTICE_RETRY_CAP`].
fn notice_backoff(attempts: i32) -> chrono::Duration {
    let wait = ExponentialBuilder::new()
        .with_min_delay(NOTICE_RETRY_BASE)
        .with_max_delay(NOTICE_RETRY_CAP)
        .with_factor(2.0)
        .without_max_times()
        .build()
        .nth(usize::try_from(attempts.saturating_sub(1)).unwrap_or(0))
        .unwrap_or(NOTICE_RETRY_CAP);
    chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::hours(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notice_retries_back_off_doubling_up_to_the_cap() {
        let waits: Vec<i64> = (1..=8).map(|n| notice_backoff(n).num_seconds()).collect();
        assert_eq!(waits, [30, 60, 120, 240, 480, 960, 1800, 1800]);
    }
}
