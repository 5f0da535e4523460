//! `/schedule`: with no text, the modal; `list` and `help`; otherwise
//! `<when> <message>` scheduled straight into the current conversation, or
//! the modal pre-filled when the time cannot be read. Answers are ephemeral
//! and always a 200: a user's mistake is not an HTTP error.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::Utc;

use super::SharedState;
use super::scheduling::{Requester, after_change, check, not_installed, open_new_modal, requester};
use crate::domain::MessageStatus;
use crate::domain::when::parse_quick;
use crate::error::AppError;
use crate::slack::SignedBody;
use crate::slack::blocks;
use crate::slack::inbound::SlashCommand;
use crate::slack::mrkdwn;
use crate::slack::rich_text::RichText;
use crate::store::{InsertError, NewMessage};

/// How many waiting messages `/schedule list` shows: what fits in a message.
const LIST_LIMIT: i64 = blocks::LIST_FITS as i64;

pub async fn handle(State(app): State<SharedState>, body: SignedBody) -> Response {
    match answer(&app, body).await {
        Ok(response) => response,
        Err(AppError::BadRequest(why)) => (StatusCode::BAD_REQUEST, why).into_response(),
        // Slack shows a non-200 as a cryptic failure: say it in words instead.
        Err(err) => {
            tracing::error!(error = %err, "slash command failed");
            reply("Sorry, something went wrong on our side. Please try again in a moment.")
        }
    }
}

async fn answer(app: &SharedState, body: SignedBody) -> Result<Response, AppError> {
    let command: SlashCommand = serde_urlencoded::from_bytes(&body.0)
        .map_err(|_| AppError::BadRequest("malformed slash command".into()))?;
    if command.ssl_check.is_some() {
        return Ok(StatusCode::OK.into_response());
    }
    if command.team_id.is_empty() || command.user_id.is_empty() || command.channel_id.is_empty() {
        return Err(AppError::BadRequest(
            "slash command without team, user or channel".into(),
        ));
    }
    let Some(who) = requester(app, &command.team_id, &command.user_id).await? else {
        return Ok(reply(&not_installed(app, true)));
    };
    // A replayed request (same trigger, signature still valid) does nothing.
    if let Some(trigger) = command.trigger_id.as_deref().filter(|t| !t.is_empty())
        && !app.store.record_trigger(trigger, Utc::now()).await?
    {
        tracing::warn!("a slash command was received twice; the repeat is ignored");
        return Ok(StatusCode::OK.into_response());
    }
    let text = command.text.trim();
    match text.to_lowercase().as_str() {
        "" => {
            open_modal(app, &command, None, None);
            Ok(StatusCode::OK.into_response())
        }
        "help" => Ok(Json(blocks::ephemeral(&blocks::help_message())).into_response()),
        "list" => list(app, &who).await,
        _ => quick(app, &command, &who, text).await,
    }
}

fn reply(text: &str) -> Response {
    Json(blocks::ephemeral(&blocks::text_message(text))).into_response()
}

/// Opens the modal after acknowledging (the trigger lives three seconds).
fn open_modal(
    app: &SharedState,
    command: &SlashCommand,
    message: Option<RichText>,
    notice: Option<String>,
) {
    let (app, command) = (app.clone(), command.clone());
    tokio::spawn(async move {
        let Some(trigger) = command.trigger_id.as_deref() else {
            return;
        };
        let opened = open_new_modal(
            &app,
            &command.team_id,
            &command.user_id,
            trigger,
            message,
            notice,
        )
        .await;
        if let Err(err) = opened {
            tracing::warn!(error = %err, "cannot open the scheduling modal");
            if let Some(url) = command.response_url.as_deref() {
                let text = "Sorry, the form could not be opened. Try `/schedule` again, or `/schedule in 1 hour …`.";
                app.bot
                    .respond(url, blocks::ephemeral(&blocks::text_message(text)))
                    .await;
            }
        }
    });
}

async fn list(app: &SharedState, who: &Requester) -> Result<Response, AppError> {
    let waiting = [MessageStatus::Pending, MessageStatus::Held];
    let messages = app
        .store
        .author_messages(who.author.id, &waiting, LIST_LIMIT, false)
        .await?;
    let counts = app.store.author_counts(who.author.id).await?;
    let content = blocks::pending_list(&messages, counts.pending + counts.held, who.tz);
    Ok(Json(blocks::ephemeral(&content)).into_response())
}

async fn quick(
    app: &SharedState,
    command: &SlashCommand,
    who: &Requester,
    text: &str,
) -> Result<Response, AppError> {
    let now = Utc::now();
    let tz = who.tz;
    // Slack sends the text escaped, its mentions and links as tokens
    // (`should_escape`); kept so, it is posted as written. Made markup in
    // any case, should a workspace's app still send it unescaped.
    let text = mrkdwn::markup(text);
    let Some(parsed) = parse_quick(&text, now, tz) else {
        let notice = format!(
            ":thinking_face: I couldn't find a time at the start of “{}”. Pick one below, or try `/schedule help`.",
            blocks::preview(&text)
        );
        open_modal(
            app,
            command,
            Some(RichText::from_markup(&text)),
            Some(notice),
        );
        return Ok(StatusCode::OK.into_response());
    };
    let (text_check, due_check) = check(&parsed.text, parsed.due, now);
    let message_text = match text_check {
        Ok(text) => text,
        Err(err) => return Ok(reply(&err.to_string())),
    };
    let due = match due_check {
        Ok(due) => due,
        Err(err) => {
            return Ok(reply(&format!(
                "{err} (I read “{}”.)",
                blocks::local_time(parsed.due, tz)
            )));
        }
    };
    let message = NewMessage {
        author_id: who.author.id,
        team_id: command.team_id.clone(),
        user_id: command.user_id.clone(),
        channel_id: command.channel_id.clone(),
        text: message_text,
        rich_text: None,
        due,
        options: Default::default(),
    };
    match app.store.insert_message(&message, now).await {
        Ok(id) => {
            tracing::info!(message_id = id, due_at = %due.at(), "message scheduled from the slash command");
            after_change(app, &command.team_id, &command.user_id, Some(due.at()));
            let content = blocks::scheduled_message(
                &command.channel_id,
                message.text.as_str(),
                due.at(),
                tz,
                who.connect_url.as_deref(),
            );
            Ok(Json(blocks::ephemeral(&content)).into_response())
        }
        Err(InsertError::PendingLimit) => Ok(reply(&InsertError::PendingLimit.to_string())),
        Err(InsertError::Store(err)) => Err(err.into()),
    }
}
