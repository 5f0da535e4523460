//! What the slash command and the modal share: who the author is, the
//! input rules, and what follows a change to someone's messages.

use chrono::{DateTime, Utc};

use super::SharedState;
use crate::bot::BotError;
use crate::domain::{DueTime, DueTimeError, MessageText, MessageTextError};
use crate::slack::blocks::{self, ModalMode, ModalSpec};
use crate::slack::rich_text::RichText;
use crate::store::{Author, StoreError, TokenStatus};

/// The author behind a request, and the link to connect their account when
/// they have no working token.
pub(super) async fn author(
    app: &SharedState,
    team_id: &str,
    user_id: &str,
) -> Result<(Author, Option<String>), StoreError> {
    let author = app.store.ensure_user(team_id, user_id, Utc::now()).await?;
    let connected = app
        .store
        .user_by_id(author.id)
        .await?
        .is_some_and(|u| u.token_status == TokenStatus::Active);
    let connect_url = (!connected).then(|| app.bot.connect_url(team_id));
    Ok((author, connect_url))
}

/// Who sent a request from an installed workspace: their row, their zone,
/// and the link to connect their account if they have no working token.
#[derive(Debug, Clone)]
pub(super) struct Requester {
    pub author: Author,
    pub tz: chrono_tz::Tz,
    pub connect_url: Option<String>,
}

/// The requester, or `None` when their workspace has not installed
/// Scheduler (nothing is written then). One statement for a user seen
/// before whose zone is fresh; a first request adds the user's row.
pub(super) async fn requester(
    app: &SharedState,
    team_id: &str,
    user_id: &str,
) -> Result<Option<Requester>, BotError> {
    let context = app.store.request_context(team_id, user_id).await?;
    if !context.installed {
        return Ok(None);
    }
    let (author, tz, checked, status) = match context.user {
        Some(user) => (user.author, user.tz, user.tz_checked_at, user.token_status),
        None => {
            let author = app.store.ensure_user(team_id, user_id, Utc::now()).await?;
            (author, None, None, TokenStatus::None)
        }
    };
    let tz = app.bot.zone_of(&author, tz.as_deref(), checked).await?;
    let connect_url = (status != TokenStatus::Active).then(|| app.bot.connect_url(team_id));
    Ok(Some(Requester {
        author,
        tz,
        connect_url,
    }))
}

/// Whether the workspace has Scheduler installed (its bot token is present).
pub(super) async fn installed(app: &SharedState, team_id: &str) -> Result<bool, StoreError> {
    Ok(app
        .store
        .workspace(team_id)
        .await?
        .is_some_and(|w| w.is_installed()))
}

/// What a workspace without Scheduler is told, whatever it asked: how to
/// install. `mrkdwn` for messages; field errors in a modal are plain text.
pub(super) fn not_installed(app: &SharedState, mrkdwn: bool) -> String {
    let url = format!("{}/slack/install", app.public_url);
    if mrkdwn {
        format!("Scheduler is not installed in this workspace. <{url}|Add it to Slack> first.")
    } else {
        format!("Scheduler is not installed in this workspace. Add it to Slack first: {url}")
    }
}

/// The input rules of SPEC §4, as messages for the user.
pub(super) fn check(
    text: &str,
    due: DateTime<Utc>,
    now: DateTime<Utc>,
) -> (
    Result<MessageText, MessageTextError>,
    Result<DueTime, DueTimeError>,
) {
    (MessageText::parse(text), DueTime::parse(due, now))
}

/// A message was stored or changed: move the scheduler's wake-up if need
/// be, and refresh the author's Home tab.
pub(super) fn after_change(
    app: &SharedState,
    team_id: &str,
    user_id: &str,
    due: Option<DateTime<Utc>>,
) {
    if let Some(due) = due {
        app.wake.due_at(due);
    }
    app.homes.request(team_id, user_id);
}

/// Opens the modal for a new message: the next full hour in the user's
/// zone, a link to connect their account if they have not, and optionally
/// a message and a note to start with.
pub(super) async fn open_new_modal(
    app: &SharedState,
    team_id: &str,
    user_id: &str,
    trigger_id: &str,
    message: Option<RichText>,
    notice: Option<String>,
) -> Result<(), BotError> {
    let tz = app.bot.user_zone(team_id, user_id).await?;
    let (_, connect_url) = author(app, team_id, user_id).await?;
    let mut spec = ModalSpec::new(blocks::next_full_hour(chrono::Utc::now(), tz));
    spec.message = message;
    spec.notice = notice;
    spec.connect_url = connect_url;
    app.bot
        .open_view(team_id, trigger_id, blocks::schedule_modal(&spec))
        .await
}

/// Opens the modal for a reply in the thread of `thread_ts` in `channel_id`
/// (the "Schedule a reply" message shortcut).
pub(super) async fn open_reply_modal(
    app: &SharedState,
    team_id: &str,
    user_id: &str,
    trigger_id: &str,
    channel_id: &str,
    thread_ts: &str,
) -> Result<(), BotError> {
    let tz = app.bot.user_zone(team_id, user_id).await?;
    let (_, connect_url) = author(app, team_id, user_id).await?;
    let mut spec = ModalSpec::new(blocks::next_full_hour(chrono::Utc::now(), tz));
    spec.mode = ModalMode::Reply {
        channel_id: channel_id.to_owned(),
        thread_ts: thread_ts.to_owned(),
    };
    spec.in_thread = true;
    spec.connect_url = connect_url;
    app.bot
        .open_view(team_id, trigger_id, blocks::schedule_modal(&spec))
        .await
}
