//! The modal: its message field is a `rich_text_input`; what is written
//! there is posted as rich text in `blocks`, with its plain rendering as
//! `text`, and comes back as it was when the message is edited.

use chrono::Utc;
use serde_json::{Value, json};
use slack_scheduler::slack::blocks;

use super::{home_showing, opened_field, post_call, posted, without_block_id};
use crate::common::harness::{ALICE, GENERAL, RANDOM, TEAM};
use crate::common::{TestApp, wait_until};
use crate::on_both_backends;

/// A message written in the composer, as Slack's `rich_text_value` gives it.
fn written() -> Value {
    json!({"type": "rich_text", "block_id": "Ab1", "elements": [
        {"type": "rich_text_section", "elements": [
            {"type": "text", "text": "Hi "},
            {"type": "user", "user_id": "U0002"},
            {"type": "text", "text": ", see "},
            {"type": "channel", "channel_id": "C0002"},
            {"type": "text", "text": ": "},
            {"type": "link", "url": "https://example.com/a?b=1&c=2"},
            {"type": "text", "text": " and "},
            {"type": "link", "url": "https://example.com/doc", "text": "the doc"},
            {"type": "text", "text": " "},
            {"type": "emoji", "name": "tada", "unicode": "1f389"},
            {"type": "text", "text": "\n<b> & > are "},
            {"type": "text", "text": "literal", "style": {"bold": true}},
            {"type": "text", "text": " שלום עולם \u{200f}\n"},
        ]},
        {"type": "rich_text_list", "style": "bullet", "indent": 0, "border": 0, "elements": [
            {"type": "rich_text_section", "elements": [{"type": "text", "text": "first"}]},
            {"type": "rich_text_section", "elements": [{"type": "text", "text": "second"}]},
        ]},
        {"type": "rich_text_quote", "elements": [{"type": "text", "text": "quoted"}]},
        {"type": "rich_text_preformatted", "border": 0, "elements": [{"type": "text", "text": "a < b && c"}]},
    ]})
}

/// Its plain rendering: the post's `text`, and what Slack keeps of it.
const RENDERED: &str = "Hi <@U0002>, see <#C0002>: <https://example.com/a?b=1&amp;c=2> and <https://example.com/doc|the doc> :tada:\n\
&lt;b&gt; &amp; &gt; are *literal* שלום עולם \u{200f}\n\
• first\n\
• second\n\
&gt; quoted\n\
```a &lt; b &amp;&amp; c```";

/// The start of its preview in lists.
const PREVIEW: &str = "Hi <@U0002>, see <#C0002>: <https://example.com/a?b=1&amp;c=2> and <https://example.com/doc|the doc> :tada: &lt;b&gt; &amp; &gt; are *literal*";

fn in_hours(hours: i64) -> Option<i64> {
    Some((Utc::now() + chrono::Duration::hours(hours)).timestamp())
}

on_both_backends! {
    async fn a_modal_message_is_posted_as_rich_text_with_its_plain_rendering(db: TestDb) {
        let app = TestApp::start(&db).await;
        app.install(ALICE).await;
        let when = (Utc::now() + chrono::Duration::seconds(2)).timestamp();
        let answer = app.submit_rich(ALICE, None, Some(GENERAL), written(), Some(when)).await;
        assert_eq!((answer.status, answer.body.as_str()), (200, ""), "closes the modal");
        let stored = &app.messages().await[0];
        assert_eq!(stored.text, RENDERED, "the plain rendering is the message's text");
        let rich: Value = serde_json::from_str(stored.rich_text.as_deref().expect("rich text")).expect("json");
        assert_eq!(rich, without_block_id(written()), "the rich text as written");

        let confirmation = wait_until("the confirmation", std::time::Duration::from_secs(5), || async { app.last_ephemeral_text() }).await;
        assert!(confirmation.contains(PREVIEW), "{confirmation}");

        let posted = posted(&app, GENERAL, 1).await;
        assert_eq!(posted[0].text, RENDERED, "Slack keeps the rendering as sent");
        let call = post_call(&app, RENDERED);
        assert_eq!(call["blocks"], json!([without_block_id(written())]), "the rich text, in blocks");
        assert_eq!(posted[0].blocks, Some(call["blocks"].clone()), "accepted as valid Block Kit");
    }
}

