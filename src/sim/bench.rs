//! What the benchmark asks of the simulator, under `/_sim/bench/…`:
//!
//! - `POST /_sim/bench/workspace`: a workspace with many users and
//!   conversations at once, and the token pairs an install of each user
//!   would hand out (some already expired, so that refreshes happen);
//! - `GET /_sim/bench/summary`: the tally's running figures (posts,
//!   duplicates, calls by method and outcome), cheap at any size;
//! - `GET /_sim/bench/posts`: every scheduled message posted, one line
//!   each (`id count first_ms`), read once at the end of a run.
//!
//! The names of the users and conversations follow [`user_id`] and
//! [`channel_id`], so that whoever seeds the app's database can name them
//! without a list.

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chrono::Utc;
use serde::{Deserialize, Serialize};

use super::SimInner;
use super::state::{SimChannel, SimTeam, SimUser, TokenKind};

/// A workspace to create.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BenchWorkspace {
    pub team_id: String,
    pub users: u32,
    pub channels: u32,
    /// Every n-th user (the 0th, the n-th, …) has an access token that has
    /// expired already; 0 for none.
    #[serde(default)]
    pub expired_every: u32,
}

/// The tokens an install of every user of a [`BenchWorkspace`] hands out.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BenchTokens {
    pub bot_user_id: String,
    pub bot_access: String,
    pub bot_refresh: String,
    /// Lifetime of the access tokens not expired already.
    pub expires_in_secs: u64,
    /// One per user, in order: `[user_id, access, refresh]`.
    pub users: Vec<[String; 3]>,
}

/// The prefix of the `i`-th user's id: the id is this followed by `i`.
pub fn user_prefix(team_id: &str) -> String {
    format!("U{}X", team_id.trim_start_matches('T'))
}

/// The prefix of the `i`-th conversation's id.
pub fn channel_prefix(team_id: &str) -> String {
    format!("C{}X", team_id.trim_start_matches('T'))
}

pub fn user_id(team_id: &str, i: u32) -> String {
    format!("{}{i}", user_prefix(team_id))
}

pub fn channel_id(team_id: &str, i: u32) -> String {
    format!("{}{i}", channel_prefix(team_id))
}

pub(super) fn routes() -> Router<Arc<SimInner>> {
    Router::new()
        .route("/_sim/bench/workspace", post(workspace))
        .route("/_sim/bench/summary", get(summary))
        .route("/_sim/bench/posts", get(posts))
}

async fn workspace(
    State(sim): State<Arc<SimInner>>,
    axum::Json(spec): axum::Json<BenchWorkspace>,
) -> Response {
    if !spec.team_id.starts_with('T') || spec.team_id.len() < 2 {
        return (StatusCode::BAD_REQUEST, "team_id must look like T…").into_response();
    }
    let mut state = sim.state.lock().unwrap_or_else(|p| p.into_inner());
    let team = &spec.team_id;
    let bot_user_id = format!("UB{}", team.trim_start_matches('T'));
    state.teams.insert(
        team.clone(),
        SimTeam {
            id: team.clone(),
            name: format!("Bench {team}"),
            bot_user_id: bot_user_id.clone(),
        },
    );
    for i in 0..spec.channels {
        let id = channel_id(team, i);
        state.channels.insert(
            id.clone(),
            SimChannel {
                name: format!("bench-{}", id.to_lowercase()),
                id,
                team_id: team.clone(),
                members: Default::default(),
                everyone: true,
                archived: false,
            },
        );
    }
    let ttl = state.settings.access_token_ttl;
    let (bot_access, bot_refresh) = state.mint_token(TokenKind::Bot, team, &bot_user_id, ttl);
    let mut users = Vec::with_capacity(spec.users as usize);
    for i in 0..spec.users {
        let id = user_id(team, i);
        state.users.insert(
            id.clone(),
            SimUser {
                id: id.clone(),
                team_id: team.clone(),
                name: format!("bench-user-{i}"),
                tz: "Europe/Berlin".into(),
            },
        );
        let (access, refresh) = state.mint_token(TokenKind::User, team, &id, ttl);
        if spec.expired_every > 0
            && i.is_multiple_of(spec.expired_every)
            && let Some(token) = state.tokens.get_mut(&access)
        {
            token.expires_at = Some(Utc::now() - chrono::Duration::seconds(1));
        }
        users.push([id, access, refresh]);
    }
    axum::Json(BenchTokens {
        bot_user_id,
        bot_access,
        bot_refresh,
        expires_in_secs: ttl.as_secs(),
        users,
    })
    .into_response()
}

async fn summary(State(sim): State<Arc<SimInner>>) -> Response {
    let state = sim.state.lock().unwrap_or_else(|p| p.into_inner());
    axum::Json(state.tally.summary()).into_response()
}

async fn posts(State(sim): State<Arc<SimInner>>) -> Response {
    let state = sim.state.lock().unwrap_or_else(|p| p.into_inner());
    state.tally.posts_text().into_response()
}
