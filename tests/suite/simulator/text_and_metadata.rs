//! Text as Slack stores it, and what Slack does with metadata on posts made
//! with a user token (accepted, refused or dropped, chosen per test).

use serde_json::json;
use slack_scheduler::sim::{MetadataMode, SimSettings, Simulator};

use super::{ALICE, BOB, GENERAL, TEAM, call, simulator, simulator_with};

const WRITTEN: &str =
    "a <b> & c, see https://example.com or www.example.com, ask <@U0002> in <#C0001|general>";
const STORED: &str = "a &lt;b&gt; &amp; c, see <https://example.com> or <http://www.example.com|www.example.com>, ask <@U0002> in <#C0001|general>";

#[tokio::test]
async fn text_is_stored_and_returned_as_slack_stores_it() {
    let sim = simulator().await;
    let alice = sim.install(TEAM, ALICE).user_access;
    let (_, _, posted) = call(
        &sim,
        "chat.postMessage",
        Some(&alice),
        json!({"channel": GENERAL, "text": WRITTEN}),
    )
    .await;
    assert_eq!(
        posted["message"]["text"], STORED,
        "the answer carries the stored form"
    );
    assert_eq!(sim.messages(Some(GENERAL))[0].text, STORED);
    let (_, _, history) = call(
        &sim,
        "conversations.history",
        Some(&alice),
        json!({"channel": GENERAL}),
    )
    .await;
    assert_eq!(history["messages"][0]["text"], STORED);
    // The record keeps what the app sent.
    assert_eq!(
        sim.calls(Some("chat.postMessage"))[0].params["text"],
        WRITTEN
    );
}

fn metadata() -> serde_json::Value {
    json!({"event_type": "scheduled_message", "event_payload": {"scheduled_message_id": "7"}})
}

async fn with_metadata_mode(mode: MetadataMode) -> (Simulator, String, String) {
    let sim = simulator_with(SimSettings {
        user_token_metadata: mode,
        ..SimSettings::default()
    })
    .await;
    let tokens = sim.install(TEAM, ALICE);
    (sim, tokens.user_access, tokens.bot_access)
}

/// What `conversations.history` returns of the newest message's metadata.
async fn newest_metadata(sim: &Simulator, token: &str) -> serde_json::Value {
    let (_, _, history) = call(
        sim,
        "conversations.history",
        Some(token),
        json!({"channel": GENERAL, "include_all_metadata": "true"}),
    )
    .await;
    history["messages"][0]["metadata"].clone()
}

#[tokio::test]
async fn accepted_metadata_on_a_user_token_post_is_kept_and_returned() {
    let (sim, alice, _) = with_metadata_mode(MetadataMode::Accepted).await;
    let (_, _, posted) = call(
        &sim,
        "chat.postMessage",
        Some(&alice),
        json!({"channel": GENERAL, "text": "hi", "metadata": metadata()}),
    )
    .await;
    assert_eq!(posted["ok"], true);
    assert_eq!(newest_metadata(&sim, &alice).await, metadata());
}

#[tokio::test]
async fn refused_metadata_on_a_user_token_post_posts_nothing() {
    let (sim, alice, bot) = with_metadata_mode(MetadataMode::Refused).await;
    let (status, _, refused) = call(
        &sim,
        "chat.postMessage",
        Some(&alice),
        json!({"channel": GENERAL, "text": "hi", "metadata": metadata()}),
    )
    .await;
    assert_eq!(
        (status, refused),
        (
            200,
            json!({"ok": false, "error": "metadata_must_be_sent_from_app"})
        )
    );
    assert!(sim.messages(None).is_empty());
    // Without metadata the same post goes through.
    let (_, _, posted) = call(
        &sim,
        "chat.postMessage",
        Some(&alice),
        json!({"channel": GENERAL, "text": "hi"}),
    )
    .await;
    assert_eq!(posted["ok"], true);
    // The bot's posts keep theirs.
    let (_, _, posted) = call(
        &sim,
        "chat.postMessage",
        Some(&bot),
        json!({"channel": ALICE, "text": "dm", "metadata": metadata()}),
    )
    .await;
    assert_eq!(posted["ok"], true);
    assert_eq!(sim.messages(Some("D0001"))[0].metadata, Some(metadata()));
}

#[tokio::test]
async fn dropped_metadata_on_a_user_token_post_is_posted_without_it() {
    let (sim, alice, bot) = with_metadata_mode(MetadataMode::Dropped).await;
    let (_, _, posted) = call(
        &sim,
        "chat.postMessage",
        Some(&alice),
        json!({"channel": GENERAL, "text": "hi", "metadata": metadata()}),
    )
    .await;
    assert_eq!(posted["ok"], true, "Slack says nothing about it");
    assert!(posted["message"].get("metadata").is_none());
    assert_eq!(sim.messages(Some(GENERAL))[0].metadata, None);
    // A bot-token post in the same workspace keeps its metadata.
    sim.add_channel(TEAM, "C0500", "with-bot", &[ALICE, BOB, "UB0001"]);
    let (_, _, posted) = call(
        &sim,
        "chat.postMessage",
        Some(&bot),
        json!({"channel": "C0500", "text": "bot", "metadata": metadata()}),
    )
    .await;
    assert_eq!(posted["message"]["metadata"], metadata());
}
