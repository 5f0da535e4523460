//! Slack's OAuth v2 with token rotation, over the `oauth2` crate: the
//! authorize URL, the code exchange and the refresh grant.
//!
//! Slack answers `oauth.v2.access` with HTTP 200 even when it refuses
//! (`{"ok": false, "error": "invalid_refresh_token"}`) and nests the user's
//! token pair under `authed_user`, so the response type is our own.

use std::time::Duration;

use chrono::{DateTime, Utc};
use oauth2::basic::{
    BasicErrorResponse, BasicRevocationErrorResponse, BasicTokenIntrospectionResponse,
    BasicTokenType,
};
use oauth2::{
    AccessToken, AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointNotSet,
    EndpointSet, RedirectUrl, RefreshToken, RequestTokenError, Scope, StandardRevocableToken,
    TokenResponse, TokenUrl,
};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use crate::store::TokenGrant;

/// Bot scopes: the slash command, DMs to authors (`chat.postMessage` to a
/// user id, which needs no `im:write`), and users' time zones (`users.info`).
/// `manifest.yml` declares exactly these; README gives each one's reason.
pub const BOT_SCOPES: &str = "commands,chat:write,users:read";
/// User scopes: posting as the user, and reading back recent history so a
/// post whose outcome is in doubt is found rather than posted twice.
pub const USER_SCOPES: &str = "chat:write,channels:history,groups:history,im:history,mpim:history,channels:read,groups:read,im:read,mpim:read";

