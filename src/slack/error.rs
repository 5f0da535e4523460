//! Slack's answers, sorted by what the app should do about them.

use std::time::Duration;

use slack_morphism::errors::SlackClientError;

/// A failed Web API call.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SlackError {
    /// Slack answered `{"ok": false, "error": code}`.
    #[error("Slack answered {code}")]
    Api { code: String },
    /// HTTP 429, with the `Retry-After` Slack sent.
    #[error("rate limited by Slack (retry after {retry_after:?})")]
    RateLimited { retry_after: Option<Duration> },
    #[error("Slack answered HTTP {status}")]
    Http { status: u16 },
    #[error("no answer from Slack within {0:?}")]
    Timeout(Duration),
    /// The connection failed or broke; the request may or may not have arrived.
    #[error("cannot talk to Slack: {0}")]
    Transport(String),
    /// A 200 whose body was not what the method returns.
    #[error("unexpected answer from Slack: {0}")]
    Protocol(String),
}

/// What to do after a failed call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    /// Wait as long as Slack asks, then try again; not the message's fault.
    RateLimited(Option<Duration>),
    /// Nothing happened; retry with backoff.
    Transient,
    /// It may have been posted anyway: look before posting again.
    Ambiguous,
    /// Refresh the token once and retry once.
    TokenExpired,
    /// The author's credentials no longer work: hold the message.
    Credentials,
    /// Retrying cannot help: fail the message and tell the author.
    Permanent,
}

impl SlackError {
    pub fn api(code: impl Into<String>) -> Self {
        Self::Api { code: code.into() }
    }

    pub fn class(&self) -> ErrorClass {
        match self {
            Self::Api { code } => classify_code(code),
            Self::RateLimited { retry_after } => ErrorClass::RateLimited(*retry_after),
            // A gateway or availability error means Slack did not act on it.
            Self::Http { status: 502..=504 } => ErrorClass::Transient,
            Self::Http { status } if *status >= 500 => ErrorClass::Ambiguous,
            Self::Http { .. } => ErrorClass::Permanent,
            Self::Timeout(_) | Self::Transport(_) | Self::Protocol(_) => ErrorClass::Ambiguous,
        }
    }

    /// A short, stable reason to store and to count in metrics.
    pub fn reason(&self) -> String {
        match self {
            Self::Api { code } => code.clone(),
            Self::RateLimited { .. } => "ratelimited".into(),
            Self::Http { status } => format!("http_{status}"),
            Self::Timeout(_) => "timeout".into(),
            Self::Transport(_) => "connection_error".into(),
            Self::Protocol(_) => "bad_response".into(),
        }
    }
}

/// Slack's error codes (chat.postMessage, oauth.v2.access and friends).
/// Unknown codes are permanent: retrying what we do not understand would
/// only repeat it.
pub fn classify_code(code: &str) -> ErrorClass {
    match code {
        "ratelimited" | "rate_limited" => ErrorClass::RateLimited(None),
        "service_unavailable" | "request_timeout" | "team_added_to_org" => ErrorClass::Transient,
        // "It's possible some aspect of the operation succeeded before the
        // error was raised" (Slack's reference).
        "internal_error" | "fatal_error" => ErrorClass::Ambiguous,
        "token_expired" => ErrorClass::TokenExpired,
        "invalid_auth"
        | "token_revoked"
        | "account_inactive"
        | "invalid_refresh_token"
        | "not_authed"
        | "missing_scope"
        | "not_allowed_token_type"
        | "no_permission"
        | "org_login_required" => ErrorClass::Credentials,
        _ => ErrorClass::Permanent,
    }
}

