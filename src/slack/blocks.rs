//! Block Kit builders: the modal, the Home tab and the messages the app
//! shows users. Pure functions of their inputs, built with slack-morphism's
//! Block Kit types.

use chrono::{DateTime, Duration, DurationRound, Utc};
use chrono_tz::Tz;
use slack_morphism::prelude::*;

use crate::domain::MessageStatus;
use crate::slack::error::describe_reason;
use crate::store::{MessageCounts, MessageRecord, Notice};

pub const CHANNEL_BLOCK: &str = "channel_block";
pub const CHANNEL_ACTION: &str = "channel";
pub const TEXT_BLOCK: &str = "text_block";
pub const TEXT_ACTION: &str = "text";
pub const WHEN_BLOCK: &str = "when_block";
pub const WHEN_ACTION: &str = "when";

/// The modal's `callback_id` when scheduling a new message.
pub const NEW_CALLBACK: &str = "schedule_new";
/// The modal's `callback_id` when editing one (its id in `private_metadata`).
pub const EDIT_CALLBACK: &str = "schedule_edit";

pub const ACTION_EDIT: &str = "edit_message";
pub const ACTION_CANCEL: &str = "cancel_message";
pub const ACTION_SEND_NOW: &str = "send_now";
pub const ACTION_NEW: &str = "open_schedule_modal";
pub const ACTION_CONNECT: &str = "connect_account";

/// Slack's plain-text input holds at most 3,000 characters.
const MODAL_TEXT_LIMIT: u64 = 3_000;
/// How much of a message a list shows.
const PREVIEW_CHARS: usize = 150;

/// `&`, `<` and `>` are control characters in Slack's mrkdwn.
pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// A short one-line preview of a message, escaped for mrkdwn.
pub fn preview(text: &str) -> String {
    let line: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut short: String = line.chars().take(PREVIEW_CHARS).collect();
    if line.chars().count() > PREVIEW_CHARS {
        short.push('…');
    }
    escape(&short)
}

/// "Thu, Dec 24 at 5:00 PM CET" in the user's zone.
pub fn local_time(at: DateTime<Utc>, tz: Tz) -> String {
    at.with_timezone(&tz)
        .format("%a, %b %-d at %-I:%M %p %Z")
        .to_string()
}

/// A time Slack renders in each reader's own zone, with our rendering in
/// the author's zone as the fallback.
pub fn slack_time(at: DateTime<Utc>, tz: Tz) -> String {
    format!(
        "<!date^{}^{{date_short_pretty}} at {{time}}|{}>",
        at.timestamp(),
        local_time(at, tz)
    )
}

/// The next full hour, in the user's zone, as the modal's starting point.
pub fn next_full_hour(now: DateTime<Utc>, tz: Tz) -> DateTime<Utc> {
    let local = now.with_timezone(&tz);
    let floor = local.duration_trunc(Duration::hours(1)).unwrap_or(local);
    (floor + Duration::hours(1)).with_timezone(&Utc)
}

fn md_section(text: String) -> SlackBlock {
    SlackSectionBlock::new().with_text(md!(text)).into()
}

fn context(text: String) -> SlackBlock {
    SlackContextBlock::new(vec![SlackContextBlockElement::MarkDown(
        SlackBlockMarkDownText::new(text),
    )])
    .into()
}

fn button(text: &str, action_id: &str, value: String) -> SlackBlockButtonElement {
    SlackBlockButtonElement::new(pt!(text))
        .with_action_id(SlackActionId::new(action_id.to_owned()))
        .with_value(value)
}

fn cancel_button(id: i64) -> SlackBlockButtonElement {
    button("Cancel", ACTION_CANCEL, id.to_string())
        .with_style(SlackBlockButtonStyle::Danger)
        .with_confirm(SlackBlockConfirmItem::new(
            pt!("Cancel this message?"),
            md!("It will not be sent."),
            pt!("Cancel it"),
            pt!("Keep it"),
        ))
}

fn connect_button(url: &str) -> Option<SlackActionBlockElement> {
    let url = reqwest::Url::parse(url).ok()?;
    Some(
        SlackBlockButtonElement::new(pt!("Connect your account"))
            .with_action_id(SlackActionId::new(ACTION_CONNECT.to_owned()))
            .with_url(url)
            .with_style(SlackBlockButtonStyle::Primary)
            .into(),
    )
}