/// What an authorization is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Authorize<'a> {
    /// "Add to Slack": the workspace's bot and the installer's own account.
    Install,
    /// A member connects (or reconnects) their own account in a workspace
    /// that has Scheduler: user scopes only, so it is no re-install and
    /// needs no admin approval. Slack then answers `oauth.v2.access` with
    /// `authed_user` and no top-level (bot) token.
    Connect { team: &'a str },
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SlackAuthedUser {
    pub id: String,
    pub access_token: Option<String>,
    pub refresh_token: Option<String>,
    pub expires_in: Option<u64>,
    pub scope: Option<String>,
    pub token_type: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SlackTeam {
    pub id: String,
    pub name: Option<String>,
}

/// An answer without `ok` is judged by its `error` field alone.
fn answered_ok() -> bool {
    true
}

fn empty_access_token() -> AccessToken {
    AccessToken::new(String::new())
}

fn bearer() -> BasicTokenType {
    BasicTokenType::Bearer
}

/// `oauth.v2.access` as Slack answers it, for both grants.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SlackTokenResponse {
    #[serde(default = "answered_ok")]
    pub ok: bool,
    pub error: Option<String>,
    #[serde(default = "empty_access_token")]
    pub access_token: AccessToken,
    #[serde(default = "bearer", deserialize_with = "lenient_token_type")]
    pub token_type: BasicTokenType,
    pub expires_in: Option<u64>,
    pub refresh_token: Option<RefreshToken>,
    pub scope: Option<String>,
    pub bot_user_id: Option<String>,
    pub app_id: Option<String>,
    pub team: Option<SlackTeam>,
    pub authed_user: Option<SlackAuthedUser>,
    #[serde(skip)]
    scopes: Option<Vec<Scope>>,
}

/// Slack says `"bot"` or `"user"`, which the RFC types do not know.
fn lenient_token_type<'de, D: serde::Deserializer<'de>>(d: D) -> Result<BasicTokenType, D::Error> {
    let raw = Option::<String>::deserialize(d)?;
    Ok(match raw.as_deref() {
        Some("bearer") | Some("Bearer") | None => BasicTokenType::Bearer,
        Some(other) => BasicTokenType::Extension(other.to_owned()),
    })
}

impl TokenResponse for SlackTokenResponse {
    type TokenType = BasicTokenType;

    fn access_token(&self) -> &AccessToken {
        &self.access_token
    }
    fn token_type(&self) -> &BasicTokenType {
        &self.token_type
    }
    fn expires_in(&self) -> Option<Duration> {
        self.expires_in.map(Duration::from_secs)
    }
    fn refresh_token(&self) -> Option<&RefreshToken> {
        self.refresh_token.as_ref()
    }
    fn scopes(&self) -> Option<&Vec<Scope>> {
        self.scopes.as_ref()
    }
}

type Client = oauth2::Client<
    BasicErrorResponse,
    SlackTokenResponse,
    BasicTokenIntrospectionResponse,
    StandardRevocableToken,
    BasicRevocationErrorResponse,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointSet,
>;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OAuthError {
    /// Slack refused: `invalid_code`, `invalid_refresh_token`, …
    #[error("Slack refused the OAuth request: {0}")]
    Refused(String),
    #[error("cannot reach Slack's OAuth endpoint: {0}")]
    Transport(String),
    #[error("unexpected OAuth answer from Slack: {0}")]
    BadResponse(String),
    #[error("the OAuth configuration is invalid: {0}")]
    Config(String),
}

impl OAuthError {
    /// The grant itself is dead (the user must go through OAuth again), as
    /// opposed to a failure worth retrying.
    pub fn is_refusal(&self) -> bool {
        matches!(self, Self::Refused(code) if !matches!(code.as_str(),
            "ratelimited" | "internal_error" | "fatal_error" | "service_unavailable" | "request_timeout"))
    }

    pub fn reason(&self) -> String {
        match self {
            Self::Refused(code) => code.clone(),
            Self::Transport(_) => "connection_error".into(),
            Self::BadResponse(_) => "bad_response".into(),
            Self::Config(_) => "oauth_config".into(),
        }
    }
}

/// What an install hands back: the workspace, its bot token and the
/// installing user's own token pair.
#[derive(Debug, Clone)]
pub struct InstallGrant {
    pub team_id: String,
    pub team_name: String,
    pub bot_user_id: Option<String>,
    pub bot: Option<TokenGrant>,
    pub user_id: String,
    pub user: Option<TokenGrant>,
}

/// The app's OAuth client. Cheap to clone.
#[derive(Clone)]
pub struct SlackOAuth {
    client: Client,
    http: oauth2::reqwest::Client,
    /// For refreshes: Slack's answer is the only copy of the new pair, so a
    /// refresh waits far longer than anyone waits for it (it runs on a task
    /// of its own; see `crate::tokens`).
    refresh_http: oauth2::reqwest::Client,
    authorize_url: String,
}

/// How long a code exchange may take before the install is given up.
const EXCHANGE_TIMEOUT: Duration = Duration::from_secs(15);
/// How long a refresh may take before its answer is given up for lost.
const REFRESH_TIMEOUT: Duration = Duration::from_secs(300);

impl std::fmt::Debug for SlackOAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SlackOAuth")
            .field("authorize_url", &self.authorize_url)
            .finish_non_exhaustive()
    }
}

impl SlackOAuth {
    pub fn new(
        client_id: &str,
        client_secret: &SecretString,
        authorize_url: &str,
        api_base: &str,
        redirect_url: &str,
    ) -> Result<Self, OAuthError> {
        let config = |e: oauth2::url::ParseError| OAuthError::Config(e.to_string());
        let client = oauth2::Client::new(ClientId::new(client_id.to_owned()))
            .set_client_secret(ClientSecret::new(client_secret.expose_secret().to_owned()))
            .set_auth_uri(AuthUrl::new(authorize_url.to_owned()).map_err(config)?)
            .set_token_uri(
                TokenUrl::new(format!(
                    "{}/oauth.v2.access",
                    api_base.trim_end_matches('/')
                ))
                .map_err(config)?,
            )
            .set_redirect_uri(RedirectUrl::new(redirect_url.to_owned()).map_err(config)?);
        // No redirects: an OAuth endpoint that redirects is not one to follow.
        let http_client = |timeout| {
            oauth2::reqwest::ClientBuilder::new()
                .redirect(oauth2::reqwest::redirect::Policy::none())
                .connect_timeout(Duration::from_secs(10))
                .timeout(timeout)
                .build()
                .map_err(|e| OAuthError::Config(e.to_string()))
        };
        Ok(Self {
            client,
            http: http_client(EXCHANGE_TIMEOUT)?,
            refresh_http: http_client(REFRESH_TIMEOUT)?,
            authorize_url: authorize_url.to_owned(),
        })
    }

