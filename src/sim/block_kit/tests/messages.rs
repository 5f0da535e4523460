//! Messages: counts, block types, text objects, buttons and their
//! confirmation dialogs, context, `block_id`.

use serde_json::json;

use super::Payload::{Message, View};
use super::{Case, button, confirm, home, many, md, modal, pt, section};

pub(super) fn cases() -> Vec<Case> {
    vec![
        // Surfaces and counts.
        (
            "a plain section message",
            Message(json!([section("hello")])),
            None,
        ),
        ("50 blocks in a message", Message(many(50)), None),
        (
            "51 blocks in a message",
            Message(many(51)),
            Some(("no more than 50 items allowed", "/blocks")),
        ),
        ("100 blocks in a Home tab", View(home(many(100))), None),
        (
            "101 blocks in a Home tab",
            View(home(many(101))),
            Some(("no more than 100 items allowed", "/view/blocks")),
        ),
        (
            "101 blocks in a modal",
            View(modal(many(101))),
            Some(("no more than 100 items allowed", "/view/blocks")),
        ),
        (
            "blocks that are not an array",
            Message(json!({"type": "section"})),
            Some(("must provide an array", "/blocks")),
        ),
        (
            "an unknown block type",
            Message(json!([{"type": "carousel"}])),
            Some(("unsupported type: carousel", "/blocks/0/type")),
        ),
        (
            "a block without a type",
            Message(json!([{"text": md("x")}])),
            Some(("missing required field: type", "/blocks/0")),
        ),
        (
            "an unknown field",
            Message(json!([{"type": "divider", "colour": "red"}])),
            Some(("invalid additional property: colour", "/blocks/0")),
        ),
        (
            "a markdown block in a Home tab",
            View(home(json!([{"type": "markdown", "text": "**x**"}]))),
            Some(("unsupported type: markdown", "/view/blocks/0/type")),
        ),
        // Text objects.
        (
            "section text of 3000 characters",
            Message(json!([section(&"a".repeat(3000))])),
            None,
        ),
        (
            "section text of 3001 characters",
            Message(json!([section(&"a".repeat(3001))])),
            Some(("must be less than 3001 characters", "/blocks/0/text/text")),
        ),
        (
            "empty section text",
            Message(json!([section("")])),
            Some(("must be more than 0 characters", "/blocks/0/text/text")),
        ),
        (
            "a section without text or fields",
            Message(json!([{"type": "section"}])),
            Some(("missing required field: text or fields", "/blocks/0")),
        ),
        (
            "eleven section fields",
            Message(json!([{"type": "section", "fields": vec![md("f"); 11]}])),
            Some(("no more than 10 items allowed", "/blocks/0/fields")),
        ),
        (
            "a text object of another type",
            Message(json!([{"type": "section", "text": {"type": "html", "text": "x"}}])),
            Some(("must be a valid enum value", "/blocks/0/text/type")),
        ),
        (
            "verbatim on plain text",
            Message(
                json!([{"type": "header", "text": {"type": "plain_text", "text": "x", "verbatim": true}}]),
            ),
            Some(("invalid additional property: verbatim", "/blocks/0/text")),
        ),
        (
            "a header of 150 characters",
            Message(json!([{"type": "header", "text": pt(&"h".repeat(150))}])),
            None,
        ),
        (
            "a header of 151 characters",
            Message(json!([{"type": "header", "text": pt(&"h".repeat(151))}])),
            Some(("must be less than 151 characters", "/blocks/0/text/text")),
        ),
        (
            "a mrkdwn header",
            Message(json!([{"type": "header", "text": md("x")}])),
            Some(("must be plain_text", "/blocks/0/text/type")),
        ),
        // Buttons and confirmation dialogs.
        (
            "a button with a plain confirm",
            Message(
                json!([{"type": "actions", "elements": [{"type": "button", "text": pt("Cancel"), "confirm": confirm(pt("It will not be sent."))}]}]),
            ),
            None,
        ),
        (
            "mrkdwn in confirm.text",
            Message(
                json!([{"type": "actions", "elements": [{"type": "button", "text": pt("Cancel"), "confirm": confirm(md("It will not be sent."))}]}]),
            ),
            Some((
                "must be plain_text",
                "/blocks/0/elements/0/confirm/text/type",
            )),
        ),
        (
            "a confirm without deny",
            Message(
                json!([{"type": "actions", "elements": [{"type": "button", "text": pt("x"), "confirm": {"title": pt("t"), "text": pt("t"), "confirm": pt("y")}}]}]),
            ),
            Some((
                "missing required field: deny",
                "/blocks/0/elements/0/confirm",
            )),
        ),
        (
            "a confirm title of 101 characters",
            Message(
                json!([{"type": "actions", "elements": [{"type": "button", "text": pt("x"), "confirm": {"title": pt(&"t".repeat(101)), "text": pt("t"), "confirm": pt("y"), "deny": pt("n")}}]}]),
            ),
            Some((
                "must be less than 101 characters",
                "/blocks/0/elements/0/confirm/title/text",
            )),
        ),
        (
            "mrkdwn button text",
            Message(
                json!([{"type": "actions", "elements": [{"type": "button", "text": md("*go*")}]}]),
            ),
            Some(("must be plain_text", "/blocks/0/elements/0/text/type")),
        ),
        (
            "button text of 76 characters",
            Message(json!([{"type": "actions", "elements": [button(&"b".repeat(76))]}])),
            Some((
                "must be less than 76 characters",
                "/blocks/0/elements/0/text/text",
            )),
        ),
        (
            "a button value of 2001 characters",
            Message(
                json!([{"type": "actions", "elements": [{"type": "button", "text": pt("x"), "value": "v".repeat(2001)}]}]),
            ),
            Some((
                "must be less than 2001 characters",
                "/blocks/0/elements/0/value",
            )),
        ),
        (
            "a button url of 3001 characters",
            Message(
                json!([{"type": "actions", "elements": [{"type": "button", "text": pt("x"), "url": format!("https://x.test/{}", "u".repeat(2990))}]}]),
            ),
            Some((
                "must be less than 3001 characters",
                "/blocks/0/elements/0/url",
            )),
        ),
        (
            "a button url that is not a URL",
            Message(
                json!([{"type": "actions", "elements": [{"type": "button", "text": pt("x"), "url": "not a url"}]}]),
            ),
            Some(("must be a valid URL", "/blocks/0/elements/0/url")),
        ),
        (
            "a button style that does not exist",
            Message(
                json!([{"type": "actions", "elements": [{"type": "button", "text": pt("x"), "style": "green"}]}]),
            ),
            Some(("must be a valid enum value", "/blocks/0/elements/0/style")),
        ),
        (
            "an action_id of 256 characters",
            Message(
                json!([{"type": "actions", "elements": [{"type": "button", "text": pt("x"), "action_id": "a".repeat(256)}]}]),
            ),
            Some((
                "must be less than 256 characters",
                "/blocks/0/elements/0/action_id",
            )),
        ),
        (
            "one action_id twice in a block",
            Message(json!([{"type": "actions", "elements": [button("a"), button("b")]}])),
            Some((
                "duplicate action_id in this block: go",
                "/blocks/0/elements/1/action_id",
            )),
        ),
        (
            "one action_id in two blocks",
            Message(
                json!([{"type": "actions", "elements": [button("a")]}, {"type": "actions", "elements": [button("b")]}]),
            ),
            None,
        ),
        (
            "26 elements in an actions block",
            Message(
                json!([{"type": "actions", "elements": (0..26).map(|i| json!({"type": "button", "text": pt("b"), "action_id": format!("a{i}")})).collect::<Vec<_>>()}]),
            ),
            Some(("no more than 25 items allowed", "/blocks/0/elements")),
        ),
        (
            "an empty actions block",
            Message(json!([{"type": "actions", "elements": []}])),
            Some(("must provide at least 1 item", "/blocks/0/elements")),
        ),
        (
            "a text input in an actions block",
            Message(json!([{"type": "actions", "elements": [{"type": "plain_text_input"}]}])),
            Some((
                "unsupported type: plain_text_input",
                "/blocks/0/elements/0/type",
            )),
        ),
        // Context.
        (
            "a context of 10 elements",
            Message(json!([{"type": "context", "elements": vec![md("c"); 10]}])),
            None,
        ),
        (
            "a context of 11 elements",
            Message(json!([{"type": "context", "elements": vec![md("c"); 11]}])),
            Some(("no more than 10 items allowed", "/blocks/0/elements")),
        ),
        (
            "a button in a context",
            Message(json!([{"type": "context", "elements": [button("x")]}])),
            Some(("unsupported type: button", "/blocks/0/elements/0/type")),
        ),
        // block_id.
        (
            "one block_id twice",
            Message(
                json!([{"type": "divider", "block_id": "d"}, {"type": "divider", "block_id": "d"}]),
            ),
            Some(("duplicate block_id: d", "/blocks/1/block_id")),
        ),
        (
            "a block_id of 256 characters",
            Message(json!([{"type": "divider", "block_id": "d".repeat(256)}])),
            Some(("must be less than 256 characters", "/blocks/0/block_id")),
        ),
    ]
}
