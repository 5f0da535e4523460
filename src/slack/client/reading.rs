//! Reading conversations: history and thread replies (in-doubt look-ups
//! and conditions), a conversation's state for the author (checks ahead
//! of time), and permalinks to posted messages.

use chrono::{DateTime, Utc};
use secrecy::SecretString;

use super::{SlackApi, parse_metadata_id, slack_ts};
use crate::slack::SlackError;

/// A message read back from `conversations.history`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryMessage {
    pub ts: String,
    pub user: Option<String>,
    pub text: String,
    /// The scheduled message id from our metadata, if the post carried it.
    pub scheduled_message_id: Option<i64>,
}

/// What to read of a conversation's history.
#[derive(Debug, Clone)]
pub struct HistoryRequest<'a> {
    pub channel_id: &'a str,
    pub oldest: DateTime<Utc>,
    pub latest: Option<DateTime<Utc>>,
    pub cursor: Option<&'a str>,
    pub limit: u32,
}

/// One page of history.
#[derive(Debug, Clone, Default)]
pub struct HistoryPage {
    pub messages: Vec<HistoryMessage>,
    /// Where the next page starts, if there is one.
    pub next_cursor: Option<String>,
    /// Nothing older than this page lies in the range asked for.
    pub complete: bool,
}

/// What a user's own token sees of a conversation: whether it is archived
/// and whether they are a member (and so can post in it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConversationInfo {
    pub is_archived: bool,
    /// `None` when Slack does not say (DMs and group DMs have no membership flag).
    pub is_member: Option<bool>,
}

impl SlackApi {
    /// One page of `channel`'s history between `oldest` and `latest`,
    /// newest first, read as plain JSON: other apps' metadata may hold
    /// values slack-morphism's types reject. Slack allows apps outside its
    /// Marketplace one call a minute and 15 messages a page.
    pub async fn history_page(
        &self,
        token: &SecretString,
        team_id: &str,
        request: &HistoryRequest<'_>,
    ) -> Result<HistoryPage, SlackError> {
        self.read_page("conversations.history", token, team_id, request, None)
            .await
    }

    /// One page of a thread's replies (`conversations.replies`, the parent
    /// first), under the same limits as history.
    pub async fn replies_page(
        &self,
        token: &SecretString,
        team_id: &str,
        thread_ts: &str,
        request: &HistoryRequest<'_>,
    ) -> Result<HistoryPage, SlackError> {
        self.read_page(
            "conversations.replies",
            token,
            team_id,
            request,
            Some(thread_ts),
        )
        .await
    }

    async fn read_page(
        &self,
        method: &'static str,
        token: &SecretString,
        team_id: &str,
        request: &HistoryRequest<'_>,
        thread_ts: Option<&str>,
    ) -> Result<HistoryPage, SlackError> {
        let token = Self::token(token, team_id);
        let session = self.client.open_session(&token);
        let mut params = vec![
            ("channel", Some(request.channel_id.to_owned())),
            ("oldest", Some(slack_ts(request.oldest))),
            ("inclusive", Some("true".to_owned())),
            ("include_all_metadata", Some("true".to_owned())),
            ("limit", Some(request.limit.to_string())),
            ("cursor", request.cursor.map(str::to_owned)),
        ];
        if let Some(latest) = request.latest {
            params.push(("latest", Some(slack_ts(latest))));
        }
        if let Some(ts) = thread_ts {
            params.push(("ts", Some(ts.to_owned())));
        }
        let page: serde_json::Value = self
            .call(
                method,
                session.http_session_api.http_get(method, &params, None),
            )
            .await?;
        let messages = page
            .get("messages")
            .and_then(|m| m.as_array())
            .ok_or_else(|| SlackError::Protocol(format!("{method} without messages")))?;
        let next_cursor = page
            .pointer("/response_metadata/next_cursor")
            .and_then(|c| c.as_str())
            .filter(|c| !c.is_empty())
            .map(str::to_owned);
        // `has_more` without a cursor still means the page was not the end.
        let has_more = page.get("has_more").and_then(|m| m.as_bool()) == Some(true);
        Ok(HistoryPage {
            messages: messages.iter().filter_map(parse_history_message).collect(),
            complete: next_cursor.is_none() && !has_more,
            next_cursor,
        })
    }

