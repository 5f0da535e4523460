//! The rows the Home tab and `/schedule list` share: a series with its next
//! occurrences and its buttons, a waiting message with its buttons (and
//! what a check ahead of time found), and a settled message's delivery
//! record (status, where it is, attempts, the last error in plain words).

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use slack_morphism::prelude::*;

use super::{
    ACTION_CANCEL_SERIES, ACTION_EDIT, ACTION_EDIT_SERIES, ACTION_PAUSE_SERIES,
    ACTION_RESUME_SERIES, ACTION_SEND_NOW, ACTION_SKIP, button, cancel_button, escape, preview,
    slack_time,
};
use crate::domain::MessageStatus;
use crate::slack::error::describe_reason;
use crate::store::{MessageRecord, SeriesRecord, SeriesStatus};

/// A series and its next occurrences, as shown.
#[derive(Debug, Clone, PartialEq)]
pub struct SeriesView {
    pub record: SeriesRecord,
    pub next: Vec<DateTime<Utc>>,
}

impl SeriesView {
    /// The series with up to `n` occurrences to come (none while paused).
    pub fn of(record: SeriesRecord, now: DateTime<Utc>, n: usize) -> Self {
        // From the latest occurrence created (the waiting one, which can be
        // skipped), never one already sent or skipped.
        let next = if record.status == SeriesStatus::Active {
            let after = record
                .last_due_at
                .map_or(now, |last| (last - chrono::Duration::seconds(1)).max(now));
            record.schedule().after(after, n)
        } else {
            Vec::new()
        };
        Self { record, next }
    }
}

/// `<series id>:<Unix seconds>`: an occurrence a button names.
pub fn occurrence_value(series_id: i64, at: DateTime<Utc>) -> String {
    format!("{series_id}:{}", at.timestamp())
}

/// Two blocks: the series in words with its next times and a "Skip…"
/// menu of them, then its buttons.
pub(super) fn series_blocks(view: &SeriesView, tz: Tz) -> Vec<SlackBlock> {
    let series = &view.record;
    let place = match &series.options.thread_ts {
        Some(_) => format!("a thread in <#{}>", series.channel_id),
        None => format!("<#{}>", series.channel_id),
    };
    let next = if series.status == SeriesStatus::Paused {
        "_paused_".to_owned()
    } else if view.next.is_empty() {
        "no more to come".to_owned()
    } else {
        view.next
            .iter()
            .map(|at| slack_time(*at, tz))
            .collect::<Vec<_>>()
            .join(" · ")
    };
    let mut section = SlackSectionBlock::new().with_text(md!(format!(
        ":repeat: *{}* in {place}\nNext: {next}\n>{}",
        escape(&series.recurrence.describe()),
        preview(&series.text)
    )));
    if !view.next.is_empty() {
        let options: Vec<SlackBlockChoiceItem<SlackBlockPlainTextOnly>> = view
            .next
            .iter()
            .take(5)
            .map(|at| {
                SlackBlockChoiceItem::new(
                    pt!(format!("Skip {}", short_time(*at, tz))),
                    occurrence_value(series.id, *at),
                )
            })
            .collect();
        section = section.with_accessory(SlackSectionBlockElement::Overflow(
            SlackBlockOverflowElement::new(options)
                .with_action_id(SlackActionId::new(ACTION_SKIP.to_owned())),
        ));
    }
    let id = series.id.to_string();
    let toggle = if series.status == SeriesStatus::Paused {
        button("Resume", ACTION_RESUME_SERIES, id.clone())
    } else {
        button("Pause", ACTION_PAUSE_SERIES, id.clone())
    };
    let cancel = button("Cancel series", ACTION_CANCEL_SERIES, id.clone())
        .with_style(SlackBlockButtonStyle::Danger)
        .with_confirm(SlackBlockConfirmItem::new(
            pt!("Cancel this series?"),
            pt!("No more of it will be sent."),
            pt!("Cancel it"),
            pt!("Keep it"),
        ));
    vec![
        section.into(),
        SlackActionsBlock::new(vec![
            button("Edit series", ACTION_EDIT_SERIES, id).into(),
            toggle.into(),
            cancel.into(),
        ])
        .into(),
    ]
}

/// "Mon, Dec 8, 9:00 AM": short enough for a menu option (75 characters).
fn short_time(at: DateTime<Utc>, tz: Tz) -> String {
    at.with_timezone(&tz)
        .format("%a, %b %-d, %-I:%M %p")
        .to_string()
}

