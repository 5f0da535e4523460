//! The scheduling modal: where to post (or the thread a reply goes to),
//! the message, when, how it repeats, and the conditions it is posted
//! under. Each field is built by a function of its own and the view around
//! them by another, so that a field is added beside the others without
//! touching them. The repeat fields ([`repeat`]) change with the choice
//! made: the view is rebuilt from its own state and updated in place.

mod repeat;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use slack_morphism::prelude::*;

pub use repeat::{EndsChoice, RepeatChoice, RepeatSpec, parse_day};

use super::{
    ALSO_ACTION, ALSO_BLOCK, CHANNEL_ACTION, CHANNEL_BLOCK, EDIT_CALLBACK, NEW_CALLBACK,
    OPTIONS_ACTION, OPTIONS_BLOCK, SERIES_CALLBACK, TEXT_ACTION, TEXT_BLOCK, WHEN_ACTION,
    WHEN_BLOCK, connect_blocks, context, md_section,
};
use crate::domain::Conditions;
use crate::domain::message::MAX_DESTINATIONS;
use crate::slack::rich_text::RichText;

/// The checkbox values of the options block.
pub const OPTION_UNLESS_REPLIED: &str = "unless_replied";
pub const OPTION_UNLESS_POSTED: &str = "unless_posted";
pub const OPTION_BROADCAST: &str = "broadcast";

/// What the modal schedules or changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModalMode {
    /// A new message (or series), into one or more conversations.
    New,
    /// A reply in the thread of a message (the "Schedule a reply" shortcut).
    Reply {
        channel_id: String,
        thread_ts: String,
    },
    /// One waiting message (or one occurrence of a series).
    EditMessage { id: i64, occurrence: bool },
    /// A whole series.
    EditSeries(i64),
}

/// A new message's modal carries its thread, if any, in `private_metadata`
/// (at most 3,000 characters; two ids fit easily).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewModalMeta {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thread_ts: Option<String>,
}

/// What the scheduling modal starts with.
#[derive(Debug, Clone)]
pub struct ModalSpec {
    pub mode: ModalMode,
    /// The conversation to preselect; `None` defaults to where the modal was opened.
    pub channel: Option<String>,
    /// More conversations to post the same message in (a new message only).
    pub also: Vec<String>,
    /// The message to start with (the one being edited, or the text of a
    /// slash command whose time could not be read).
    pub message: Option<RichText>,
    pub due: DateTime<Utc>,
    pub repeat: RepeatSpec,
    pub conditions: Conditions,
    /// The message is a reply in a thread (its thread cannot change).
    pub in_thread: bool,
    /// A thread reply also sent to the conversation.
    pub reply_broadcast: bool,
    /// A note above the fields ("I couldn't read a time in …").
    pub notice: Option<String>,
    /// Shown when the user has not connected their account.
    pub connect_url: Option<String>,
}

impl ModalSpec {
    /// A modal for a new message due at `due`, with nothing else chosen.
    pub fn new(due: DateTime<Utc>) -> Self {
        Self {
            mode: ModalMode::New,
            channel: None,
            also: Vec::new(),
            message: None,
            due,
            repeat: RepeatSpec::default(),
            conditions: Conditions::default(),
            in_thread: false,
            reply_broadcast: false,
            notice: None,
            connect_url: None,
        }
    }

    fn is_reply(&self) -> bool {
        self.in_thread || matches!(self.mode, ModalMode::Reply { .. })
    }
}

pub fn schedule_modal(spec: &ModalSpec) -> SlackView {
    let mut blocks = intro_blocks(spec);
    match &spec.mode {
        ModalMode::Reply { channel_id, .. } => blocks.push(context(format!(
            ":thread: A reply in the thread of a message in <#{channel_id}>."
        ))),
        mode => {
            blocks.push(channel_field(spec.channel.as_deref()));
            if *mode == ModalMode::New {
                blocks.push(also_field(&spec.also));
            }
        }
    }
    blocks.push(message_field(spec.message.as_ref()));
    blocks.push(when_field(spec.due, &spec.mode));
    // One message (or one occurrence) has no rule of its own to change.
    if !matches!(spec.mode, ModalMode::EditMessage { .. }) {
        blocks.extend(repeat::fields(&spec.repeat));
    }
    blocks.push(options_field(spec));
    modal_view(&spec.mode, blocks)
}

/// The note and the offer to connect, above the fields.
fn intro_blocks(spec: &ModalSpec) -> Vec<SlackBlock> {
    let mut blocks: Vec<SlackBlock> = Vec::new();
    if let Some(notice) = &spec.notice {
        blocks.push(md_section(notice.clone()));
    }
    if let ModalMode::EditMessage {
        occurrence: true, ..
    } = spec.mode
    {
        blocks.push(context(
            ":repeat: This changes this occurrence only; edit the series from the Home tab to change them all."
                .into(),
        ));
    }
    blocks.extend(connect_blocks(
        spec.connect_url.as_deref(),
        "Connect your Slack account so Scheduler can post as you. Messages you schedule now wait until you do.",
    ));
    blocks
}

fn channel_field(channel: Option<&str>) -> SlackBlock {
    let select = SlackBlockConversationsSelectElement::new()
        .with_action_id(SlackActionId::new(CHANNEL_ACTION.to_owned()))
        .with_placeholder(pt!("Pick a channel or DM"))
        .with_response_url_enabled(true);
    let select = match channel {
        Some(id) => select.with_initial_conversation(SlackConversationId::new(id.to_owned())),
        None => select.with_default_to_current_conversation(true),
    };
    SlackInputBlock::new(pt!("Post in"), select.into())
        .with_block_id(SlackBlockId::new(CHANNEL_BLOCK.to_owned()))
        .into()
}

