//! What people write reaches Slack as they meant it (SPEC §4): through the
//! slash command, escaped by Slack ([`quick`]); through the modal's rich
//! text ([`modal`]); each listed, shown and round-tripped through an edit;
//! a rich-text post in doubt still found by its text ([`doubt`]); and the
//! store keeping the rich text beside the text ([`store`]).

mod doubt;
mod modal;
mod quick;
mod store;

use std::time::Duration;

use serde_json::Value;
use slack_scheduler::sim::PostedMessage;
use slack_scheduler::slack::blocks;

use crate::common::harness::ALICE;
use crate::common::{TestApp, wait_until};

/// The text of an ephemeral JSON answer to a slash command.
fn ephemeral_text(body: &str) -> String {
    let json: Value = serde_json::from_str(body).unwrap_or_else(|_| panic!("JSON answer: {body}"));
    assert_eq!(json["response_type"], "ephemeral", "{body}");
    json["text"].as_str().expect("text").to_owned()
}

/// What alice's messages became in `channel`, once `count` are there.
async fn posted(app: &TestApp, channel: &str, count: usize) -> Vec<PostedMessage> {
    wait_until(
        "the messages are posted",
        Duration::from_secs(20),
        || async {
            let posted: Vec<PostedMessage> = app
                .sim
                .messages(Some(channel))
                .into_iter()
                .filter(|m| m.user == ALICE && !m.as_bot)
                .collect();
            (posted.len() >= count).then_some(posted)
        },
    )
    .await
}

/// The `chat.postMessage` Slack accepted with `text`: what the app sent.
fn post_call(app: &TestApp, text: &str) -> Value {
    let calls: Vec<Value> = app
        .sim
        .calls(Some("chat.postMessage"))
        .into_iter()
        .filter(|c| c.outcome == "ok" && c.params["text"] == text)
        .map(|c| c.params)
        .collect();
    assert_eq!(calls.len(), 1, "one accepted post with that text");
    calls.into_iter().next().unwrap_or_default()
}

/// The message field of the modal opened last, after `opened` modals.
async fn opened_field(app: &TestApp, opened: usize) -> Value {
    wait_until("the modal opens", Duration::from_secs(5), || async {
        let modals: Vec<Value> = app
            .sim
            .views()
            .into_iter()
            .filter(|v| v.view["type"] == "modal")
            .map(|v| v.view)
            .collect();
        (modals.len() > opened).then(|| modals[modals.len() - 1].clone())
    })
    .await["blocks"]
        .as_array()
        .expect("blocks")
        .iter()
        .find(|b| b["block_id"] == blocks::TEXT_BLOCK)
        .expect("the message field")["element"]
        .clone()
}

/// Alice's Home tab, once it shows `needle`.
async fn home_showing(app: &TestApp, needle: &str) -> String {
    wait_until(
        "the Home tab shows the message",
        Duration::from_secs(10),
        || async {
            app.sim
                .home_view(ALICE)
                .map(|v| v.to_string())
                .filter(|v| v.contains(needle))
        },
    )
    .await
}

/// `value` without its `block_id`: what the app keeps and posts of a rich text.
fn without_block_id(mut value: Value) -> Value {
    if let Some(object) = value.as_object_mut() {
        object.remove("block_id");
    }
    value
}