    /// Where to send the browser; `state` is the caller's single-use nonce.
    pub fn authorize_url(&self, state: &str, purpose: Authorize<'_>) -> String {
        let state = state.to_owned();
        // Slack wants comma-separated lists, which `add_scope` would join with spaces.
        let request = self
            .client
            .authorize_url(move || CsrfToken::new(state))
            .add_extra_param("user_scope", USER_SCOPES);
        let request = match purpose {
            Authorize::Install => request.add_extra_param("scope", BOT_SCOPES),
            Authorize::Connect { team } => request.add_extra_param("team", team.to_owned()),
        };
        request.url().0.to_string()
    }

    /// Trades the callback's `code` for the workspace's and the user's tokens.
    pub async fn exchange_code(
        &self,
        code: &str,
        now: DateTime<Utc>,
    ) -> Result<InstallGrant, OAuthError> {
        let response = self
            .client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .request_async(&self.http)
            .await
            .map_err(map_request_error)?;
        let response = check_ok(response)?;
        let team = response
            .team
            .clone()
            .ok_or_else(|| OAuthError::BadResponse("no team".into()))?;
        let user = response
            .authed_user
            .clone()
            .ok_or_else(|| OAuthError::BadResponse("no authed_user".into()))?;
        let bot = (!response.access_token.secret().is_empty()).then(|| TokenGrant {
            access_token: SecretString::from(response.access_token.secret().clone()),
            refresh_token: response
                .refresh_token
                .as_ref()
                .map(|r| SecretString::from(r.secret().clone())),
            expires_at: expiry(now, response.expires_in),
        });
        let user_grant = user.access_token.clone().map(|access| TokenGrant {
            access_token: SecretString::from(access),
            refresh_token: user.refresh_token.clone().map(SecretString::from),
            expires_at: expiry(now, user.expires_in),
        });
        Ok(InstallGrant {
            team_name: team.name.clone().unwrap_or_else(|| team.id.clone()),
            team_id: team.id,
            bot_user_id: response.bot_user_id,
            bot,
            user_id: user.id,
            user: user_grant,
        })
    }

    /// The refresh grant: one call rotates one token pair (bot or user).
    pub async fn refresh(
        &self,
        refresh_token: &SecretString,
        now: DateTime<Utc>,
    ) -> Result<TokenGrant, OAuthError> {
        let token = RefreshToken::new(refresh_token.expose_secret().to_owned());
        let response = self
            .client
            .exchange_refresh_token(&token)
            .request_async(&self.refresh_http)
            .await
            .map_err(map_request_error)?;
        let response = check_ok(response)?;
        if response.access_token.secret().is_empty() {
            return Err(OAuthError::BadResponse(
                "refresh answered without an access_token".into(),
            ));
        }
        Ok(TokenGrant {
            access_token: SecretString::from(response.access_token.secret().clone()),
            refresh_token: response
                .refresh_token
                .as_ref()
                .map(|r| SecretString::from(r.secret().clone())),
            expires_at: expiry(now, response.expires_in),
        })
    }
}

fn expiry(now: DateTime<Utc>, expires_in: Option<u64>) -> Option<DateTime<Utc>> {
    expires_in
        .and_then(|s| i64::try_from(s).ok())
        .map(|s| now + chrono::Duration::seconds(s))
}

fn check_ok(response: SlackTokenResponse) -> Result<SlackTokenResponse, OAuthError> {
    if response.ok && response.error.is_none() {
        Ok(response)
    } else {
        Err(OAuthError::Refused(
            response.error.unwrap_or_else(|| "unknown_error".into()),
        ))
    }
}

