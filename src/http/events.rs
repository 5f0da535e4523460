//! The Events API: URL verification, the Home tab opening, and the two
//! events that take access away (revocation, uninstall).
//!
//! Slack retries a delivery it got no 200 for, so an `event_id` is recorded
//! only after its work is done: a request cut short (the process killed, the
//! request timed out) leaves nothing recorded, and the retry does the work.
//! Every handler is idempotent, so two deliveries of one event racing each
//! other may both do it, to the same effect; whichever finishes first records
//! the id and later retries are answered at once. Events from a workspace
//! Scheduler never knew change nothing, not even the record of their id.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};

use super::SharedState;
use crate::error::AppError;
use crate::slack::SignedBody;
use crate::slack::inbound::{Event, EventEnvelope};
use crate::store::StoreError;

pub async fn handle(State(app): State<SharedState>, body: SignedBody) -> Response {
    let Ok(envelope) = serde_json::from_slice::<EventEnvelope>(&body.0) else {
        return AppError::BadRequest("malformed event".into()).into_response();
    };
    match envelope {
        EventEnvelope::UrlVerification { challenge } => {
            Json(serde_json::json!({"challenge": challenge})).into_response()
        }
        EventEnvelope::EventCallback {
            team_id,
            event_id,
            event_time,
            event,
        } => {
            let sent_at = DateTime::from_timestamp(event_time, 0)
                .filter(|_| event_time > 0)
                .unwrap_or_else(Utc::now);
            match handle_once(&app, &team_id, &event_id, sent_at, event).await {
                Ok(()) => StatusCode::OK.into_response(),
                // No 200: Slack retries, and nothing was recorded to stop it.
                Err(err) => AppError::from(err).into_response(),
            }
        }
        EventEnvelope::Other => StatusCode::OK.into_response(),
    }
}

async fn handle_once(
    app: &SharedState,
    team_id: &str,
    event_id: &str,
    event_time: DateTime<Utc>,
    event: Event,
) -> Result<(), StoreError> {
    if app.store.event_handled(event_id).await? {
        return Ok(());
    }
    let Some(workspace) = app.store.workspace(team_id).await? else {
        return Ok(());
    };
    // The Home tab of a workspace without Scheduler has nothing to show.
    if matches!(event, Event::AppHomeOpened { .. }) && !workspace.is_installed() {
        return Ok(());
    }
    on_event(app, team_id, event_time, event).await?;
    if let Err(err) = app.store.record_event(event_id, Utc::now()).await {
        // The work is done; a retry would only do it again, to the same effect.
        tracing::warn!(error = %err, event_id, "cannot record a handled event");
    }
    Ok(())
}

/// The work of one event. Each arm is idempotent. The Home tab is
/// published after the acknowledgement (Slack wants one within 3 seconds);
/// a publish lost to a crash is made again the next time the tab opens.
async fn on_event(
    app: &SharedState,
    team_id: &str,
    event_time: DateTime<Utc>,
    event: Event,
) -> Result<(), StoreError> {
    let now = Utc::now();
    match event {
        Event::AppHomeOpened { user, tab } => {
            if tab.is_empty() || tab == "home" {
                app.homes.opened(team_id, &user);
            }
        }
        Event::TokensRevoked { tokens } => {
            for user_id in &tokens.oauth {
                if let Some(user) = app.store.user(team_id, user_id).await? {
                    // A pair granted after Slack sent the event (the user
                    // reconnected meanwhile) is not the one revoked.
                    app.store
                        .revoke_user_tokens(user.author.id, "tokens_revoked", event_time, now)
                        .await?;
                    let cancelled = app
                        .store
                        .cancel_waiting(team_id, Some(user.author.id), "tokens_revoked", now)
                        .await?;
                    tracing::info!(
                        team_id,
                        user_id,
                        cancelled,
                        "user token revoked; their waiting messages cancelled"
                    );
                }
            }
            if !tokens.bot.is_empty() {
                app.store.revoke_bot_token(team_id, now).await?;
                tracing::info!(team_id, "bot token revoked");
            }
        }
        Event::AppUninstalled => {
            app.store.uninstall_workspace(team_id, now).await?;
            let cancelled = app
                .store
                .cancel_waiting(team_id, None, "app_uninstalled", now)
                .await?;
            tracing::info!(
                team_id,
                cancelled,
                "app uninstalled; tokens deleted and waiting messages cancelled"
            );
        }
        Event::Other => {}
    }
    Ok(())
}
