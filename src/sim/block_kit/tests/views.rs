//! Views: modal and Home tab fields, input blocks and their elements.

use serde_json::json;

use super::Payload::View;
use super::{Case, button, home, input, md, modal, pt};

pub(super) fn cases() -> Vec<Case> {
    vec![
        // Modals.
        (
            "a modal with an input of each kind the app uses",
            View(modal(json!([
                input(json!({"type": "conversations_select", "action_id": "c", "placeholder": pt("Pick"), "default_to_current_conversation": true, "response_url_enabled": true, "filter": {"include": ["public", "im"]}})),
                {"type": "input", "block_id": "t", "label": pt("Message"), "element": {"type": "plain_text_input", "action_id": "t", "multiline": true, "max_length": 3000, "initial_value": "draft"}},
                {"type": "input", "block_id": "w", "label": pt("When"), "hint": pt("In your zone"), "element": {"type": "datetimepicker", "action_id": "w", "initial_date_time": 1_798_000_000}},
            ]))),
            None,
        ),
        (
            "a modal title of 25 characters",
            View(json!({"type": "modal", "title": pt(&"t".repeat(25)), "blocks": []})),
            Some(("must be less than 25 characters", "/view/title/text")),
        ),
        (
            "a mrkdwn modal title",
            View(json!({"type": "modal", "title": md("t"), "blocks": []})),
            Some(("must be plain_text", "/view/title/type")),
        ),
        (
            "a submit label of 25 characters",
            View(
                json!({"type": "modal", "title": pt("t"), "submit": pt(&"s".repeat(25)), "blocks": []}),
            ),
            Some(("must be less than 25 characters", "/view/submit/text")),
        ),
        (
            "a close label of 25 characters",
            View(
                json!({"type": "modal", "title": pt("t"), "close": pt(&"c".repeat(25)), "blocks": []}),
            ),
            Some(("must be less than 25 characters", "/view/close/text")),
        ),
        (
            "a modal without a title",
            View(json!({"type": "modal", "blocks": []})),
            Some(("missing required field: title", "/view")),
        ),
        (
            "a modal with inputs but no submit",
            View(
                json!({"type": "modal", "title": pt("t"), "blocks": [input(json!({"type": "plain_text_input"}))]}),
            ),
            Some(("missing required field: submit", "/view")),
        ),
        (
            "private_metadata of 3001 characters",
            View(json!({"type": "home", "blocks": [], "private_metadata": "m".repeat(3001)})),
            Some((
                "must be less than 3001 characters",
                "/view/private_metadata",
            )),
        ),
        (
            "a callback_id of 256 characters",
            View(
                json!({"type": "modal", "title": pt("t"), "blocks": [], "callback_id": "c".repeat(256)}),
            ),
            Some(("must be less than 256 characters", "/view/callback_id")),
        ),
        (
            "a view of another type",
            View(json!({"type": "workflow_step", "blocks": []})),
            Some(("must be a valid enum value", "/view/type")),
        ),
        (
            "a mrkdwn input label",
            View(modal(
                json!([{"type": "input", "label": md("x"), "element": {"type": "plain_text_input"}}]),
            )),
            Some(("must be plain_text", "/view/blocks/0/label/type")),
        ),
        (
            "a mrkdwn placeholder",
            View(modal(json!([input(
                json!({"type": "plain_text_input", "placeholder": md("x")})
            )]))),
            Some((
                "must be plain_text",
                "/view/blocks/0/element/placeholder/type",
            )),
        ),
        (
            "an input without an element",
            View(modal(json!([{"type": "input", "label": pt("x")}]))),
            Some(("missing required field: element", "/view/blocks/0")),
        ),
        (
            "a button as an input's element",
            View(modal(json!([input(button("x"))]))),
            Some(("unsupported type: button", "/view/blocks/0/element/type")),
        ),
        (
            "max_length of 3001",
            View(modal(json!([input(
                json!({"type": "plain_text_input", "max_length": 3001})
            )]))),
            Some(("must be at most 3000", "/view/blocks/0/element/max_length")),
        ),
        (
            "min_length above max_length",
            View(modal(json!([input(
                json!({"type": "plain_text_input", "min_length": 10, "max_length": 5})
            )]))),
            Some((
                "min_length must not be greater than max_length",
                "/view/blocks/0/element/min_length",
            )),
        ),
        (
            "an initial value longer than max_length",
            View(modal(json!([input(
                json!({"type": "plain_text_input", "max_length": 3, "initial_value": "four"})
            )]))),
            Some((
                "must be less than 4 characters",
                "/view/blocks/0/element/initial_value",
            )),
        ),
        (
            "a date-time that is not a number",
            View(modal(json!([input(
                json!({"type": "datetimepicker", "initial_date_time": "tomorrow"})
            )]))),
            Some((
                "must provide an integer",
                "/view/blocks/0/element/initial_date_time",
            )),
        ),
        (
            "a conversation filter of another kind",
            View(modal(json!([input(
                json!({"type": "conversations_select", "filter": {"include": ["group"]}})
            )]))),
            Some((
                "must be a valid enum value",
                "/view/blocks/0/element/filter/include/0",
            )),
        ),
        (
            "response_url_enabled outside a modal input",
            View(home(
                json!([{"type": "actions", "elements": [{"type": "conversations_select", "response_url_enabled": true}]}]),
            )),
            Some((
                "only available in input blocks in modals",
                "/view/blocks/0/elements/0/response_url_enabled",
            )),
        ),
        (
            "a static select of plain options",
            View(modal(json!([input(
                json!({"type": "static_select", "options": [{"text": pt("One"), "value": "1"}]})
            )]))),
            None,
        ),
        (
            "a mrkdwn option in a select",
            View(modal(json!([input(
                json!({"type": "static_select", "options": [{"text": md("*One*"), "value": "1"}]})
            )]))),
            Some((
                "must be plain_text",
                "/view/blocks/0/element/options/0/text/type",
            )),
        ),
        (
            "a mrkdwn option in radio buttons",
            View(modal(json!([input(
                json!({"type": "radio_buttons", "options": [{"text": md("*One*"), "value": "1"}]})
            )]))),
            None,
        ),
        (
            "an option value of 151 characters",
            View(modal(json!([input(
                json!({"type": "static_select", "options": [{"text": pt("One"), "value": "v".repeat(151)}]})
            )]))),
            Some((
                "must be less than 151 characters",
                "/view/blocks/0/element/options/0/value",
            )),
        ),
        (
            "a number input within its bounds",
            View(modal(json!([input(
                json!({"type": "number_input", "is_decimal_allowed": false, "action_id": "n", "min_value": "1", "max_value": "1000", "initial_value": "10"})
            )]))),
            None,
        ),
        (
            "a number input without is_decimal_allowed",
            View(modal(json!([input(
                json!({"type": "number_input", "action_id": "n"})
            )]))),
            Some((
                "missing required field: is_decimal_allowed",
                "/view/blocks/0/element",
            )),
        ),
        (
            "a number input starting outside its bounds",
            View(modal(json!([input(
                json!({"type": "number_input", "is_decimal_allowed": false, "min_value": "1", "max_value": "5", "initial_value": "9"})
            )]))),
            Some((
                "initial_value must lie between",
                "/view/blocks/0/element/initial_value",
            )),
        ),
        (
            "a whole-number input given a fraction",
            View(modal(json!([input(
                json!({"type": "number_input", "is_decimal_allowed": false, "initial_value": "1.5"})
            )]))),
            Some(("must be a number", "/view/blocks/0/element/initial_value")),
        ),
        (
            "a multi-conversation select of up to nine",
            View(modal(json!([input(
                json!({"type": "multi_conversations_select", "action_id": "a", "max_selected_items": 9, "placeholder": pt("More")})
            )]))),
            None,
        ),
        (
            "a multi-conversation select allowing none",
            View(modal(json!([input(
                json!({"type": "multi_conversations_select", "max_selected_items": 0})
            )]))),
            Some((
                "max_selected_items",
                "/view/blocks/0/element/max_selected_items",
            )),
        ),
    ]
}