    /// `conversations.info` with the author's own token: whether they can
    /// still post there. Needs the `*:read` user scopes; an author who
    /// connected before they were asked for answers `missing_scope`.
    pub async fn conversation_info(
        &self,
        token: &SecretString,
        team_id: &str,
        channel_id: &str,
    ) -> Result<ConversationInfo, SlackError> {
        let token = Self::token(token, team_id);
        let session = self.client.open_session(&token);
        let params = vec![("channel", Some(channel_id.to_owned()))];
        let answer: serde_json::Value = self
            .call(
                "conversations.info",
                session
                    .http_session_api
                    .http_get("conversations.info", &params, None),
            )
            .await?;
        let flag = |name: &str| {
            answer
                .pointer(&format!("/channel/{name}"))
                .and_then(|v| v.as_bool())
        };
        Ok(ConversationInfo {
            is_archived: flag("is_archived").unwrap_or(false),
            is_member: flag("is_member"),
        })
    }

    /// Where a posted message can be opened (`chat.getPermalink`, which
    /// needs no scope).
    pub async fn permalink(
        &self,
        token: &SecretString,
        team_id: &str,
        channel_id: &str,
        ts: &str,
    ) -> Result<String, SlackError> {
        let token = Self::token(token, team_id);
        let session = self.client.open_session(&token);
        let params = vec![
            ("channel", Some(channel_id.to_owned())),
            ("message_ts", Some(ts.to_owned())),
        ];
        let answer: serde_json::Value = self
            .call(
                "chat.getPermalink",
                session
                    .http_session_api
                    .http_get("chat.getPermalink", &params, None),
            )
            .await?;
        answer
            .get("permalink")
            .and_then(|p| p.as_str())
            .filter(|p| p.starts_with("https://") || p.starts_with("http://"))
            .map(str::to_owned)
            .ok_or_else(|| SlackError::Protocol("chat.getPermalink without a permalink".into()))
    }
}

fn parse_history_message(message: &serde_json::Value) -> Option<HistoryMessage> {
    let ts = message.get("ts")?.as_str()?.to_owned();
    let scheduled_message_id = parse_metadata_id(message);
    Some(HistoryMessage {
        ts,
        user: message
            .get("user")
            .and_then(|u| u.as_str())
            .map(str::to_owned),
        text: message
            .get("text")
            .and_then(|t| t.as_str())
            .unwrap_or_default()
            .to_owned(),
        scheduled_message_id,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn history_messages_yield_our_metadata_id_in_either_encoding() {
        let ours = serde_json::json!({"ts": "1.000100", "user": "U1", "text": "hi",
            "metadata": {"event_type": "scheduled_message", "event_payload": {"scheduled_message_id": "42"}}});
        let numeric = serde_json::json!({"ts": "1.2", "text": "x",
            "metadata": {"event_type": "scheduled_message", "event_payload": {"scheduled_message_id": 7}}});
        let foreign = serde_json::json!({"ts": "1.3", "text": "y",
            "metadata": {"event_type": "other_app", "event_payload": {"scheduled_message_id": "42"}}});
        assert_eq!(
            parse_history_message(&ours).and_then(|m| m.scheduled_message_id),
            Some(42)
        );
        assert_eq!(
            parse_history_message(&numeric).and_then(|m| m.scheduled_message_id),
            Some(7)
        );
        assert_eq!(
            parse_history_message(&foreign).and_then(|m| m.scheduled_message_id),
            None
        );
        assert_eq!(
            parse_history_message(&serde_json::json!({"text": "no ts"})),
            None
        );
    }
}
