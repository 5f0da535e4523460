//! `/oauth/v2/authorize`: Slack's install approval page. It approves at
//! once, as the signed-in user, and sends the browser back with a code and
//! the app's `state` (or `error=access_denied`).
//!
//! The `redirect_uri` must be one of the app's configured Redirect URLs,
//! exactly; without one, Slack uses the first configured. An unknown one
//! gets Slack's error page and no redirect at all, so a code can never be
//! sent anywhere the app did not register
//! (docs.slack.dev/authentication/installing-with-oauth, "redirect_uri").

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use serde::Deserialize;

use super::SimInner;
use super::state::{self, AuthCode};

#[derive(Debug, Deserialize)]
pub(super) struct AuthorizeQuery {
    client_id: Option<String>,
    redirect_uri: Option<String>,
    state: Option<String>,
    team: Option<String>,
    /// Bot scopes; absent when a user only connects their own account.
    scope: Option<String>,
    /// `1` to act as a user who clicks "Cancel".
    sim_deny: Option<String>,
    /// Sign in as this user for this approval.
    sim_user: Option<String>,
}

pub(super) async fn authorize(
    State(sim): State<Arc<SimInner>>,
    Query(query): Query<AuthorizeQuery>,
) -> Response {
    let mut state = sim.state.lock().unwrap_or_else(|p| p.into_inner());
    if query.client_id.as_deref() != Some(state.settings.client_id.as_str()) {
        return (StatusCode::BAD_REQUEST, "Invalid client_id parameter").into_response();
    }
    let configured = &state.settings.redirect_urls;
    let redirect_uri = match query.redirect_uri.clone() {
        Some(uri) if configured.contains(&uri) => uri,
        Some(_) => {
            return (
                StatusCode::BAD_REQUEST,
                "redirect_uri did not match any configured URIs",
            )
                .into_response();
        }
        None => match configured.first() {
            Some(first) => first.clone(),
            None => {
                return (StatusCode::BAD_REQUEST, "No redirect_uri is configured").into_response();
            }
        },
    };
    let app_state = query.state.clone().unwrap_or_default();
    let separator = if redirect_uri.contains('?') { '&' } else { '?' };
    let encode = |s: &str| {
        serde_urlencoded::to_string([("v", s)])
            .unwrap_or_default()
            .split_off(2)
    };
    if query.sim_deny.as_deref() == Some("1") {
        return found(&format!(
            "{redirect_uri}{separator}error=access_denied&state={}",
            encode(&app_state)
        ));
    }
    let signed_in = match query.sim_user.as_deref() {
        Some(user) => state
            .users
            .get(user)
            .map(|u| (u.team_id.clone(), u.id.clone())),
        None => state.browser_user.clone(),
    };
    let Some((team_id, user_id)) =
        signed_in.filter(|(t, _)| query.team.as_deref().is_none_or(|want| want == t))
    else {
        return (StatusCode::BAD_REQUEST, "No simulated user is signed in").into_response();
    };
    let code = format!("sim-code-{}", state::random_id(16));
    // The code remembers the redirect_uri the request named (if any):
    // `oauth.v2.access` must be given the same one.
    state.codes.insert(
        code.clone(),
        AuthCode {
            team_id,
            user_id,
            bot_scopes: query.scope.as_deref().is_some_and(|s| !s.is_empty()),
            redirect_uri: query.redirect_uri.clone(),
            expires_at: Utc::now() + chrono::Duration::minutes(10),
            used: false,
        },
    );
    found(&format!(
        "{redirect_uri}{separator}code={}&state={}",
        encode(&code),
        encode(&app_state)
    ))
}

/// 302, as Slack's approval page answers.
fn found(location: &str) -> Response {
    (
        StatusCode::FOUND,
        [(axum::http::header::LOCATION, location.to_owned())],
    )
        .into_response()
}
