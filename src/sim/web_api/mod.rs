//! The Web API methods the app calls, as Slack answers them: the same
//! shapes, the same error codes, the same rate-limit answers.
//!
//! - `chat`: `chat.postMessage`, `chat.postEphemeral`, `conversations.history`
//!   and `conversations.replies`.
//! - `conversations`: `conversations.info`, `chat.getPermalink`.
//! - `views`: `views.open`, `views.publish`, `views.update`.
//! - `oauth`: `oauth.v2.access`.
//!
//! This module reads the request, applies injected faults, dispatches, and
//! records the call.

mod chat;
mod conversations;
mod oauth;
mod views;

pub(super) use chat::message_blocks;

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use serde_json::{Map, Value, json};

use super::SimInner;
use super::state::{Fault, FaultKind, SimState, SimToken};

/// Why a call failed, as Slack would say it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Refusal {
    Error(String),
    /// `{"ok":false,"error":code,"response_metadata":{"messages":[…]}}`:
    /// arguments Slack refused, with its reasons.
    Invalid {
        code: &'static str,
        messages: Vec<String>,
    },
    RateLimited(u64),
    Http(u16),
    Raw {
        status: u16,
        content_type: String,
        body: String,
    },
}

pub(super) fn refuse<T>(code: &str) -> Result<T, Refusal> {
    Err(Refusal::Error(code.to_owned()))
}

impl Refusal {
    pub(super) fn outcome(&self) -> String {
        match self {
            Self::Error(code) => code.clone(),
            Self::Invalid { code, .. } => (*code).to_owned(),
            Self::RateLimited(_) => "ratelimited".into(),
            Self::Http(status) => format!("http_{status}"),
            Self::Raw { status, .. } => format!("raw_{status}"),
        }
    }

    /// The same answer with another HTTP status (a `response_url` refuses
    /// bad blocks with a 4xx rather than a 200).
    pub(super) fn into_response_with(self, status: StatusCode) -> Response {
        let mut response = self.into_response();
        *response.status_mut() = status;
        response
    }

    fn into_response(self) -> Response {
        match self {
            Self::Error(code) => json_response(StatusCode::OK, json!({"ok": false, "error": code})),
            Self::Invalid { code, messages } => json_response(
                StatusCode::OK,
                json!({"ok": false, "error": code, "response_metadata": {"messages": messages}}),
            ),
            Self::RateLimited(secs) => {
                let mut response = json_response(
                    StatusCode::TOO_MANY_REQUESTS,
                    json!({"ok": false, "error": "ratelimited"}),
                );
                if let Ok(value) = HeaderValue::from_str(&secs.to_string()) {
                    response.headers_mut().insert(header::RETRY_AFTER, value);
                }
                response
            }
            Self::Http(status) => (
                StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
                "simulated failure",
            )
                .into_response(),
            Self::Raw {
                status,
                content_type,
                body,
            } => (
                StatusCode::from_u16(status).unwrap_or(StatusCode::OK),
                [(header::CONTENT_TYPE, content_type)],
                body,
            )
                .into_response(),
        }
    }
}

fn json_response(status: StatusCode, body: Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json; charset=utf-8")],
        body.to_string(),
    )
        .into_response()
}

/// The query string and the body (JSON or form), merged into one object.
fn params(query: Option<&str>, headers: &HeaderMap, body: &[u8]) -> Map<String, Value> {
    let mut params = Map::new();
    if let Some(query) = query {
        for (k, v) in form_urlencoded_pairs(query.as_bytes()) {
            params.insert(k, Value::String(v));
        }
    }
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if is_json {
        if let Ok(Value::Object(object)) = serde_json::from_slice::<Value>(body) {
            params.extend(object);
        }
    } else if !body.is_empty() {
        for (k, v) in form_urlencoded_pairs(body) {
            // Form-posted JSON arguments (blocks, metadata, view) arrive as strings.
            let value = match k.as_str() {
                "blocks" | "metadata" | "view" => {
                    serde_json::from_str(&v).unwrap_or(Value::String(v))
                }
                _ => Value::String(v),
            };
            params.insert(k, value);
        }
    }
    params
}

pub(super) fn form_urlencoded_pairs(input: &[u8]) -> Vec<(String, String)> {
    serde_urlencoded::from_bytes::<Vec<(String, String)>>(input).unwrap_or_default()
}

pub(super) fn str_param<'a>(params: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    params
        .get(key)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

fn bearer(headers: &HeaderMap, params: &Map<String, Value>) -> Option<String> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::to_owned)
        .or_else(|| str_param(params, "token").map(str::to_owned))
}

/// `POST|GET /api/{method}`.
pub(super) async fn api(
    State(sim): State<Arc<SimInner>>,
    Path(method): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let params = params(query.as_deref(), &headers, &body);
    let token = bearer(&headers, &params);
    let latency = sim
        .state
        .lock()
        .map(|s| s.settings.latency)
        .unwrap_or_default();
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    let fault = sim.state.lock().ok().and_then(|mut s| {
        s.take_fault(
            &method,
            str_param(&params, "channel"),
            str_param(&params, "text"),
        )
    });
    let mut fault_answer = None;
    if let Some(fault) = &fault {
        match fault.kind {
            FaultKind::Latency { millis } => {
                tokio::time::sleep(Duration::from_millis(millis)).await
            }
            FaultKind::Hang { millis } => {
                if fault.after_effect {
                    // Do the work, then never answer in time.
                    let _ = sim.dispatch(&method, &params, token.as_deref(), &headers);
                }
                // Recorded now: a client that gives up drops this request.
                if let Ok(mut state) = sim.state.lock() {
                    state.record(
                        &method,
                        token.clone(),
                        Value::Object(params.clone()),
                        "hung".into(),
                    );
                }
                tokio::time::sleep(Duration::from_millis(millis)).await;
                return Refusal::Http(504).into_response();
            }
            _ => fault_answer = Some(fault_refusal(fault)),
        }
    }
    let after_effect = fault.as_ref().is_some_and(|f| f.after_effect);
    let result = match fault_answer {
        Some(refusal) => {
            if after_effect {
                let _ = sim.dispatch(&method, &params, token.as_deref(), &headers);
            }
            Err(refusal)
        }
        None => sim.dispatch(&method, &params, token.as_deref(), &headers),
    };
    let outcome = match &result {
        Ok(_) => "ok".to_owned(),
        Err(refusal) => refusal.outcome(),
    };
    if let Ok(mut state) = sim.state.lock() {
        state.record(&method, token, Value::Object(params), outcome);
    }
    match result {
        Ok(mut body) => {
            if let Value::Object(object) = &mut body {
                object.insert("ok".into(), Value::Bool(true));
            }
            json_response(StatusCode::OK, body)
        }
        Err(refusal) => refusal.into_response(),
    }
}

