//! The slash command: Slack sends the text escaped, its mentions, channels
//! and links as tokens (`should_escape: true`); the app keeps and posts it
//! so.

use std::time::Duration;

use chrono::Utc;
use serde_json::json;
use slack_scheduler::domain::MessageStatus;
use slack_scheduler::sim::SimSettings;
use slack_scheduler::slack::blocks;

use super::{ephemeral_text, home_showing, opened_field, post_call, posted};
use crate::common::harness::{ALICE, GENERAL, TEAM, test_settings, test_sim_settings};
use crate::common::{TestApp, wait_until};
use crate::on_both_backends;

/// What alice types after `/schedule <when>`.
const TYPED: &str = "Hi @bob, see #general & <b>bold</b> at https://example.com/a?b=1&c=2 or www.example.org :tada: שלום";
/// What Slack sends the app of it, and keeps when it is posted.
const SENT: &str = "Hi <@U0002>, see <#C0001|general> &amp; &lt;b&gt;bold&lt;/b&gt; at <https://example.com/a?b=1&amp;c=2> or <http://www.example.org|www.example.org> :tada: שלום";

#[test]
fn the_manifest_escapes_the_command_as_the_simulator_sends_it() {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/manifest.yml"))
        .expect("manifest.yml");
    let docs = yaml_rust2::YamlLoader::load_from_str(&text).expect("manifest.yml is YAML");
    let command = &docs[0]["features"]["slash_commands"][0];
    assert_eq!(command["command"].as_str(), Some("/schedule"));
    assert_eq!(command["should_escape"].as_bool(), Some(true));
    assert!(
        SimSettings::default().escape_commands,
        "the simulator sends what that manifest asks for"
    );
}

on_both_backends! {
    async fn a_quick_message_reaches_slack_with_its_mentions_links_and_escapes(db: TestDb) {
        let app = TestApp::start(&db).await;
        app.install(ALICE).await;
        assert_eq!(app.sim.command_text(TEAM, TYPED), SENT, "what Slack sends");
        let reply = ephemeral_text(&app.command(ALICE, GENERAL, &format!("in 2 seconds {TYPED}")).await.body);
        assert!(reply.starts_with(":calendar: Scheduled for"), "{reply}");
        let stored = app.messages().await;
        assert_eq!((stored[0].text.as_str(), stored[0].rich_text.as_deref()), (SENT, None), "kept as it came");

        let posted = posted(&app, GENERAL, 1).await;
        assert_eq!(posted[0].text, SENT, "Slack keeps it as sent: a mention mentions, a link links");
        let call = post_call(&app, SENT);
        assert!(call.get("blocks").is_none(), "text alone: {call}");
        wait_until("it is recorded as sent", Duration::from_secs(10), || async {
            let m = app.store.message(stored[0].id).await.ok().flatten()?;
            (m.status == MessageStatus::Sent).then_some(())
        })
        .await;
    }
}

on_both_backends! {
    async fn a_quick_message_is_confirmed_listed_and_shown_at_home_as_slack_markup(db: TestDb) {
        let app = TestApp::start(&db).await;
        app.install(ALICE).await;
        let reply = ephemeral_text(&app.command(ALICE, GENERAL, &format!("in 1 hour {TYPED}")).await.body);
        // The preview is mrkdwn: mentions and links stay tokens, escapes stay escaped.
        let shown = "Hi <@U0002>, see <#C0001|general> &amp; &lt;b&gt;bold&lt;/b&gt; at <https://example.com/a?b=1&amp;c=2>";
        assert!(reply.contains(&format!(">{shown}")), "{reply}");

        let list = app.command(ALICE, GENERAL, "list").await;
        assert_eq!(list.invalid_blocks, Vec::<String>::new(), "Slack shows the list");
        let rendered = serde_json::from_str::<serde_json::Value>(&list.body).expect("json")["blocks"].to_string();
        assert!(rendered.contains(shown), "{rendered}");

        let home = home_showing(&app, shown).await;
        assert!(!home.contains("&amp;amp;") && !home.contains("&amp;lt;"), "escaped once: {home}");
    }
}

