//! The scheduling modal's submission. Every field is read and checked
//! against the input rules first (problems come back as field errors, and
//! nothing is stored); then one statement or transaction stores a message,
//! one per conversation, a series (one per conversation), or the edit of a
//! message or a series; then the author is told, and the new messages are
//! checked ahead of time.

use std::collections::HashMap;

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use super::SharedState;
use super::modal_form::{ModalForm, mode_of};
use super::scheduling::{Requester, after_change, check, not_installed, requester};
use crate::domain::message::MAX_DESTINATIONS;
use crate::domain::recurrence::{Recurrence, Schedule};
use crate::domain::{Conditions, DueTime, MessageText};
use crate::error::AppError;
use crate::slack::blocks::{self, ModalMode};
use crate::slack::inbound::ViewSubmission;
use crate::store::{
    ChangeError, InsertError, MessageEdit, NewMessage, NewSeries, PostOptions, SeriesEdit,
};

/// `response_action: errors`, keyed by input block.
pub(super) fn errors(fields: Vec<(&str, String)>) -> Response {
    let errors: HashMap<&str, String> = fields.into_iter().collect();
    Json(serde_json::json!({"response_action": "errors", "errors": errors})).into_response()
}

fn error(block: &str, message: impl Into<String>) -> Response {
    errors(vec![(block, message.into())])
}

/// A submission that passed every rule.
struct Checked {
    channels: Vec<String>,
    text: MessageText,
    rich_text: Option<String>,
    due: DueTime,
    /// The rule and the series' anchor, for a repeating message.
    rule: Option<(Recurrence, DateTime<Utc>)>,
    options: PostOptions,
}

