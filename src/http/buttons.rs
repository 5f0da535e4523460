//! The buttons: Edit, Cancel, Send now and "Schedule a message", and a
//! series' Skip, Edit, Pause, Resume and Cancel, in `/schedule list`
//! messages and the Home tab; and the modal's own choices (Repeat, Ends),
//! which update it in place. Acknowledged at once; the work and the answer
//! (in the conversation, or a small modal) follow.

use chrono::Utc;

use super::commands::list_content;
use super::modal_form::{self, ModalForm};
use super::scheduling::{after_change, author, installed, not_installed, open_new_modal};
use super::{SharedState, series};
use crate::domain::MessageStatus;
use crate::error::AppError;
use crate::slack::blocks::{self, ModalMode, ModalSpec};
use crate::slack::inbound::BlockActions;
use crate::slack::mrkdwn;
use crate::slack::rich_text::RichText;
use crate::store::{ChangeError, MessageRecord};

/// Button presses. Acknowledged at once; the work happens here.
pub(super) async fn act(app: SharedState, actions: BlockActions) {
    let Some(team_id) = actions.team_id().map(str::to_owned) else {
        return;
    };
    let user_id = actions.user.id.clone();
    let Some(action) = actions.actions.first() else {
        return;
    };
    // Nothing is read or written for a workspace without Scheduler.
    match installed(&app, &team_id).await {
        Ok(true) => {}
        Ok(false) => {
            tell(&app, &team_id, &actions, &not_installed(&app, true)).await;
            return;
        }
        Err(err) => {
            tracing::error!(error = %err, "cannot check the installation for a button");
            let text = "Sorry, something went wrong on our side. Please try again.";
            tell(&app, &team_id, &actions, text).await;
            return;
        }
    }
    let trigger = actions.trigger_id.as_deref();
    let id = action.chosen().and_then(|v| v.parse::<i64>().ok());
    let result = match (action.action_id.as_str(), id) {
        (blocks::ACTION_REPEAT_CHOICE | blocks::ACTION_ENDS_CHOICE, _) => {
            modal_choice(&app, &team_id, &user_id, &actions).await
        }
        (blocks::ACTION_NEW, _) => open_new(&app, &team_id, &user_id, trigger).await,
        (blocks::ACTION_EDIT, Some(id)) => open_edit(&app, &team_id, &user_id, id, trigger).await,
        (blocks::ACTION_CANCEL, Some(id)) => cancel(&app, &team_id, &user_id, id).await,
        (blocks::ACTION_SEND_NOW, Some(id)) => send_now(&app, &team_id, &user_id, id).await,
        (blocks::ACTION_SKIP, _) => match action.chosen().and_then(series::occurrence_ref) {
            Some((series_id, at)) => series::skip(&app, &team_id, &user_id, series_id, at).await,
            None => Ok(()),
        },
        (blocks::ACTION_EDIT_SERIES, Some(id)) => {
            series::open_edit(&app, &team_id, &user_id, id, trigger).await
        }
        (blocks::ACTION_PAUSE_SERIES, Some(id)) => {
            series::pause(&app, &team_id, &user_id, id).await
        }
        (blocks::ACTION_RESUME_SERIES, Some(id)) => {
            series::resume(&app, &team_id, &user_id, id).await
        }
        (blocks::ACTION_CANCEL_SERIES, Some(id)) => {
            series::cancel(&app, &team_id, &user_id, id).await
        }
        _ => Ok(()),
    };
    let refusal = match result {
        Ok(()) => {
            after_change(&app, &team_id, &user_id, None);
            if let (Some(url), true) = (
                actions.response_url.as_deref(),
                blocks::CHANGES_LIST.contains(&action.action_id.as_str()),
            ) {
                // Refresh the `/schedule list` message the button was in.
                refresh_list(&app, &team_id, &user_id, url).await;
            }
            return;
        }
        Err(Refusal::Change(err)) => err.to_string(),
        Err(Refusal::Failed(err)) => {
            tracing::error!(error = %err, action = %action.action_id, "a button action failed");
            "Sorry, something went wrong on our side. Please try again.".to_owned()
        }
    };
    tell(&app, &team_id, &actions, &refusal).await;
}

pub(super) enum Refusal {
    Change(ChangeError),
    Failed(AppError),
}

impl<E: Into<AppError>> From<E> for Refusal {
    fn from(err: E) -> Self {
        Self::Failed(err.into())
    }
}

/// Says why a button did nothing: in the conversation if it was pressed in a
/// message, else in a small modal.
async fn tell(app: &SharedState, team_id: &str, actions: &BlockActions, text: &str) {
    if let Some(url) = actions.response_url.as_deref() {
        app.bot
            .respond(url, blocks::ephemeral(&blocks::text_message(text)))
            .await;
    } else if let Some(trigger) = actions.trigger_id.as_deref()
        && let Err(err) = app
            .bot
            .open_view(team_id, trigger, blocks::notice_modal("Scheduler", text))
            .await
    {
        tracing::warn!(error = %err, "cannot show why a button did nothing");
    }
}

