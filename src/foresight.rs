//! Failure foresight (SPEC §7): rather than fail silently at the due time,
//! check that the author can still post there (a member, the channel not
//! archived, their account connected) when a message is scheduled or
//! edited, and again an hour before it is due. What a check finds is shown
//! on the message in App Home; the hour-before check also tells the author
//! by DM.
//!
//! A check is one `conversations.info` with the author's own token (Tier 3:
//! 50+ a minute per workspace). Checks of one author and conversation are
//! made once per pass, and the calls keep to a per-workspace pace kept in
//! the database, shared by every process.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::bot::Bot;
use crate::clock::Clock;
use crate::domain::MessageStatus;
use crate::homes::Homes;
use crate::slack::{ErrorClass, SlackApi, SlackError, blocks};
use crate::store::{Store, StoreError, TokenOwner, TokenStatus};
use crate::tokens::{Refreshed, Refresher, needs_refresh};

/// Checks claimed per statement.
const BATCH: i64 = 200;
/// `conversations.info` calls a minute per workspace: Tier 3 allows 50 and
/// more; the rest is left to other calls of the method.
const CALLS_PER_MINUTE: u32 = 40;
/// The longest a pass waits for a workspace's next call.
const LONGEST_WAIT: Duration = Duration::from_secs(30);
/// The longest the loop sleeps without looking.
const LOOK_AT_LEAST_EVERY: Duration = Duration::from_secs(60);
/// Checks due this soon are made together, so that an author with several
/// messages due close together gets one DM, not one each.
const LOOK_AHEAD: chrono::Duration = chrono::Duration::minutes(2);
/// Tokens this close to expiry are refreshed before a check.
const REFRESH_MARGIN: Duration = Duration::from_secs(5 * 60);
/// How long a check waits for another refresh of the author's token.
const REFRESH_WAIT: Duration = Duration::from_secs(10);

/// Slack's answers that say the author cannot post there.
const CANNOT_POST: [&str; 3] = ["channel_not_found", "not_in_channel", "is_archived"];

/// One (author, conversation) to check, and the messages it concerns.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Target {
    team_id: String,
    user_id: String,
    author_id: i64,
    channel_id: String,
}

pub struct Foresight {
    store: Store,
    slack: SlackApi,
    bot: Arc<Bot>,
    refresher: Refresher,
    clock: Arc<Clock>,
    homes: Arc<Homes>,
    wake: Notify,
}

impl std::fmt::Debug for Foresight {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Foresight").finish_non_exhaustive()
    }
}

impl Foresight {
    pub fn new(
        store: Store,
        slack: SlackApi,
        bot: Arc<Bot>,
        refresher: Refresher,
        homes: Arc<Homes>,
    ) -> Self {
        let clock = refresher.clock();
        Self {
            store,
            slack,
            bot,
            refresher,
            clock,
            homes,
            wake: Notify::new(),
        }
    }

    /// Checks messages just scheduled or edited, in the background; what is
    /// found shows in the author's Home tab.
    pub fn check_soon(self: &Arc<Self>, ids: Vec<i64>) {
        let this = self.clone();
        tokio::spawn(async move {
            if let Err(err) = this.check_messages(&ids).await {
                tracing::warn!(error = %err, "cannot check newly scheduled messages");
            }
        });
        // Their hour-before checks may be sooner than the loop's next look.
        self.wake.notify_one();
    }

    async fn check_messages(&self, ids: &[i64]) -> Result<(), StoreError> {
        let mut targets: BTreeMap<Target, Vec<i64>> = BTreeMap::new();
        for id in ids {
            if let Some(m) = self.store.message(*id).await? {
                let target = Target {
                    team_id: m.team_id,
                    user_id: m.user_id,
                    author_id: m.author_id,
                    channel_id: m.channel_id,
                };
                targets.entry(target).or_default().push(m.id);
            }
        }
        for (target, ids) in targets {
            let found = self.problem(&target).await?;
            self.store.record_warning(&ids, found.as_deref()).await?;
            if found.is_some() {
                self.homes.request(&target.team_id, &target.user_id);
            }
        }
        Ok(())
    }

    /// Makes the checks due an hour ahead: warns in App Home and by DM.
    /// Returns how many messages were checked.
    pub async fn sweep(&self) -> Result<usize, StoreError> {
        let mut checked = 0;
        loop {
            let due = self
                .store
                .claim_checks(self.clock.now() + LOOK_AHEAD, BATCH)
                .await?;
            let full = due.len() as i64 == BATCH;
            let mut targets: BTreeMap<Target, Vec<(i64, DateTime<Utc>)>> = BTreeMap::new();
            // A check that comes too late to help (the message is due, or
            // settled) is dropped: foresight is worth nothing afterwards.
            let now = self.clock.now();
            for item in due
                .into_iter()
                .filter(|i| matches!(i.status, MessageStatus::Pending) && i.due_at > now)
            {
                let target = Target {
                    team_id: item.team_id,
                    user_id: item.user_id,
                    author_id: item.author_id,
                    channel_id: item.channel_id,
                };
                targets
                    .entry(target)
                    .or_default()
                    .push((item.id, item.due_at));
            }
            for (target, messages) in targets {
                checked += messages.len();
                let found = self.problem(&target).await?;
                let ids: Vec<i64> = messages.iter().map(|(id, _)| *id).collect();
                self.store.record_warning(&ids, found.as_deref()).await?;
                if let Some(reason) = found {
                    self.warn(&target, &messages, &reason).await;
                }
            }
            if !full {
                return Ok(checked);
            }
        }
    }

