//! The whole of SPEC §7 in one story, against the simulator as strict as
//! Slack (metadata on user-token posts refused, every view and message
//! checked, every limit on): a series into two conversations, a
//! conditional reply scheduled from a message's shortcut, deliveries,
//! the next occurrences waiting, and the author's Home tab and list.

use std::time::Duration;

use chrono::Utc;
use serde_json::Value;
use slack_scheduler::domain::MessageStatus;
use slack_scheduler::sim::SimSettings;
use slack_scheduler::slack::blocks;

use crate::common::harness::{ALICE, BOB, GENERAL, RANDOM, TEAM, TIME_SCALE, test_settings};
use crate::common::modal::Filled;
use crate::common::{TestApp, wait_until};
use crate::on_both_backends;

on_both_backends! {
    async fn a_series_in_two_conversations_and_a_conditional_thread_reply(db: TestDb) {
        // Strict: no leniency at all, only Slack's time scaled for speed.
        let sim = SimSettings::default().with_time_scale(TIME_SCALE);
        let app = TestApp::start_with(&db, sim, test_settings(), |_| {}).await;
        app.install(ALICE).await;
        app.install(BOB).await;

        // A daily series into #general and #random, starting in two seconds.
        let when = Utc::now().timestamp() + 2;
        let series = Filled::new(&app, Some(GENERAL), "Daily digest", when).also(&[RANDOM]).repeat("daily");
        let answer = app.submit_modal(ALICE, blocks::NEW_CALLBACK, "", &series, Some(GENERAL)).await;
        assert_eq!((answer.status, answer.body.as_str()), (200, ""));

        // A nudge in bob's thread, only if nobody answers him first.
        let parent = app.sim.post_as(GENERAL, BOB, "Who can take the on-call swap?");
        let shortcut = app.sim
            .send_message_shortcut(&app.url, TEAM, ALICE, GENERAL, &parent, blocks::REPLY_SHORTCUT)
            .await
            .expect("shortcut");
        assert!(shortcut.invalid_blocks.is_empty());
        let modal = wait_until("the reply modal", Duration::from_secs(5), || async {
            app.sim.views().into_iter().rev().find(|v| v.view["title"]["text"] == "Schedule a reply").map(|v| v.view)
        })
        .await;
        let metadata = modal["private_metadata"].as_str().expect("metadata").to_owned();
        let nudge = Filled::new(&app, None, "I can, if nobody else can", Utc::now().timestamp() + 2)
            .options(&[blocks::OPTION_UNLESS_REPLIED]);
        let answer = app.submit_modal(ALICE, blocks::NEW_CALLBACK, &metadata, &nudge, None).await;
        assert!(answer.invalid_blocks.is_empty(), "{:?}", answer.invalid_blocks);

        // Delivered: the digest in both conversations, the nudge in the thread.
        let posted = wait_until("three posts", Duration::from_secs(30), || async {
            let posted: Vec<_> = app.sim.messages(None).into_iter()
                .filter(|m| m.text == "Daily digest" || m.text == "I can, if nobody else can")
                .collect();
            (posted.len() == 3).then_some(posted)
        })
        .await;
        assert!(posted.iter().all(|m| m.user == ALICE && m.metadata.is_none()), "as alice, without refused metadata");
        let reply = posted.iter().find(|m| m.text.starts_with("I can")).expect("the nudge");
        assert_eq!(reply.thread_ts.as_deref(), Some(parent.as_str()));

        // The next occurrence of each series waits for tomorrow.
        let waiting = wait_until("the next occurrences", Duration::from_secs(15), || async {
            let waiting: Vec<_> = app.messages().await.into_iter().filter(|m| m.status == MessageStatus::Pending).collect();
            (waiting.len() == 2).then_some(waiting)
        })
        .await;
        assert!(waiting.iter().all(|m| m.due_at.timestamp() == when + 86_400 && m.occurrence == Some(2)));

        // Alice sees it all: the series with their next times, the records with permalinks.
        app.event("Ev-beyond-home", serde_json::json!({"type": "app_home_opened", "user": ALICE, "channel": "D0001", "tab": "home"})).await;
        let home = wait_until("the Home tab", Duration::from_secs(10), || async {
            app.sim.home_view(ALICE).map(|v: Value| v.to_string()).filter(|v| v.contains("*Repeating*") && v.contains("*3* sent"))
        })
        .await;
        assert!(home.contains("Daily digest") && home.contains("|View>"), "{home}");
        let list = app.command(ALICE, GENERAL, "list").await;
        assert!(list.invalid_blocks.is_empty(), "{:?}", list.invalid_blocks);
        assert!(list.body.contains("every day at") && list.body.contains(blocks::ACTION_PAUSE_SERIES), "{}", list.body);
        let stats = app.store.message_stats(None).await.expect("stats");
        assert_eq!((stats.pending, stats.sent), (2, 3));
        assert!(app.sim.calls(None).iter().all(|c| c.outcome != "invalid_blocks" && c.outcome != "invalid_arguments"),
            "Slack accepted every view and message");
        app.stop().await;
    }
}