async fn open_new(
    app: &SharedState,
    team_id: &str,
    user_id: &str,
    trigger: Option<&str>,
) -> Result<(), Refusal> {
    let Some(trigger) = trigger else {
        return Ok(());
    };
    open_new_modal(app, team_id, user_id, trigger, None, None).await?;
    Ok(())
}

async fn open_edit(
    app: &SharedState,
    team_id: &str,
    user_id: &str,
    id: i64,
    trigger: Option<&str>,
) -> Result<(), Refusal> {
    let (author, connect_url) = author(app, team_id, user_id).await?;
    let message = app.store.message(id).await?;
    let Some(message) = message.filter(|m| m.author_id == author.id) else {
        return Err(Refusal::Change(ChangeError::NotFound));
    };
    match message.status {
        MessageStatus::Sending => return Err(Refusal::Change(ChangeError::InDoubt)),
        MessageStatus::Pending | MessageStatus::Held if message.verify_before_post => {
            return Err(Refusal::Change(ChangeError::InDoubt));
        }
        MessageStatus::Pending | MessageStatus::Held => {}
        settled => return Err(Refusal::Change(ChangeError::Settled(settled))),
    }
    let Some(trigger) = trigger else {
        return Ok(());
    };
    let now = Utc::now();
    let tz = app.bot.user_zone(team_id, user_id).await?;
    let due = if message.due_at > now {
        message.due_at
    } else {
        blocks::next_full_hour(now, tz)
    };
    let mut spec = ModalSpec::new(due);
    spec.mode = ModalMode::EditMessage {
        id,
        occurrence: message.series_id.is_some(),
    };
    spec.channel = Some(message.channel_id.clone());
    spec.message = Some(as_written(&message));
    spec.conditions = message.options.conditions;
    spec.in_thread = message.options.thread_ts.is_some();
    spec.reply_broadcast = message.options.reply_broadcast;
    spec.connect_url = connect_url;
    app.bot
        .open_view(team_id, trigger, blocks::schedule_modal(&spec))
        .await?;
    Ok(())
}

/// A message as its author wrote it, for the modal: its rich text, or one
/// made from its text when it has none (written in the slash command) or
/// its rich text cannot be read.
pub(super) fn as_written(message: &MessageRecord) -> RichText {
    written_as(message.id, &message.text, message.rich_text.as_deref())
}

/// Text as its author wrote it: its rich text, or one made from its markup.
pub(super) fn written_as(id: i64, text: &str, rich_text: Option<&str>) -> RichText {
    if let Some(json) = rich_text {
        match RichText::from_json(json) {
            Ok(rich_text) => return rich_text,
            Err(err) => {
                tracing::error!(id, error = %err, "a stored rich text cannot be read; editing its text");
            }
        }
    }
    RichText::from_markup(&mrkdwn::markup(text))
}

async fn cancel(app: &SharedState, team_id: &str, user_id: &str, id: i64) -> Result<(), Refusal> {
    let (author, _) = author(app, team_id, user_id).await?;
    app.store
        .cancel_message(id, author.id, Utc::now())
        .await
        .map_err(refusal)?;
    tracing::info!(message_id = id, "message cancelled by its author");
    Ok(())
}

async fn send_now(app: &SharedState, team_id: &str, user_id: &str, id: i64) -> Result<(), Refusal> {
    let (author, _) = author(app, team_id, user_id).await?;
    let now = Utc::now();
    app.store
        .send_now(id, author.id, now)
        .await
        .map_err(refusal)?;
    app.wake.due_at(now);
    Ok(())
}

/// The modal's Repeat or Ends choice changed: show the fields it needs,
/// keeping everything entered so far.
async fn modal_choice(
    app: &SharedState,
    team_id: &str,
    user_id: &str,
    actions: &BlockActions,
) -> Result<(), Refusal> {
    let Some(view) = actions.view.as_ref() else {
        return Ok(());
    };
    let Some(Ok(mode)) = modal_form::mode_of(view) else {
        return Ok(());
    };
    let tz = app.bot.user_zone(team_id, user_id).await?;
    let (_, connect_url) = author(app, team_id, user_id).await?;
    let form = ModalForm::read(view);
    let mut spec = form.spec(mode, blocks::next_full_hour(Utc::now(), tz));
    spec.connect_url = connect_url;
    app.bot
        .update_view(team_id, &view.id, &view.hash, blocks::schedule_modal(&spec))
        .await?;
    Ok(())
}

pub(super) fn refusal(err: ChangeError) -> Refusal {
    match err {
        ChangeError::Store(err) => Refusal::Failed(err.into()),
        other => Refusal::Change(other),
    }
}

async fn refresh_list(app: &SharedState, team_id: &str, user_id: &str, response_url: &str) {
    let Ok((author, _)) = author(app, team_id, user_id).await else {
        return;
    };
    let Ok(tz) = app.bot.user_zone(team_id, user_id).await else {
        return;
    };
    let content = match list_content(app, &author, tz).await {
        Ok(content) => content,
        Err(err) => {
            tracing::warn!(error = %err, "cannot show the list again");
            return;
        }
    };
    let mut body = blocks::ephemeral(&content);
    body["replace_original"] = serde_json::Value::Bool(true);
    app.bot.respond(response_url, body).await;
}
