//! The Web API calls the app makes, over slack-morphism's hyper client.
//!
//! Every call runs under a timeout (a hung connection must not hold a
//! delivery slot forever) and its failure is mapped onto [`SlackError`].

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use secrecy::{ExposeSecret, SecretString};
use slack_morphism::errors::SlackClientError;
use slack_morphism::prelude::*;

use super::SlackError;
use super::rich_text::RichText;

mod reading;

pub use reading::{ConversationInfo, HistoryMessage, HistoryPage, HistoryRequest};

/// The event type our posts carry in their message metadata.
pub const METADATA_EVENT_TYPE: &str = "scheduled_message";
/// The metadata payload field naming the scheduled message.
pub const METADATA_ID_FIELD: &str = "scheduled_message_id";

type Client = SlackClient<SlackClientHyperHttpsConnector>;

#[derive(Clone)]
pub struct SlackApi {
    client: Arc<Client>,
    timeout: Duration,
}

impl std::fmt::Debug for SlackApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SlackApi")
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

/// A message to post as its author.
#[derive(Debug, Clone, Copy)]
pub struct Post<'a> {
    pub channel_id: &'a str,
    pub text: &'a str,
    pub rich_text: Option<&'a str>,
    /// A reply in this thread, and whether it is also sent to the channel.
    pub thread_ts: Option<&'a str>,
    pub reply_broadcast: bool,
    pub scheduled_message_id: Option<i64>,
}

/// What `chat.postMessage` answered to an accepted post.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Posted {
    pub ts: String,
    /// The message as posted carries our metadata.
    pub metadata_kept: bool,
}

/// What `users.info` tells us that we use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserInfo {
    pub tz: Option<String>,
    pub name: Option<String>,
}

impl SlackApi {
    /// A client for the Web API at `api_base` (`https://slack.com/api`, or the
    /// simulator's `http://127.0.0.1:PORT/api`).
    pub fn new(api_base: &str, timeout: Duration) -> std::io::Result<Self> {
        // The stock connector is HTTPS-only; the simulator speaks plain HTTP
        // on loopback, so allow both with one connector type.
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_native_roots()?
            .https_or_http()
            .enable_http1()
            .enable_http2()
            .build();
        let connector = SlackClientHyperConnector::from(https)
            .with_slack_api_url(api_base.trim_end_matches('/'));
        Ok(Self {
            client: Arc::new(SlackClient::new(connector)),
            timeout,
        })
    }

    fn token(token: &SecretString, team_id: &str) -> SlackApiToken {
        SlackApiToken::new(SlackApiTokenValue::new(token.expose_secret().to_owned()))
            .with_team_id(SlackTeamId::new(team_id.to_owned()))
    }