fn connect_blocks(connect_url: Option<&str>, why: &str) -> Vec<SlackBlock> {
    let Some(url) = connect_url else {
        return Vec::new();
    };
    let mut blocks = vec![md_section(format!(":warning: {why}"))];
    if let Some(button) = connect_button(url) {
        blocks.push(SlackActionsBlock::new(vec![button]).into());
    }
    blocks
}

/// What the scheduling modal starts with.
#[derive(Debug, Clone)]
pub struct ModalSpec {
    /// The message being edited, if any.
    pub editing: Option<i64>,
    /// The conversation to preselect; `None` defaults to where the modal was opened.
    pub channel: Option<String>,
    pub text: Option<String>,
    pub due: DateTime<Utc>,
    /// A note above the fields ("I couldn't read a time in …").
    pub notice: Option<String>,
    /// Shown when the user has not connected their account.
    pub connect_url: Option<String>,
}

pub fn schedule_modal(spec: &ModalSpec) -> SlackView {
    let mut blocks: Vec<SlackBlock> = Vec::new();
    if let Some(notice) = &spec.notice {
        blocks.push(md_section(notice.clone()));
    }
    blocks.extend(connect_blocks(
        spec.connect_url.as_deref(),
        "Connect your Slack account so Scheduler can post as you. Messages you schedule now wait until you do.",
    ));
    let mut channel = SlackBlockConversationsSelectElement::new()
        .with_action_id(SlackActionId::new(CHANNEL_ACTION.to_owned()))
        .with_placeholder(pt!("Pick a channel or DM"))
        .with_response_url_enabled(true);
    channel = match &spec.channel {
        Some(id) => channel.with_initial_conversation(SlackConversationId::new(id.clone())),
        None => channel.with_default_to_current_conversation(true),
    };
    let mut text = SlackBlockPlainTextInputElement::new()
        .with_action_id(SlackActionId::new(TEXT_ACTION.to_owned()))
        .with_multiline(true)
        .with_max_length(MODAL_TEXT_LIMIT)
        .with_placeholder(pt!("What should be posted?"));
    if let Some(initial) = &spec.text {
        text = text.with_initial_value(initial.chars().take(MODAL_TEXT_LIMIT as usize).collect());
    }
    let initial_time = jiff::Timestamp::from_second(spec.due.timestamp())
        .ok()
        .map(SlackDateTime);
    let mut when = SlackBlockDateTimePickerElement::new()
        .with_action_id(SlackActionId::new(WHEN_ACTION.to_owned()));
    if let Some(initial_time) = initial_time {
        when = when.with_initial_date_time(initial_time);
    }
    blocks.push(
        SlackInputBlock::new(pt!("Post in"), channel.into())
            .with_block_id(SlackBlockId::new(CHANNEL_BLOCK.to_owned()))
            .into(),
    );
    blocks.push(
        SlackInputBlock::new(pt!("Message"), text.into())
            .with_block_id(SlackBlockId::new(TEXT_BLOCK.to_owned()))
            .into(),
    );
    blocks.push(
        SlackInputBlock::new(pt!("When"), when.into())
            .with_block_id(SlackBlockId::new(WHEN_BLOCK.to_owned()))
            .with_hint(pt!(
                "In your own time zone. It is posted as you, at that minute."
            ))
            .into(),
    );
    let (title, submit, callback, metadata) = match spec.editing {
        Some(id) => ("Edit message", "Save", EDIT_CALLBACK, Some(id.to_string())),
        None => ("Schedule a message", "Schedule", NEW_CALLBACK, None),
    };
    let mut modal = SlackModalView::new(pt!(title), blocks)
        .with_submit(pt!(submit))
        .with_close(pt!("Close"))
        .with_callback_id(SlackCallbackId::new(callback.to_owned()));
    if let Some(metadata) = metadata {
        modal = modal.with_private_metadata(metadata);
    }
    SlackView::Modal(modal)
}

