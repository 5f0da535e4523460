//! Interactions: the modal's submission ([`super::submit`]), the buttons
//! and the modal's own choices ([`super::buttons`]), and the "Schedule a
//! reply" message shortcut. Who may change a message is checked on the
//! server: only its author, in their own workspace, where Scheduler is
//! installed, whatever the payload says.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::SharedState;
use super::buttons;
use super::scheduling::{installed, not_installed, open_reply_modal};
use super::submit::{errors, submit};
use crate::error::AppError;
use crate::slack::SignedBody;
use crate::slack::blocks;
use crate::slack::inbound::{Interaction, MessageAction};

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
                errors(vec![(
                    blocks::TEXT_BLOCK,
                    "Sorry, something went wrong on our side. Please try again.".to_owned(),
                )])
            }
        },
        Some(Interaction::BlockActions(actions)) => {
            tokio::spawn(buttons::act(app, actions));
            StatusCode::OK.into_response()
        }
        Some(Interaction::MessageAction(shortcut)) => {
            tokio::spawn(schedule_reply(app, shortcut));
            StatusCode::OK.into_response()
        }
        Some(Interaction::Other) => StatusCode::OK.into_response(),
        None => AppError::BadRequest("malformed interaction payload".into()).into_response(),
    }
}

/// "Schedule a reply" on a message: the modal, bound to the message's
/// thread (its own, or the one it starts).
async fn schedule_reply(app: SharedState, shortcut: MessageAction) {
    if shortcut.callback_id != blocks::REPLY_SHORTCUT {
        return;
    }
    let (Some(team_id), Some(trigger), Some(channel), Some(message)) = (
        shortcut.team_id(),
        shortcut.trigger_id.as_deref(),
        shortcut.channel.as_ref(),
        shortcut.message.as_ref(),
    ) else {
        return;
    };
    let user_id = &shortcut.user.id;
    let answer = match installed(&app, team_id).await {
        Ok(true) => None,
        Ok(false) => Some(not_installed(&app, true)),
        Err(err) => {
            tracing::error!(error = %err, "cannot check the installation for a shortcut");
            Some("Sorry, something went wrong on our side. Please try again.".to_owned())
        }
    };
    if let Some(text) = answer {
        if let Err(err) = app
            .bot
            .open_view(team_id, trigger, blocks::notice_modal("Scheduler", &text))
            .await
        {
            tracing::warn!(error = %err, "cannot answer a shortcut");
        }
        return;
    }
    let thread_ts = message.thread_ts.as_deref().unwrap_or(&message.ts);
    if let Err(err) =
        open_reply_modal(&app, team_id, user_id, trigger, &channel.id, thread_ts).await
    {
        tracing::warn!(error = %err, "cannot open the reply modal");
    }
}