pub(super) async fn submit(
    app: &SharedState,
    submission: ViewSubmission,
) -> Result<Response, AppError> {
    let view = &submission.view;
    let mode = match mode_of(view) {
        None => return Ok(StatusCode::OK.into_response()),
        Some(Err(())) => {
            return Ok(error(
                blocks::TEXT_BLOCK,
                "This form is out of date. Close it and try again.",
            ));
        }
        Some(Ok(mode)) => mode,
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
        return Ok(error(blocks::TEXT_BLOCK, not_installed(app, false)));
    };
    if let Some(trigger) = submission.trigger_id.as_deref().filter(|t| !t.is_empty())
        && !app.store.record_trigger(trigger, Utc::now()).await?
    {
        // Already acted on: a replay. An empty 200 closes the modal, as the first did.
        tracing::warn!("a modal submission was received twice; the repeat is ignored");
        return Ok(StatusCode::OK.into_response());
    }
    let form = ModalForm::read(view);
    let now = Utc::now();
    let checked = match check_form(&mode, &form, who.tz, now) {
        Ok(checked) => checked,
        Err(problems) => return Ok(errors(problems)),
    };
    let stored = store(app, &mode, &who, &team_id, &user_id, &checked, now).await?;
    let ids = match stored {
        Ok(ids) => ids,
        Err(refusal) => return Ok(error(blocks::TEXT_BLOCK, refusal)),
    };
    after_change(app, &team_id, &user_id, Some(checked.due.at()));
    app.foresight.check_soon(ids);
    let response_url = submission
        .response_urls
        .first()
        .map(|r| r.response_url.clone());
    let content = confirmation(&mode, &checked, &who, now);
    if matches!(mode, ModalMode::Reply { .. }) {
        // No conversation to answer in: the modal itself says it is done.
        let text = content.text.clone().unwrap_or_default();
        let view = blocks::notice_modal("Reply scheduled", &text);
        return Ok(
            Json(serde_json::json!({"response_action": "update", "view": view})).into_response(),
        );
    }
    // Confirm in the chosen conversation if Slack gave us a way, else by DM.
    let app = app.clone();
    tokio::spawn(async move {
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

/// Every rule of SPEC §4 and §7 the fields must keep; all problems at once.
fn check_form(
    mode: &ModalMode,
    form: &ModalForm,
    tz: Tz,
    now: DateTime<Utc>,
) -> Result<Checked, Vec<(&'static str, String)>> {
    let mut problems: Vec<(&'static str, String)> = Vec::new();
    let (channel, thread_ts) = match mode {
        ModalMode::Reply {
            channel_id,
            thread_ts,
        } => (Some(channel_id.clone()), Some(thread_ts.clone())),
        _ => (form.channel.clone(), None),
    };
    if channel.is_none() {
        problems.push((
            blocks::CHANNEL_BLOCK,
            "Pick a conversation to post in.".into(),
        ));
    }
    let mut channels: Vec<String> = channel.into_iter().collect();
    if *mode == ModalMode::New {
        for more in &form.also {
            if !more.is_empty() && !channels.contains(more) {
                channels.push(more.clone());
            }
        }
        if channels.len() > MAX_DESTINATIONS {
            problems.push((
                blocks::ALSO_BLOCK,
                format!("Pick at most {MAX_DESTINATIONS} conversations in all."),
            ));
        }
    }
    let markup = form
        .written
        .as_ref()
        .map(|w| w.markup.as_str())
        .unwrap_or_default();
    let (text_check, due_check) = check(markup, form.due.unwrap_or(now), now);
    match (&form.written, &text_check) {
        (Err(unreadable), _) => problems.push((blocks::TEXT_BLOCK, unreadable.to_string())),
        (Ok(_), Err(rule)) => problems.push((blocks::TEXT_BLOCK, rule.to_string())),
        (Ok(_), Ok(_)) => {}
    }
    let mut due = match (form.due, due_check) {
        (None, _) => {
            problems.push((blocks::WHEN_BLOCK, "Pick a date and time.".into()));
            None
        }
        (Some(_), Err(err)) => {
            problems.push((blocks::WHEN_BLOCK, err.to_string()));
            None
        }
        (Some(_), Ok(due)) => Some(due),
    };
    let mut rule = None;
    let repeats = !matches!(mode, ModalMode::EditMessage { .. });
    if let (true, Some(first)) = (repeats, due) {
        match form.repeat.recurrence(first.at().with_timezone(&tz)) {
            Err(problem) => problems.push((problem.block_id, problem.message)),
            Ok(None) if matches!(mode, ModalMode::EditSeries(_)) => problems.push((
                blocks::REPEAT_BLOCK,
                "A series repeats. To stop it, cancel it from the Home tab.".into(),
            )),
            Ok(None) => {}
            Ok(Some(recurrence)) => {
                // The series starts at the time picked: its first occurrence
                // is that time, or the rule's first after it.
                let anchor = Schedule::anchor_at(&recurrence, first.at());
                let schedule = Schedule {
                    recurrence: &recurrence,
                    tz,
                    anchor,
                    skipped: &[],
                };
                let checked = recurrence
                    .check()
                    .map_err(|e| e.to_string())
                    .and_then(|()| {
                        let at = schedule.next_after(anchor).ok_or_else(|| {
                            "That rule has no occurrence before it ends.".to_owned()
                        })?;
                        DueTime::parse(at, now).map_err(|e| e.to_string())
                    });
                match checked {
                    Ok(first) => {
                        due = Some(first);
                        rule = Some((recurrence, anchor));
                    }
                    Err(message) => problems.push((blocks::REPEAT_BLOCK, message)),
                }
            }
        }
    }
    let (true, Ok(written), Ok(text), Some(due)) =
        (problems.is_empty(), form.written.as_ref(), text_check, due)
    else {
        return Err(problems);
    };
    let in_thread = thread_ts.is_some();
    Ok(Checked {
        options: PostOptions {
            reply_broadcast: in_thread && form.broadcast,
            conditions: Conditions {
                unless_replied: in_thread && form.conditions.unless_replied,
                unless_posted: form.conditions.unless_posted,
            },
            group_key: (channels.len() > 1).then(|| hex::encode(rand::random::<[u8; 8]>())),
            thread_ts,
        },
        channels,
        text,
        rich_text: written.rich_text.clone(),
        due,
        rule,
    })
}

/// Stores what the submission asks; the ids of the messages now waiting,
/// or why nothing was stored, in words for the author.
async fn store(
    app: &SharedState,
    mode: &ModalMode,
    who: &Requester,
    team_id: &str,
    user_id: &str,
    checked: &Checked,
    now: DateTime<Utc>,
) -> Result<Result<Vec<i64>, String>, AppError> {
    let author = &who.author;
    let refused = |err: InsertError| match err {
        InsertError::PendingLimit => Ok(Err(InsertError::PendingLimit.to_string())),
        InsertError::Store(err) => Err(AppError::from(err)),
    };
    let changed = |err: ChangeError| match err {
        ChangeError::Store(err) => Err(AppError::from(err)),
        refused => Ok(Err(refused.to_string())),
    };
    match (mode, &checked.rule) {
        (ModalMode::New | ModalMode::Reply { .. }, None) => {
            let messages: Vec<NewMessage> = checked
                .channels
                .iter()
                .map(|channel| NewMessage {
                    author_id: author.id,
                    team_id: team_id.to_owned(),
                    user_id: user_id.to_owned(),
                    channel_id: channel.clone(),
                    text: checked.text.clone(),
                    rich_text: checked.rich_text.clone(),
                    due: checked.due,
                    options: checked.options.clone(),
                })
                .collect();
            let stored = match messages.as_slice() {
                [one] => app.store.insert_message(one, now).await.map(|id| vec![id]),
                many => app.store.insert_group(many, now).await,
            };
            match stored {
                Ok(ids) => {
                    tracing::info!(messages = ids.len(), due_at = %checked.due.at(), "message scheduled from the modal");
                    Ok(Ok(ids))
                }
                Err(err) => refused(err),
            }
        }
        (ModalMode::New | ModalMode::Reply { .. }, Some((recurrence, anchor))) => {
            let all: Vec<NewSeries> = checked
                .channels
                .iter()
                .map(|channel| NewSeries {
                    author_id: author.id,
                    team_id: team_id.to_owned(),
                    user_id: user_id.to_owned(),
                    channel_id: channel.clone(),
                    text: checked.text.clone(),
                    rich_text: checked.rich_text.clone(),
                    options: checked.options.clone(),
                    recurrence: recurrence.clone(),
                    tz: who.tz,
                    anchor: *anchor,
                    first: checked.due,
                })
                .collect();
            match app.store.create_series(&all, now).await {
                Ok(ids) => {
                    tracing::info!(series = ids.len(), first_due_at = %checked.due.at(), "series scheduled from the modal");
                    Ok(Ok(ids.into_iter().map(|(_, message)| message).collect()))
                }
                Err(err) => refused(err),
            }
        }
        (ModalMode::EditMessage { id, .. }, _) => {
            let edit = MessageEdit {
                channel_id: checked.channels.first().cloned().unwrap_or_default(),
                text: checked.text.clone(),
                rich_text: checked.rich_text.clone(),
                due: checked.due,
                conditions: checked.options.conditions,
                reply_broadcast: checked.options.reply_broadcast,
            };
            match app.store.edit_message(*id, author.id, &edit, now).await {
                Ok(_) => {
                    tracing::info!(message_id = id, due_at = %checked.due.at(), "message edited");
                    Ok(Ok(vec![*id]))
                }
                Err(err) => changed(err),
            }
        }
        (ModalMode::EditSeries(id), Some((recurrence, anchor))) => {
            let edit = SeriesEdit {
                channel_id: checked.channels.first().cloned().unwrap_or_default(),
                text: checked.text.clone(),
                rich_text: checked.rich_text.clone(),
                recurrence: recurrence.clone(),
                tz: who.tz,
                anchor: *anchor,
                first: checked.due,
                conditions: checked.options.conditions,
                reply_broadcast: checked.options.reply_broadcast,
            };
            match app.store.edit_series(*id, author.id, &edit, now).await {
                Ok(()) => {
                    tracing::info!(series_id = id, "series edited");
                    Ok(Ok(Vec::new()))
                }
                Err(err) => changed(err),
            }
        }
        (ModalMode::EditSeries(_), None) => Ok(Err("A series repeats.".into())),
    }
}

/// What the author is told once it is stored.
fn confirmation(
    mode: &ModalMode,
    checked: &Checked,
    who: &Requester,
    now: DateTime<Utc>,
) -> slack_morphism::prelude::SlackMessageContent {
    let in_thread = checked.options.thread_ts.is_some();
    let connect = who.connect_url.as_deref();
    match &checked.rule {
        Some((recurrence, anchor)) => {
            let schedule = Schedule {
                recurrence,
                tz: who.tz,
                anchor: *anchor,
                skipped: &[],
            };
            let next = schedule.after(now.min(*anchor), 3);
            let _ = mode;
            blocks::scheduled_series(
                &checked.channels,
                in_thread,
                &recurrence.describe(),
                &next,
                checked.text.as_str(),
                who.tz,
                connect,
            )
        }
        None => blocks::scheduled_group(
            &checked.channels,
            in_thread,
            checked.text.as_str(),
            checked.due.at(),
            who.tz,
            connect,
        ),
    }
}