/// A small modal that only says something (a refused edit from the Home tab).
pub fn notice_modal(title: &str, text: &str) -> SlackView {
    SlackView::Modal(
        SlackModalView::new(pt!(title), vec![md_section(text.to_owned())]).with_close(pt!("OK")),
    )
}

/// Everything the Home tab shows one user.
#[derive(Debug, Clone)]
pub struct HomeSpec {
    pub counts: MessageCounts,
    pub upcoming: Vec<MessageRecord>,
    pub held: Vec<MessageRecord>,
    pub sent: Vec<MessageRecord>,
    pub failed: Vec<MessageRecord>,
    pub tz: Tz,
    pub now: DateTime<Utc>,
    /// Set when the user has no working token.
    pub connect_url: Option<String>,
    pub connect_problem: Option<String>,
}

pub fn home_view(spec: &HomeSpec) -> SlackView {
    let mut blocks: Vec<SlackBlock> = vec![SlackHeaderBlock::new(pt!("Scheduled messages")).into()];
    let counts = spec.counts;
    blocks.push(context(format!(
        "*{}* upcoming  ·  *{}* sent  ·  *{}* failed{}  ·  times in {}",
        counts.pending,
        counts.sent,
        counts.failed,
        if counts.held > 0 {
            format!("  ·  *{}* waiting for you", counts.held)
        } else {
            String::new()
        },
        spec.tz.name()
    )));
    let why = match spec.connect_problem.as_deref() {
        Some(problem) => format!(
            "Your messages can't be posted: {}.",
            describe_reason(problem)
        ),
        None => "Connect your Slack account so Scheduler can post your messages as you.".to_owned(),
    };
    blocks.extend(connect_blocks(spec.connect_url.as_deref(), &why));
    blocks.push(
        SlackActionsBlock::new(vec![
            button("Schedule a message", ACTION_NEW, "new".into())
                .with_style(SlackBlockButtonStyle::Primary)
                .into(),
        ])
        .into(),
    );

    if !spec.held.is_empty() {
        blocks.push(SlackDividerBlock::new().into());
        blocks.push(md_section(
            "*Waiting for you*: these could not be posted when they were due.".into(),
        ));
        for message in &spec.held {
            let overdue = message.due_at <= spec.now;
            let reason = message
                .reason
                .as_deref()
                .map(describe_reason)
                .unwrap_or_default();
            blocks.push(md_section(format!(
                "<#{}> · was due {}\n>{}\n_{}_",
                message.channel_id,
                slack_time(message.due_at, spec.tz),
                preview(&message.text),
                escape(&reason)
            )));
            let mut actions: Vec<SlackActionBlockElement> = Vec::new();
            if overdue && spec.connect_url.is_none() {
                actions.push(
                    button("Send now", ACTION_SEND_NOW, message.id.to_string())
                        .with_style(SlackBlockButtonStyle::Primary)
                        .into(),
                );
            }
            actions.push(button("Reschedule", ACTION_EDIT, message.id.to_string()).into());
            actions.push(cancel_button(message.id).into());
            blocks.push(SlackActionsBlock::new(actions).into());
        }
    }

    blocks.push(SlackDividerBlock::new().into());
    blocks.push(md_section("*Upcoming*".into()));
    if spec.upcoming.is_empty() {
        blocks.push(context(
            "Nothing scheduled. Type `/schedule` in any conversation, or use the button above."
                .into(),
        ));
    }
    for message in &spec.upcoming {
        blocks.push(md_section(format!(
            "<#{}> · {}\n>{}",
            message.channel_id,
            slack_time(message.due_at, spec.tz),
            preview(&message.text)
        )));
        blocks.push(
            SlackActionsBlock::new(vec![
                button("Edit", ACTION_EDIT, message.id.to_string()).into(),
                cancel_button(message.id).into(),
            ])
            .into(),
        );
    }
    if counts.pending > spec.upcoming.len() as i64 {
        blocks.push(context(format!(
            "…and {} more.",
            counts.pending - spec.upcoming.len() as i64
        )));
    }

    if !spec.sent.is_empty() {
        blocks.push(SlackDividerBlock::new().into());
        blocks.push(md_section("*Recently sent*".into()));
        for message in &spec.sent {
            let at = message.sent_at.unwrap_or(message.due_at);
            blocks.push(context(format!(
                ":white_check_mark: <#{}> · {} · {}",
                message.channel_id,
                slack_time(at, spec.tz),
                preview(&message.text)
            )));
        }
    }
    if !spec.failed.is_empty() {
        blocks.push(SlackDividerBlock::new().into());
        blocks.push(md_section("*Recently failed*".into()));
        for message in &spec.failed {
            let reason = message
                .reason
                .as_deref()
                .map(describe_reason)
                .unwrap_or_else(|| "unknown reason".into());
            blocks.push(context(format!(
                ":x: <#{}> · {} · {}\n_Not posted: {}._",
                message.channel_id,
                slack_time(message.due_at, spec.tz),
                preview(&message.text),
                escape(&reason)
            )));
        }
    }
    SlackView::Home(SlackHomeView::new(blocks))
}

