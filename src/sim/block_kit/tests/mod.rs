//! One row per rule: a payload, and the problem Slack reports for it (or
//! none). The rows live in [`messages`], [`views`] and [`rich_text`].

mod messages;
mod rich_text;
mod views;

use serde_json::{Value, json};

use super::{check_message_blocks, check_view};

fn pt(text: &str) -> Value {
    json!({"type": "plain_text", "text": text})
}

fn md(text: &str) -> Value {
    json!({"type": "mrkdwn", "text": text})
}

fn section(text: &str) -> Value {
    json!({"type": "section", "text": md(text)})
}

fn button(text: &str) -> Value {
    json!({"type": "button", "text": pt(text), "action_id": "go", "value": "1"})
}

fn confirm(text: Value) -> Value {
    json!({"title": pt("Sure?"), "text": text, "confirm": pt("Yes"), "deny": pt("No")})
}

fn modal(blocks: Value) -> Value {
    json!({"type": "modal", "title": pt("Schedule"), "submit": pt("Save"), "close": pt("Close"), "blocks": blocks})
}

fn home(blocks: Value) -> Value {
    json!({"type": "home", "blocks": blocks})
}

fn input(element: Value) -> Value {
    json!({"type": "input", "block_id": "b", "label": pt("Label"), "element": element})
}

fn rich(elements: Value) -> Value {
    json!({"type": "rich_text", "elements": elements})
}

fn many(n: usize) -> Value {
    Value::Array((0..n).map(|_| json!({"type": "divider"})).collect())
}

enum Payload {
    Message(Value),
    View(Value),
}

use Payload::{Message, View};

/// The problem expected among those reported: part of its message, and
/// its JSON pointer.
type Expected = Option<(&'static str, &'static str)>;

/// `(what, payload, None)` is valid; `Some(…)` names the problem.
type Case = (&'static str, Payload, Expected);

/// Checks each case's payload and the problem it is expected to have.
fn answers_as_slack_does(cases: Vec<Case>) {
    for (what, payload, expected) in cases {
        let problems = match &payload {
            Message(blocks) => check_message_blocks(blocks),
            View(view) => check_view(view),
        };
        match expected {
            None => assert!(
                problems.is_empty(),
                "{what}: expected valid, got {problems:?}"
            ),
            Some((message, pointer)) => {
                let wanted = format!("[json-pointer:{pointer}]");
                assert!(
                    problems.iter().any(|p| p.starts_with("[ERROR] ")
                        && p.contains(message)
                        && p.ends_with(&wanted)),
                    "{what}: expected “{message}” at {pointer}, got {problems:?}"
                );
            }
        }
    }
}

#[test]
fn message_rules_answer_as_slack_does() {
    answers_as_slack_does(messages::cases());
}

#[test]
fn view_rules_answer_as_slack_does() {
    answers_as_slack_does(views::cases());
}

#[test]
fn rich_text_rules_answer_as_slack_does() {
    answers_as_slack_does(rich_text::cases());
}

#[test]
fn every_problem_is_reported_not_only_the_first() {
    let problems = check_message_blocks(&json!([section(""), {"type": "header", "text": md("x")}]));
    assert_eq!(problems.len(), 2, "{problems:?}");
}
