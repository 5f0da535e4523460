//! `/schedule`: the modal, its submission, the quick form, list and help.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::Value;
use slack_scheduler::domain::MessageStatus;
use slack_scheduler::domain::when::parse_quick;
use slack_scheduler::slack::blocks;
use slack_scheduler::store::NewMessage;

use crate::common::harness::{ALICE, BOB, GENERAL, RANDOM, TEAM, new_message};
use crate::common::{TestApp, wait_until};
use crate::on_both_backends;

const BERLIN: chrono_tz::Tz = chrono_tz::Europe::Berlin;

async fn opened_modal(app: &TestApp) -> Value {
    wait_until("a modal is opened", Duration::from_secs(5), || async {
        app.sim
            .views()
            .into_iter()
            .rev()
            .find(|v| v.view["type"] == "modal")
            .map(|v| v.view)
    })
    .await
}

fn ephemeral_text(body: &str) -> String {
    let json: Value = serde_json::from_str(body).unwrap_or_else(|_| panic!("JSON answer: {body}"));
    assert_eq!(json["response_type"], "ephemeral", "{body}");
    json["text"].as_str().expect("text").to_owned()
}

fn errors(body: &str) -> Value {
    let json: Value = serde_json::from_str(body).unwrap_or_else(|_| panic!("JSON answer: {body}"));
    assert_eq!(json["response_action"], "errors", "{body}");
    json["errors"].clone()
}

on_both_backends! {
    async fn schedule_without_text_opens_the_modal(db: TestDb) {
        let app = TestApp::start(&db).await;
        app.install(ALICE).await;
        let answer = app.command(ALICE, GENERAL, "").await;
        assert_eq!((answer.status, answer.body.as_str()), (200, ""), "acknowledged at once, empty");
        let modal = opened_modal(&app).await;
        assert_eq!(modal["callback_id"], blocks::NEW_CALLBACK);
        let blocks_json = modal["blocks"].as_array().expect("blocks");
        let channel = blocks_json.iter().find(|b| b["block_id"] == blocks::CHANNEL_BLOCK).expect("channel field");
        assert_eq!(channel["element"]["type"], "conversations_select");
        assert_eq!(channel["element"]["default_to_current_conversation"], true);
        let text = blocks_json.iter().find(|b| b["block_id"] == blocks::TEXT_BLOCK).expect("text field");
        assert_eq!(text["element"]["type"], "rich_text_input", "written as in Slack's composer");
        assert!(text["element"].get("initial_value").is_none(), "empty");
        let when = blocks_json.iter().find(|b| b["block_id"] == blocks::WHEN_BLOCK).expect("when field");
        assert_eq!(when["element"]["type"], "datetimepicker");
        let initial = when["element"]["initial_date_time"].as_i64().expect("initial time");
        assert_eq!(initial, blocks::next_full_hour(Utc::now(), BERLIN).timestamp(), "next full hour in alice's zone");
        // The simulator records a call just after it answers it.
        let opened = wait_until("views.open is recorded", Duration::from_secs(5), || async {
            let calls = app.sim.calls(Some("views.open"));
            (!calls.is_empty()).then_some(calls)
        })
        .await;
        assert_eq!(opened.len(), 1);
        assert_eq!(opened[0].outcome, "ok", "opened within the trigger's three seconds");
    }
}

on_both_backends! {
    async fn a_valid_submission_stores_the_message_and_confirms_in_local_time(db: TestDb) {
        let app = TestApp::start(&db).await;
        app.install(ALICE).await;
        let due = Utc::now() + chrono::Duration::hours(3);
        let due = DateTime::from_timestamp(due.timestamp(), 0).expect("whole seconds");
        let answer = app.submit(ALICE, None, Some(RANDOM), "Quarterly numbers are in", Some(due.timestamp())).await;
        assert_eq!((answer.status, answer.body.as_str()), (200, ""), "closes the modal");
        let messages = app.messages().await;
        assert_eq!(messages.len(), 1);
        let m = &messages[0];
        assert_eq!((m.channel_id.as_str(), m.text.as_str(), m.due_at, m.status), (RANDOM, "Quarterly numbers are in", due, MessageStatus::Pending));
        let confirmation = wait_until("the confirmation", Duration::from_secs(5), || async { app.last_ephemeral_text() }).await;
        assert!(confirmation.contains(&blocks::local_time(due, BERLIN)), "{confirmation}");
        assert!(confirmation.contains(&format!("<#{RANDOM}>")));
    }
}

