//! Rich text: the block, its containers and inline elements, and the
//! `rich_text_input` that holds it.

use serde_json::json;

use super::Payload::{Message, View};
use super::{Case, input, modal, pt, rich, section};

pub(super) fn cases() -> Vec<Case> {
    vec![
        // Rich text.
        (
            "rich text of every container and inline element",
            Message(json!([rich(json!([
                {"type": "rich_text_section", "elements": [
                    {"type": "text", "text": "Hi ", "style": {"bold": true}},
                    {"type": "user", "user_id": "U0001"},
                    {"type": "channel", "channel_id": "C0001", "style": {"highlight": true}},
                    {"type": "usergroup", "usergroup_id": "S0001"},
                    {"type": "broadcast", "range": "here"},
                    {"type": "emoji", "name": "wave", "unicode": "1f44b"},
                    {"type": "link", "url": "https://example.com", "text": "a link"},
                    {"type": "date", "timestamp": 1_798_000_000, "format": "{date_short}", "fallback": "Dec 24"},
                ]},
                {"type": "rich_text_list", "style": "bullet", "indent": 1, "elements": [
                    {"type": "rich_text_section", "elements": [{"type": "text", "text": "one"}]},
                ]},
                {"type": "rich_text_quote", "elements": [{"type": "text", "text": "quoted"}]},
                {"type": "rich_text_preformatted", "border": 0, "elements": [{"type": "text", "text": "code"}]},
            ]))])),
            None,
        ),
        (
            "a rich text list of another style",
            Message(json!([rich(
                json!([{"type": "rich_text_list", "style": "dashed", "elements": [{"type": "rich_text_section", "elements": []}]}])
            )])),
            Some(("must be a valid enum value", "/blocks/0/elements/0/style")),
        ),
        (
            "a quote inside a list",
            Message(json!([rich(
                json!([{"type": "rich_text_list", "style": "ordered", "elements": [{"type": "rich_text_quote", "elements": []}]}])
            )])),
            Some((
                "unsupported type: rich_text_quote",
                "/blocks/0/elements/0/elements/0/type",
            )),
        ),
        (
            "an unknown inline element",
            Message(json!([rich(
                json!([{"type": "rich_text_section", "elements": [{"type": "sparkle"}]}])
            )])),
            Some((
                "unsupported type: sparkle",
                "/blocks/0/elements/0/elements/0/type",
            )),
        ),
        (
            "a text element without text",
            Message(json!([rich(
                json!([{"type": "rich_text_section", "elements": [{"type": "text"}]}])
            )])),
            Some((
                "missing required field: text",
                "/blocks/0/elements/0/elements/0",
            )),
        ),
        (
            "a style flag that is not a flag",
            Message(json!([rich(
                json!([{"type": "rich_text_section", "elements": [{"type": "text", "text": "x", "style": {"bold": "yes"}}]}])
            )])),
            Some((
                "must provide a boolean",
                "/blocks/0/elements/0/elements/0/style/bold",
            )),
        ),
        (
            "a style text does not take",
            Message(json!([rich(
                json!([{"type": "rich_text_section", "elements": [{"type": "text", "text": "x", "style": {"sparkle": true}}]}])
            )])),
            Some((
                "invalid additional property: sparkle",
                "/blocks/0/elements/0/elements/0/style",
            )),
        ),
        (
            "every flag the text element's reference lists",
            Message(json!([rich(
                json!([{"type": "rich_text_section", "elements": [{"type": "text", "text": "x", "style":
                    {"bold": true, "italic": true, "strike": true, "code": true, "underline": true,
                     "highlight": true, "client_highlight": true, "unlink": true}}]}])
            )])),
            None,
        ),
        (
            "code on a mention",
            Message(json!([rich(
                json!([{"type": "rich_text_section", "elements": [{"type": "user", "user_id": "U1", "style": {"code": true}}]}])
            )])),
            Some((
                "invalid additional property: code",
                "/blocks/0/elements/0/elements/0/style",
            )),
        ),
        (
            "styled broadcasts, dates, emoji and colors",
            Message(json!([rich(
                json!([{"type": "rich_text_section", "elements": [
                    {"type": "broadcast", "range": "channel", "style": {"bold": true}},
                    {"type": "date", "timestamp": 1, "format": "{date}", "style": {"italic": true}},
                    {"type": "emoji", "name": "wave::skin-tone-2", "style": {"strike": true}},
                    {"type": "color", "value": "#F405B3"},
                ]}])
            )])),
            None,
        ),
        (
            "a mention in a code block",
            Message(json!([rich(
                json!([{"type": "rich_text_preformatted", "elements": [
                    {"type": "text", "text": "ping "}, {"type": "user", "user_id": "U1"}]}])
            )])),
            Some((
                "unsupported type: user",
                "/blocks/0/elements/0/elements/1/type",
            )),
        ),
        (
            "a broadcast to nobody",
            Message(json!([rich(
                json!([{"type": "rich_text_section", "elements": [{"type": "broadcast", "range": "nobody"}]}])
            )])),
            Some((
                "must be a valid enum value",
                "/blocks/0/elements/0/elements/0/range",
            )),
        ),
        (
            "a user mention without a user",
            Message(json!([rich(
                json!([{"type": "rich_text_section", "elements": [{"type": "user"}]}])
            )])),
            Some((
                "missing required field: user_id",
                "/blocks/0/elements/0/elements/0",
            )),
        ),
        (
            "a date without a format",
            Message(json!([rich(
                json!([{"type": "rich_text_section", "elements": [{"type": "date", "timestamp": 1}]}])
            )])),
            Some((
                "missing required field: format",
                "/blocks/0/elements/0/elements/0",
            )),
        ),
        (
            "a border of 2",
            Message(json!([rich(
                json!([{"type": "rich_text_quote", "border": 2, "elements": []}])
            )])),
            Some(("must be at most 1", "/blocks/0/elements/0/border")),
        ),
        (
            "an empty rich text block",
            Message(json!([rich(json!([]))])),
            Some(("must provide at least 1 item", "/blocks/0/elements")),
        ),
        (
            "a rich text input with an initial value",
            View(modal(json!([input(
                json!({"type": "rich_text_input", "action_id": "m", "placeholder": pt("Write"),
            "initial_value": rich(json!([{"type": "rich_text_section", "elements": [{"type": "text", "text": "draft"}]}]))})
            )]))),
            None,
        ),
        (
            "a rich text input whose value is not rich text",
            View(modal(json!([input(
                json!({"type": "rich_text_input", "initial_value": section("x")})
            )]))),
            Some((
                "unsupported type: section",
                "/view/blocks/0/element/initial_value/type",
            )),
        ),
    ]
}
