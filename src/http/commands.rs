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
use chrono_tz::Tz;
use slack_morphism::prelude::SlackMessageContent;

use crate::domain::recurrence::Schedule;
use crate::domain::recurrence::phrase::{RecurringPhrase, parse_recurring};
use crate::domain::when::parse_quick;
use crate::domain::{DueTime, MessageStatus, MessageText};
use crate::error::AppError;
use crate::slack::SignedBody;
use crate::slack::blocks::{self, ListSpec, SeriesView};
use crate::slack::inbound::SlashCommand;
use crate::slack::mrkdwn;
use crate::slack::rich_text::RichText;
use crate::store::{Author, InsertError, NewMessage, NewSeries};

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
    let content = list_content(app, &who.author, who.tz).await?;
    Ok(Json(blocks::ephemeral(&content)).into_response())
}

/// `/schedule list` for `author`: their series, waiting messages and the
/// delivery records of their latest ones (with permalinks).
pub(super) async fn list_content(
    app: &SharedState,
    author: &Author,
    tz: Tz,
) -> Result<SlackMessageContent, AppError> {
    let now = Utc::now();
    let waiting = [MessageStatus::Pending, MessageStatus::Held];
    let messages = app
        .store
        .author_messages(author.id, &waiting, LIST_LIMIT, false)
        .await?;
    let counts = app.store.author_counts(author.id).await?;
    let series: Vec<SeriesView> = app
        .store
        .author_series(author.id, blocks::HOME_SERIES as i64)
        .await?
        .into_iter()
        .map(|record| SeriesView::of(record, now, 5))
        .collect();
    let settled = [
        MessageStatus::Sent,
        MessageStatus::Failed,
        MessageStatus::Skipped,
    ];
    let mut recent = app
        .store
        .author_messages(author.id, &settled, 5, true)
        .await?;
    app.bot.fill_permalinks(&author.team_id, &mut recent).await;
    Ok(blocks::schedule_list(&ListSpec {
        series: &series,
        waiting: &messages,
        waiting_total: counts.pending + counts.held,
        recent: &recent,
        tz,
    }))
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
    match parse_recurring(&text, now, tz) {
        Some(Ok(phrase)) => return quick_series(app, command, who, phrase).await,
        Some(Err(err)) => return Ok(reply(&err.to_string())),
        None => {}
    }
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
            app.foresight.check_soon(vec![id]);
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

/// `/schedule every …`: a series straight into the current conversation,
/// confirmed with its rule in words and its next three times.
async fn quick_series(
    app: &SharedState,
    command: &SlashCommand,
    who: &Requester,
    phrase: RecurringPhrase,
) -> Result<Response, AppError> {
    let now = Utc::now();
    let tz = who.tz;
    let text = match MessageText::parse(&phrase.text) {
        Ok(text) => text,
        Err(err) => return Ok(reply(&err.to_string())),
    };
    let (schedule, first) = match Schedule::start(&phrase.recurrence, tz, now) {
        Ok(started) => started,
        Err(err) => return Ok(reply(&err.to_string())),
    };
    let first = match DueTime::parse(first, now) {
        Ok(first) => first,
        Err(err) => return Ok(reply(&err.to_string())),
    };
    let next = schedule.after(now, 3);
    let series = NewSeries {
        author_id: who.author.id,
        team_id: command.team_id.clone(),
        user_id: command.user_id.clone(),
        channel_id: command.channel_id.clone(),
        text,
        rich_text: None,
        options: Default::default(),
        recurrence: phrase.recurrence.clone(),
        tz,
        anchor: schedule.anchor,
        first,
    };
    match app
        .store
        .create_series(std::slice::from_ref(&series), now)
        .await
    {
        Ok(ids) => {
            tracing::info!(series = ?ids.first().map(|(s, _)| s), first_due_at = %first.at(),
                "series scheduled from the slash command");
            after_change(app, &command.team_id, &command.user_id, Some(first.at()));
            app.foresight
                .check_soon(ids.iter().map(|(_, message)| *message).collect());
            let content = blocks::scheduled_series(
                std::slice::from_ref(&command.channel_id),
                false,
                &phrase.recurrence.describe(),
                &next,
                series.text.as_str(),
                tz,
                who.connect_url.as_deref(),
            );
            Ok(Json(blocks::ephemeral(&content)).into_response())
        }
        Err(InsertError::PendingLimit) => Ok(reply(&InsertError::PendingLimit.to_string())),
        Err(InsertError::Store(err)) => Err(err.into()),
    }
}
