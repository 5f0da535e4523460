//! A simulator of the part of Slack the app uses (SPEC §6), over real HTTP
//! on a loopback port.
//!
//! - `/api/{method}`: the Web API ([`web_api`]), with Slack's shapes, error
//!   codes, token expiry and rotation, rate limits and injected faults.
//! - `/oauth/v2/authorize`: the install approval page, which approves at once
//!   and redirects back with a code (or `error=access_denied`).
//! - `/_sim/…`: inspection and control for people running `slack-scheduler sim`,
//!   and for the benchmark ([`bench`]).
//!
//! The other direction, Slack calling the app, lives in [`outbound`]: signed
//! slash commands, interactions and events, carrying what Slack's client
//! makes of what a person types ([`typing`]).
//!
//! Tests hold a [`Simulator`] and read its record of every call directly.

mod authorize;
pub mod bench;
pub mod block_kit;
mod limits;
pub mod outbound;
mod settings;
pub mod state;
mod tally;
pub mod text;
pub mod typing;
mod web_api;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use chrono::Utc;
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

pub use outbound::{AppAnswer, Command};
pub use state::{
    EphemeralMessage, Fault, FaultKind, MetadataMode, PostedMessage, RecordMode, RecordedCall,
    SimChannel, SimSettings, SimTeam, SimUser, SimView, TokenKind,
};

use limits::Limits;
use state::{AuthCode, SimState};

pub(crate) struct SimInner {
    state: Mutex<SimState>,
    /// Built from the settings' limits; rebuilt when a test changes them.
    limits: Mutex<Arc<Limits>>,
    /// For the requests the simulator sends the app.
    http: reqwest::Client,
    base_url: String,
    /// Where `POST /_sim/command` sends commands (`slack-scheduler sim`).
    app_url: Mutex<Option<String>>,
}

impl SimInner {
    fn directory(&self, team_id: &str) -> typing::Directory {
        let state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        typing::Directory {
            users: state
                .users
                .values()
                .filter(|u| u.team_id == team_id)
                .map(|u| (u.name.clone(), u.id.clone()))
                .collect(),
            channels: state
                .channels
                .values()
                .filter(|c| c.team_id == team_id)
                .map(|c| (c.name.clone(), c.id.clone()))
                .collect(),
        }
    }

    /// The rate limiters for `settings` (the current ones).
    fn limits(&self, settings: &SimSettings) -> Arc<Limits> {
        let mut limits = self.limits.lock().unwrap_or_else(|p| p.into_inner());
        if !limits.matches(settings) {
            *limits = Arc::new(Limits::new(settings));
        }
        limits.clone()
    }
}

/// A running simulator. Dropping it stops the server.
pub struct Simulator {
    inner: Arc<SimInner>,
    addr: SocketAddr,
    stop: CancellationToken,
}

impl Drop for Simulator {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// Tokens handed out by [`Simulator::install`], as an install would.
#[derive(Debug, Clone)]
pub struct IssuedTokens {
    pub bot_access: String,
    pub bot_refresh: String,
    pub user_access: String,
    pub user_refresh: String,
    pub expires_in: Duration,
}

impl Simulator {
    /// Starts on a random loopback port.
    pub async fn start(settings: SimSettings) -> std::io::Result<Self> {
        Self::start_on(SocketAddr::from(([127, 0, 0, 1], 0)), settings).await
    }

    pub async fn start_on(addr: SocketAddr, settings: SimSettings) -> std::io::Result<Self> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let limits = Arc::new(Limits::new(&settings));
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .map_err(std::io::Error::other)?;
        let inner = Arc::new(SimInner {
            state: Mutex::new(SimState::new(settings)),
            limits: Mutex::new(limits),
            http,
            base_url: format!("http://{addr}"),
            app_url: Mutex::new(None),
        });
        let stop = CancellationToken::new();
        let app = router(inner.clone());
        let shutdown = stop.clone();
        tokio::spawn(async move {
            let serve =
                axum::serve(listener, app).with_graceful_shutdown(shutdown.cancelled_owned());
            if let Err(err) = serve.await {
                tracing::error!(error = %err, "simulator server stopped");
            }
        });
        Ok(Self { inner, addr, stop })
    }

