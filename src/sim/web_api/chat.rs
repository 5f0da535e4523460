//! Messages: `chat.postMessage`, `chat.postEphemeral` and
//! `conversations.history`, with Slack's limits, its Block Kit checks and
//! text stored the way Slack stores it.

use serde_json::{Map, Value, json};

use super::super::block_kit;
use super::super::limits::{Limit, Limits};
use super::super::state::{
    EphemeralMessage, MetadataMode, PostedMessage, RecordMode, SimChannel, SimState, SimToken,
    TokenKind,
};
use super::super::text::stored_text;
use super::{Refusal, refuse, str_param};

/// `blocks`, if present, valid Block Kit for a message; refused as
/// `invalid_blocks` with Slack's reasons otherwise
/// (docs.slack.dev/reference/methods/chat.postMessage, "invalid_blocks").
pub(in super::super) fn message_blocks(
    params: &Map<String, Value>,
) -> Result<Option<Value>, Refusal> {
    let Some(blocks) = params.get("blocks").filter(|b| !b.is_null()) else {
        return Ok(None);
    };
    let problems = block_kit::check_message_blocks(blocks);
    if problems.is_empty() {
        Ok(Some(blocks.clone()))
    } else {
        Err(Refusal::Invalid {
            code: "invalid_blocks",
            messages: problems,
        })
    }
}

pub(super) fn post_message(
    state: &mut SimState,
    limits: &Limits,
    caller: &SimToken,
    params: &Map<String, Value>,
) -> Result<Value, Refusal> {
    let channel_param =
        str_param(params, "channel").ok_or_else(|| Refusal::Error("channel_not_found".into()))?;
    let text = params
        .get("text")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let blocks = message_blocks(params)?;
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
        Some(c) if c.team_id == caller.team_id => c,
        _ => return refuse("channel_not_found"),
    };
    if channel.archived {
        return refuse("is_archived");
    }
    if !channel.has_member(&caller.user_id) {
        return refuse("not_in_channel");
    }
    let mut metadata = match params.get("metadata") {
        Some(Value::String(s)) => serde_json::from_str(s).ok(),
        Some(Value::Null) | None => None,
        Some(other) => Some(other.clone()),
    };
    if metadata.is_some() && caller.kind == TokenKind::User {
        match state.settings.user_token_metadata {
            MetadataMode::Accepted => {}
            MetadataMode::Refused => return refuse("metadata_must_be_sent_from_app"),
            MetadataMode::Dropped => metadata = None,
        }
    }
    // A reply names its thread by the parent's `ts`, which must be a
    // message of the channel that is not itself a reply.
    let thread_ts = str_param(params, "thread_ts").map(str::to_owned);
    if let Some(parent) = &thread_ts
        && !state
            .messages
            .iter()
            .any(|m| m.channel == channel_id && m.ts == *parent && m.thread_ts.is_none())
    {
        return refuse("thread_not_found");
    }
    let broadcast_asked = matches!(params.get("reply_broadcast"), Some(Value::Bool(true)))
        || str_param(params, "reply_broadcast") == Some("true");
    let reply_broadcast = thread_ts.is_some() && broadcast_asked;
    limits
        .take(
            Limit::ChannelPosts,
            &format!("{}/{channel_id}", caller.team_id),
        )
        .map_err(Refusal::RateLimited)?;
    limits
        .take(Limit::WorkspacePosts, &caller.team_id)
        .map_err(Refusal::RateLimited)?;
    let text = stored_text(&text);
    let ts = state.next_ts();
    if state.settings.record == RecordMode::Tally {
        let at_ms = chrono::Utc::now().timestamp_millis();
        state.tally.count_post(metadata.as_ref(), at_ms);
    } else {
        state.messages.push(PostedMessage {
            channel: channel_id.clone(),
            ts: ts.clone(),
            user: caller.user_id.clone(),
            text: text.clone(),
            metadata: metadata.clone(),
            blocks: blocks.clone(),
            as_bot: caller.kind == TokenKind::Bot,
            thread_ts: thread_ts.clone(),
            reply_broadcast,
        });
    }
    let mut shown = json!({"type": "message", "text": text, "user": caller.user_id, "ts": ts,
                           "team": caller.team_id});
    if let Some(parent) = thread_ts {
        shown["thread_ts"] = Value::String(parent);
    }
    if let Some(metadata) = metadata {
        shown["metadata"] = metadata;
    }
    if let Some(blocks) = blocks {
        shown["blocks"] = blocks;
    }
    Ok(json!({"channel": channel_id, "ts": ts, "message": shown}))
}

/// The DM between the bot and `user` (created on first use).
pub(super) fn im_channel(
    state: &mut SimState,
    caller: &SimToken,
    user: &str,
) -> Result<String, Refusal> {
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
            everyone: false,
            archived: false,
        });
    Ok(id)
}

