//! What a token sees of a conversation (`conversations.info`) and where a
//! message is (`chat.getPermalink`).

use serde_json::{Map, Value, json};

use super::super::limits::{Limit, Limits};
use super::super::state::{SimState, SimToken};
use super::{Refusal, refuse, str_param};

/// `conversations.info`: the conversation as the caller sees it. A user
/// who is not in a private conversation cannot see it (`channel_not_found`);
/// a public one shows, with `is_member` saying whether they are in it.
pub(super) fn info(
    state: &SimState,
    limits: &Limits,
    caller: &SimToken,
    params: &Map<String, Value>,
) -> Result<Value, Refusal> {
    limits
        .take(Limit::ConversationInfo, &caller.team_id)
        .map_err(Refusal::RateLimited)?;
    let channel_id =
        str_param(params, "channel").ok_or_else(|| Refusal::Error("channel_not_found".into()))?;
    let channel = match state.channels.get(channel_id) {
        Some(c) if c.team_id == caller.team_id => c,
        _ => return refuse("channel_not_found"),
    };
    let is_member = channel.members.contains(&caller.user_id);
    let is_im = channel.id.starts_with('D');
    let is_private = channel.id.starts_with('G');
    if (is_im || is_private) && !is_member {
        return refuse("channel_not_found");
    }
    let mut shown = json!({
        "id": channel.id, "name": channel.name, "is_archived": channel.archived,
        "is_im": is_im, "is_private": is_private || is_im,
    });
    if !is_im {
        shown["is_member"] = Value::Bool(is_member);
    }
    Ok(json!({ "channel": shown }))
}

/// `chat.getPermalink`: a link to an existing message of the workspace.
pub(super) fn permalink(
    state: &SimState,
    caller: &SimToken,
    params: &Map<String, Value>,
) -> Result<Value, Refusal> {
    let channel_id =
        str_param(params, "channel").ok_or_else(|| Refusal::Error("channel_not_found".into()))?;
    let ts = str_param(params, "message_ts")
        .ok_or_else(|| Refusal::Error("message_not_found".into()))?;
    match state.channels.get(channel_id) {
        Some(c) if c.team_id == caller.team_id => {}
        _ => return refuse("channel_not_found"),
    }
    let Some(message) = state
        .messages
        .iter()
        .find(|m| m.channel == channel_id && m.ts == ts)
    else {
        return refuse("message_not_found");
    };
    // Whether a bot token may link to a message of a private conversation
    // it is not in is unverified: the simulator answers, and the app copes
    // with a refusal (it shows the message without a link).
    let domain = caller.team_id.to_lowercase();
    let mut link = format!(
        "https://{domain}.slack.test/archives/{channel_id}/p{}",
        ts.replace('.', "")
    );
    if let Some(parent) = &message.thread_ts {
        link.push_str(&format!("?thread_ts={parent}&cid={channel_id}"));
    }
    Ok(json!({ "channel": channel_id, "permalink": link }))
}