/// Up to nine more conversations: each gets its own message, outcome and retries.
fn also_field(also: &[String]) -> SlackBlock {
    let mut select = SlackBlockMultiConversationsSelectElement::new()
        .with_action_id(SlackActionId::new(ALSO_ACTION.to_owned()))
        .with_placeholder(pt!("More channels or DMs (optional)"))
        .with_max_selected_items((MAX_DESTINATIONS - 1) as u64);
    if !also.is_empty() {
        select = select.with_initial_conversations(
            also.iter()
                .map(|c| SlackConversationId::new(c.clone()))
                .collect(),
        );
    }
    SlackInputBlock::new(pt!("Also post in"), select.into())
        .with_block_id(SlackBlockId::new(ALSO_BLOCK.to_owned()))
        .with_optional(true)
        .with_hint(pt!("Each conversation gets a message of its own."))
        .into()
}

/// The message, written as in Slack's own composer: a `rich_text_input`
/// (docs.slack.dev/reference/block-kit/block-elements/rich-text-input-element).
fn message_field(message: Option<&RichText>) -> SlackBlock {
    let mut input = SlackBlockRichTextInputElement::new(SlackActionId::new(TEXT_ACTION.to_owned()))
        .with_placeholder(pt!(
            "What should be posted? Mention, format and link as in Slack."
        ));
    if let Some(message) = message {
        input = input.with_initial_value(message.block().clone());
    }
    let block = SlackInputBlock::new(pt!("Message"), input.into())
        .with_block_id(SlackBlockId::new(TEXT_BLOCK.to_owned()));
    let mut json = serde_json::to_value(SlackBlock::Input(block)).unwrap_or(Value::Null);
    // slack-morphism 2.31.1 writes the initial value without its `type`,
    // which a rich text block must have: add it.
    if let Some(initial) = json
        .pointer_mut("/element/initial_value")
        .and_then(Value::as_object_mut)
    {
        initial.insert("type".into(), Value::String("rich_text".into()));
    }
    SlackBlock::Unknown(json)
}

fn when_field(due: DateTime<Utc>, mode: &ModalMode) -> SlackBlock {
    let mut when = SlackBlockDateTimePickerElement::new()
        .with_action_id(SlackActionId::new(WHEN_ACTION.to_owned()));
    if let Ok(initial) = jiff::Timestamp::from_second(due.timestamp()) {
        when = when.with_initial_date_time(SlackDateTime(initial));
    }
    let hint = match mode {
        ModalMode::EditSeries(_) => {
            "The next time it is posted. A repeating message keeps this time of day in your zone."
        }
        _ => {
            "In your own time zone. It is posted as you, at that minute; a repeating message starts here."
        }
    };
    SlackInputBlock::new(pt!("When"), when.into())
        .with_block_id(SlackBlockId::new(WHEN_BLOCK.to_owned()))
        .with_hint(pt!(hint))
        .into()
}

/// Conditions checked at the due time, and, for a reply, whether it is
/// also sent to the conversation.
fn options_field(spec: &ModalSpec) -> SlackBlock {
    let mut options: Vec<SlackBlockChoiceItem<SlackBlockText>> = Vec::new();
    let mut ticked = Vec::new();
    let mut option = |value: &str, text: &str, description: &str, on: bool| {
        let item = SlackBlockChoiceItem::new(SlackBlockText::Plain(pt!(text)), value.to_owned())
            .with_description(pt!(description));
        if on {
            ticked.push(item.clone());
        }
        options.push(item);
    };
    if spec.is_reply() {
        option(
            OPTION_UNLESS_REPLIED,
            "Only if nobody has replied",
            "Skipped if someone else replies in the thread before then.",
            spec.conditions.unless_replied,
        );
    }
    option(
        OPTION_UNLESS_POSTED,
        "Skip it if I post there first",
        "Skipped if you post in that conversation before then.",
        spec.conditions.unless_posted,
    );
    if spec.is_reply() {
        option(
            OPTION_BROADCAST,
            "Also send to the channel",
            "The reply also shows in the conversation, as Slack's checkbox does.",
            spec.reply_broadcast,
        );
    }
    let mut checkboxes = SlackBlockCheckboxesElement::new(options)
        .with_action_id(SlackActionId::new(OPTIONS_ACTION.to_owned()));
    if !ticked.is_empty() {
        checkboxes = checkboxes.with_initial_options(ticked);
    }
    SlackInputBlock::new(pt!("Options"), checkboxes.into())
        .with_block_id(SlackBlockId::new(OPTIONS_BLOCK.to_owned()))
        .with_optional(true)
        .with_hint(pt!(
            "Checked at the due time by reading the conversation, which Slack allows apps about once a minute: it may go out a minute or two late."
        ))
        .into()
}

/// The view around the fields, naming what it changes in its
/// `callback_id` and `private_metadata`.
fn modal_view(mode: &ModalMode, blocks: Vec<SlackBlock>) -> SlackView {
    let (title, submit, callback, metadata) = match mode {
        ModalMode::New => ("Schedule a message", "Schedule", NEW_CALLBACK, None),
        ModalMode::Reply {
            channel_id,
            thread_ts,
        } => {
            let meta = NewModalMeta {
                channel: Some(channel_id.clone()),
                thread_ts: Some(thread_ts.clone()),
            };
            (
                "Schedule a reply",
                "Schedule",
                NEW_CALLBACK,
                serde_json::to_string(&meta).ok(),
            )
        }
        ModalMode::EditMessage { id, .. } => {
            ("Edit message", "Save", EDIT_CALLBACK, Some(id.to_string()))
        }
        ModalMode::EditSeries(id) => ("Edit series", "Save", SERIES_CALLBACK, Some(id.to_string())),
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