/// Where each message of `messages` stands in its group (scheduled
/// together into several conversations): its place and the group's size
/// among them. Members of a group are due together and stored one after
/// another, so they are listed side by side.
pub fn group_places(messages: &[MessageRecord]) -> Vec<Option<(usize, usize)>> {
    messages
        .iter()
        .map(|m| {
            let key = m.options.group_key.as_deref()?;
            let members: Vec<i64> = messages
                .iter()
                .filter(|o| o.options.group_key.as_deref() == Some(key))
                .map(|o| o.id)
                .collect();
            let place = members.iter().position(|id| *id == m.id)?;
            (members.len() > 1).then_some((place + 1, members.len()))
        })
        .collect()
}

/// Two blocks: a waiting message (with what the last check found), then
/// Edit, Send now and Cancel (or Skip, for an occurrence of a series).
pub(super) fn waiting_blocks(
    message: &MessageRecord,
    tz: Tz,
    held_note: &str,
    group: Option<(usize, usize)>,
) -> Vec<SlackBlock> {
    let place = match &message.options.thread_ts {
        Some(_) => format!("a thread in <#{}>", message.channel_id),
        None => format!("<#{}>", message.channel_id),
    };
    let together = group
        .map(|(n, of)| format!(" · _{n} of {of} conversations_"))
        .unwrap_or_default();
    let mut text = format!(
        "{place} · {}{held_note}{together}\n>{}",
        slack_time(message.due_at, tz),
        preview(&message.text)
    );
    if let Some(warning) = &message.warning {
        text.push_str(&format!(
            "\n:warning: _Can't be posted as things stand: {}._",
            escape(&describe_reason(warning))
        ));
    }
    let id = message.id.to_string();
    let mut actions: Vec<SlackActionBlockElement> =
        vec![button("Edit", ACTION_EDIT, id.clone()).into()];
    if message.status == MessageStatus::Pending {
        actions.push(button("Send now", ACTION_SEND_NOW, id).into());
    }
    match message.series_id {
        Some(series) => actions.push(
            button(
                "Skip",
                ACTION_SKIP,
                occurrence_value(series, message.due_at),
            )
            .into(),
        ),
        None => actions.push(cancel_button(message.id).into()),
    }
    vec![
        SlackSectionBlock::new().with_text(md!(text)).into(),
        SlackActionsBlock::new(actions).into(),
    ]
}

/// A settled message's delivery record, one line: ":white_check_mark:
/// <#C> · time · preview · View (after 2 attempts)".
pub(super) fn record_line(message: &MessageRecord, tz: Tz, preview_text: &str) -> String {
    let (icon, at) = match message.status {
        MessageStatus::Sent => (
            ":white_check_mark:",
            message.sent_at.unwrap_or(message.due_at),
        ),
        MessageStatus::Failed => (":x:", message.due_at),
        MessageStatus::Skipped => (":fast_forward:", message.due_at),
        _ => (":white_circle:", message.due_at),
    };
    let mut line = format!(
        "{icon} <#{}> · {} · {preview_text}",
        message.channel_id,
        slack_time(at, tz)
    );
    if let Some(link) = message.permalink.as_deref().filter(|l| is_link(l)) {
        line.push_str(&format!(" · <{link}|View>"));
    }
    if message.attempts > 1 {
        line.push_str(&format!(" · after {} attempts", message.attempts));
    }
    match message.status {
        MessageStatus::Failed => {
            let reason = message
                .reason
                .as_deref()
                .map(describe_reason)
                .unwrap_or_else(|| "unknown reason".into());
            line.push_str(&format!("\n_Not posted: {}._", escape(&reason)));
        }
        MessageStatus::Skipped => {
            let reason = message
                .reason
                .as_deref()
                .map(describe_reason)
                .unwrap_or_else(|| "its condition held".into());
            line.push_str(&format!("\n_Skipped: {}._", escape(&reason)));
        }
        _ => {}
    }
    line
}

/// A permalink safe inside `<…|…>`: Slack's own https link, nothing that
/// could close the token early.
fn is_link(link: &str) -> bool {
    (link.starts_with("https://") || link.starts_with("http://"))
        && !link.contains(['<', '>', '|', ' ', '\n'])
}
