//! The HTTP surface, one module per audience: pages and the install flow
//! for browsers; commands, interactions and events for Slack; health for
//! orchestrators.

mod buttons;
mod chart;
pub mod commands;
pub mod events;
pub mod health;
pub mod interactivity;
mod modal_form;
pub mod oauth;
pub mod operator;
pub mod pages;
mod scheduling;
mod series;
pub mod status;
mod submit;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, FromRef, MatchedPath};
use axum::http::{Request, Response, StatusCode};
use axum::routing::post;
use tower_http::compression::CompressionLayer;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;
use tracing::Span;

use crate::app::AppState;
use crate::slack::SignatureVerifier;

pub type SharedState = Arc<AppState>;

/// Slack's payloads are small; anything bigger is refused with 413.
pub const SLACK_BODY_LIMIT: usize = 1024 * 1024;
/// No request is worked on longer than this.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);

impl FromRef<SharedState> for SignatureVerifier {
    fn from_ref(state: &SharedState) -> Self {
        state.verifier.clone()
    }
}

pub fn router(state: SharedState) -> Router {
    router_with_timeout(state, REQUEST_TIMEOUT)
}

/// [`router`] with another request timeout (tests).
pub fn router_with_timeout(state: SharedState, request_timeout: Duration) -> Router {
    let slack = Router::new()
        .route("/slack/commands", post(commands::handle))
        .route("/slack/interactivity", post(interactivity::handle))
        .route("/slack/events", post(events::handle))
        .layer(DefaultBodyLimit::disable())
        .layer(RequestBodyLimitLayer::new(SLACK_BODY_LIMIT));
    let pages = pages::router()
        .merge(oauth::router())
        .merge(status::router())
        .layer(CompressionLayer::new().gzip(true));
    Router::new()
        .merge(pages)
        .merge(slack)
        .merge(health::router())
        .merge(operator::router())
        .with_state(state)
        .layer(TimeoutLayer::with_status_code(
            StatusCode::SERVICE_UNAVAILABLE,
            request_timeout,
        ))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(request_span)
                .on_request(())
                .on_response(|response: &Response<_>, latency: Duration, _: &Span| {
                    tracing::info!(
                        status = response.status().as_u16(),
                        latency_ms = latency.as_millis() as u64,
                        "request"
                    );
                }),
        )
}

/// A span per request: method and route, never the query string (the OAuth
/// callback carries its code there).
fn request_span<B>(request: &Request<B>) -> Span {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".to_owned());
    tracing::info_span!("http", method = %request.method(), route = %route)
}