    async fn call<T, F>(&self, method: &'static str, call: F) -> Result<T, SlackError>
    where
        F: Future<Output = Result<T, SlackClientError>>,
    {
        let started = Instant::now();
        let result = match tokio::time::timeout(self.timeout, call).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(err)) => Err(SlackError::from(err)),
            Err(_) => Err(SlackError::Timeout(self.timeout)),
        };
        let outcome = match &result {
            Ok(_) => "ok".to_owned(),
            Err(err) => err.reason(),
        };
        crate::telemetry::record_slack_call(method, &outcome, started.elapsed());
        result
    }

    /// Posts `text` into `channel` as the token's owner; see [`SlackApi::post`].
    pub async fn post_message(
        &self,
        token: &SecretString,
        team_id: &str,
        channel_id: &str,
        text: &str,
        rich_text: Option<&str>,
        scheduled_message_id: Option<i64>,
    ) -> Result<Posted, SlackError> {
        let post = Post {
            channel_id,
            text,
            rich_text,
            thread_ts: None,
            reply_broadcast: false,
            scheduled_message_id,
        };
        self.post(token, team_id, &post).await
    }

    /// Posts a message as the token's owner, tagged with metadata naming
    /// the scheduled message when `scheduled_message_id` is given. With
    /// `rich_text` (a `rich_text` block's JSON), the post carries it in
    /// `blocks` and `text` is its notification and fallback. Returns
    /// Slack's `ts`, and whether the posted message kept the metadata
    /// (Slack may drop it from user-token posts).
    pub async fn post(
        &self,
        token: &SecretString,
        team_id: &str,
        post: &Post<'_>,
    ) -> Result<Posted, SlackError> {
        let token = Self::token(token, team_id);
        let mut content = SlackMessageContent::new().with_text(post.text.to_owned());
        match post.rich_text.map(RichText::from_json) {
            Some(Ok(rich_text)) => {
                content =
                    content.with_blocks(vec![SlackBlock::RichText(rich_text.block().clone())]);
            }
            // The text says the same in plain words: post that rather than nothing.
            Some(Err(err)) => {
                tracing::error!(error = %err, "a stored rich text cannot be read; posting its text alone");
            }
            None => {}
        }
        if let Some(id) = post.scheduled_message_id {
            content = content.with_metadata(SlackMessageMetadata {
                event_type: METADATA_EVENT_TYPE.to_owned(),
                event_payload: Some(
                    [(METADATA_ID_FIELD.to_owned(), id.to_string())]
                        .into_iter()
                        .collect(),
                ),
            });
        }
        let mut request = SlackApiChatPostMessageRequest::new(
            SlackChannelId::new(post.channel_id.to_owned()),
            content,
        );
        if let Some(thread_ts) = post.thread_ts {
            request = request.with_thread_ts(SlackTs::new(thread_ts.to_owned()));
            if post.reply_broadcast {
                request = request.with_reply_broadcast(true);
            }
        }
        let answer = self.post_message_request(&token, &request).await?;
        let metadata_kept = post.scheduled_message_id.is_some_and(|id| {
            answer
                .pointer("/message/metadata")
                .and_then(|m| parse_metadata_id(&serde_json::json!({ "metadata": m })))
                == Some(id)
        });
        Ok(Posted {
            ts: posted_ts(&answer),
            metadata_kept,
        })
    }

    /// `chat.postMessage`, its answer read leniently: only `ok` and `ts`
    /// matter, and an accepted post must never be mistaken for a failed one
    /// because the answer carried less (or more) than a typed model expects.
    async fn post_message_request(
        &self,
        token: &SlackApiToken,
        request: &SlackApiChatPostMessageRequest,
    ) -> Result<serde_json::Value, SlackError> {
        let session = self.client.open_session(token);
        let response: serde_json::Value = self
            .call(
                "chat.postMessage",
                session
                    .http_session_api
                    .http_post("chat.postMessage", request, None),
            )
            .await?;
        // A 200 that is not Slack's JSON (a proxy's page) says nothing
        // about the post: in doubt, not sent.
        if response.get("ok").and_then(|ok| ok.as_bool()) != Some(true) {
            return Err(SlackError::Protocol(
                "chat.postMessage answered without \"ok\": true".into(),
            ));
        }
        Ok(response)
    }

    /// Posts as the bot (a DM to a user is posted into their user id).
    pub async fn post_as_bot(
        &self,
        bot_token: &SecretString,
        team_id: &str,
        channel_id: &str,
        content: SlackMessageContent,
    ) -> Result<String, SlackError> {
        let token = Self::token(bot_token, team_id);
        let request = SlackApiChatPostMessageRequest::new(
            SlackChannelId::new(channel_id.to_owned()),
            content,
        );
        let answer = self.post_message_request(&token, &request).await?;
        Ok(posted_ts(&answer))
    }

    pub async fn users_info(
        &self,
        bot_token: &SecretString,
        team_id: &str,
        user_id: &str,
    ) -> Result<UserInfo, SlackError> {
        let token = Self::token(bot_token, team_id);
        let session = self.client.open_session(&token);
        let params = vec![("user", Some(user_id.to_owned()))];
        let response: serde_json::Value = self
            .call(
                "users.info",
                session
                    .http_session_api
                    .http_get("users.info", &params, None),
            )
            .await?;
        let field = |name: &str| {
            response
                .pointer(&format!("/user/{name}"))
                .and_then(|v| v.as_str())
                .map(str::to_owned)
        };
        Ok(UserInfo {
            tz: field("tz"),
            name: field("name"),
        })
    }

    /// The team and user a token belongs to.
    pub async fn auth_test(
        &self,
        token: &SecretString,
        team_id: &str,
    ) -> Result<(String, String), SlackError> {
        let token = Self::token(token, team_id);
        let session = self.client.open_session(&token);
        let response = self.call("auth.test", session.auth_test()).await?;
        Ok((response.team_id.0, response.user_id.0))
    }

    /// Opens a modal for the user who triggered `trigger_id` (valid for 3 s, once).
    pub async fn open_view(
        &self,
        bot_token: &SecretString,
        team_id: &str,
        trigger_id: &str,
        view: SlackView,
    ) -> Result<String, SlackError> {
        let token = Self::token(bot_token, team_id);
        let session = self.client.open_session(&token);
        let request =
            SlackApiViewsOpenRequest::new(SlackTriggerId::new(trigger_id.to_owned()), view);
        let response: serde_json::Value = self
            .call(
                "views.open",
                session
                    .http_session_api
                    .http_post("views.open", &request, None),
            )
            .await?;
        Ok(response
            .pointer("/view/id")
            .and_then(|id| id.as_str())
            .unwrap_or_default()
            .to_owned())
    }

    /// Replaces an open modal (`hash` guards against a view changed meanwhile).
    pub async fn update_view(
        &self,
        bot_token: &SecretString,
        team_id: &str,
        view_id: &str,
        hash: &str,
        view: SlackView,
    ) -> Result<(), SlackError> {
        let token = Self::token(bot_token, team_id);
        let session = self.client.open_session(&token);
        let mut request = SlackApiViewsUpdateRequest::new(view)
            .with_view_id(SlackViewId::new(view_id.to_owned()));
        if !hash.is_empty() {
            request = request.with_hash(hash.to_owned());
        }
        let _: serde_json::Value = self
            .call(
                "views.update",
                session
                    .http_session_api
                    .http_post("views.update", &request, None),
            )
            .await?;
        Ok(())
    }

    /// Publishes a user's Home tab.
    pub async fn publish_home(
        &self,
        bot_token: &SecretString,
        team_id: &str,
        user_id: &str,
        view: SlackView,
    ) -> Result<(), SlackError> {
        let token = Self::token(bot_token, team_id);
        let session = self.client.open_session(&token);
        let request = SlackApiViewsPublishRequest::new(SlackUserId::new(user_id.to_owned()), view);
        let _: serde_json::Value = self
            .call(
                "views.publish",
                session
                    .http_session_api
                    .http_post("views.publish", &request, None),
            )
            .await?;
        Ok(())
    }
}

/// Slack's `ts` form of an instant: seconds and microseconds.
pub(super) fn slack_ts(at: DateTime<Utc>) -> String {
    format!("{}.{:06}", at.timestamp(), at.timestamp_subsec_micros())
}

/// The `ts` of an accepted post.
fn posted_ts(answer: &serde_json::Value) -> String {
    answer
        .get("ts")
        .or_else(|| answer.pointer("/message/ts"))
        .and_then(|ts| ts.as_str())
        .unwrap_or_default()
        .to_owned()
}

/// The scheduled message a message's metadata names, if it is ours.
pub(super) fn parse_metadata_id(message: &serde_json::Value) -> Option<i64> {
    message
        .pointer("/metadata/event_payload")
        .filter(|_| {
            message
                .pointer("/metadata/event_type")
                .and_then(|t| t.as_str())
                == Some(METADATA_EVENT_TYPE)
        })
        .and_then(|payload| payload.get(METADATA_ID_FIELD))
        .and_then(|id| match id {
            serde_json::Value::String(s) => s.parse().ok(),
            serde_json::Value::Number(n) => n.as_i64(),
            _ => None,
        })
}
