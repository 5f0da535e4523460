//! Interactions: the modal's submission (new message or edit), and the
//! buttons (Edit, Cancel, Send now, Schedule a message). Who may change a
//! message is checked here, on the server: only its author, in their own
//! workspace, whatever the buttons say.

use std::collections::HashMap;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::SharedState;
use super::scheduling::{after_change, author, check, open_new_modal};
use crate::domain::MessageStatus;
use crate::error::AppError;
use crate::slack::SignedBody;
use crate::slack::blocks::{self, ModalSpec};
use crate::slack::inbound::{BlockActions, Interaction, ViewSubmission};
use crate::store::{ChangeError, InsertError, MessageEdit, NewMessage};

#[derive(Deserialize)]
struct Form {
    payload: String,
}

pub async fn handle(State(app): State<SharedState>, body: SignedBody) -> Response {
    let interaction = serde_urlencoded::from_bytes::<Form>(&body.0)
        .ok()
        .and_then(|form| serde_json::from_str::<Interaction>(&form.payload).ok());
    match interaction {
        Some(Interaction::ViewSubmission(submission)) => match submit(&app, submission).await {
            Ok(response) => response,
            Err(err) => {
                tracing::error!(error = %err, "modal submission failed");
                errors([(
                    blocks::TEXT_BLOCK,
                    "Sorry, something went wrong on our side. Please try again.".to_owned(),
                )])
            }
        },
        Some(Interaction::BlockActions(actions)) => {
            tokio::spawn(act(app, actions));
            StatusCode::OK.into_response()
        }
        Some(Interaction::Other) => StatusCode::OK.into_response(),
        None => AppError::BadRequest("malformed interaction payload".into()).into_response(),
    }
}

/// `response_action: errors`, keyed by input block.
fn errors<const N: usize>(fields: [(&str, String); N]) -> Response {
    let errors: HashMap<&str, String> = fields.into_iter().collect();
    Json(serde_json::json!({"response_action": "errors", "errors": errors})).into_response()
}

async fn submit(app: &SharedState, submission: ViewSubmission) -> Result<Response, AppError> {
    let view = &submission.view;
    let editing = match view.callback_id.as_str() {
        blocks::NEW_CALLBACK => None,
        blocks::EDIT_CALLBACK => match view.private_metadata.parse::<i64>() {
            Ok(id) => Some(id),
            Err(_) => {
                return Ok(errors([(
                    blocks::TEXT_BLOCK,
                    "This form is out of date. Close it and try again.".into(),
                )]));
            }
        },
        _ => return Ok(StatusCode::OK.into_response()),
    };
    let Some(team_id) = submission.team_id().map(str::to_owned) else {
        return Err(AppError::BadRequest(
            "view submission without a team".into(),
        ));
    };
    let user_id = submission.user.id.clone();
    let now = Utc::now();

    let channel = view
        .value(blocks::CHANNEL_BLOCK, blocks::CHANNEL_ACTION)
        .and_then(|v| {
            v.selected_conversation
                .clone()
                .or_else(|| v.selected_channel.clone())
        })
        .filter(|c| !c.is_empty());
    let text = view
        .value(blocks::TEXT_BLOCK, blocks::TEXT_ACTION)
        .and_then(|v| v.value.clone())
        .unwrap_or_default();
    let due = view
        .value(blocks::WHEN_BLOCK, blocks::WHEN_ACTION)
        .and_then(|v| v.selected_date_time)
        .and_then(|secs| DateTime::from_timestamp(secs, 0));

    let mut problems: Vec<(&str, String)> = Vec::new();
    if channel.is_none() {
        problems.push((
            blocks::CHANNEL_BLOCK,
            "Pick a conversation to post in.".into(),
        ));
    }
    let (text_check, due_check) = check(&text, due.unwrap_or(now), now);
    if let Err(err) = &text_check {
        problems.push((blocks::TEXT_BLOCK, err.to_string()));
    }
    match (due, &due_check) {
        (None, _) => problems.push((blocks::WHEN_BLOCK, "Pick a date and time.".into())),
        (Some(_), Err(err)) => problems.push((blocks::WHEN_BLOCK, err.to_string())),
        _ => {}
    }
    let (true, Some(channel), Ok(text), Ok(due)) =
        (problems.is_empty(), channel, text_check, due_check)
    else {
        let errors: HashMap<&str, String> = problems.into_iter().collect();
        return Ok(
            Json(serde_json::json!({"response_action": "errors", "errors": errors}))
                .into_response(),
        );
    };

    let (author, connect_url) = author(app, &team_id, &user_id).await?;
    match editing {
        None => {
            let message = NewMessage {
                author_id: author.id,
                team_id: team_id.clone(),
                user_id: user_id.clone(),
                channel_id: channel.clone(),
                text: text.clone(),
                due,
            };
            match app.store.insert_message(&message, now).await {
                Ok(id) => {
                    tracing::info!(message_id = id, due_at = %due.at(), "message scheduled from the modal")
                }
                Err(InsertError::PendingLimit) => {
                    return Ok(errors([(
                        blocks::TEXT_BLOCK,
                        InsertError::PendingLimit.to_string(),
                    )]));
                }
                Err(InsertError::Store(err)) => return Err(err.into()),
            }
        }
        Some(id) => {
            let edit = MessageEdit {
                channel_id: channel.clone(),
                text: text.clone(),
                due,
            };
            match app.store.edit_message(id, author.id, &edit, now).await {
                Ok(_) => tracing::info!(message_id = id, due_at = %due.at(), "message edited"),
                Err(ChangeError::NotFound) => {
                    return Ok(errors([(
                        blocks::TEXT_BLOCK,
                        ChangeError::NotFound.to_string(),
                    )]));
                }
                Err(settled @ ChangeError::Settled(_)) => {
                    return Ok(errors([(blocks::TEXT_BLOCK, settled.to_string())]));
                }
                Err(ChangeError::Store(err)) => return Err(err.into()),
            }
        }
    }
    after_change(app, &team_id, &user_id, Some(due.at()));

    // Confirm in the chosen conversation if Slack gave us a way, else by DM.
    let response_url = submission
        .response_urls
        .first()
        .map(|r| r.response_url.clone());
    let app = app.clone();
    tokio::spawn(async move {
        let tz = app.bot.user_zone(&team_id, &user_id).await;
        let content = blocks::scheduled_message(
            &channel,
            text.as_str(),
            due.at(),
            tz,
            connect_url.as_deref(),
        );
        match response_url {
            Some(url) => app.bot.respond(&url, blocks::ephemeral(&content)).await,
            None => {
                if let Err(err) = app.bot.dm(&team_id, &user_id, content).await {
                    tracing::warn!(error = %err, "cannot confirm a scheduled message");
                }
            }
        }
    });
    Ok(StatusCode::OK.into_response())
}

