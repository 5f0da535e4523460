//! Liveness and readiness for orchestrators.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};

use super::SharedState;

pub fn router() -> Router<SharedState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
}

/// The process runs and serves requests.
async fn healthz() -> &'static str {
    "ok"
}

/// The database answers: the process can do its work.
async fn readyz(State(state): State<SharedState>) -> Response {
    let reason =
        match tokio::time::timeout(std::time::Duration::from_secs(3), state.store.ping()).await {
            Ok(Ok(())) => return Json(serde_json::json!({"status": "ready"})).into_response(),
            Ok(Err(err)) => format!("the database does not answer: {err}"),
            Err(_) => "the database did not answer within 3 s".to_owned(),
        };
    tracing::warn!(reason = %reason, "not ready");
    let body = serde_json::json!({"status": "unavailable", "reason": reason});
    (StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response()
}