fn map_request_error<RE: std::error::Error + 'static>(
    err: RequestTokenError<RE, BasicErrorResponse>,
) -> OAuthError {
    match err {
        RequestTokenError::ServerResponse(e) => OAuthError::Refused(e.error().to_string()),
        RequestTokenError::Request(e) => OAuthError::Transport(e.to_string()),
        RequestTokenError::Parse(e, _) => OAuthError::BadResponse(e.to_string()),
        RequestTokenError::Other(e) => OAuthError::BadResponse(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn install_and_refresh_shapes_both_parse() {
        let install: SlackTokenResponse = serde_json::from_value(serde_json::json!({
            "ok": true, "access_token": "xoxe.xoxb-1", "token_type": "bot", "scope": "commands",
            "bot_user_id": "UB", "app_id": "A1", "expires_in": 43200, "refresh_token": "xoxe-1-b",
            "team": {"id": "T1", "name": "Acme"},
            "authed_user": {"id": "U1", "scope": "chat:write", "access_token": "xoxe.xoxp-1",
                            "expires_in": 43200, "refresh_token": "xoxe-1-u", "token_type": "user"}
        }))
        .expect("install response");
        assert_eq!(
            install.authed_user.and_then(|u| u.refresh_token).as_deref(),
            Some("xoxe-1-u")
        );
        let refused: SlackTokenResponse = serde_json::from_value(
            serde_json::json!({"ok": false, "error": "invalid_refresh_token"}),
        )
        .expect("error response");
        assert_eq!(
            check_ok(refused).err(),
            Some(OAuthError::Refused("invalid_refresh_token".into()))
        );
    }

    #[test]
    fn only_dead_grants_count_as_refusals() {
        assert!(OAuthError::Refused("invalid_refresh_token".into()).is_refusal());
        assert!(!OAuthError::Refused("ratelimited".into()).is_refusal());
        assert!(!OAuthError::Transport("reset".into()).is_refusal());
    }

    #[test]
    fn authorize_url_carries_comma_separated_scopes_and_the_state() {
        let oauth = SlackOAuth::new(
            "111.222",
            &SecretString::from("secret".to_owned()),
            "https://slack.com/oauth/v2/authorize",
            "https://slack.com/api",
            "https://app.example.com/slack/oauth/callback",
        )
        .expect("valid config");
        let url = oauth::url::Url::parse(&oauth.authorize_url("nonce-1", Authorize::Install))
            .expect("url");
        let params: std::collections::HashMap<_, _> = url.query_pairs().into_owned().collect();
        assert_eq!(params["client_id"], "111.222");
        assert_eq!(params["state"], "nonce-1");
        assert_eq!(params["scope"], BOT_SCOPES);
        assert_eq!(params["user_scope"], USER_SCOPES);
        assert_eq!(
            params["redirect_uri"],
            "https://app.example.com/slack/oauth/callback"
        );
        let connect = oauth.authorize_url("nonce-2", Authorize::Connect { team: "T1" });
        let url = oauth::url::Url::parse(&connect).expect("url");
        let params: std::collections::HashMap<_, _> = url.query_pairs().into_owned().collect();
        assert!(!params.contains_key("scope"), "no bot scopes: {connect}");
        assert_eq!(
            (params["user_scope"].as_ref(), params["team"].as_ref()),
            (USER_SCOPES, "T1")
        );
    }

    #[test]
    fn a_user_scopes_only_answer_has_no_bot_token() {
        // Slack's answer when only user scopes were asked for: no top-level token.
        let response: SlackTokenResponse = serde_json::from_value(serde_json::json!({
            "ok": true, "app_id": "A1", "team": {"id": "T1"}, "enterprise": null,
            "is_enterprise_install": false,
            "authed_user": {"id": "U1", "scope": "chat:write", "access_token": "xoxe.xoxp-1",
                            "token_type": "user", "expires_in": 43200, "refresh_token": "xoxe-1-u"}
        }))
        .expect("user-only response");
        assert!(response.access_token.secret().is_empty());
        assert_eq!(
            response.authed_user.and_then(|u| u.access_token).as_deref(),
            Some("xoxe.xoxp-1")
        );
    }

    use oauth2 as oauth;
}
