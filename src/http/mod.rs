//! The HTTP surface: one module per audience.

pub mod health;

use std::sync::Arc;

use axum::Router;

use crate::app::AppState;

pub fn router(state: Arc<AppState>) -> Router {
    Router::new().merge(health::router()).with_state(state)
}