/// Button presses. Acknowledged at once; the work happens here.
async fn act(app: SharedState, actions: BlockActions) {
    let Some(team_id) = actions.team_id().map(str::to_owned) else {
        return;
    };
    let user_id = actions.user.id.clone();
    let Some(action) = actions.actions.first() else {
        return;
    };
    let message_id = action.value.as_deref().and_then(|v| v.parse::<i64>().ok());
    let result = match (action.action_id.as_str(), message_id) {
        (blocks::ACTION_NEW, _) => {
            open_new(&app, &team_id, &user_id, actions.trigger_id.as_deref()).await
        }
        (blocks::ACTION_EDIT, Some(id)) => {
            open_edit(&app, &team_id, &user_id, id, actions.trigger_id.as_deref()).await
        }
        (blocks::ACTION_CANCEL, Some(id)) => cancel(&app, &team_id, &user_id, id).await,
        (blocks::ACTION_SEND_NOW, Some(id)) => send_now(&app, &team_id, &user_id, id).await,
        _ => Ok(()),
    };
    let refusal = match result {
        Ok(()) => {
            after_change(&app, &team_id, &user_id, None);
            if let (Some(url), true) = (
                actions.response_url.as_deref(),
                action.action_id == blocks::ACTION_CANCEL,
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

enum Refusal {
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
    if !matches!(message.status, MessageStatus::Pending | MessageStatus::Held) {
        return Err(Refusal::Change(ChangeError::Settled(message.status)));
    }
    let Some(trigger) = trigger else {
        return Ok(());
    };
    let now = Utc::now();
    let tz = app.bot.user_zone(team_id, user_id).await;
    let due = if message.due_at > now {
        message.due_at
    } else {
        blocks::next_full_hour(now, tz)
    };
    let spec = ModalSpec {
        editing: Some(id),
        channel: Some(message.channel_id),
        text: Some(message.text),
        due,
        notice: None,
        connect_url,
    };
    app.bot
        .open_view(team_id, trigger, blocks::schedule_modal(&spec))
        .await?;
    Ok(())
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
        .send_held_now(id, author.id, now)
        .await
        .map_err(refusal)?;
    app.wake.due_at(now);
    Ok(())
}

fn refusal(err: ChangeError) -> Refusal {
    match err {
        ChangeError::Store(err) => Refusal::Failed(err.into()),
        other => Refusal::Change(other),
    }
}

async fn refresh_list(app: &SharedState, team_id: &str, user_id: &str, response_url: &str) {
    let Ok((author, _)) = author(app, team_id, user_id).await else {
        return;
    };
    let waiting = [MessageStatus::Pending, MessageStatus::Held];
    let (Ok(messages), Ok(counts)) = (
        app.store
            .author_messages(author.id, &waiting, 20, false)
            .await,
        app.store.author_counts(author.id).await,
    ) else {
        return;
    };
    let tz = app.bot.user_zone(team_id, user_id).await;
    let mut body = blocks::ephemeral(&blocks::pending_list(
        &messages,
        counts.pending + counts.held,
        tz,
    ));
    body["replace_original"] = serde_json::Value::Bool(true);
    app.bot.respond(response_url, body).await;
}
