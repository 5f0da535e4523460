//! Several destinations, and Send now: one submission into several
//! conversations gets a row, an outcome and retries of its own for each,
//! listed together; any waiting message can be sent at once, through the
//! same delivery path.

use std::time::Duration;

use chrono::Utc;
use serde_json::Value;
use slack_scheduler::domain::MessageStatus;
use slack_scheduler::slack::blocks;

use crate::common::harness::{ALICE, GENERAL, OLD, RANDOM, TEAM};
use crate::common::modal::Filled;
use crate::common::{TestApp, wait_until};
use crate::on_both_backends;

on_both_backends! {
    /// Into #general, #random and the archived #old: three rows sharing a
    /// group, listed together; two are posted, #old fails on its own with
    /// its reason, and its author hears of it.
    async fn one_message_into_three_conversations_has_three_outcomes(db: TestDb) {
        let app = TestApp::start(&db).await;
        app.install(ALICE).await;
        let when = Utc::now().timestamp() + 3;
        let filled = Filled::new(&app, Some(GENERAL), "All-hands at 4", when).also(&[RANDOM, OLD, GENERAL]);
        let answer = app.submit_modal(ALICE, blocks::NEW_CALLBACK, "", &filled, Some(GENERAL)).await;
        assert_eq!((answer.status, answer.body.as_str()), (200, ""));
        let rows = app.messages().await;
        assert_eq!(rows.len(), 3, "one row per conversation, #general once");
        let groups: Vec<Option<String>> = rows.iter().map(|m| m.options.group_key.clone()).collect();
        assert!(groups[0].is_some() && groups.iter().all(|g| *g == groups[0]), "{groups:?}");
        let confirmed = wait_until("the confirmation", Duration::from_secs(5), || async { app.last_ephemeral_text() }).await;
        assert!(confirmed.contains("<#C0001>, <#C0002> and <#C0003>"), "{confirmed}");

        let list = app.command(ALICE, GENERAL, "list").await;
        for n in 1..=3 {
            assert!(list.body.contains(&format!("_{n} of 3 conversations_")), "{}", list.body);
        }

        let settled = wait_until("all three settle", Duration::from_secs(20), || async {
            let rows = app.messages().await;
            rows.iter().all(|m| matches!(m.status, MessageStatus::Sent | MessageStatus::Failed)).then_some(rows)
        })
        .await;
        for row in &settled {
            match row.channel_id.as_str() {
                OLD => assert_eq!((row.status, row.reason.as_deref()), (MessageStatus::Failed, Some("is_archived"))),
                _ => assert_eq!(row.status, MessageStatus::Sent, "{row:?}"),
            }
        }
        assert_eq!(app.sim.messages(None).iter().filter(|m| m.text == "All-hands at 4").count(), 2);
        wait_until("the failure DM", Duration::from_secs(10), || async {
            app.sim.messages(None).into_iter().find(|m| m.as_bot && m.text.contains("could not be posted"))
        })
        .await;
        app.stop().await;
    }
}

on_both_backends! {
    /// More than ten conversations is a field error, and nothing is stored.
    async fn more_than_ten_conversations_is_refused(db: TestDb) {
        let app = TestApp::start(&db).await;
        app.install(ALICE).await;
        let more: Vec<String> = (0..10).map(|i| format!("C9{i:03}")).collect();
        let refs: Vec<&str> = more.iter().map(String::as_str).collect();
        let when = Utc::now().timestamp() + 600;
        let filled = Filled::new(&app, Some(GENERAL), "Too many", when).also(&refs);
        let answer = app.submit_modal(ALICE, blocks::NEW_CALLBACK, "", &filled, Some(GENERAL)).await;
        let body: Value = serde_json::from_str(&answer.body).expect("field errors");
        assert!(body["errors"][blocks::ALSO_BLOCK].as_str().expect("error").contains("at most 10"), "{body}");
        assert!(app.messages().await.is_empty());
        app.stop().await;
    }
}

on_both_backends! {
    /// A message due tomorrow, sent now from the list: posted within
    /// seconds, as alice, through the delivery cycle (never before its
    /// new due time, which is now).
    async fn send_now_posts_a_waiting_message_at_once(db: TestDb) {
        let app = TestApp::start(&db).await;
        app.install(ALICE).await;
        let answer = app.command(ALICE, GENERAL, "tomorrow 9am Ship it").await;
        assert!(answer.body.contains("Scheduled"), "{}", answer.body);
        let id = app.messages().await[0].id;
        let list = app.command(ALICE, GENERAL, "list").await;
        assert!(list.body.contains(blocks::ACTION_SEND_NOW), "offered in the list");
        let pressed = Utc::now();
        app.press(TEAM, ALICE, blocks::ACTION_SEND_NOW, &id.to_string(), true).await;
        let posted = wait_until("posted now", Duration::from_secs(10), || async {
            app.sim.messages(Some(GENERAL)).into_iter().find(|m| m.text == "Ship it")
        })
        .await;
        assert_eq!(posted.user, ALICE);
        let row = wait_until("recorded as sent", Duration::from_secs(10), || async {
            app.store.message(id).await.expect("read").filter(|m| m.status == MessageStatus::Sent)
        })
        .await;
        assert!(row.due_at >= pressed - chrono::Duration::seconds(1) && row.sent_at.expect("sent") >= row.due_at);
        app.stop().await;
    }
}
