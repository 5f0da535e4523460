//! Interactions: the modal's submission (new message or edit) here, the
//! buttons in [`super::buttons`]. Who may change a message is checked on the
//! server: only its author, in their own workspace, where Scheduler is
//! installed, whatever the payload says.

use std::collections::HashMap;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::SharedState;
use super::buttons;
use super::scheduling::{after_change, check, not_installed, requester};
use crate::error::AppError;
use crate::slack::SignedBody;
use crate::slack::blocks;
use crate::slack::inbound::{Interaction, SubmittedView, ViewSubmission};
use crate::slack::mrkdwn;
use crate::slack::rich_text::{RichText, RichTextError};
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
            tokio::spawn(buttons::act(app, actions));
            StatusCode::OK.into_response()
        }
        Some(Interaction::Other) => StatusCode::OK.into_response(),
        None => AppError::BadRequest("malformed interaction payload".into()).into_response(),
    }
}

/// The message field as submitted: its plain rendering in Slack's markup,
/// and its rich text (Slack's JSON) when it has one.
struct Written {
    markup: String,
    rich_text: Option<String>,
}

/// Reads the message field: the `rich_text_value` of its `rich_text_input`,
/// or, from a modal opened before the field was one (a view lives on in
/// the client), the words of its plain-text input.
fn written_message(view: &SubmittedView) -> Result<Written, RichTextError> {
    let field = view.value(blocks::TEXT_BLOCK, blocks::TEXT_ACTION);
    if let Some(value) = field.and_then(|f| f.rich_text_value.as_ref()) {
        let rich_text = RichText::from_value(value)?;
        return Ok(Written {
            markup: rich_text.markup(),
            rich_text: Some(rich_text.to_json()),
        });
    }
    let words = field.and_then(|f| f.value.as_deref()).unwrap_or_default();
    Ok(Written {
        markup: mrkdwn::markup(words),
        rich_text: None,
    })
}

/// `response_action: errors`, keyed by input block.
pub(super) fn errors<const N: usize>(fields: [(&str, String); N]) -> Response {
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
    // Before anything reads or writes the store: a workspace without
    // Scheduler changes nothing, not even a user row.
    let user_id = submission.user.id.clone();
    let Some(who) = requester(app, &team_id, &user_id).await? else {
        return Ok(errors([(blocks::TEXT_BLOCK, not_installed(app, false))]));
    };
    if let Some(trigger) = submission.trigger_id.as_deref().filter(|t| !t.is_empty())
        && !app.store.record_trigger(trigger, Utc::now()).await?
    {
        // Already acted on: a replay. An empty 200 closes the modal, as the first did.
        tracing::warn!("a modal submission was received twice; the repeat is ignored");
        return Ok(StatusCode::OK.into_response());
    }
    let now = Utc::now();

    let channel = view
        .value(blocks::CHANNEL_BLOCK, blocks::CHANNEL_ACTION)
        .and_then(|v| {
            v.selected_conversation
                .clone()
                .or_else(|| v.selected_channel.clone())
        })
        .filter(|c| !c.is_empty());
    let written = written_message(view);
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
    let markup = written
        .as_ref()
        .map(|w| w.markup.as_str())
        .unwrap_or_default();
    let (text_check, due_check) = check(markup, due.unwrap_or(now), now);
    match (&written, &text_check) {
        (Err(unreadable), _) => problems.push((blocks::TEXT_BLOCK, unreadable.to_string())),
        (Ok(_), Err(rule)) => problems.push((blocks::TEXT_BLOCK, rule.to_string())),
        (Ok(_), Ok(_)) => {}
    }
    match (due, &due_check) {
        (None, _) => problems.push((blocks::WHEN_BLOCK, "Pick a date and time.".into())),
        (Some(_), Err(err)) => problems.push((blocks::WHEN_BLOCK, err.to_string())),
        _ => {}
    }
    let (true, Some(channel), Ok(written), Ok(text), Ok(due)) =
        (problems.is_empty(), channel, written, text_check, due_check)
    else {
        let errors: HashMap<&str, String> = problems.into_iter().collect();
        return Ok(
            Json(serde_json::json!({"response_action": "errors", "errors": errors}))
                .into_response(),
        );
    };

    let (author, connect_url, tz) = (who.author, who.connect_url, who.tz);
    match editing {
        None => {
            let message = NewMessage {
                author_id: author.id,
                team_id: team_id.clone(),
                user_id: user_id.clone(),
                channel_id: channel.clone(),
                text: text.clone(),
                rich_text: written.rich_text.clone(),
                due,
                options: Default::default(),
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
                rich_text: written.rich_text.clone(),
                due,
                conditions: Default::default(),
                reply_broadcast: false,
            };
            match app.store.edit_message(id, author.id, &edit, now).await {
                Ok(_) => tracing::info!(message_id = id, due_at = %due.at(), "message edited"),
                Err(ChangeError::Store(err)) => return Err(err.into()),
                Err(refused) => {
                    return Ok(errors([(blocks::TEXT_BLOCK, refused.to_string())]));
                }
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
