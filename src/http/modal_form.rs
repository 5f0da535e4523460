//! Reading the scheduling modal back: which modal it is (from its
//! `callback_id` and `private_metadata`), and what its fields hold. The
//! same reading serves the submission and the updates the "Repeat" and
//! "Ends" choices ask for (the view rebuilt from its own state).

use chrono::{DateTime, NaiveDate, Utc};

use crate::domain::Conditions;
use crate::slack::blocks::{
    self, EndsChoice, ModalMode, ModalSpec, NewModalMeta, RepeatChoice, RepeatSpec,
};
use crate::slack::inbound::SubmittedView;
use crate::slack::mrkdwn;
use crate::slack::rich_text::{RichText, RichTextError};

/// Which scheduling modal a view is; `None` for any other view.
pub(super) fn mode_of(view: &SubmittedView) -> Option<Result<ModalMode, ()>> {
    let id = || view.private_metadata.trim().parse::<i64>().map_err(|_| ());
    Some(match view.callback_id.as_str() {
        blocks::NEW_CALLBACK if view.private_metadata.trim().is_empty() => Ok(ModalMode::New),
        blocks::NEW_CALLBACK => {
            match serde_json::from_str::<NewModalMeta>(&view.private_metadata) {
                Ok(NewModalMeta {
                    channel: Some(channel_id),
                    thread_ts: Some(thread_ts),
                }) if is_id(&channel_id) && is_ts(&thread_ts) => Ok(ModalMode::Reply {
                    channel_id,
                    thread_ts,
                }),
                _ => Err(()),
            }
        }
        blocks::EDIT_CALLBACK => id().map(|id| ModalMode::EditMessage {
            id,
            occurrence: false,
        }),
        blocks::SERIES_CALLBACK => id().map(ModalMode::EditSeries),
        _ => return None,
    })
}

/// A Slack id as metadata may carry one: letters and digits, short.
fn is_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 32 && id.chars().all(|c| c.is_ascii_alphanumeric())
}

/// A Slack `ts`: digits, a dot, digits.
fn is_ts(ts: &str) -> bool {
    ts.len() <= 32
        && ts.split_once('.').is_some_and(|(a, b)| {
            !a.is_empty() && a.chars().chain(b.chars()).all(|c| c.is_ascii_digit())
        })
}

/// The message field as submitted: its plain rendering in Slack's markup,
/// and its rich text (Slack's JSON) when it has one.
#[derive(Debug, Clone)]
pub(super) struct Written {
    pub markup: String,
    pub rich_text: Option<String>,
}

/// What the modal's fields hold.
#[derive(Debug)]
pub(super) struct ModalForm {
    pub channel: Option<String>,
    pub also: Vec<String>,
    pub written: Result<Written, RichTextError>,
    pub rich: Option<RichText>,
    pub due: Option<DateTime<Utc>>,
    pub repeat: RepeatSpec,
    pub conditions: Conditions,
    pub broadcast: bool,
}

impl ModalForm {
    pub(super) fn read(view: &SubmittedView) -> Self {
        let value = |block: &str, action: &str| view.value(block, action);
        let channel = value(blocks::CHANNEL_BLOCK, blocks::CHANNEL_ACTION)
            .and_then(|v| {
                v.selected_conversation
                    .clone()
                    .or_else(|| v.selected_channel.clone())
            })
            .filter(|c| !c.is_empty());
        let also = value(blocks::ALSO_BLOCK, blocks::ALSO_ACTION)
            .map(|v| v.selected_conversations.clone())
            .unwrap_or_default();
        let due = value(blocks::WHEN_BLOCK, blocks::WHEN_ACTION)
            .and_then(|v| v.selected_date_time)
            .and_then(|secs| DateTime::from_timestamp(secs, 0));
        let option = |action: &str, block: &str| {
            value(block, action)
                .and_then(|v| v.selected_option.as_ref())
                .map(|o| o.value.clone())
        };
        let repeat = RepeatSpec {
            choice: option(blocks::REPEAT_ACTION, blocks::REPEAT_BLOCK)
                .and_then(|v| RepeatChoice::parse(&v))
                .unwrap_or_default(),
            days: value(blocks::DAYS_BLOCK, blocks::DAYS_ACTION)
                .map(|v| {
                    v.selected_options
                        .iter()
                        .filter_map(|o| blocks::parse_day(&o.value))
                        .collect()
                })
                .unwrap_or_default(),
            hours: option(blocks::HOURS_ACTION, blocks::HOURS_BLOCK).and_then(|v| v.parse().ok()),
            ends: option(blocks::ENDS_ACTION, blocks::ENDS_BLOCK)
                .and_then(|v| EndsChoice::parse(&v))
                .unwrap_or_default(),
            until: value(blocks::UNTIL_BLOCK, blocks::UNTIL_ACTION)
                .and_then(|v| v.selected_date.as_deref())
                .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok()),
            times: value(blocks::TIMES_BLOCK, blocks::TIMES_ACTION)
                .and_then(|v| v.value.as_deref())
                .and_then(|n| n.trim().parse().ok()),
        };
        let options = value(blocks::OPTIONS_BLOCK, blocks::OPTIONS_ACTION);
        let ticked = |name: &str| options.is_some_and(|v| v.ticked(name));
        let field = value(blocks::TEXT_BLOCK, blocks::TEXT_ACTION);
        let rich = field
            .and_then(|f| f.rich_text_value.as_ref())
            .and_then(|v| RichText::from_value(v).ok());
        Self {
            channel,
            also,
            written: written_message(view),
            rich,
            due,
            repeat,
            conditions: Conditions {
                unless_replied: ticked(blocks::OPTION_UNLESS_REPLIED),
                unless_posted: ticked(blocks::OPTION_UNLESS_POSTED),
            },
            broadcast: ticked(blocks::OPTION_BROADCAST),
        }
    }

    /// The modal as it stands, to be shown again with what a choice
    /// changed: every field keeps what was entered.
    pub(super) fn spec(&self, mode: ModalMode, fallback_due: DateTime<Utc>) -> ModalSpec {
        let in_thread = matches!(mode, ModalMode::Reply { .. });
        ModalSpec {
            mode,
            channel: self.channel.clone(),
            also: self.also.clone(),
            message: self.rich.clone(),
            due: self.due.unwrap_or(fallback_due),
            repeat: self.repeat.clone(),
            conditions: self.conditions,
            in_thread,
            reply_broadcast: self.broadcast,
            notice: None,
            connect_url: None,
        }
    }
}

/// Reads the message field: the `rich_text_value` of its `rich_text_input`,
/// or, from a modal opened before the field was one (a view lives on in
/// the client), the words of its plain-text input.
fn written_message(view: &SubmittedView) -> Result<Written, RichTextError> {
    let field = view.value(blocks::TEXT_BLOCK, blocks::TEXT_ACTION);
    if let Some(value) = field.and_then(|f| f.rich_text_value.as_ref()) {
        let rich_text = RichText::from_value(value)?;
        return Ok(Written {
            markup: rich_text.markup(),
            rich_text: Some(rich_text.to_json()),
        });
    }
    let words = field.and_then(|f| f.value.as_deref()).unwrap_or_default();
    Ok(Written {
        markup: mrkdwn::markup(words),
        rich_text: None,
    })
}
