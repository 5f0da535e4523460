//! The HTTP edge's error: one variant per status, with bodies that say what
//! the caller did wrong and nothing about our internals (those are logged).

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::bot::BotError;
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// 400: the request itself is malformed.
    #[error("{0}")]
    BadRequest(String),
    /// 500: our fault; the body says only that.
    #[error("database: {0}")]
    Store(#[from] StoreError),
    /// 502: Slack did not do what we asked.
    #[error("slack: {0}")]
    Bot(#[from] BotError),
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        match self {
            Self::BadRequest(why) => (StatusCode::BAD_REQUEST, why).into_response(),
            Self::Store(err) => {
                tracing::error!(error = %err, "request failed in the database");
                (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response()
            }
            Self::Bot(err) => {
                tracing::error!(error = %err, "request failed talking to Slack");
                (StatusCode::BAD_GATEWAY, "Slack did not answer as expected").into_response()
            }
        }
    }
}
