//! The messages the app shows users: `/schedule list`, help, the
//! confirmation after scheduling and the DM about a message not posted.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use slack_morphism::prelude::*;

use super::rows::{SeriesView, group_places, record_line, series_blocks, waiting_blocks};
use super::{LIST_FITS, context, escape, md_section, more_line, preview, slack_time, text_message};
use crate::domain::MessageStatus;
use crate::slack::error::describe_reason;
use crate::store::{MessageRecord, Notice};

/// What `/schedule list` shows: series, waiting messages and recent ones.
#[derive(Debug, Clone, Copy)]
pub struct ListSpec<'a> {
    pub series: &'a [SeriesView],
    pub waiting: &'a [MessageRecord],
    /// Waiting messages in all (pending and held), shown or not.
    pub waiting_total: i64,
    /// Recently settled messages, newest first: their delivery records.
    pub recent: &'a [MessageRecord],
    pub tz: Tz,
}

/// Series shown in a list, at most.
const LIST_SERIES: usize = 5;
/// Delivery records shown in a list, at most.
const LIST_RECENT: usize = 5;

/// `/schedule list`: the user's series (with their next times, Skip, Edit,
/// Pause and Cancel), waiting messages (Edit, Send now, Cancel) and the
/// delivery records of their latest messages, as many as fit in one
/// message's 50 blocks; the rest are counted and left to the Home tab.
pub fn schedule_list(spec: &ListSpec<'_>) -> SlackMessageContent {
    if spec.series.is_empty() && spec.waiting.is_empty() && spec.recent.is_empty() {
        return text_message(
            "You have no scheduled messages. Try `/schedule in 10 minutes Hello!`, `/schedule every weekday at 9am Standup` or just `/schedule`.",
        );
    }
    let total = spec.waiting_total;
    // A title, a "more" line for the waiting ones, two blocks a series or a
    // waiting message, one a record: waiting messages get what is left.
    let series = &spec.series[..spec.series.len().min(LIST_SERIES)];
    let recent = &spec.recent[..spec.recent.len().min(LIST_RECENT)];
    let fits = LIST_FITS.saturating_sub(series.len() + recent.len().div_ceil(2));
    let shown = &spec.waiting[..spec.waiting.len().min(fits)];
    let mut blocks: Vec<SlackBlock> =
        vec![md_section(format!("*Your scheduled messages* ({total})"))];
    for view in series {
        blocks.extend(series_blocks(view, spec.tz));
    }
    for (message, group) in shown.iter().zip(group_places(shown)) {
        let state = if message.status == MessageStatus::Held {
            " · _waiting for you_"
        } else {
            ""
        };
        blocks.extend(waiting_blocks(message, spec.tz, state, group));
    }
    blocks.extend(more_line(
        total,
        shown.len(),
        " in the Scheduler app's Home tab",
    ));
    for message in recent {
        blocks.push(context(record_line(
            message,
            spec.tz,
            &preview(&message.text),
        )));
    }
    SlackMessageContent::new()
        .with_text(format!("Your scheduled messages ({total})"))
        .with_blocks(blocks)
}

/// [`schedule_list`] of waiting messages alone.
pub fn pending_list(messages: &[MessageRecord], total: i64, tz: Tz) -> SlackMessageContent {
    schedule_list(&ListSpec {
        series: &[],
        waiting: messages,
        waiting_total: total,
        recent: &[],
        tz,
    })
}

pub fn help_message() -> SlackMessageContent {
    text_message(
        "*Schedule a message to be posted as you, later.*\n\
         • `/schedule`: open the form (conversation, message, time).\n\
         • `/schedule in 2 hours Standup moved to 11`: post here in two hours.\n\
         • `/schedule tomorrow 9am Ship it` · `/schedule monday 14:30 …` · `/schedule dec 24 5pm …` · `/schedule 2026-12-24 17:00 …`\n\
         • `/schedule every weekday at 9am Standup` · `every monday 10:00 …` · `every 2 hours …` · `every month on the first monday at 9am …`, optionally followed by `until 2027-03-01` or `for 10 times`: a repeating message.\n\
         • `/schedule list`: your scheduled and repeating messages, with Edit, Send now, Skip and Cancel.\n\
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

/// Where a message goes, in words: `<#C1>`, `<#C1> and <#C2>`, or a reply
/// in a thread of `<#C1>`.
pub fn destinations(channels: &[String], in_thread: bool) -> String {
    let names: Vec<String> = channels.iter().map(|c| format!("<#{c}>")).collect();
    let list = match names.as_slice() {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    };
    if in_thread {
        format!("a thread in {list}")
    } else {
        list
    }
}

/// The confirmation after scheduling one message into several
/// conversations (or a reply in a thread).
pub fn scheduled_group(
    channels: &[String],
    in_thread: bool,
    text: &str,
    due: DateTime<Utc>,
    tz: Tz,
    connect_url: Option<&str>,
) -> SlackMessageContent {
    let mut out = format!(
        ":calendar: Scheduled for {} in {}:\n>{}",
        slack_time(due, tz),
        destinations(channels, in_thread),
        preview(text)
    );
    push_connect(&mut out, connect_url);
    text_message(&out)
}

/// The confirmation of a new series: its rule in words and its next times.
pub fn scheduled_series(
    channels: &[String],
    in_thread: bool,
    rule: &str,
    next: &[DateTime<Utc>],
    text: &str,
    tz: Tz,
    connect_url: Option<&str>,
) -> SlackMessageContent {
    let times: Vec<String> = next.iter().map(|at| slack_time(*at, tz)).collect();
    let mut out = format!(
        ":repeat: Scheduled {} in {}. Next: {}.\n>{}",
        escape(rule),
        destinations(channels, in_thread),
        times.join(" · "),
        preview(text)
    );
    push_connect(&mut out, connect_url);
    text_message(&out)
}

fn push_connect(out: &mut String, connect_url: Option<&str>) {
    if let Some(url) = connect_url {
        out.push_str(&format!(
            "\n:warning: Connect your account so it can be posted: <{url}|connect your account>."
        ));
    }
}

/// The DM an hour ahead: messages due soon cannot be posted as things stand.
pub fn foresight_warning(
    channel_id: &str,
    due: &[DateTime<Utc>],
    reason: &str,
    tz: Tz,
) -> SlackMessageContent {
    let when = match due {
        [one] => format!("your message due {}", slack_time(*one, tz)),
        many => format!(
            "{} of your messages, the first due {}",
            many.len(),
            many.iter()
                .min()
                .map(|at| slack_time(*at, tz))
                .unwrap_or_default()
        ),
    };
    text_message(&format!(
        ":warning: Heads up: {when} in <#{channel_id}> can't be posted as things stand: {}. \
         Edit it, pick another conversation, or cancel it from the Scheduler Home tab.",
        escape(&describe_reason(reason))
    ))
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