on_both_backends! {
    async fn submissions_that_break_the_rules_get_field_errors_and_store_nothing(db: TestDb) {
        let app = TestApp::start(&db).await;
        app.install(ALICE).await;
        let soon = (Utc::now() + chrono::Duration::hours(1)).timestamp();
        // (channel, text, time, the block the error is on, words in the error)
        type Case<'a> = (Option<&'a str>, String, Option<i64>, &'a str, &'a str);
        let cases: [Case; 6] = [
            (Some(GENERAL), "hello".into(), Some((Utc::now() - chrono::Duration::minutes(5)).timestamp()), blocks::WHEN_BLOCK, "already passed"),
            (Some(GENERAL), "hello".into(), Some((Utc::now() + chrono::Duration::days(367)).timestamp()), blocks::WHEN_BLOCK, "366 days"),
            (Some(GENERAL), "   ".into(), Some(soon), blocks::TEXT_BLOCK, "Write a message"),
            (Some(GENERAL), "x".repeat(4_001), Some(soon), blocks::TEXT_BLOCK, "4,000"),
            (None, "hello".into(), Some(soon), blocks::CHANNEL_BLOCK, "Pick a conversation"),
            (Some(GENERAL), "hello".into(), None, blocks::WHEN_BLOCK, "Pick a date and time"),
        ];
        for (channel, text, when, block, words) in cases {
            let answer = app.submit(ALICE, None, channel, &text, when).await;
            assert_eq!(answer.status, 200, "{block} {words}: {}", answer.body);
            assert!(!answer.body.is_empty(), "{block} {words}: accepted");
            let errors = errors(&answer.body);
            let message = errors[block].as_str().unwrap_or_else(|| panic!("an error on {block}: {errors}"));
            assert!(message.contains(words), "{block}: {message}");
        }
        assert!(app.messages().await.is_empty(), "nothing partial stored");
    }
}

on_both_backends! {
    async fn the_quick_form_reads_each_time_phrase_in_the_users_zone(db: TestDb) {
        let app = TestApp::start(&db).await;
        app.install(ALICE).await;
        let phrases = ["in 10 minutes", "in 2 hours", "tomorrow 9am", "monday 14:30", "2026-12-24 17:00", "dec 24 5pm"];
        for (i, phrase) in phrases.iter().enumerate() {
            let text = format!("{phrase} Quick message {i}");
            let expected = parse_quick(&text, Utc::now(), BERLIN).expect("the phrase parses").due;
            let answer = app.command(ALICE, GENERAL, &text).await;
            let reply = ephemeral_text(&answer.body);
            assert!(reply.starts_with(":calendar: Scheduled for"), "{phrase}: {reply}");
            let stored = app.messages().await.into_iter().find(|m| m.text == format!("Quick message {i}")).expect("stored");
            assert_eq!(stored.channel_id, GENERAL, "into the current conversation");
            let drift = (stored.due_at - expected).num_seconds().abs();
            assert!(drift <= 5, "{phrase}: stored {} expected {expected}", stored.due_at);
            assert!(reply.contains(&blocks::local_time(stored.due_at, BERLIN)), "{phrase}: {reply}");
        }
    }
}

on_both_backends! {
    async fn an_unreadable_time_opens_the_modal_prefilled(db: TestDb) {
        let app = TestApp::start(&db).await;
        app.install(ALICE).await;
        let answer = app.command(ALICE, GENERAL, "whenever you feel like it post this").await;
        assert_eq!((answer.status, answer.body.as_str()), (200, ""));
        let modal = opened_modal(&app).await;
        let text = modal["blocks"].as_array().expect("blocks").iter()
            .find(|b| b["block_id"] == blocks::TEXT_BLOCK).expect("text field")["element"]["initial_value"].clone();
        assert_eq!(text["elements"][0]["elements"], serde_json::json!([{"type": "text", "text": "whenever you feel like it post this"}]));
        assert!(modal.to_string().contains("couldn't find a time"), "says why");
        assert!(app.messages().await.is_empty());
    }
}

on_both_backends! {
    async fn quick_messages_that_break_the_rules_are_refused_in_words(db: TestDb) {
        let app = TestApp::start(&db).await;
        app.install(ALICE).await;
        let past = ephemeral_text(&app.command(ALICE, GENERAL, "2020-01-01 10:00 Happy new year").await.body);
        assert!(past.contains("already passed"), "{past}");
        let long = ephemeral_text(&app.command(ALICE, GENERAL, &format!("in 1 hour {}", "y".repeat(4_001))).await.body);
        assert!(long.contains("4,000"), "{long}");
        assert!(app.messages().await.is_empty());
    }
}

