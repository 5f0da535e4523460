//! Rich text: what the modal's `rich_text_input` holds, and what a post
//! carries in its `blocks` (a `rich_text` block), as slack-morphism models
//! it (docs.slack.dev/reference/block-kit/blocks/rich-text-block).
//!
//! A message written in the modal is kept twice: as its rich text (posted
//! in `blocks`, shown again when the message is edited) and as its plain
//! rendering in Slack's markup ([`RichText::markup`]), which is the post's
//! `text` (Slack's notification and fallback) and what lists show. A
//! message written in the slash command has only the markup; when it is
//! edited in the modal, a rich text is made from it
//! ([`RichText::from_markup`]).

mod compose;
mod render;
#[cfg(test)]
mod tests;

use serde_json::Value;
use slack_morphism::prelude::*;

/// A `rich_text` block, without a `block_id` (each message or view that
/// shows it names its own).
#[derive(Debug, Clone, PartialEq)]
pub struct RichText(SlackRichTextBlock);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RichTextError {
    #[error("That message could not be read. Write it again, please.")]
    Unreadable,
}

impl RichText {
    /// A `rich_text_value` from a submitted view, or a stored copy.
    pub fn from_value(value: &Value) -> Result<Self, RichTextError> {
        if value.get("type").and_then(Value::as_str) != Some("rich_text")
            || !value.get("elements").is_some_and(Value::is_array)
        {
            return Err(RichTextError::Unreadable);
        }
        let mut block: SlackRichTextBlock =
            serde_json::from_value(value.clone()).map_err(|_| RichTextError::Unreadable)?;
        block.block_id = None;
        Ok(Self(block))
    }

    /// A copy stored by [`RichText::to_json`].
    pub fn from_json(json: &str) -> Result<Self, RichTextError> {
        let value: Value = serde_json::from_str(json).map_err(|_| RichTextError::Unreadable)?;
        Self::from_value(&value)
    }

    /// The block as JSON, with its `type`: what is stored and posted.
    pub fn to_json(&self) -> String {
        self.to_value().to_string()
    }

    pub fn to_value(&self) -> Value {
        serde_json::to_value(SlackBlock::RichText(self.0.clone()))
            .unwrap_or_else(|_| serde_json::json!({"type": "rich_text", "elements": []}))
    }

    pub fn block(&self) -> &SlackRichTextBlock {
        &self.0
    }

    /// The message as Slack's markup: the post's `text`. Mentions are
    /// `<@U…>`, channels `<#C…>`, links `<url|label>` or `<url>`, emoji
    /// `:name:`; `&`, `<` and `>` in the words are escaped; styles, lists,
    /// quotes and code blocks become their mrkdwn.
    pub fn markup(&self) -> String {
        render::markup(&self.0)
    }

    /// The rich text a message written in Slack's markup (the slash
    /// command's text) reads as: its tokens become mentions and links, its
    /// emoji codes emoji, its mrkdwn styles, quotes and code blocks their
    /// rich text counterparts, so that posting the rich text shows what the
    /// markup showed.
    pub fn from_markup(markup: &str) -> Self {
        Self(compose::rich_text(markup))
    }
}