fn fault_refusal(fault: &Fault) -> Refusal {
    match &fault.kind {
        FaultKind::SlackError { code } => Refusal::Error(code.clone()),
        FaultKind::Http { status } => Refusal::Http(*status),
        FaultKind::RateLimited { retry_after_secs } => Refusal::RateLimited(*retry_after_secs),
        FaultKind::Hang { .. } => Refusal::Http(504),
        FaultKind::Latency { .. } => Refusal::Http(500),
        FaultKind::Raw {
            status,
            content_type,
            body,
        } => Refusal::Raw {
            status: *status,
            content_type: content_type.clone(),
            body: body.clone(),
        },
    }
}

impl SimInner {
    fn dispatch(
        &self,
        method: &str,
        params: &Map<String, Value>,
        token: Option<&str>,
        headers: &HeaderMap,
    ) -> Result<Value, Refusal> {
        let mut state = self.state.lock().map_err(|_| Refusal::Http(500))?;
        let state = &mut *state;
        let limits = self.limits(&state.settings);
        match method {
            "oauth.v2.access" => oauth::oauth_access(state, &limits, params, headers),
            "chat.postMessage" => {
                let caller = authed(state, token)?;
                chat::post_message(state, &limits, &caller, params)
            }
            "chat.postEphemeral" => {
                let caller = authed(state, token)?;
                chat::post_ephemeral(state, &caller, params)
            }
            "conversations.history" => {
                let caller = authed(state, token)?;
                chat::history(state, &limits, &caller, params)
            }
            "conversations.replies" => {
                let caller = authed(state, token)?;
                chat::replies(state, &limits, &caller, params)
            }
            "conversations.info" => {
                let caller = authed(state, token)?;
                conversations::info(state, &limits, &caller, params)
            }
            "chat.getPermalink" => {
                let caller = authed(state, token)?;
                conversations::permalink(state, &caller, params)
            }
            "conversations.open" => {
                let caller = authed(state, token)?;
                let user = str_param(params, "users")
                    .ok_or_else(|| Refusal::Error("users_not_found".into()))?;
                let channel = chat::im_channel(state, &caller, user)?;
                Ok(json!({"channel": {"id": channel}}))
            }
            "users.info" => {
                let caller = authed(state, token)?;
                users_info(state, &caller, params)
            }
            "auth.test" => {
                let caller = authed(state, token)?;
                let team = state
                    .teams
                    .get(&caller.team_id)
                    .map(|t| t.name.clone())
                    .unwrap_or_default();
                Ok(json!({
                    "url": format!("https://{}.slack.test/", caller.team_id.to_lowercase()),
                    "team": team, "user": caller.user_id, "team_id": caller.team_id, "user_id": caller.user_id,
                }))
            }
            "views.open" => {
                let caller = authed(state, token)?;
                views::views_open(state, &caller, params)
            }
            "views.publish" => {
                let caller = authed(state, token)?;
                views::views_publish(state, &limits, &caller, params)
            }
            "views.update" => {
                let caller = authed(state, token)?;
                views::views_update(state, &caller, params)
            }
            _ => refuse("unknown_method"),
        }
    }
}

/// The caller's token, checked as Slack checks it.
fn authed(state: &SimState, token: Option<&str>) -> Result<SimToken, Refusal> {
    let token = token.ok_or_else(|| Refusal::Error("not_authed".into()))?;
    let found = state
        .tokens
        .get(token)
        .ok_or_else(|| Refusal::Error("invalid_auth".into()))?;
    if found.revoked {
        return refuse("token_revoked");
    }
    if found.expires_at.is_some_and(|at| at <= Utc::now()) {
        return refuse("token_expired");
    }
    Ok(found.clone())
}

fn users_info(
    state: &SimState,
    caller: &SimToken,
    params: &Map<String, Value>,
) -> Result<Value, Refusal> {
    let user_id =
        str_param(params, "user").ok_or_else(|| Refusal::Error("user_not_found".into()))?;
    let user = match state.users.get(user_id) {
        Some(u) if u.team_id == caller.team_id => u,
        _ => return refuse("user_not_found"),
    };
    let (offset, label) = user
        .tz
        .parse::<chrono_tz::Tz>()
        .map(|tz| {
            use chrono::Offset;
            let now = Utc::now().with_timezone(&tz);
            (
                now.offset().fix().local_minus_utc(),
                now.format("%Z").to_string(),
            )
        })
        .unwrap_or((0, "UTC".into()));
    Ok(json!({"user": {
        "id": user.id, "team_id": user.team_id, "name": user.name, "real_name": user.name,
        "tz": user.tz, "tz_label": label, "tz_offset": offset, "deleted": false, "is_bot": false,
    }}))
}
