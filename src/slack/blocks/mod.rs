//! Block Kit builders: the scheduling modal ([`modal`]), the Home tab
//! ([`home`]) and the messages the app shows users ([`messages`]). Pure functions of their inputs,
//! built with slack-morphism's Block Kit types, each within Slack's
//! documented limits (checked in the tests by the simulator's validator).

use chrono::{DateTime, Duration, DurationRound, Utc};
use chrono_tz::Tz;
use slack_morphism::prelude::*;

mod home;
mod messages;
mod modal;
mod rows;
#[cfg(test)]
mod tests;

pub use home::{HomeSpec, home_view};
pub use messages::{
    ListSpec, destinations, foresight_warning, help_message, notice_message, pending_list,
    schedule_list, scheduled_group, scheduled_message, scheduled_series,
};
pub use modal::{
    EndsChoice, ModalMode, ModalSpec, NewModalMeta, OPTION_BROADCAST, OPTION_UNLESS_POSTED,
    OPTION_UNLESS_REPLIED, RepeatChoice, RepeatSpec, notice_modal, parse_day, schedule_modal,
};
pub use rows::{SeriesView, occurrence_value};

pub const CHANNEL_BLOCK: &str = "channel_block";
pub const CHANNEL_ACTION: &str = "channel";
pub const TEXT_BLOCK: &str = "text_block";
pub const TEXT_ACTION: &str = "text";
pub const WHEN_BLOCK: &str = "when_block";
pub const WHEN_ACTION: &str = "when";
pub const ALSO_BLOCK: &str = "also_block";
pub const ALSO_ACTION: &str = "also";
pub const REPEAT_BLOCK: &str = "repeat_block";
pub const REPEAT_ACTION: &str = "repeat";
pub const DAYS_BLOCK: &str = "days_block";
pub const DAYS_ACTION: &str = "days";
pub const HOURS_BLOCK: &str = "hours_block";
pub const HOURS_ACTION: &str = "hours";
pub const ENDS_BLOCK: &str = "ends_block";
pub const ENDS_ACTION: &str = "ends";
pub const UNTIL_BLOCK: &str = "until_block";
pub const UNTIL_ACTION: &str = "until";
pub const TIMES_BLOCK: &str = "times_block";
pub const TIMES_ACTION: &str = "times";
pub const OPTIONS_BLOCK: &str = "options_block";
pub const OPTIONS_ACTION: &str = "options";

/// The modal's `callback_id` when scheduling a new message.
pub const NEW_CALLBACK: &str = "schedule_new";
/// The modal's `callback_id` when editing one (its id in `private_metadata`).
pub const EDIT_CALLBACK: &str = "schedule_edit";
/// The modal's `callback_id` when editing a whole series (its id in `private_metadata`).
pub const SERIES_CALLBACK: &str = "schedule_series";
/// The message shortcut that schedules a reply in a message's thread.
pub const REPLY_SHORTCUT: &str = "schedule_reply";

pub const ACTION_EDIT: &str = "edit_message";
pub const ACTION_CANCEL: &str = "cancel_message";
pub const ACTION_SEND_NOW: &str = "send_now";
pub const ACTION_NEW: &str = "open_schedule_modal";
pub const ACTION_CONNECT: &str = "connect_account";
pub const ACTION_SKIP: &str = "skip_occurrence";
pub const ACTION_EDIT_SERIES: &str = "edit_series";
pub const ACTION_PAUSE_SERIES: &str = "pause_series";
pub const ACTION_RESUME_SERIES: &str = "resume_series";
pub const ACTION_CANCEL_SERIES: &str = "cancel_series";
/// The modal's Repeat and Ends choices (dispatched as they change).
pub const ACTION_REPEAT_CHOICE: &str = REPEAT_ACTION;
pub const ACTION_ENDS_CHOICE: &str = ENDS_ACTION;
/// Buttons after which a `/schedule list` message is shown again.
pub const CHANGES_LIST: &[&str] = &[
    ACTION_CANCEL,
    ACTION_SEND_NOW,
    ACTION_SKIP,
    ACTION_PAUSE_SERIES,
    ACTION_RESUME_SERIES,
    ACTION_CANCEL_SERIES,
];

/// "Up to 50 blocks in each message, 100 blocks in modals or Home tabs"
/// (docs.slack.dev/reference/block-kit/blocks).
const MESSAGE_BLOCKS: usize = 50;
const VIEW_BLOCKS: usize = 100;

/// The most messages `/schedule list` can show in one message: a title,
/// two blocks per message, and a line saying how many more there are.
pub const LIST_FITS: usize = (MESSAGE_BLOCKS - 2) / 2;
/// How many messages of each kind the Home tab asks for: what it can show
/// within its 100 blocks, the most relevant first.
pub const HOME_HELD: usize = 10;
pub const HOME_UPCOMING: usize = 20;
pub const HOME_RECENT: usize = 5;
pub const HOME_SERIES: usize = 10;
/// How much of a message a list shows.
const PREVIEW_CHARS: usize = 150;

/// `&`, `<` and `>` are control characters in Slack's mrkdwn.
pub fn escape(text: &str) -> String {
    crate::slack::mrkdwn::escape(text)
}

/// A short one-line preview of a message (kept in Slack's markup), valid
/// mrkdwn: its mentions and links still work, and any `&`, `<` or `>` not
/// already escaped is.
pub fn preview(text: &str) -> String {
    crate::slack::mrkdwn::preview(text, PREVIEW_CHARS)
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
        // Every text of a confirmation dialog is plain_text
        // (docs.slack.dev/reference/block-kit/composition-objects/confirmation-dialog-object).
        .with_confirm(SlackBlockConfirmItem::new(
            pt!("Cancel this message?"),
            pt!("It will not be sent."),
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

/// "…and 3 more" when `total` is more than `shown`.
pub(super) fn more_line(total: i64, shown: usize, what: &str) -> Option<SlackBlock> {
    let hidden = total - i64::try_from(shown).unwrap_or(i64::MAX);
    (hidden > 0).then(|| context(format!("…and {hidden} more{what}.")))
}