    /// Tells the author by DM, and shows it in their Home tab.
    async fn warn(&self, target: &Target, messages: &[(i64, DateTime<Utc>)], reason: &str) {
        tracing::info!(author_id = target.author_id, channel_id = %target.channel_id, reason,
            messages = messages.len(), "a message due within the hour cannot be posted as things stand");
        self.homes.request(&target.team_id, &target.user_id);
        let tz = match self.bot.user_zone(&target.team_id, &target.user_id).await {
            Ok(tz) => tz,
            Err(err) => {
                tracing::warn!(error = %err, "cannot read the author's zone for a warning");
                return;
            }
        };
        let due: Vec<DateTime<Utc>> = messages.iter().map(|(_, at)| *at).collect();
        let content = blocks::foresight_warning(&target.channel_id, &due, reason, tz);
        if let Err(err) = self.bot.dm(&target.team_id, &target.user_id, content).await {
            tracing::warn!(error = %err, "cannot warn an author by DM");
        }
    }

    /// What stands in the way of the author posting in the conversation,
    /// as a reason code; `None` when nothing does, or nothing can be told.
    async fn problem(&self, target: &Target) -> Result<Option<String>, StoreError> {
        let Some(user) = self.store.user_by_id(target.author_id).await? else {
            return Ok(None);
        };
        let credentials = match (user.token_status, user.credentials) {
            (TokenStatus::None, _) | (TokenStatus::Active, None) => {
                return Ok(Some("not_connected".into()));
            }
            (TokenStatus::Invalid, _) => return Ok(Some("credentials_invalid".into())),
            (TokenStatus::Active, Some(credentials)) => credentials,
        };
        let owner = TokenOwner::User {
            id: target.author_id,
            team_id: target.team_id.clone(),
            user_id: target.user_id.clone(),
        };
        let token = if needs_refresh(credentials.expires_at, self.clock.now(), REFRESH_MARGIN) {
            match self
                .refresher
                .refresh(&owner, user.token_generation, REFRESH_WAIT)
                .await
            {
                Refreshed::Fresh { credentials, .. } => credentials.access_token,
                Refreshed::Refused(reason) => return Ok(Some(reason)),
                // Not now; the delivery will try again at its time.
                Refreshed::Failed(_) => return Ok(None),
            }
        } else {
            credentials.access_token
        };
        if !self.take_call(&target.team_id).await? {
            return Ok(None);
        }
        let info = self
            .slack
            .conversation_info(&token, &target.team_id, &target.channel_id)
            .await;
        Ok(match info {
            Ok(info) if info.is_archived => Some("is_archived".into()),
            Ok(info) if info.is_member == Some(false) => Some("not_in_channel".into()),
            Ok(_) => None,
            Err(SlackError::Api { code }) if CANNOT_POST.contains(&code.as_str()) => Some(code),
            Err(err) if err.class() == ErrorClass::Credentials => Some(err.reason()),
            Err(err) => {
                // Missing scope (connected before it was asked for), a
                // rate limit, Slack failing: nothing can be told now.
                tracing::debug!(error = %err, "a check ahead of time could not be made");
                None
            }
        })
    }

    /// Waits for the workspace's next `conversations.info` call; `false`
    /// when it is further off than a pass should wait.
    async fn take_call(&self, team_id: &str) -> Result<bool, StoreError> {
        let key = format!("{team_id}/conversations.info");
        let spacing = chrono::Duration::milliseconds(60_000 / i64::from(CALLS_PER_MINUTE));
        let give_up = tokio::time::Instant::now() + LONGEST_WAIT;
        loop {
            let now = self.clock.now();
            match self
                .store
                .take_history_call(&key, now, now + spacing)
                .await?
            {
                None => return Ok(true),
                Some(at) => {
                    let wait = (at - now).to_std().unwrap_or_default();
                    if tokio::time::Instant::now() + wait > give_up {
                        return Ok(false);
                    }
                    tokio::time::sleep(wait).await;
                }
            }
        }
    }

    /// Makes the hour-before checks as they come due, until `stop`.
    pub async fn run(self: Arc<Self>, stop: CancellationToken) {
        loop {
            if let Err(err) = self.sweep().await {
                tracing::warn!(error = %err, "checks ahead of time failed; trying again later");
            }
            let next = match self.store.next_check_at().await {
                Ok(Some(at)) => (at - LOOK_AHEAD - self.clock.now())
                    .to_std()
                    .unwrap_or_default(),
                _ => LOOK_AT_LEAST_EVERY,
            };
            tokio::select! {
                () = stop.cancelled() => return,
                () = self.wake.notified() => {}
                () = tokio::time::sleep(next.min(LOOK_AT_LEAST_EVERY)) => {}
            }
        }
    }
}
