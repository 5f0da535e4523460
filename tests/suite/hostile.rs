//! Hostile input with a known answer, through the real server: replayed
//! requests, injection in message text (stored and posted as Slack keeps
//! it), emoji and right-to-left text, the 4,000-character boundary, and
//! action values naming other people's messages.

use std::time::Duration;

use chrono::Utc;
use serde_json::json;
use slack_scheduler::sim::outbound::sign;
use slack_scheduler::slack::blocks;

use crate::common::harness::{ALICE, BOB, GENERAL, TEAM};
use crate::common::{TestApp, wait_until};
use crate::on_both_backends;

/// Posts `body` to `path` with exactly the given signature headers.
async fn post_signed(
    app: &TestApp,
    path: &str,
    content_type: &str,
    body: &str,
    ts: i64,
    signature: &str,
) -> u16 {
    app.http
        .post(format!("{}{path}", app.url))
        .header("content-type", content_type)
        .header("x-slack-request-timestamp", ts.to_string())
        .header("x-slack-signature", signature)
        .body(body.to_owned())
        .send()
        .await
        .expect("request")
        .status()
        .as_u16()
}

on_both_backends! {
    async fn a_replayed_request_is_acted_on_once(db: TestDb) {
        let app = TestApp::start(&db).await;
        app.install(ALICE).await;
        let secret = app.sim.settings().signing_secret;
        let ts = Utc::now().timestamp();
        let form = "application/x-www-form-urlencoded";

        // A slash command captured and sent again, same signature, within five minutes.
        let command = serde_urlencoded::to_string([("team_id", TEAM), ("user_id", ALICE), ("channel_id", GENERAL),
            ("command", "/schedule"), ("text", "in 2 hours only once"), ("trigger_id", "111.222.replayed")]).expect("form");
        let signature = sign(&secret, ts, &command);
        assert_eq!(post_signed(&app, "/slack/commands", form, &command, ts, &signature).await, 200);
        assert_eq!(post_signed(&app, "/slack/commands", form, &command, ts, &signature).await, 200, "a replay is answered");
        // A modal submission, the same.
        let when = (Utc::now() + chrono::Duration::hours(3)).timestamp();
        let payload = json!({"type": "view_submission", "team": {"id": TEAM}, "user": {"id": ALICE, "team_id": TEAM},
            "trigger_id": "333.444.replayed", "view": {"id": "V1", "callback_id": blocks::NEW_CALLBACK, "private_metadata": "",
            "state": {"values": {
                blocks::CHANNEL_BLOCK: {blocks::CHANNEL_ACTION: {"type": "conversations_select", "selected_conversation": GENERAL}},
                blocks::TEXT_BLOCK: {blocks::TEXT_ACTION: {"type": "plain_text_input", "value": "modal only once"}},
                blocks::WHEN_BLOCK: {blocks::WHEN_ACTION: {"type": "datetimepicker", "selected_date_time": when}}}}}});
        let submission = serde_urlencoded::to_string([("payload", payload.to_string())]).expect("form");
        let signature = sign(&secret, ts, &submission);
        for _ in 0..2 {
            assert_eq!(post_signed(&app, "/slack/interactivity", form, &submission, ts, &signature).await, 200);
        }
        // An event: handled once, acknowledged every time.
        let event = json!({"type": "event_callback", "team_id": TEAM, "event_id": "Ev-replayed",
            "event": {"type": "tokens_revoked", "tokens": {"oauth": [BOB], "bot": []}}}).to_string();
        let signature = sign(&secret, ts, &event);
        for _ in 0..2 {
            assert_eq!(post_signed(&app, "/slack/events", "application/json", &event, ts, &signature).await, 200);
        }

        let texts: Vec<String> = app.messages().await.into_iter().map(|m| m.text).collect();
        assert_eq!(texts, ["only once", "modal only once"], "each action stored once");
        let events = app.store.query_text_raw("SELECT event_id FROM slack_events").await.expect("read");
        assert_eq!(events, [["Ev-replayed"]]);
        // What a replay cannot do: pass once its timestamp is over five minutes old.
        let old = ts - 301;
        let stale = sign(&secret, old, &command.replace("replayed", "stale"));
        assert_eq!(post_signed(&app, "/slack/commands", form, &command.replace("replayed", "stale"), old, &stale).await, 401);
    }
}

/// Text that must reach Slack as it was written, and what Slack keeps of
/// it: its markup, where `&`, `<` and `>` are escaped (the slash command
/// receives them so, the modal's rich text is rendered so) and shown as
/// themselves. A mention or a broadcast typed as literal characters stays
/// literal: only Slack's own mentions mention.
const HOSTILE: [(&str, &str); 6] = [
    (
        "'); DROP TABLE scheduled_messages; -- and \" quotes \\ too",
        "'); DROP TABLE scheduled_messages; -- and \" quotes \\ too",
    ),
    (
        "{\"blocks\":[{\"type\":\"section\",\"text\":{\"type\":\"mrkdwn\",\"text\":\"*injected*\"}}]}",
        "{\"blocks\":[{\"type\":\"section\",\"text\":{\"type\":\"mrkdwn\",\"text\":\"*injected*\"}}]}",
    ),
    ("Ship it 🎉🚀 👩‍👩‍👧 with emoji", "Ship it 🎉🚀 👩‍👩‍👧 with emoji"),
    (
        "مرحبا بالعالم שלום עולם \u{200f}mixed\u{202e}RTL",
        "مرحبا بالعالم שלום עולם \u{200f}mixed\u{202e}RTL",
    ),
    (
        "%00 %s %n {} $1 ${HOME} `rm -rf` \u{7}bell",
        "%00 %s %n {} $1 ${HOME} `rm -rf` \u{7}bell",
    ),
    (
        "<script>alert('x')</script> & <@U0002> &amp; <!channel> 1 > 0",
        "&lt;script&gt;alert('x')&lt;/script&gt; &amp; &lt;@U0002&gt; &amp;amp; &lt;!channel&gt; 1 &gt; 0",
    ),
];