on_both_backends! {
    async fn a_modal_message_round_trips_through_an_edit(db: TestDb) {
        let app = TestApp::start(&db).await;
        app.install(ALICE).await;
        app.submit_rich(ALICE, None, Some(GENERAL), written(), in_hours(2)).await;
        let id = app.messages().await[0].id;
        let home = home_showing(&app, PREVIEW).await;
        assert!(home.contains("*literal*"), "styled as mrkdwn: {home}");

        app.press(TEAM, ALICE, blocks::ACTION_EDIT, &id.to_string(), false).await;
        let field = opened_field(&app, 0).await;
        assert_eq!(field["initial_value"], without_block_id(written()), "opens as it was written");

        let changed = app.sim.composed(TEAM, "Changed: ask @alice in #random & <i>now</i> :wave:");
        let answer = app.submit_rich(ALICE, Some(id), Some(RANDOM), changed.clone(), in_hours(3)).await;
        assert_eq!((answer.status, answer.body.as_str()), (200, ""));
        let saved = app.store.message(id).await.expect("read").expect("row");
        assert_eq!(saved.text, "Changed: ask <@U0001> in <#C0002> &amp; &lt;i&gt;now&lt;/i&gt; :wave:");
        let rich: Value = serde_json::from_str(saved.rich_text.as_deref().expect("rich text")).expect("json");
        assert_eq!(rich, without_block_id(changed.clone()), "both replaced");

        app.press(TEAM, ALICE, blocks::ACTION_EDIT, &id.to_string(), false).await;
        let again = opened_field(&app, 1).await;
        assert_eq!(again["initial_value"], without_block_id(changed), "and opens as saved");
        let list = app.command(ALICE, GENERAL, "list").await;
        assert!(list.body.contains("Changed: ask <@U0001> in <#C0002> &amp; &lt;i&gt;now&lt;/i&gt;"), "{}", list.body);
    }
}

on_both_backends! {
    async fn the_modal_counts_four_thousand_characters_of_the_rendering(db: TestDb) {
        let app = TestApp::start(&db).await;
        app.install(ALICE).await;
        for (typed, ok) in [("<".repeat(4_000), true), ("é".repeat(4_000), true), ("<".repeat(4_001), false), ("  \n ".into(), false)] {
            let answer = app.submit(ALICE, None, Some(GENERAL), &typed, in_hours(1)).await;
            let error = answer.json().and_then(|v| v["errors"][blocks::TEXT_BLOCK].as_str().map(str::to_owned));
            assert_eq!(error.is_none(), ok, "{}: {:?}", typed.chars().count(), error);
        }
        let kept: Vec<String> = app.messages().await.into_iter().map(|m| m.text).collect();
        assert_eq!(kept, ["&lt;".repeat(4_000), "é".repeat(4_000)]);
    }
}

on_both_backends! {
    async fn a_message_field_that_is_not_rich_text_is_refused_in_words(db: TestDb) {
        let app = TestApp::start(&db).await;
        app.install(ALICE).await;
        let answer = app.submit_rich(ALICE, None, Some(GENERAL), json!({"type": "section", "text": "x"}), in_hours(1)).await;
        let errors = answer.json().expect("json")["errors"].clone();
        assert!(errors[blocks::TEXT_BLOCK].as_str().expect("error").contains("could not be read"), "{errors}");
        assert!(app.messages().await.is_empty(), "nothing stored");
    }
}

on_both_backends! {
    /// A modal opened before the field was rich text (views live on in the
    /// client) sends a plain-text value: its words are stored as markup.
    async fn a_modal_opened_before_the_field_was_rich_text_still_schedules(db: TestDb) {
        let app = TestApp::start(&db).await;
        app.install(ALICE).await;
        let field = json!({"type": "plain_text_input", "value": "old form: a <b> & c"});
        let answer = app.submit_field(ALICE, None, Some(GENERAL), field, in_hours(1)).await;
        assert_eq!((answer.status, answer.body.as_str()), (200, ""));
        let stored = &app.messages().await[0];
        assert_eq!((stored.text.as_str(), stored.rich_text.as_deref()), ("old form: a &lt;b&gt; &amp; c", None));
    }
}
