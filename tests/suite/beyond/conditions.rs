//! Conditional sends: "only if nobody has replied in this thread since I
//! scheduled it" and "skip if I have posted in this conversation since",
//! checked at the due time within the history budget; a skip is an
//! outcome of its own, shown to the author and counted.

use std::time::Duration;

use chrono::Utc;
use slack_scheduler::domain::{Conditions, MessageStatus};
use slack_scheduler::scheduler::Settings;
use slack_scheduler::slack::blocks;
use slack_scheduler::store::{NewMessage, PostOptions};

use crate::common::harness::{ALICE, BOB, GENERAL, new_message, settings_at};
use crate::common::modal::Filled;
use crate::common::{Harness, TestApp, wait_until};
use crate::on_both_backends;

/// Slack's "minute" lasts one second here, in the simulator and the app.
const SCALE: f64 = 1.0 / 60.0;

fn scaled() -> Settings {
    Settings {
        history_window: Duration::from_secs(1),
        ..settings_at(SCALE)
    }
}

/// Runs cycles until nothing waits, or panics after `deadline`.
async fn settle(h: &Harness, deadline: Duration) {
    let give_up = std::time::Instant::now() + deadline;
    while std::time::Instant::now() < give_up {
        h.cycle_at(Utc::now()).await;
        let all = h.store.all_messages().await.expect("read");
        if all
            .iter()
            .all(|m| !matches!(m.status, MessageStatus::Pending | MessageStatus::Sending))
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!(
        "still waiting: {:?}",
        h.store.all_messages().await.expect("read")
    );
}

fn conditional(message: NewMessage, thread_ts: Option<&str>, conditions: Conditions) -> NewMessage {
    NewMessage {
        options: PostOptions {
            thread_ts: thread_ts.map(str::to_owned),
            conditions,
            ..Default::default()
        },
        ..message
    }
}

const UNLESS_REPLIED: Conditions = Conditions {
    unless_replied: true,
    unless_posted: false,
};
const UNLESS_POSTED: Conditions = Conditions {
    unless_replied: false,
    unless_posted: true,
};

on_both_backends! {
    /// Two nudges in two threads: where bob answered, alice's nudge is
    /// skipped; where nobody did, it is posted in the thread. The two
    /// thread reads keep to the workspace's one-a-"minute" budget.
    async fn a_nudge_is_skipped_when_someone_replied_and_posted_when_nobody_did(db: TestDb) {
        let h = Harness::with_settings_at(&db, SCALE, scaled()).await;
        let (alice, _) = h.connect(ALICE).await;
        let answered = h.sim.post_as(GENERAL, ALICE, "Could someone review #42?");
        let ignored = h.sim.post_as(GENERAL, ALICE, "Could someone review #43?");
        let due = Utc::now() + chrono::Duration::milliseconds(200);
        let nudges = vec![
            conditional(new_message(&alice, GENERAL, "Gentle nudge on #42", due), Some(&answered), UNLESS_REPLIED),
            conditional(new_message(&alice, GENERAL, "Gentle nudge on #43", due), Some(&ignored), UNLESS_REPLIED),
        ];
        for nudge in &nudges {
            h.store.insert_message(nudge, Utc::now()).await.expect("stored");
        }
        // Alice's own reply does not count; bob's does.
        h.sim.reply_as(GENERAL, &answered, ALICE, "(bumping)");
        h.sim.reply_as(GENERAL, &answered, BOB, "On it!");
        tokio::time::sleep(Duration::from_millis(250)).await;
        settle(&h, Duration::from_secs(20)).await;

        let rows = h.store.all_messages().await.expect("read");
        assert_eq!((rows[0].status, rows[0].reason.as_deref()), (MessageStatus::Skipped, Some("someone_replied")));
        assert_eq!(rows[1].status, MessageStatus::Sent);
        let posted: Vec<_> = h.sim.messages(Some(GENERAL)).into_iter().filter(|m| m.text.starts_with("Gentle nudge")).collect();
        assert_eq!(posted.len(), 1);
        assert_eq!(posted[0].thread_ts.as_deref(), Some(ignored.as_str()));
        let reads = h.sim.calls(Some("conversations.replies"));
        assert!(reads.len() >= 2, "{reads:?}");
        for pair in reads.windows(2) {
            let gap = pair[1].at - pair[0].at;
            assert!(gap >= chrono::Duration::milliseconds(950), "one read a \"minute\": {gap}");
        }
        assert!(h.sim.calls(Some("conversations.replies")).iter().all(|c| c.outcome == "ok"), "Slack never refused a read");
    }
}

on_both_backends! {
    /// "Skip if I post there first": alice posted in #general after
    /// scheduling, so that message is skipped; the one into #random, where
    /// she did not, is posted.
    async fn a_message_is_skipped_when_its_author_posted_there_first(db: TestDb) {
        let h = Harness::with_settings_at(&db, SCALE, scaled()).await;
        let (alice, _) = h.connect(ALICE).await;
        let due = Utc::now() + chrono::Duration::milliseconds(200);
        let general = conditional(new_message(&alice, GENERAL, "Reminder: retro notes", due), None, UNLESS_POSTED);
        let random = conditional(new_message(&alice, "C0002", "Reminder: lunch", due), None, UNLESS_POSTED);
        h.store.insert_message(&general, Utc::now()).await.expect("stored");
        h.store.insert_message(&random, Utc::now()).await.expect("stored");
        h.sim.post_as(GENERAL, BOB, "unrelated chatter");
        h.sim.post_as(GENERAL, ALICE, "Retro notes are in the doc");
        tokio::time::sleep(Duration::from_millis(250)).await;
        settle(&h, Duration::from_secs(20)).await;
        let rows = h.store.all_messages().await.expect("read");
        assert_eq!((rows[0].status, rows[0].reason.as_deref()), (MessageStatus::Skipped, Some("you_posted")));
        assert_eq!(rows[1].status, MessageStatus::Sent);
        assert_eq!(h.post_calls_for("Reminder: retro notes"), 0, "never posted");
        let reads = h.sim.calls(Some("conversations.history"));
        assert_eq!(reads.len(), 2, "one read of each conversation: {reads:?}");
        assert!(reads[1].at - reads[0].at >= chrono::Duration::milliseconds(950), "the same budget as in-doubt look-ups");
    }
}

on_both_backends! {
    /// Through Slack: a reply scheduled with "only if nobody has replied",
    /// answered meanwhile, is skipped; the Home tab shows it under
    /// "Recently skipped" with why, and the stats and metrics count it.
    async fn a_skip_is_shown_at_home_and_counted(db: TestDb) {
        let app = TestApp::start(&db).await;
        app.install(ALICE).await;
        let parent = app.sim.post_as(GENERAL, ALICE, "Lunch order closes at noon");
        let metadata = serde_json::json!({"channel": GENERAL, "thread_ts": parent}).to_string();
        let when = Utc::now().timestamp() + 2;
        let filled = Filled::new(&app, None, "Last call for lunch!", when).options(&[blocks::OPTION_UNLESS_REPLIED]);
        app.submit_modal(ALICE, blocks::NEW_CALLBACK, &metadata, &filled, None).await;
        app.sim.reply_as(GENERAL, &parent, BOB, "Pizza for me");
        let skipped = wait_until("the reply is skipped", Duration::from_secs(20), || async {
            app.messages().await.into_iter().find(|m| m.status == MessageStatus::Skipped)
        })
        .await;
        assert_eq!(skipped.reason.as_deref(), Some("someone_replied"));
        assert!(app.sim.messages(Some(GENERAL)).iter().all(|m| m.text != "Last call for lunch!"));

        app.event("Ev-skip-home", serde_json::json!({"type": "app_home_opened", "user": ALICE, "channel": "D0001", "tab": "home"})).await;
        let home = wait_until("the Home tab shows the skip", Duration::from_secs(10), || async {
            app.sim.home_view(ALICE).map(|v| v.to_string()).filter(|v| v.contains("Recently skipped"))
        })
        .await;
        assert!(home.contains("someone replied in the thread first"), "{home}");
        let stats: serde_json::Value = app.http.get(format!("{}/api/messages/scheduler/stats", app.url))
            .send().await.expect("stats").json().await.expect("json");
        assert_eq!(stats["stats"]["skippedCount"], 1, "{stats}");
        let metrics = app.http.get(format!("{}/metrics", app.url)).send().await.expect("metrics")
            .text().await.expect("text");
        assert!(metrics.contains("scheduler_messages_skipped_total{reason=\"someone_replied\"}"), "{metrics}");
        app.stop().await;
    }
}