/// `/schedule list`: the user's waiting messages with Edit and Cancel.
pub fn pending_list(messages: &[MessageRecord], total: i64, tz: Tz) -> SlackMessageContent {
    if messages.is_empty() {
        return text_message(
            "You have no scheduled messages. Try `/schedule in 10 minutes Hello!` or just `/schedule`.",
        );
    }
    let mut blocks: Vec<SlackBlock> =
        vec![md_section(format!("*Your scheduled messages* ({total})"))];
    for message in messages {
        let state = if message.status == MessageStatus::Held {
            " · _waiting for you_"
        } else {
            ""
        };
        blocks.push(
            SlackSectionBlock::new()
                .with_text(md!(format!(
                    "<#{}> · {}{}\n>{}",
                    message.channel_id,
                    slack_time(message.due_at, tz),
                    state,
                    preview(&message.text)
                )))
                .into(),
        );
        blocks.push(
            SlackActionsBlock::new(vec![
                button("Edit", ACTION_EDIT, message.id.to_string()).into(),
                cancel_button(message.id).into(),
            ])
            .into(),
        );
    }
    if total > messages.len() as i64 {
        blocks.push(context(format!(
            "…and {} more in the Scheduler app's Home tab.",
            total - messages.len() as i64
        )));
    }
    SlackMessageContent::new()
        .with_text(format!("Your scheduled messages ({total})"))
        .with_blocks(blocks)
}

pub fn help_message() -> SlackMessageContent {
    text_message(
        "*Schedule a message to be posted as you, later.*\n\
         • `/schedule`: open the form (conversation, message, time).\n\
         • `/schedule in 2 hours Standup moved to 11`: post here in two hours.\n\
         • `/schedule tomorrow 9am Ship it` · `/schedule monday 14:30 …` · `/schedule dec 24 5pm …` · `/schedule 2026-12-24 17:00 …`\n\
         • `/schedule list`: your scheduled messages, with Edit and Cancel.\n\
         • `/schedule help`: this help.\n\
         Times are read in your own time zone. The app's Home tab shows what is upcoming, sent and failed.",
    )
}

/// The confirmation after scheduling.
pub fn scheduled_message(
    channel_id: &str,
    text: &str,
    due: DateTime<Utc>,
    tz: Tz,
    connect_url: Option<&str>,
) -> SlackMessageContent {
    let mut out = format!(
        ":calendar: Scheduled for {} in <#{channel_id}>:\n>{}",
        slack_time(due, tz),
        preview(text)
    );
    if let Some(url) = connect_url {
        out.push_str(&format!(
            "\n:warning: Connect your account so it can be posted: <{url}|connect your account>."
        ));
    }
    text_message(&out)
}

/// The DM about a message that could not be posted.
pub fn notice_message(notice: &Notice, tz: Tz, connect_url: Option<&str>) -> SlackMessageContent {
    let reason = notice
        .reason
        .as_deref()
        .map(describe_reason)
        .unwrap_or_else(|| "an unknown problem".into());
    let mut out = match notice.status {
        MessageStatus::Held => format!(
            ":hourglass: Your message for <#{}> due {} has not been posted yet: {}.\n>{}",
            notice.channel_id,
            slack_time(notice.due_at, tz),
            escape(&reason),
            preview(&notice.text)
        ),
        _ => format!(
            ":x: Your message for <#{}> due {} could not be posted: {}.\n>{}",
            notice.channel_id,
            slack_time(notice.due_at, tz),
            escape(&reason),
            preview(&notice.text)
        ),
    };
    if let Some(url) = connect_url {
        out.push_str(&format!("\n<{url}|Reconnect your account>, then send, reschedule or cancel it from the Scheduler Home tab."));
    }
    text_message(&out)
}

