//! "Add to Slack": `/slack/install` sends the browser to Slack with a fresh
//! single-use `state`, also set in an HttpOnly cookie; the callback accepts
//! only that state, from that browser, once, within ten minutes, and stores
//! the workspace's bot token and the user's own token pair.

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::Utc;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::SharedState;
use super::pages::{InstalledPage, error_page, render};
use crate::slack::OAuthError;
use crate::slack::oauth::Authorize;
use crate::store::Installation;

const STATE_COOKIE: &str = "slack_oauth_state";
/// Slack's codes live ten minutes; so does our state.
const STATE_TTL_SECS: i64 = 600;

pub fn router() -> Router<SharedState> {
    Router::new()
        .route("/slack/install", get(install))
        .route("/slack/oauth/callback", get(callback))
}

#[derive(Debug, Deserialize)]
struct InstallQuery {
    /// A member of this workspace connects their own account (the "Connect
    /// your account" links): only user scopes are asked for, and the
    /// workspace is preselected. Without it, "Add to Slack" installs.
    team: Option<String>,
}

fn state_hash(state: &str) -> String {
    hex::encode(Sha256::digest(state.as_bytes()))
}

async fn install(State(app): State<SharedState>, Query(query): Query<InstallQuery>) -> Response {
    let state = hex::encode(rand::random::<[u8; 32]>());
    let now = Utc::now();
    if let Err(err) = app
        .store
        .create_oauth_state(
            &state_hash(&state),
            now,
            now + chrono::Duration::seconds(STATE_TTL_SECS),
        )
        .await
    {
        tracing::error!(error = %err, "cannot store an OAuth state");
        return error_page(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Something went wrong",
            "Please try again in a moment.",
            Some("/slack/install"),
        );
    }
    let team = query
        .team
        .filter(|t| t.len() <= 32 && t.chars().all(|c| c.is_ascii_alphanumeric()));
    let purpose = match team.as_deref() {
        Some(team) => Authorize::Connect { team },
        None => Authorize::Install,
    };
    let url = app.oauth.authorize_url(&state, purpose);
    let secure = if app.public_url.starts_with("https://") {
        "; Secure"
    } else {
        ""
    };
    let cookie = format!(
        "{STATE_COOKIE}={state}; Max-Age={STATE_TTL_SECS}; Path=/slack/oauth; HttpOnly; SameSite=Lax{secure}"
    );
    (
        StatusCode::FOUND,
        [(header::SET_COOKIE, cookie), (header::LOCATION, url)],
    )
        .into_response()
}

#[derive(Debug, Deserialize)]
struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
}

fn state_cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == STATE_COOKIE)
        .map(|(_, value)| value.to_owned())
}