on_both_backends! {
    async fn list_shows_waiting_messages_with_edit_and_cancel_and_help_explains(db: TestDb) {
        let app = TestApp::start(&db).await;
        app.install(ALICE).await;
        app.command(ALICE, GENERAL, "in 2 hours First").await;
        app.command(ALICE, RANDOM, "in 3 hours Second").await;
        let answer = app.command(ALICE, GENERAL, "list").await;
        let json: Value = serde_json::from_str(&answer.body).expect("json");
        assert_eq!(json["response_type"], "ephemeral");
        let rendered = json["blocks"].to_string();
        assert!(rendered.contains("First") && rendered.contains("Second"), "{rendered}");
        let ids: Vec<String> = app.messages().await.iter().map(|m| m.id.to_string()).collect();
        for id in &ids {
            assert!(rendered.contains(&format!("\"action_id\":\"{}\"", blocks::ACTION_EDIT)));
            assert!(rendered.contains(&format!("\"value\":\"{id}\"")), "buttons carry message {id}");
        }
        assert!(rendered.contains(blocks::ACTION_CANCEL));
        let help = ephemeral_text(&app.command(ALICE, GENERAL, "help").await.body);
        assert!(help.contains("/schedule list") && help.contains("tomorrow 9am"), "{help}");
    }
}

on_both_backends! {
    async fn a_workspace_without_the_app_is_told_to_install_it(db: TestDb) {
        let app = TestApp::start(&db).await;
        let reply = ephemeral_text(&app.command(ALICE, GENERAL, "in 1 hour hi").await.body);
        assert!(reply.contains("not installed") && reply.contains("/slack/install"), "{reply}");
        assert!(app.messages().await.is_empty());
    }
}

on_both_backends! {
    async fn the_thousand_message_limit_is_explained(db: TestDb) {
        let app = TestApp::start(&db).await;
        app.install(ALICE).await;
        let alice = app.store.user(TEAM, ALICE).await.expect("read").expect("alice").author;
        let due = Utc::now() + chrono::Duration::days(2);
        let batch: Vec<NewMessage> = (0..1_000).map(|i| new_message(&alice, GENERAL, &format!("m{i}"), due)).collect();
        app.store.insert_messages(&batch, Utc::now()).await.expect("bulk");
        let reply = ephemeral_text(&app.command(ALICE, GENERAL, "in 1 hour one more").await.body);
        assert!(reply.contains("1,000"), "{reply}");
        let answer = app.submit(ALICE, None, Some(GENERAL), "one more", Some((Utc::now() + chrono::Duration::hours(1)).timestamp())).await;
        assert!(errors(&answer.body)[blocks::TEXT_BLOCK].as_str().expect("error").contains("1,000"));
        assert_eq!(app.messages().await.len(), 1_000);
    }
}

on_both_backends! {
    async fn a_user_without_a_token_is_offered_to_connect(db: TestDb) {
        let app = TestApp::start(&db).await;
        app.install(ALICE).await;
        let reply = ephemeral_text(&app.command(BOB, GENERAL, "in 1 hour from bob").await.body);
        assert!(reply.contains("/slack/install?team=T0001"), "{reply}");
        app.command(BOB, GENERAL, "").await;
        let modal = opened_modal(&app).await;
        assert!(modal.to_string().contains("Connect your account"), "the modal offers to connect");
    }
}

on_both_backends! {
    /// The quick form's cost in the database: one statement for who is
    /// asking (installation, user, zone), one for the replay guard, one
    /// for the insert; the Home tab follows on the bot's own time.
    async fn a_quick_command_costs_at_most_three_statements(db: TestDb) {
        let app = TestApp::start(&db).await;
        app.install(ALICE).await;
        // The first command meets alice and caches her zone.
        app.command(ALICE, GENERAL, "in 3 hours warming up").await;
        let before = app.state.store.statements();
        let answer = app.command(ALICE, GENERAL, "in 4 hours Counted").await;
        let spent = app.state.store.statements() - before;
        assert!(ephemeral_text(&answer.body).contains("Scheduled"), "{}", answer.body);
        assert!(spent <= 3, "{spent} statements for one quick command");
        assert_eq!(app.messages().await.len(), 2);
    }
}

on_both_backends! {
    /// Sixty waiting messages: the list shows what fits in one message's 50
    /// blocks, says how many more there are, and Slack accepts it.
    async fn a_list_longer_than_a_message_allows_is_accepted_by_slack(db: TestDb) {
        let app = TestApp::start(&db).await;
        app.install(ALICE).await;
        app.store_many(ALICE, GENERAL, 60).await;
        let answer = app.command(ALICE, GENERAL, "list").await;
        assert_eq!(answer.status, 200);
        assert_eq!(answer.invalid_blocks, Vec::<String>::new(), "Slack shows it");
        let json: Value = serde_json::from_str(&answer.body).expect("json");
        let shown = json["blocks"].as_array().expect("blocks");
        assert!(shown.len() <= 50, "{} blocks", shown.len());
        let rendered = json["blocks"].to_string();
        assert!(rendered.contains("(60)"), "the count: {rendered}");
        let more = 60 - blocks::LIST_FITS;
        assert!(rendered.contains(&format!("…and {more} more in the Scheduler app's Home tab.")), "{rendered}");
        assert!(rendered.contains("stored 0 &lt;&amp;&gt;"), "the soonest first");
    }
}
