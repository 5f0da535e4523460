//! `oauth.v2.access`: the code grant of an install and the refresh grant of
//! token rotation, each refresh token good once.

use axum::http::{HeaderMap, header};
use base64::Engine;
use chrono::Utc;
use serde_json::{Map, Value, json};

use super::super::limits::{Limit, Limits};
use super::super::state::{AuthCode, SimState, TokenKind};
use super::{Refusal, form_urlencoded_pairs, refuse, str_param};

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

/// The workspace a grant is for, as far as the request tells: Slack counts
/// `oauth.v2.access` per app and workspace like every method.
fn grant_team(state: &SimState, params: &Map<String, Value>) -> String {
    let team = if str_param(params, "grant_type") == Some("refresh_token") {
        str_param(params, "refresh_token")
            .and_then(|t| state.refresh_tokens.get(t))
            .map(|t| t.team_id.clone())
    } else {
        str_param(params, "code")
            .and_then(|c| state.codes.get(c))
            .map(|c| c.team_id.clone())
    };
    team.unwrap_or_default()
}

pub(super) fn oauth_access(
    state: &mut SimState,
    limits: &Limits,
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
    let key = format!("{}/{}", state.settings.client_id, grant_team(state, params));
    limits
        .take(Limit::OAuthAccess, &key)
        .map_err(Refusal::RateLimited)?;
    if str_param(params, "grant_type") == Some("refresh_token") {
        return refresh(state, params);
    }
    exchange_code(state, params)
}

fn refresh(state: &mut SimState, params: &Map<String, Value>) -> Result<Value, Refusal> {
    let ttl = state.settings.access_token_ttl;
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
    Ok(body)
}

fn exchange_code(state: &mut SimState, params: &Map<String, Value>) -> Result<Value, Refusal> {
    let ttl = state.settings.access_token_ttl;
    let configured = state.settings.redirect_urls.clone();
    let code = str_param(params, "code").ok_or_else(|| Refusal::Error("invalid_code".into()))?;
    let grant: &mut AuthCode = state
        .codes
        .get_mut(code)
        .ok_or_else(|| Refusal::Error("invalid_code".into()))?;
    if grant.used || grant.expires_at <= Utc::now() {
        return refuse("invalid_code");
    }
    let presented = str_param(params, "redirect_uri");
    // "This must match the originally submitted URI (if one was sent)"
    // (docs.slack.dev/reference/methods/oauth.v2.access); one sent only
    // here must still be one of the app's.
    let matches = match (grant.redirect_uri.as_deref(), presented) {
        (Some(authorized), presented) => presented == Some(authorized),
        (None, Some(presented)) => configured.iter().any(|u| u == presented),
        (None, None) => true,
    };
    if !matches {
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