/// The reason in plain words, for the author (DM, App Home).
pub fn describe_reason(reason: &str) -> String {
    let text = match reason {
        "channel_not_found" => "the conversation no longer exists, or you can no longer see it",
        "not_in_channel" => "you are not a member of that channel",
        "is_archived" => "the channel has been archived",
        "msg_too_long" | "msg_blocks_too_long" => "the message is too long for Slack",
        "no_text" => "the message was empty",
        "restricted_action"
        | "restricted_action_read_only_channel"
        | "restricted_action_thread_only_channel"
        | "restricted_action_non_threadable_channel"
        | "restricted_action_thread_locked" => "the workspace does not allow you to post there",
        "cannot_reply_to_message" => "that thread no longer accepts replies",
        "thread_not_found" => "the message it replies to no longer exists",
        "ekm_access_denied" => "your workspace's encryption keys are not available",
        "message_limit_exceeded" => "your workspace has reached its message limit",
        "invalid_auth"
        | "token_revoked"
        | "account_inactive"
        | "invalid_refresh_token"
        | "not_authed"
        | "token_expired"
        | "not_allowed_token_type"
        | "no_permission" => {
            "Slack no longer accepts your connection to Scheduler; reconnect your account"
        }
        "missing_scope" => {
            "Scheduler needs a permission you have not granted; reconnect your account"
        }
        "not_connected" => "you have not connected your Slack account to Scheduler yet",
        "credentials_invalid" => {
            "Slack no longer accepts your connection to Scheduler; reconnect your account"
        }
        "someone_replied" => "someone replied in the thread first, as you asked",
        "you_posted" => "you posted in the conversation first, as you asked",
        "condition_unchecked" => {
            "Scheduler could not read the conversation to check your condition, so it was not posted"
        }
        "skipped_by_author" => "you skipped it",
        "series_paused" => "its series was paused",
        "series_cancelled" => "its series was cancelled",
        "cancelled_by_author" => "you cancelled it",
        "app_uninstalled" => "Scheduler was removed from the workspace",
        "tokens_revoked" => "your connection to Scheduler was revoked",
        "ratelimited"
        | "service_unavailable"
        | "request_timeout"
        | "internal_error"
        | "fatal_error"
        | "timeout"
        | "connection_error"
        | "bad_response" => "Slack kept failing to take it, even after several tries",
        other if other.starts_with("http_") => {
            "Slack kept failing to take it, even after several tries"
        }
        other => return format!("Slack refused it ({other})"),
    };
    text.to_owned()
}

impl From<SlackClientError> for SlackError {
    fn from(err: SlackClientError) -> Self {
        match err {
            SlackClientError::ApiError(e) => Self::Api { code: e.code },
            SlackClientError::RateLimitError(e) => Self::RateLimited {
                retry_after: e.retry_after,
            },
            SlackClientError::HttpError(e) => Self::Http {
                status: e.status_code.as_u16(),
            },
            SlackClientError::HttpProtocolError(e) => Self::Transport(
                e.cause
                    .map(|c| c.to_string())
                    .unwrap_or_else(|| "unknown".into()),
            ),
            SlackClientError::ProtocolError(e) => Self::Protocol(e.json_error.to_string()),
            other => Self::Transport(other.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_codes_land_in_their_class() {
        for code in [
            "channel_not_found",
            "not_in_channel",
            "is_archived",
            "msg_too_long",
            "restricted_action",
        ] {
            assert_eq!(classify_code(code), ErrorClass::Permanent, "{code}");
        }
        for code in [
            "invalid_auth",
            "token_revoked",
            "account_inactive",
            "invalid_refresh_token",
        ] {
            assert_eq!(classify_code(code), ErrorClass::Credentials, "{code}");
        }
        for code in ["service_unavailable", "request_timeout"] {
            assert_eq!(classify_code(code), ErrorClass::Transient, "{code}");
        }
        for code in ["internal_error", "fatal_error"] {
            assert_eq!(classify_code(code), ErrorClass::Ambiguous, "{code}");
        }
        assert_eq!(classify_code("token_expired"), ErrorClass::TokenExpired);
        assert_eq!(classify_code("ratelimited"), ErrorClass::RateLimited(None));
        assert_eq!(classify_code("something_new"), ErrorClass::Permanent);
    }

    #[test]
    fn http_failures_are_classified_by_status() {
        assert_eq!(
            SlackError::Http { status: 503 }.class(),
            ErrorClass::Transient
        );
        assert_eq!(
            SlackError::Http { status: 500 }.class(),
            ErrorClass::Ambiguous
        );
        assert_eq!(
            SlackError::Http { status: 404 }.class(),
            ErrorClass::Permanent
        );
        assert_eq!(
            SlackError::Timeout(Duration::from_secs(1)).class(),
            ErrorClass::Ambiguous
        );
        let limited = SlackError::RateLimited {
            retry_after: Some(Duration::from_secs(3)),
        };
        assert_eq!(
            limited.class(),
            ErrorClass::RateLimited(Some(Duration::from_secs(3)))
        );
    }

    #[test]
    fn reasons_read_as_plain_words() {
        assert_eq!(
            describe_reason("not_in_channel"),
            "you are not a member of that channel"
        );
        assert_eq!(
            describe_reason("http_500"),
            "Slack kept failing to take it, even after several tries"
        );
        assert_eq!(
            describe_reason("weird_code"),
            "Slack refused it (weird_code)"
        );
    }
}