on_both_backends! {
    /// Each text goes in through the slash command and through the modal.
    async fn hostile_text_is_stored_and_posted_as_slack_keeps_it(db: TestDb) {
        let app = TestApp::start(&db).await;
        app.install(ALICE).await;
        for (typed, _) in HOSTILE {
            let answer = app.command(ALICE, GENERAL, &format!("in 2 seconds {typed}")).await;
            assert_eq!(answer.status, 200, "{typed}: {}", answer.body);
            let when = (Utc::now() + chrono::Duration::seconds(2)).timestamp();
            let answer = app.submit(ALICE, None, Some(GENERAL), typed, Some(when)).await;
            assert_eq!(answer.status, 200, "{typed}: {}", answer.body);
        }
        let stored: Vec<String> = app.messages().await.into_iter().map(|m| m.text).collect();
        let expected: Vec<&str> = HOSTILE.iter().flat_map(|(_, kept)| [*kept, *kept]).collect();
        assert_eq!(stored, expected, "stored as Slack keeps it, whichever way it came");
        let posted = wait_until("every message is posted", Duration::from_secs(20), || async {
            let posted: Vec<String> = app.sim.messages(Some(GENERAL)).into_iter().filter(|m| !m.as_bot).map(|m| m.text).collect();
            (posted.len() == expected.len()).then_some(posted)
        })
        .await;
        for (_, kept) in HOSTILE {
            assert_eq!(posted.iter().filter(|p| *p == kept).count(), 2, "Slack keeps {kept:?}: {posted:?}");
        }
        assert!(app.store.ping().await.is_ok(), "and the tables are all still there");
    }
}

on_both_backends! {
    async fn four_thousand_characters_pass_and_four_thousand_and_one_are_refused(db: TestDb) {
        let app = TestApp::start(&db).await;
        app.install(ALICE).await;
        let when = Some((Utc::now() + chrono::Duration::hours(2)).timestamp());
        for (long, ok) in [("a".repeat(4_000), true), ("é".repeat(4_000), true), ("a".repeat(4_001), false), ("🎉".repeat(4_001), false)] {
            let reply = app.command(ALICE, GENERAL, &format!("in 2 hours {long}")).await;
            assert_eq!(reply.status, 200);
            assert_eq!(reply.body.contains("4,000"), !ok, "{}", &reply.body[..reply.body.len().min(200)]);
            let answer = app.submit(ALICE, None, Some(GENERAL), &long, when).await;
            let error = answer.json().and_then(|v| v["errors"][blocks::TEXT_BLOCK].as_str().map(str::to_owned));
            assert_eq!(error.is_some_and(|e| e.contains("4,000")), !ok, "{}", &answer.body[..answer.body.len().min(200)]);
        }
        let lengths: Vec<usize> = app.messages().await.iter().map(|m| m.text.chars().count()).collect();
        assert_eq!(lengths, [4_000; 4], "only the ones within the limit, each whole");
    }
}

on_both_backends! {
    async fn action_values_naming_other_peoples_messages_change_nothing(db: TestDb) {
        let app = TestApp::start(&db).await;
        app.install(ALICE).await;
        app.install(BOB).await;
        for text in ["alice one", "alice two"] {
            app.command(ALICE, GENERAL, &format!("in 3 hours {text}")).await;
        }
        let before = app.messages().await;
        let mut values: Vec<String> = before.iter().map(|m| m.id.to_string()).collect();
        values.extend(["-1", "0", "1e3", "99999999999999999999", "1 OR 1=1", "' OR '1'='1", ""].map(str::to_owned));
        let actions = [blocks::ACTION_CANCEL, blocks::ACTION_EDIT, blocks::ACTION_SEND_NOW];
        for value in &values {
            for action in actions {
                let answer = app.press(TEAM, BOB, action, value, true).await;
                assert_eq!(answer.status, 200);
            }
        }
        for m in &before {
            let when = (Utc::now() + chrono::Duration::hours(5)).timestamp();
            let answer = app.submit(BOB, Some(m.id), Some(GENERAL), "hijacked", Some(when)).await;
            assert!(answer.body.contains("not yours"), "{}", answer.body);
        }
        // Bob is told no for each of alice's ids, for each button.
        let refusals = || app.sim.ephemerals().iter().filter(|e| e.body.to_string().contains("not yours")).count();
        wait_until("bob's refusals", Duration::from_secs(10), || async { (refusals() >= before.len() * actions.len()).then_some(()) }).await;
        assert_eq!(app.messages().await, before, "nothing changed");
        assert!(app.sim.views().iter().all(|v| v.view["type"] != "modal"), "no edit modal opened for bob");
    }
}
