//! The messages the app shows users: `/schedule list`, help, the
//! confirmation after scheduling and the DM about a message not posted.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use slack_morphism::prelude::*;

use super::{
    ACTION_EDIT, LIST_FITS, button, cancel_button, escape, md_section, more_line, preview,
    slack_time, text_message,
};
use crate::domain::MessageStatus;
use crate::slack::error::describe_reason;
use crate::store::{MessageRecord, Notice};

/// `/schedule list`: the user's waiting messages with Edit and Cancel, as
/// many as fit in one message's 50 blocks; the rest are counted and left
/// to the Home tab.
pub fn pending_list(messages: &[MessageRecord], total: i64, tz: Tz) -> SlackMessageContent {
    if messages.is_empty() {
        return text_message(
            "You have no scheduled messages. Try `/schedule in 10 minutes Hello!` or just `/schedule`.",
        );
    }
    let shown = &messages[..messages.len().min(LIST_FITS)];
    let mut blocks: Vec<SlackBlock> =
        vec![md_section(format!("*Your scheduled messages* ({total})"))];
    for message in shown {
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
    blocks.extend(more_line(
        total,
        shown.len(),
        " in the Scheduler app's Home tab",
    ));
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
