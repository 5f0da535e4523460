//! The Web API methods the app calls, as Slack answers them: the same
//! shapes, the same error codes, the same rate-limit answers.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use chrono::Utc;
use serde_json::{Map, Value, json};

use super::SimInner;
use super::state::{
    AuthCode, Fault, FaultKind, PostedMessage, SimChannel, SimState, SimToken, SimView, TokenKind,
    random_id,
};

/// Why a call failed, as Slack would say it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Refusal {
    Error(String),
    RateLimited(u64),
    Http(u16),
    Raw {
        status: u16,
        content_type: String,
        body: String,
    },
}

fn refuse<T>(code: &str) -> Result<T, Refusal> {
    Err(Refusal::Error(code.to_owned()))
}

impl Refusal {
    fn outcome(&self) -> String {
        match self {
            Self::Error(code) => code.clone(),
            Self::RateLimited(_) => "ratelimited".into(),
            Self::Http(status) => format!("http_{status}"),
            Self::Raw { status, .. } => format!("raw_{status}"),
        }
    }

    fn into_response(self) -> Response {
        match self {
            Self::Error(code) => json_response(StatusCode::OK, json!({"ok": false, "error": code})),
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

fn form_urlencoded_pairs(input: &[u8]) -> Vec<(String, String)> {
    serde_urlencoded::from_bytes::<Vec<(String, String)>>(input).unwrap_or_default()
}

fn str_param<'a>(params: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
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
        match method {
            "oauth.v2.access" => oauth_access(state, params, headers),
            "chat.postMessage" => {
                let caller = authed(state, token)?;
                self.post_message(state, &caller, params)
            }
            "chat.postEphemeral" => {
                let caller = authed(state, token)?;
                post_ephemeral(state, &caller, params)
            }
            "conversations.history" => {
                let caller = authed(state, token)?;
                history(state, &caller, token.unwrap_or_default(), params)
            }
            "conversations.open" => {
                let caller = authed(state, token)?;
                let user = str_param(params, "users")
                    .ok_or_else(|| Refusal::Error("users_not_found".into()))?;
                let channel = im_channel(state, &caller, user)?;
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
                views_open(state, &caller, params)
            }
            "views.publish" => {
                let caller = authed(state, token)?;
                views_publish(state, &caller, params)
            }
            "views.update" => {
                let caller = authed(state, token)?;
                views_update(state, &caller, params)
            }
            _ => refuse("unknown_method"),
        }
    }

    fn post_message(
        &self,
        state: &mut SimState,
        caller: &SimToken,
        params: &Map<String, Value>,
    ) -> Result<Value, Refusal> {
        let channel_param = str_param(params, "channel")
            .ok_or_else(|| Refusal::Error("channel_not_found".into()))?;
        let text = params
            .get("text")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let blocks = params.get("blocks").cloned().filter(|b| !b.is_null());
        if text.trim().is_empty() && blocks.is_none() {
            return refuse("no_text");
        }
        if text.chars().count() > 40_000 {
            return refuse("msg_too_long");
        }
        let channel_id = if caller.kind == TokenKind::Bot && channel_param.starts_with('U') {
            im_channel(state, caller, channel_param)?
        } else {
            channel_param.to_owned()
        };
        let channel = match state.channels.get(&channel_id) {
            Some(c) if c.team_id == caller.team_id => c.clone(),
            _ => return refuse("channel_not_found"),
        };
        if channel.archived {
            return refuse("is_archived");
        }
        if !channel.members.contains(&caller.user_id) {
            return refuse("not_in_channel");
        }
        if let Some(limiter) = self.channel_limiter()
            && limiter.check_key(&channel_id).is_err()
        {
            return Err(Refusal::RateLimited(1));
        }
        let metadata = match params.get("metadata") {
            Some(Value::String(s)) => serde_json::from_str(s).ok(),
            Some(Value::Null) | None => None,
            Some(other) => Some(other.clone()),
        };
        let ts = state.next_ts();
        let message = PostedMessage {
            channel: channel_id.clone(),
            ts: ts.clone(),
            user: caller.user_id.clone(),
            text: text.clone(),
            metadata: metadata.clone(),
            blocks: blocks.clone(),
            as_bot: caller.kind == TokenKind::Bot,
        };
        state.messages.push(message);
        let mut shown = json!({"type": "message", "text": text, "user": caller.user_id, "ts": ts,
                               "team": caller.team_id});
        if let Some(metadata) = metadata {
            shown["metadata"] = metadata;
        }
        if let Some(blocks) = blocks {
            shown["blocks"] = blocks;
        }
        Ok(json!({"channel": channel_id, "ts": ts, "message": shown}))
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

/// The DM between the bot and `user` (created on first use).
fn im_channel(state: &mut SimState, caller: &SimToken, user: &str) -> Result<String, Refusal> {
    let target = state
        .users
        .get(user)
        .filter(|u| u.team_id == caller.team_id);
    if target.is_none() {
        return refuse("user_not_found");
    }
    let id = format!("D{}", user.trim_start_matches('U'));
    let bot = state
        .teams
        .get(&caller.team_id)
        .map(|t| t.bot_user_id.clone())
        .unwrap_or_default();
    state
        .channels
        .entry(id.clone())
        .or_insert_with(|| SimChannel {
            id: id.clone(),
            team_id: caller.team_id.clone(),
            name: format!("dm-{user}"),
            members: [user.to_owned(), bot].into_iter().collect(),
            archived: false,
        });
    Ok(id)
}

fn post_ephemeral(
    state: &mut SimState,
    caller: &SimToken,
    params: &Map<String, Value>,
) -> Result<Value, Refusal> {
    let channel =
        str_param(params, "channel").ok_or_else(|| Refusal::Error("channel_not_found".into()))?;
    let user = str_param(params, "user").ok_or_else(|| Refusal::Error("user_not_found".into()))?;
    if state
        .users
        .get(user)
        .is_none_or(|u| u.team_id != caller.team_id)
    {
        return refuse("user_not_found");
    }
    let body = Value::Object(params.clone());
    state.ephemerals.push(super::state::EphemeralMessage {
        channel: Some(channel.to_owned()),
        user: Some(user.to_owned()),
        body,
    });
    let ts = state.next_ts();
    Ok(json!({"message_ts": ts}))
}

fn ts_key(ts: &str) -> Option<(i64, i64)> {
    let (secs, micros) = ts.split_once('.').unwrap_or((ts, "0"));
    let micros = format!("{micros:0<6}");
    Some((secs.parse().ok()?, micros.get(..6)?.parse().ok()?))
}

fn history(
    state: &mut SimState,
    caller: &SimToken,
    token: &str,
    params: &Map<String, Value>,
) -> Result<Value, Refusal> {
    if let Some(per_minute) = state.settings.history_per_minute {
        let now = tokio::time::Instant::now();
        let window = state.history_calls.entry(token.to_owned()).or_default();
        while window
            .front()
            .is_some_and(|t| now.duration_since(*t) >= Duration::from_secs(60))
        {
            window.pop_front();
        }
        if window.len() >= per_minute as usize {
            let wait = window
                .front()
                .map(|t| 60 - now.duration_since(*t).as_secs())
                .unwrap_or(60);
            return Err(Refusal::RateLimited(wait.max(1)));
        }
        window.push_back(now);
    }
    let channel_id =
        str_param(params, "channel").ok_or_else(|| Refusal::Error("channel_not_found".into()))?;
    let channel = match state.channels.get(channel_id) {
        Some(c) if c.team_id == caller.team_id => c,
        _ => return refuse("channel_not_found"),
    };
    if !channel.members.contains(&caller.user_id) {
        return refuse("not_in_channel");
    }
    let oldest = str_param(params, "oldest").and_then(ts_key);
    let latest = str_param(params, "latest").and_then(ts_key);
    let limit = str_param(params, "limit")
        .and_then(|l| l.parse::<usize>().ok())
        .unwrap_or(100)
        .clamp(1, 999);
    let offset = str_param(params, "cursor")
        .and_then(|c| c.parse::<usize>().ok())
        .unwrap_or(0);
    let full_metadata = str_param(params, "include_all_metadata") == Some("true");
    let mut matching: Vec<&PostedMessage> = state
        .messages
        .iter()
        .filter(|m| m.channel == channel_id)
        .filter(|m| {
            let key = ts_key(&m.ts);
            oldest.is_none_or(|o| key > Some(o)) && latest.is_none_or(|l| key < Some(l))
        })
        .collect();
    matching.sort_by_key(|m| std::cmp::Reverse(ts_key(&m.ts)));
    let page: Vec<Value> = matching
        .iter()
        .skip(offset)
        .take(limit)
        .map(|m| {
            let mut shown = json!({"type": "message", "user": m.user, "text": m.text, "ts": m.ts});
            if let Some(metadata) = &m.metadata {
                shown["metadata"] = if full_metadata {
                    metadata.clone()
                } else {
                    json!({"event_type": metadata.get("event_type").cloned().unwrap_or(Value::Null)})
                };
            }
            shown
        })
        .collect();
    let has_more = matching.len() > offset + limit;
    let next_cursor = if has_more {
        (offset + limit).to_string()
    } else {
        String::new()
    };
    Ok(
        json!({"messages": page, "has_more": has_more, "response_metadata": {"next_cursor": next_cursor}}),
    )
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

/// The client credentials, from HTTP Basic (what the app sends) or the form.
fn client_credentials(
    headers: &HeaderMap,
    params: &Map<String, Value>,
) -> (Option<String>, Option<String>) {
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|pair| {
            let (id, secret) = pair.split_once(':')?;
            let decode = |s: &str| {
                form_urlencoded_pairs(format!("x={s}").as_bytes())
                    .pop()
                    .map(|(_, v)| v)
                    .unwrap_or_default()
            };
            Some((decode(id), decode(secret)))
        });
    match basic {
        Some((id, secret)) => (Some(id), Some(secret)),
        None => (
            str_param(params, "client_id").map(str::to_owned),
            str_param(params, "client_secret").map(str::to_owned),
        ),
    }
}

fn oauth_access(
    state: &mut SimState,
    params: &Map<String, Value>,
    headers: &HeaderMap,
) -> Result<Value, Refusal> {
    let (client_id, client_secret) = client_credentials(headers, params);
    if client_id.as_deref() != Some(state.settings.client_id.as_str()) {
        return refuse("invalid_client_id");
    }
    if client_secret.as_deref() != Some(state.settings.client_secret.as_str()) {
        return refuse("bad_client_secret");
    }
    let ttl = state.settings.access_token_ttl;
    if str_param(params, "grant_type") == Some("refresh_token") {
        let presented = str_param(params, "refresh_token")
            .ok_or_else(|| Refusal::Error("invalid_refresh_token".into()))?;
        let entry = state
            .refresh_tokens
            .get_mut(presented)
            .ok_or_else(|| Refusal::Error("invalid_refresh_token".into()))?;
        if entry.used {
            return refuse("invalid_refresh_token");
        }
        entry.used = true;
        let (kind, team_id, user_id) = (entry.kind, entry.team_id.clone(), entry.user_id.clone());
        let (access, refresh) = state.mint_token(kind, &team_id, &user_id, ttl);
        let team_name = state
            .teams
            .get(&team_id)
            .map(|t| t.name.clone())
            .unwrap_or_default();
        let (token_type, scope) = match kind {
            TokenKind::Bot => ("bot", crate::slack::oauth::BOT_SCOPES),
            TokenKind::User => ("user", crate::slack::oauth::USER_SCOPES),
        };
        let mut body = json!({
            "access_token": access, "token_type": token_type, "expires_in": ttl.as_secs(),
            "refresh_token": refresh, "scope": scope, "app_id": "A0SIMAPP",
            "team": {"id": team_id, "name": team_name},
        });
        if kind == TokenKind::Bot {
            body["bot_user_id"] = Value::String(user_id);
        } else {
            body["user_id"] = Value::String(user_id);
        }
        return Ok(body);
    }
    let code = str_param(params, "code").ok_or_else(|| Refusal::Error("invalid_code".into()))?;
    let grant: &mut AuthCode = state
        .codes
        .get_mut(code)
        .ok_or_else(|| Refusal::Error("invalid_code".into()))?;
    if grant.used || grant.expires_at <= Utc::now() {
        return refuse("invalid_code");
    }
    if grant.redirect_uri.is_some()
        && grant.redirect_uri.as_deref() != str_param(params, "redirect_uri")
    {
        return refuse("bad_redirect_uri");
    }
    grant.used = true;
    let grant = grant.clone();
    let (team_id, user_id) = (grant.team_id.clone(), grant.user_id.clone());
    let team = state
        .teams
        .get(&team_id)
        .cloned()
        .ok_or_else(|| Refusal::Error("invalid_code".into()))?;
    let (user_access, user_refresh) = state.mint_token(TokenKind::User, &team_id, &user_id, ttl);
    let authed_user = json!({"id": user_id, "scope": crate::slack::oauth::USER_SCOPES,
        "access_token": user_access, "expires_in": ttl.as_secs(), "refresh_token": user_refresh,
        "token_type": "user"});
    if !grant.bot_scopes {
        // Only user scopes were asked for: no bot token at the top level
        // (Slack's SDKs install a bot only "if a bot user/scope was requested":
        // slackapi/node-slack-sdk packages/oauth/src/install-provider.ts).
        return Ok(json!({
            "app_id": "A0SIMAPP", "team": {"id": team_id, "name": team.name}, "enterprise": null,
            "is_enterprise_install": false, "authed_user": authed_user,
        }));
    }
    let (bot_access, bot_refresh) =
        state.mint_token(TokenKind::Bot, &team_id, &team.bot_user_id, ttl);
    Ok(json!({
        "access_token": bot_access, "token_type": "bot", "scope": crate::slack::oauth::BOT_SCOPES,
        "bot_user_id": team.bot_user_id, "app_id": "A0SIMAPP", "expires_in": ttl.as_secs(),
        "refresh_token": bot_refresh, "team": {"id": team_id, "name": team.name}, "enterprise": null,
        "is_enterprise_install": false,
        "authed_user": authed_user,
    }))
}

fn stateful_view(view: &Value, id: &str, team_id: &str) -> Value {
    let mut view = view.clone();
    if let Value::Object(object) = &mut view {
        object.insert("id".into(), Value::String(id.to_owned()));
        object.insert("team_id".into(), Value::String(team_id.to_owned()));
        object.insert("hash".into(), Value::String(random_id(12)));
        object.insert("app_id".into(), Value::String("A0SIMAPP".into()));
        object.insert("state".into(), json!({"values": {}}));
    }
    view
}

fn views_open(
    state: &mut SimState,
    caller: &SimToken,
    params: &Map<String, Value>,
) -> Result<Value, Refusal> {
    let trigger_id = str_param(params, "trigger_id")
        .ok_or_else(|| Refusal::Error("invalid_trigger_id".into()))?;
    let ttl = state.settings.trigger_ttl;
    let trigger = state
        .triggers
        .get_mut(trigger_id)
        .ok_or_else(|| Refusal::Error("invalid_trigger_id".into()))?;
    if trigger.used {
        return refuse("exchanged_trigger_id");
    }
    if trigger.issued.elapsed() > ttl {
        return refuse("expired_trigger_id");
    }
    trigger.used = true;
    let user_id = trigger.user_id.clone();
    let view = params
        .get("view")
        .filter(|v| v.is_object())
        .ok_or_else(|| Refusal::Error("invalid_arguments".into()))?;
    let id = format!("V{}", random_id(10));
    let shown = stateful_view(view, &id, &caller.team_id);
    state.views.push(SimView {
        id,
        team_id: caller.team_id.clone(),
        user_id: Some(user_id),
        view: shown.clone(),
    });
    Ok(json!({"view": shown}))
}

fn views_publish(
    state: &mut SimState,
    caller: &SimToken,
    params: &Map<String, Value>,
) -> Result<Value, Refusal> {
    let user_id =
        str_param(params, "user_id").ok_or_else(|| Refusal::Error("user_not_found".into()))?;
    if state
        .users
        .get(user_id)
        .is_none_or(|u| u.team_id != caller.team_id)
    {
        return refuse("user_not_found");
    }
    let view = params
        .get("view")
        .filter(|v| v.is_object())
        .ok_or_else(|| Refusal::Error("invalid_arguments".into()))?;
    let id = state
        .views
        .iter()
        .find(|v| {
            v.user_id.as_deref() == Some(user_id) && v.view.get("type") == Some(&json!("home"))
        })
        .map(|v| v.id.clone())
        .unwrap_or_else(|| format!("V{}", random_id(10)));
    let shown = stateful_view(view, &id, &caller.team_id);
    state.views.retain(|v| v.id != id);
    state.views.push(SimView {
        id,
        team_id: caller.team_id.clone(),
        user_id: Some(user_id.to_owned()),
        view: shown.clone(),
    });
    Ok(json!({"view": shown}))
}

fn views_update(
    state: &mut SimState,
    caller: &SimToken,
    params: &Map<String, Value>,
) -> Result<Value, Refusal> {
    let view_id = str_param(params, "view_id").ok_or_else(|| Refusal::Error("not_found".into()))?;
    let view = params
        .get("view")
        .filter(|v| v.is_object())
        .ok_or_else(|| Refusal::Error("invalid_arguments".into()))?;
    let existing = state
        .views
        .iter_mut()
        .find(|v| v.id == view_id)
        .ok_or_else(|| Refusal::Error("not_found".into()))?;
    let shown = stateful_view(view, view_id, &caller.team_id);
    existing.view = shown.clone();
    Ok(json!({"view": shown}))
}
