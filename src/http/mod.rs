//! The HTTP surface, one module per audience: pages and the install flow
//! for browsers; commands, interactions and events for Slack; health for
//! orchestrators.

pub mod commands;
pub mod events;
pub mod health;
pub mod interactivity;
pub mod oauth;
pub mod pages;
mod scheduling;

use std::sync::Arc;

use axum::Router;
use axum::extract::{DefaultBodyLimit, FromRef};
use axum::routing::post;

use crate::app::AppState;
use crate::slack::SignatureVerifier;

pub type SharedState = Arc<AppState>;

/// Slack's payloads are small; anything bigger is refused with 413.
pub const SLACK_BODY_LIMIT: usize = 1024 * 1024;

impl FromRef<SharedState> for SignatureVerifier {
    fn from_ref(state: &SharedState) -> Self {
        state.verifier.clone()
    }
}

pub fn router(state: SharedState) -> Router {
    let slack = Router::new()
        .route("/slack/commands", post(commands::handle))
        .route("/slack/interactivity", post(interactivity::handle))
        .route("/slack/events", post(events::handle))
        .layer(DefaultBodyLimit::max(SLACK_BODY_LIMIT));
    Router::new()
        .merge(pages::router())
        .merge(oauth::router())
        .merge(slack)
        .merge(health::router())
        .with_state(state)
}