pub(super) fn post_ephemeral(
    state: &mut SimState,
    caller: &SimToken,
    params: &Map<String, Value>,
) -> Result<Value, Refusal> {
    let channel =
        str_param(params, "channel").ok_or_else(|| Refusal::Error("channel_not_found".into()))?;
    let user = str_param(params, "user").ok_or_else(|| Refusal::Error("user_not_found".into()))?;
    message_blocks(params)?;
    if state
        .users
        .get(user)
        .is_none_or(|u| u.team_id != caller.team_id)
    {
        return refuse("user_not_found");
    }
    let body = Value::Object(params.clone());
    state.ephemerals.push(EphemeralMessage {
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

/// `conversations.history`, newest first, a page at a time: at most
/// `history_page_max` messages a page however large the `limit` asked
/// for, with `has_more` and `next_cursor` for the rest. Replies in threads
/// are not in a channel's history, unless also sent to the channel
/// (docs.slack.dev/reference/methods/conversations.history).
pub(super) fn history(
    state: &mut SimState,
    limits: &Limits,
    caller: &SimToken,
    params: &Map<String, Value>,
) -> Result<Value, Refusal> {
    limits
        .take(Limit::History, &caller.team_id)
        .map_err(Refusal::RateLimited)?;
    let channel_id = readable_channel(state, caller, params)?;
    page(
        state,
        params,
        newest_first(state, |m| {
            m.channel == channel_id && (m.thread_ts.is_none() || m.reply_broadcast)
        }),
    )
}

/// `conversations.replies`: a thread, its parent first, oldest first, under
/// the same limits as history (docs.slack.dev/changelog/2025/05/29/
/// rate-limit-changes-for-non-marketplace-apps names both methods).
pub(super) fn replies(
    state: &mut SimState,
    limits: &Limits,
    caller: &SimToken,
    params: &Map<String, Value>,
) -> Result<Value, Refusal> {
    limits
        .take(Limit::Replies, &caller.team_id)
        .map_err(Refusal::RateLimited)?;
    let channel_id = readable_channel(state, caller, params)?;
    let thread =
        str_param(params, "ts").ok_or_else(|| Refusal::Error("thread_not_found".into()))?;
    if !state
        .messages
        .iter()
        .any(|m| m.channel == channel_id && m.ts == thread && m.thread_ts.is_none())
    {
        return refuse("thread_not_found");
    }
    let mut thread_messages = newest_first(state, |m| {
        m.channel == channel_id && (m.ts == thread || m.thread_ts.as_deref() == Some(thread))
    });
    thread_messages.reverse();
    page(state, params, thread_messages)
}

/// The channel a read names, if the caller may read it.
fn readable_channel(
    state: &SimState,
    caller: &SimToken,
    params: &Map<String, Value>,
) -> Result<String, Refusal> {
    let channel_id =
        str_param(params, "channel").ok_or_else(|| Refusal::Error("channel_not_found".into()))?;
    let channel = match state.channels.get(channel_id) {
        Some(c) if c.team_id == caller.team_id => c,
        _ => return refuse("channel_not_found"),
    };
    if !channel.has_member(&caller.user_id) {
        return refuse("not_in_channel");
    }
    Ok(channel_id.to_owned())
}

fn newest_first(state: &SimState, keep: impl Fn(&PostedMessage) -> bool) -> Vec<PostedMessage> {
    let mut kept: Vec<PostedMessage> = state.messages.iter().filter(|m| keep(m)).cloned().collect();
    kept.sort_by_key(|m| std::cmp::Reverse(ts_key(&m.ts)));
    kept
}

/// One page of `messages` (in the order given) within `oldest` and
/// `latest`, `history_page_max` at most, with a cursor for the rest.
fn page(
    state: &SimState,
    params: &Map<String, Value>,
    messages: Vec<PostedMessage>,
) -> Result<Value, Refusal> {
    let oldest = str_param(params, "oldest").and_then(ts_key);
    let latest = str_param(params, "latest").and_then(ts_key);
    let limit = str_param(params, "limit")
        .and_then(|l| l.parse::<usize>().ok())
        .unwrap_or_else(|| state.settings.history_page_default())
        .clamp(1, state.settings.history_page_max.max(1));
    let offset = str_param(params, "cursor")
        .and_then(|c| c.parse::<usize>().ok())
        .unwrap_or(0);
    let full_metadata = str_param(params, "include_all_metadata") == Some("true");
    let matching: Vec<&PostedMessage> = messages
        .iter()
        .filter(|m| {
            let key = ts_key(&m.ts);
            oldest.is_none_or(|o| key > Some(o)) && latest.is_none_or(|l| key < Some(l))
        })
        .collect();
    let shown: Vec<Value> = matching
        .iter()
        .skip(offset)
        .take(limit)
        .map(|m| {
            let mut shown = json!({"type": "message", "user": m.user, "text": m.text, "ts": m.ts});
            if let Some(thread) = &m.thread_ts {
                shown["thread_ts"] = Value::String(thread.clone());
            }
            if let Some(blocks) = &m.blocks {
                shown["blocks"] = blocks.clone();
            }
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
        json!({"messages": shown, "has_more": has_more, "response_metadata": {"next_cursor": next_cursor}}),
    )
}
