//! Every request Slack sends is signed: `v0=` HMAC-SHA256 of
//! `v0:{timestamp}:{body}` with the app's signing secret, within five minutes.
//! [`SignedBody`] checks it, with slack-morphism's constant-time verifier,
//! before anything reads the body; anything else gets 401 and nothing more.

use axum::body::Bytes;
use axum::extract::{FromRef, FromRequest, Request};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use secrecy::{ExposeSecret, SecretString};
use slack_morphism::prelude::SlackSigningSecret;
use slack_morphism::signature_verifier::SlackEventSignatureVerifier;

/// Verifies Slack's request signatures. Cheap to clone.
#[derive(Clone)]
pub struct SignatureVerifier {
    inner: SlackEventSignatureVerifier,
}

impl std::fmt::Debug for SignatureVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SignatureVerifier(..)")
    }
}

impl SignatureVerifier {
    pub fn new(signing_secret: &SecretString) -> Self {
        let secret = SlackSigningSecret::new(signing_secret.expose_secret().to_owned());
        Self {
            inner: SlackEventSignatureVerifier::new(&secret),
        }
    }

    /// Checks a signature against the body and timestamp as received.
    pub fn verify(&self, signature: &str, timestamp: &str, body: &str) -> bool {
        self.inner.verify(signature, body, timestamp).is_ok()
    }
}

/// The raw body of a request whose Slack signature checked out.
#[derive(Debug, Clone)]
pub struct SignedBody(pub Bytes);

impl SignedBody {
    pub fn as_str(&self) -> &str {
        // Verified bodies are UTF-8: the check below refuses any other.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }
}

impl<S> FromRequest<S> for SignedBody
where
    S: Send + Sync,
    SignatureVerifier: FromRef<S>,
{
    type Rejection = Response;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let verifier = SignatureVerifier::from_ref(state);
        let signature = header(
            request.headers(),
            SlackEventSignatureVerifier::SLACK_SIGNED_HASH_HEADER,
        );
        let timestamp = header(
            request.headers(),
            SlackEventSignatureVerifier::SLACK_SIGNED_TIMESTAMP,
        );
        // The body limit applies here: an oversized body is a 413, not a 401.
        let body = Bytes::from_request(request, state)
            .await
            .map_err(IntoResponse::into_response)?;
        let (Some(signature), Some(timestamp)) = (signature, timestamp) else {
            return Err(unauthorized("missing Slack signature"));
        };
        let Ok(text) = std::str::from_utf8(&body) else {
            return Err(unauthorized("invalid Slack signature"));
        };
        if !verifier.verify(&signature, &timestamp, text) {
            return Err(unauthorized("invalid or expired Slack signature"));
        }
        Ok(Self(body))
    }
}

fn header(headers: &axum::http::HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

fn unauthorized(why: &'static str) -> Response {
    tracing::warn!(reason = why, "refused an unsigned request");
    (StatusCode::UNAUTHORIZED, why).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slacks_own_vector_verifies_only_within_five_minutes() {
        let verifier = SignatureVerifier::new(&SecretString::from(
            "8f742231b10e8888abcd99yyyzzz85a5".to_owned(),
        ));
        let body = "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
        // The published vector is from 2018: right signature, stale timestamp.
        assert!(!verifier.verify(
            "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503",
            "1531420618",
            body
        ));
        let now = chrono::Utc::now().timestamp();
        let fresh = crate::sim::outbound::sign("8f742231b10e8888abcd99yyyzzz85a5", now, body);
        assert!(verifier.verify(&fresh, &now.to_string(), body));
        assert!(!verifier.verify(&fresh, &now.to_string(), &format!("{body}&x=1")));
    }
}