fn clear_cookie(mut response: Response) -> Response {
    let expired = format!("{STATE_COOKIE}=; Max-Age=0; Path=/slack/oauth; HttpOnly; SameSite=Lax");
    if let Ok(value) = expired.parse() {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    response
}

fn refused(status: StatusCode, title: &str, message: &str) -> Response {
    clear_cookie(error_page(status, title, message, Some("/slack/install")))
}

async fn callback(
    State(app): State<SharedState>,
    Query(query): Query<CallbackQuery>,
    headers: HeaderMap,
) -> Response {
    let now = Utc::now();
    let Some(state) = query.state.as_deref().filter(|s| !s.is_empty()) else {
        return refused(
            StatusCode::BAD_REQUEST,
            "This link is incomplete",
            "The installation link is missing its security check. Start again from the Add to Slack button.",
        );
    };
    let from_this_browser = state_cookie(&headers)
        .is_some_and(|cookie| bool::from(cookie.as_bytes().ct_eq(state.as_bytes())));
    if !from_this_browser {
        return refused(
            StatusCode::BAD_REQUEST,
            "This installation did not start here",
            "For your safety, finish an installation in the same browser that started it. Start again from the Add to Slack button.",
        );
    }
    match app.store.consume_oauth_state(&state_hash(state), now).await {
        Ok(true) => {}
        Ok(false) => {
            return refused(
                StatusCode::BAD_REQUEST,
                "This link has expired",
                "Installation links work once and for ten minutes. Start again from the Add to Slack button.",
            );
        }
        Err(err) => {
            tracing::error!(error = %err, "cannot check an OAuth state");
            return refused(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Something went wrong",
                "Please try again in a moment.",
            );
        }
    }
    if let Some(error) = query.error.as_deref() {
        let message = if error == "access_denied" {
            "You cancelled the installation, so nothing was changed. You can add Scheduler whenever you like."
        } else {
            "Slack did not complete the installation, so nothing was changed."
        };
        return refused(StatusCode::BAD_REQUEST, "Installation cancelled", message);
    }
    let Some(code) = query.code.as_deref().filter(|c| !c.is_empty()) else {
        return refused(
            StatusCode::BAD_REQUEST,
            "This link is incomplete",
            "Slack's answer had no authorization code. Start again from the Add to Slack button.",
        );
    };
    let grant = match app.oauth.exchange_code(code, now).await {
        Ok(grant) => grant,
        Err(OAuthError::Refused(why)) => {
            tracing::warn!(reason = %why, "Slack refused the OAuth code");
            return refused(
                StatusCode::BAD_REQUEST,
                "Slack refused the installation",
                "The authorization has expired or was already used. Start again from the Add to Slack button.",
            );
        }
        Err(err) => {
            tracing::error!(error = %err, "the OAuth exchange failed");
            return refused(
                StatusCode::BAD_GATEWAY,
                "Slack could not be reached",
                "Nothing was changed. Please try again in a moment.",
            );
        }
    };
    match save_grant(&app, grant.clone(), now).await {
        Ok(()) => {}
        Err(SaveError::NotInstalled) => {
            return refused(
                StatusCode::BAD_REQUEST,
                "Scheduler is not installed there yet",
                "Ask a workspace admin to add Scheduler first; then connect your account.",
            );
        }
        Err(SaveError::Store(err)) => {
            tracing::error!(error = %err, "cannot store an installation");
            return refused(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Something went wrong",
                "Nothing was saved. Please try again in a moment.",
            );
        }
    }
    tracing::info!(team_id = %grant.team_id, user_id = %grant.user_id, "installed / connected");
    app.homes.request(&grant.team_id, &grant.user_id);
    clear_cookie(render(
        StatusCode::OK,
        &InstalledPage {
            team_name: grant.team_name,
            team_id: grant.team_id,
        },
    ))
}

enum SaveError {
    NotInstalled,
    Store(crate::store::StoreError),
}

impl From<crate::store::StoreError> for SaveError {
    fn from(err: crate::store::StoreError) -> Self {
        Self::Store(err)
    }
}

async fn save_grant(
    app: &SharedState,
    grant: crate::slack::oauth::InstallGrant,
    now: chrono::DateTime<Utc>,
) -> Result<(), SaveError> {
    match grant.bot {
        Some(bot) => {
            let install = Installation {
                team_id: grant.team_id.clone(),
                team_name: grant.team_name.clone(),
                bot_user_id: grant.bot_user_id.clone(),
                bot,
                installed_by: grant.user_id.clone(),
            };
            app.store.upsert_installation(&install, now).await?;
        }
        None => {
            let installed = app
                .store
                .workspace(&grant.team_id)
                .await?
                .is_some_and(|w| w.is_installed());
            if !installed {
                return Err(SaveError::NotInstalled);
            }
        }
    }
    if let Some(user) = grant.user {
        let author = app
            .store
            .connect_user(&grant.team_id, &grant.user_id, &user, now)
            .await?;
        let resumed = app.store.resume_held(author.id, now).await?;
        if resumed > 0 {
            tracing::info!(
                author_id = author.id,
                resumed,
                "reconnected author's held messages wait again"
            );
        }
        if let Ok(Some(next)) = app.store.next_wake_at().await {
            app.wake.due_at(next);
        }
    }
    Ok(())
}