    /// Where `POST /_sim/command` delivers slash commands.
    pub fn set_app_url(&self, app_url: &str) {
        if let Ok(mut url) = self.inner.app_url.lock() {
            *url = Some(app_url.trim_end_matches('/').to_owned());
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// What SLACK_API_URL should be.
    pub fn api_url(&self) -> String {
        format!("{}/api", self.base_url())
    }

    /// What SLACK_AUTHORIZE_URL should be.
    pub fn authorize_url(&self) -> String {
        format!("{}/oauth/v2/authorize", self.base_url())
    }

    fn with_state<T>(&self, f: impl FnOnce(&mut SimState) -> T) -> T {
        let mut state = self
            .inner
            .state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        f(&mut state)
    }

    pub fn settings(&self) -> SimSettings {
        self.with_state(|s| s.settings.clone())
    }

    /// Changes the settings; changed rate limits start counting afresh.
    pub fn update_settings(&self, change: impl FnOnce(&mut SimSettings)) {
        self.with_state(|s| change(&mut s.settings));
    }

    /// Adds `url` to the app's configured Redirect URLs.
    pub fn allow_redirect_url(&self, url: &str) {
        self.update_settings(|s| {
            if !s.redirect_urls.iter().any(|u| u == url) {
                s.redirect_urls.push(url.to_owned());
            }
        });
    }

    pub fn add_team(&self, id: &str, name: &str) {
        self.with_state(|s| {
            s.teams.insert(
                id.into(),
                SimTeam {
                    id: id.into(),
                    name: name.into(),
                    bot_user_id: format!("UB{}", id.trim_start_matches('T')),
                },
            );
        });
    }

    pub fn add_user(&self, team_id: &str, id: &str, name: &str, tz: &str) {
        self.with_state(|s| {
            s.users.insert(
                id.into(),
                SimUser {
                    id: id.into(),
                    team_id: team_id.into(),
                    name: name.into(),
                    tz: tz.into(),
                },
            );
            if s.browser_user.is_none() {
                s.browser_user = Some((team_id.into(), id.into()));
            }
        });
    }

    pub fn add_channel(&self, team_id: &str, id: &str, name: &str, members: &[&str]) {
        self.with_state(|s| {
            s.channels.insert(
                id.into(),
                SimChannel {
                    id: id.into(),
                    team_id: team_id.into(),
                    name: name.into(),
                    members: members.iter().map(|m| (*m).to_owned()).collect(),
                    everyone: false,
                    archived: false,
                },
            );
        });
    }

    pub fn archive_channel(&self, id: &str) {
        self.with_state(|s| {
            if let Some(c) = s.channels.get_mut(id) {
                c.archived = true;
            }
        });
    }

    /// A ready-made workspace: Acme with alice (Berlin) and bob (New York),
    /// #general (both), #random (alice only) and an archived #old.
    pub fn seed_demo_workspace(&self) {
        self.add_team("T0001", "Acme (simulated)");
        self.add_user("T0001", "U0001", "alice", "Europe/Berlin");
        self.add_user("T0001", "U0002", "bob", "America/New_York");
        self.add_channel("T0001", "C0001", "general", &["U0001", "U0002"]);
        self.add_channel("T0001", "C0002", "random", &["U0001"]);
        self.add_channel("T0001", "C0003", "old", &["U0001", "U0002"]);
        self.archive_channel("C0003");
    }

    /// The browser the authorize page sees as signed in.
    pub fn sign_in_browser(&self, team_id: &str, user_id: &str) {
        self.with_state(|s| s.browser_user = Some((team_id.into(), user_id.into())));
    }

    /// Mints the tokens an install would, without the browser round trip.
    pub fn install(&self, team_id: &str, user_id: &str) -> IssuedTokens {
        self.with_state(|s| {
            let ttl = s.settings.access_token_ttl;
            let bot_user = s
                .teams
                .get(team_id)
                .map(|t| t.bot_user_id.clone())
                .unwrap_or_default();
            let (bot_access, bot_refresh) = s.mint_token(TokenKind::Bot, team_id, &bot_user, ttl);
            let (user_access, user_refresh) = s.mint_token(TokenKind::User, team_id, user_id, ttl);
            IssuedTokens {
                bot_access,
                bot_refresh,
                user_access,
                user_refresh,
                expires_in: ttl,
            }
        })
    }

    /// An authorization code as the approval page would issue it.
    pub fn issue_code(&self, team_id: &str, user_id: &str, redirect_uri: Option<&str>) -> String {
        let code = format!("sim-code-{}", state::random_id(16));
        self.with_state(|s| {
            s.codes.insert(
                code.clone(),
                AuthCode {
                    team_id: team_id.into(),
                    user_id: user_id.into(),
                    bot_scopes: true,
                    redirect_uri: redirect_uri.map(str::to_owned),
                    expires_at: Utc::now() + chrono::Duration::minutes(10),
                    used: false,
                },
            );
        });
        code
    }

    /// Makes every access token of `user_id` (or every one, for `None`) expired now.
    pub fn expire_access_tokens(&self, user_id: Option<&str>) {
        self.with_state(|s| {
            for token in s.tokens.values_mut() {
                if user_id.is_none_or(|u| token.user_id == u) {
                    token.expires_at = Some(Utc::now() - chrono::Duration::seconds(1));
                }
            }
        });
    }

    /// Revokes every token (access and refresh) of `user_id`.
    pub fn revoke_tokens(&self, user_id: &str) {
        self.with_state(|s| {
            for token in s.tokens.values_mut().filter(|t| t.user_id == user_id) {
                token.revoked = true;
            }
            for refresh in s
                .refresh_tokens
                .values_mut()
                .filter(|t| t.user_id == user_id)
            {
                refresh.used = true;
            }
        });
    }

    pub fn add_fault(&self, fault: Fault) {
        self.with_state(|s| s.faults.push(fault));
    }

    pub fn clear_faults(&self) {
        self.with_state(|s| s.faults.clear());
    }

    /// Every call to `method` (or to any method), oldest first.
    pub fn calls(&self, method: Option<&str>) -> Vec<RecordedCall> {
        self.with_state(|s| {
            s.calls
                .iter()
                .filter(|c| method.is_none_or(|m| c.method == m))
                .cloned()
                .collect()
        })
    }

    /// Messages in `channel` (or everywhere), in posting order.
    pub fn messages(&self, channel: Option<&str>) -> Vec<PostedMessage> {
        self.with_state(|s| {
            s.messages
                .iter()
                .filter(|m| channel.is_none_or(|c| m.channel == c))
                .cloned()
                .collect()
        })
    }

    pub fn views(&self) -> Vec<SimView> {
        self.with_state(|s| s.views.clone())
    }

    /// The Home tab last published for `user_id`.
    pub fn home_view(&self, user_id: &str) -> Option<Value> {
        self.with_state(|s| {
            s.views
                .iter()
                .rev()
                .find(|v| {
                    v.user_id.as_deref() == Some(user_id)
                        && v.view.get("type") == Some(&json!("home"))
                })
                .map(|v| v.view.clone())
        })
    }

    /// Ephemeral messages and `response_url` posts, oldest first.
    pub fn ephemerals(&self) -> Vec<EphemeralMessage> {
        self.with_state(|s| s.ephemerals.clone())
    }

    /// The names `team_id`'s people and conversations go by.
    pub fn directory(&self, team_id: &str) -> typing::Directory {
        self.inner.directory(team_id)
    }

    /// What Slack sends as `/schedule`'s text when a member of `team_id`
    /// types `typed` (escaped, as the app's manifest asks; see
    /// [`SimSettings::escape_commands`]).
    pub fn command_text(&self, team_id: &str, typed: &str) -> String {
        let escape = self.with_state(|s| s.settings.escape_commands);
        typing::command_text(typed, escape, &self.directory(team_id))
    }

    /// What a `rich_text_input` submits when a member of `team_id` types
    /// `typed` into it: its `rich_text_value`.
    pub fn composed(&self, team_id: &str, typed: &str) -> Value {
        typing::composed(typed, &self.directory(team_id))
    }

    /// Puts a message into a channel as if `user_id` typed it in Slack
    /// (stored as Slack stores text: see [`text::stored_text`]).
    pub fn post_as(&self, channel: &str, user_id: &str, text: &str) -> String {
        self.with_state(|s| {
            let ts = s.next_ts();
            s.messages.push(PostedMessage {
                channel: channel.into(),
                ts: ts.clone(),
                user: user_id.into(),
                text: text::stored_text(text),
                metadata: None,
                blocks: None,
                as_bot: false,
                thread_ts: None,
                reply_broadcast: false,
            });
            ts
        })
    }

    /// Puts a reply into a thread as if `user_id` typed it in Slack.
    pub fn reply_as(&self, channel: &str, thread_ts: &str, user_id: &str, text: &str) -> String {
        self.with_state(|s| {
            let ts = s.next_ts();
            s.messages.push(PostedMessage {
                channel: channel.into(),
                ts: ts.clone(),
                user: user_id.into(),
                text: text::stored_text(text),
                metadata: None,
                blocks: None,
                as_bot: false,
                thread_ts: Some(thread_ts.into()),
                reply_broadcast: false,
            });
            ts
        })
    }
}

fn router(inner: Arc<SimInner>) -> Router {
    Router::new()
        .route("/api/{method}", any(web_api::api))
        .route("/oauth/v2/authorize", get(authorize::authorize))
        .route("/_sim/response/{id}", post(response_url))
        .route("/_sim/calls", get(list_calls))
        .route("/_sim/messages", get(list_messages))
        .route("/_sim/faults", post(add_fault).delete(clear_faults))
        .route("/_sim/tokens/expire", post(expire_tokens))
        .route("/_sim/command", post(command))
        .merge(bench::routes())
        .with_state(inner)
}

/// `response_url` posts from the app: shown to the user (kept in the
/// ephemerals) if their blocks are valid; refused with 400 and Slack's
/// reasons otherwise. Recorded like a Web API call, as `response_url`.
async fn response_url(
    State(sim): State<Arc<SimInner>>,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Response {
    let mut state = sim.state.lock().unwrap_or_else(|p| p.into_inner());
    let Some((_team, channel, user)) = state.response_urls.get(&id).cloned() else {
        return (StatusCode::NOT_FOUND, "expired_url").into_response();
    };
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let params = body.as_object().cloned().unwrap_or_default();
    if let Err(refusal) = web_api::message_blocks(&params) {
        let outcome = refusal.outcome();
        state.record("response_url", None, body, outcome);
        return refusal.into_response_with(StatusCode::BAD_REQUEST);
    }
    state.record("response_url", None, body.clone(), "ok".into());
    state.ephemerals.push(EphemeralMessage {
        channel: Some(channel),
        user: Some(user),
        body,
    });
    (StatusCode::OK, "ok").into_response()
}

#[derive(Debug, Deserialize)]
struct CallsQuery {
    method: Option<String>,
    channel: Option<String>,
}

async fn list_calls(State(sim): State<Arc<SimInner>>, Query(query): Query<CallsQuery>) -> Response {
    let state = sim.state.lock().unwrap_or_else(|p| p.into_inner());
    let calls: Vec<&RecordedCall> = state
        .calls
        .iter()
        .filter(|c| query.method.as_deref().is_none_or(|m| c.method == m))
        .collect();
    axum::Json(json!({"calls": calls})).into_response()
}

async fn list_messages(
    State(sim): State<Arc<SimInner>>,
    Query(query): Query<CallsQuery>,
) -> Response {
    let state = sim.state.lock().unwrap_or_else(|p| p.into_inner());
    let messages: Vec<&PostedMessage> = state
        .messages
        .iter()
        .filter(|m| query.channel.as_deref().is_none_or(|c| m.channel == c))
        .collect();
    axum::Json(json!({"messages": messages})).into_response()
}

async fn add_fault(
    State(sim): State<Arc<SimInner>>,
    axum::Json(fault): axum::Json<Fault>,
) -> Response {
    sim.state
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .faults
        .push(fault);
    (StatusCode::CREATED, "fault added").into_response()
}

async fn clear_faults(State(sim): State<Arc<SimInner>>) -> Response {
    sim.state
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .faults
        .clear();
    (StatusCode::OK, "faults cleared").into_response()
}

#[derive(Debug, Deserialize)]
struct CommandRequest {
    #[serde(default = "default_team")]
    team_id: String,
    user_id: String,
    channel_id: String,
    #[serde(default)]
    text: String,
}

fn default_team() -> String {
    "T0001".into()
}

/// Types `/schedule <text>` as a user: the signed command goes to the app
/// (`SIM_APP_URL`), and its answer comes back.
async fn command(
    State(sim): State<Arc<SimInner>>,
    axum::Json(request): axum::Json<CommandRequest>,
) -> Response {
    let Some(app_url) = sim.app_url.lock().ok().and_then(|u| u.clone()) else {
        return (
            StatusCode::CONFLICT,
            "no app URL is configured (SIM_APP_URL)",
        )
            .into_response();
    };
    let command = Command {
        team_id: &request.team_id,
        user_id: &request.user_id,
        channel_id: &request.channel_id,
        text: &request.text,
    };
    match sim.send_command(&app_url, command).await {
        Ok(answer) => axum::Json(json!({"status": answer.status, "body": answer.body,
                              "invalid_blocks": answer.invalid_blocks}))
        .into_response(),
        Err(err) => (
            StatusCode::BAD_GATEWAY,
            format!("the app did not answer: {err}"),
        )
            .into_response(),
    }
}

async fn expire_tokens(State(sim): State<Arc<SimInner>>) -> Response {
    let mut state = sim.state.lock().unwrap_or_else(|p| p.into_inner());
    for token in state.tokens.values_mut() {
        token.expires_at = Some(Utc::now() - chrono::Duration::seconds(1));
    }
    (StatusCode::OK, "access tokens expired").into_response()
}

/// Polls `check` every 20 ms until it yields `Some`, for at most `deadline`.
pub async fn wait_for<T>(deadline: Duration, mut check: impl FnMut() -> Option<T>) -> Option<T> {
    wait_for_async(deadline, || std::future::ready(check())).await
}

/// [`wait_for`] with an async check.
pub async fn wait_for_async<T, F, Fut>(deadline: Duration, mut check: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let give_up = tokio::time::Instant::now() + deadline;
    loop {
        if let Some(value) = check().await {
            return Some(value);
        }
        if tokio::time::Instant::now() >= give_up {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

impl Simulator {
    /// Every secret the simulator handed out or holds (tokens, refresh
    /// tokens, client secret, signing secret): for tests that check none
    /// of them leaks into logs.
    pub fn secrets(&self) -> Vec<String> {
        self.with_state(|s| {
            let mut secrets: Vec<String> = s
                .tokens
                .keys()
                .chain(s.refresh_tokens.keys())
                .cloned()
                .collect();
            secrets.push(s.settings.client_secret.clone());
            secrets.push(s.settings.signing_secret.clone());
            secrets
        })
    }
}