on_both_backends! {
    /// Edited in the modal, a quick message opens as rich text made from its
    /// markup, and saving keeps its mentions and links.
    async fn a_quick_message_edited_in_the_modal_keeps_its_mentions_and_links(db: TestDb) {
        let app = TestApp::start(&db).await;
        app.install(ALICE).await;
        app.command(ALICE, GENERAL, &format!("in 1 hour {TYPED}")).await;
        let id = app.messages().await[0].id;
        app.press(TEAM, ALICE, blocks::ACTION_EDIT, &id.to_string(), false).await;
        let field = opened_field(&app, 0).await;
        assert_eq!(field["type"], "rich_text_input");
        let initial = field["initial_value"].clone();
        assert_eq!(
            initial["elements"][0]["elements"],
            json!([
                {"type": "text", "text": "Hi "},
                {"type": "user", "user_id": "U0002"},
                {"type": "text", "text": ", see "},
                {"type": "channel", "channel_id": "C0001"},
                {"type": "text", "text": " & <b>bold</b> at "},
                {"type": "link", "url": "https://example.com/a?b=1&c=2"},
                {"type": "text", "text": " or "},
                {"type": "link", "url": "http://www.example.org", "text": "www.example.org"},
                {"type": "text", "text": " "},
                {"type": "emoji", "name": "tada"},
                {"type": "text", "text": " שלום"},
            ])
        );

        // Saved unchanged but for the time: Slack gives the value back with a block_id.
        let mut value = initial.clone();
        value["block_id"] = json!("Zx9");
        let when = (Utc::now() + chrono::Duration::seconds(2)).timestamp();
        let answer = app.submit_rich(ALICE, Some(id), Some(GENERAL), value, Some(when)).await;
        assert_eq!((answer.status, answer.body.as_str()), (200, ""));
        let saved = app.store.message(id).await.expect("read").expect("row");
        // The channel's name label goes: Slack shows the channel's current name.
        let markup = SENT.replace("<#C0001|general>", "<#C0001>");
        assert_eq!(saved.text, markup);
        let rich: serde_json::Value = serde_json::from_str(saved.rich_text.as_deref().expect("rich text kept")).expect("json");
        assert_eq!(rich, initial, "the rich text as it was shown");

        let posted = posted(&app, GENERAL, 1).await;
        assert_eq!(posted[0].text, markup);
        assert_eq!(post_call(&app, &markup)["blocks"], json!([initial]), "posted as the rich text it is");
    }
}

on_both_backends! {
    /// An app whose command was registered before `should_escape` gets the
    /// text as typed; it is still stored as valid markup, `&`, `<` and `>`
    /// escaped (its `@bob` cannot become a mention: Slack sent no id).
    async fn a_command_sent_unescaped_is_still_stored_as_markup(db: TestDb) {
        // Leniency: the simulator plays a workspace whose app configuration
        // predates `should_escape: true`, to see what such an app receives.
        let sim = SimSettings { escape_commands: false, ..test_sim_settings() };
        let app = TestApp::start_with(&db, sim, test_settings(), |_| {}).await;
        app.install(ALICE).await;
        let reply = ephemeral_text(&app.command(ALICE, GENERAL, "in 1 hour a <b> & @bob <https://x.test>").await.body);
        assert!(reply.contains(">a &lt;b&gt; &amp; @bob <https://x.test>"), "{reply}");
        assert_eq!(app.messages().await[0].text, "a &lt;b&gt; &amp; @bob <https://x.test>");
    }
}

on_both_backends! {
    /// The limit counts what the reader sees: `&` is one character, though
    /// Slack sends it as `&amp;`.
    async fn four_thousand_characters_are_counted_as_the_reader_sees_them(db: TestDb) {
        let app = TestApp::start(&db).await;
        app.install(ALICE).await;
        let full = "a&".repeat(2_000);
        let reply = ephemeral_text(&app.command(ALICE, GENERAL, &format!("in 2 seconds {full}")).await.body);
        assert!(reply.starts_with(":calendar:"), "{}", &reply[..reply.len().min(200)]);
        let refused = ephemeral_text(&app.command(ALICE, GENERAL, &format!("in 2 seconds {full}<")).await.body);
        assert!(refused.contains("4001 characters") && refused.contains("4,000"), "{refused}");
        let kept = "a&amp;".repeat(2_000);
        let stored: Vec<String> = app.messages().await.into_iter().map(|m| m.text).collect();
        assert_eq!(stored, std::slice::from_ref(&kept));
        assert_eq!(posted(&app, GENERAL, 1).await[0].text, kept, "Slack receives it whole");
    }
}