pub fn text_message(text: &str) -> SlackMessageContent {
    SlackMessageContent::new()
        .with_text(text.to_owned())
        .with_blocks(vec![md_section(text.to_owned())])
}

/// A slash-command answer only the user sees.
pub fn ephemeral(content: &SlackMessageContent) -> serde_json::Value {
    let mut body = serde_json::to_value(content).unwrap_or_else(|_| serde_json::json!({}));
    body["response_type"] = serde_json::Value::String("ephemeral".into());
    body
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(h: u32, m: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 24, h, m, 0)
            .single()
            .expect("valid")
    }

    #[test]
    fn next_full_hour_respects_half_hour_zones() {
        let kolkata: Tz = "Asia/Kolkata".parse().expect("zone");
        // 10:10 UTC is 15:40 in Kolkata: the next full hour there is 16:00 = 10:30 UTC.
        assert_eq!(next_full_hour(at(10, 10), kolkata), at(10, 30));
        assert_eq!(
            next_full_hour(at(10, 10), chrono_tz::Europe::Berlin),
            at(11, 0)
        );
    }

    #[test]
    fn the_modal_has_its_three_fields_and_the_times_initial_value() {
        let spec = ModalSpec {
            editing: None,
            channel: None,
            text: Some("draft".into()),
            due: at(17, 0),
            notice: None,
            connect_url: None,
        };
        let json = serde_json::to_value(schedule_modal(&spec)).expect("serialises");
        let blocks = json["blocks"].as_array().expect("blocks");
        let ids: Vec<&str> = blocks
            .iter()
            .filter_map(|b| b["block_id"].as_str())
            .collect();
        assert_eq!(ids, [CHANNEL_BLOCK, TEXT_BLOCK, WHEN_BLOCK]);
        assert_eq!(
            blocks[0]["element"]["default_to_current_conversation"],
            true
        );
        assert_eq!(blocks[1]["element"]["multiline"], true);
        assert_eq!(blocks[1]["element"]["initial_value"], "draft");
        assert_eq!(
            blocks[2]["element"]["initial_date_time"],
            at(17, 0).timestamp()
        );
        assert_eq!(json["callback_id"], NEW_CALLBACK);
        assert_eq!(json["type"], "modal");
    }

    #[test]
    fn an_edit_modal_names_the_message_and_preselects_its_channel() {
        let spec = ModalSpec {
            editing: Some(42),
            channel: Some("C9".into()),
            text: None,
            due: at(9, 0),
            notice: None,
            connect_url: Some("https://x.test/slack/install".into()),
        };
        let json = serde_json::to_value(schedule_modal(&spec)).expect("serialises");
        assert_eq!(json["private_metadata"], "42");
        assert_eq!(json["callback_id"], EDIT_CALLBACK);
        let text = json.to_string();
        assert!(text.contains("\"initial_conversation\":\"C9\""));
        assert!(
            text.contains("https://x.test/slack/install"),
            "connect link shown"
        );
    }

    #[test]
    fn user_text_is_escaped_and_shortened_in_previews() {
        assert_eq!(preview("a <b> & c"), "a &lt;b&gt; &amp; c");
        let long = "word ".repeat(100);
        assert!(preview(&long).ends_with('…'));
        assert!(preview(&long).chars().count() <= PREVIEW_CHARS + 1);
    }

    #[test]
    fn local_times_read_in_the_users_zone() {
        assert_eq!(
            local_time(at(16, 0), chrono_tz::Europe::Berlin),
            "Thu, Dec 24 at 5:00 PM CET"
        );
        assert!(
            slack_time(at(16, 0), chrono_tz::Europe::Berlin)
                .starts_with(&format!("<!date^{}^", at(16, 0).timestamp()))
        );
    }
}
