//! The scheduling modal: where to post, the message, when. Each field is
//! built by a function of its own and the view around them by another, so
//! that a field is added beside the others without touching them.

use chrono::{DateTime, Utc};
use serde_json::Value;
use slack_morphism::prelude::*;

use super::{
    CHANNEL_ACTION, CHANNEL_BLOCK, EDIT_CALLBACK, NEW_CALLBACK, TEXT_ACTION, TEXT_BLOCK,
    WHEN_ACTION, WHEN_BLOCK, connect_blocks, md_section,
};
use crate::slack::rich_text::RichText;

/// What the scheduling modal starts with.
#[derive(Debug, Clone)]
pub struct ModalSpec {
    /// The message being edited, if any.
    pub editing: Option<i64>,
    /// The conversation to preselect; `None` defaults to where the modal was opened.
    pub channel: Option<String>,
    /// The message to start with (the one being edited, or the text of a
    /// slash command whose time could not be read).
    pub message: Option<RichText>,
    pub due: DateTime<Utc>,
    /// A note above the fields ("I couldn't read a time in …").
    pub notice: Option<String>,
    /// Shown when the user has not connected their account.
    pub connect_url: Option<String>,
}

pub fn schedule_modal(spec: &ModalSpec) -> SlackView {
    let mut blocks = intro_blocks(spec);
    blocks.push(channel_field(spec.channel.as_deref()));
    blocks.push(message_field(spec.message.as_ref()));
    blocks.push(when_field(spec.due));
    modal_view(spec.editing, blocks)
}

/// The note and the offer to connect, above the fields.
fn intro_blocks(spec: &ModalSpec) -> Vec<SlackBlock> {
    let mut blocks: Vec<SlackBlock> = Vec::new();
    if let Some(notice) = &spec.notice {
        blocks.push(md_section(notice.clone()));
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

fn when_field(due: DateTime<Utc>) -> SlackBlock {
    let mut when = SlackBlockDateTimePickerElement::new()
        .with_action_id(SlackActionId::new(WHEN_ACTION.to_owned()));
    if let Ok(initial) = jiff::Timestamp::from_second(due.timestamp()) {
        when = when.with_initial_date_time(SlackDateTime(initial));
    }
    SlackInputBlock::new(pt!("When"), when.into())
        .with_block_id(SlackBlockId::new(WHEN_BLOCK.to_owned()))
        .with_hint(pt!(
            "In your own time zone. It is posted as you, at that minute."
        ))
        .into()
}

/// The view around the fields: a new message, or an edit naming its
/// message in `private_metadata`.
fn modal_view(editing: Option<i64>, blocks: Vec<SlackBlock>) -> SlackView {
    let (title, submit, callback) = match editing {
        Some(_) => ("Edit message", "Save", EDIT_CALLBACK),
        None => ("Schedule a message", "Schedule", NEW_CALLBACK),
    };
    let mut modal = SlackModalView::new(pt!(title), blocks)
        .with_submit(pt!(submit))
        .with_close(pt!("Close"))
        .with_callback_id(SlackCallbackId::new(callback.to_owned()));
    if let Some(id) = editing {
        modal = modal.with_private_metadata(id.to_string());
    }
    SlackView::Modal(modal)
}

/// A small modal that only says something (a refused edit from the Home tab).
pub fn notice_modal(title: &str, text: &str) -> SlackView {
    SlackView::Modal(
        SlackModalView::new(pt!(title), vec![md_section(text.to_owned())]).with_close(pt!("OK")),
    )
}
