//! The whole journey, from "Add to Slack" to delivery, with access tokens
//! that expire on the way: on SQLite and on PostgreSQL.

use std::time::Duration;

use chrono::Utc;
use secrecy::ExposeSecret;
use slack_scheduler::domain::MessageStatus;
use slack_scheduler::sim::SimSettings;
use slack_scheduler::slack::blocks;

use crate::common::harness::{ALICE, GENERAL, RANDOM, TEAM, test_settings, test_sim_settings};
use crate::common::{TestApp, wait_until};
use crate::on_both_backends;

on_both_backends! {
    async fn install_schedule_and_deliver_with_tokens_expiring_on_the_way(db: TestDb) {
        // Slack's tokens here live four seconds; the messages are due later.
        let sim_settings = SimSettings { access_token_ttl: Duration::from_secs(4), ..test_sim_settings() };
        let app = TestApp::start_with(&db, sim_settings, test_settings(), |_| {}).await;

        let page = app.install(ALICE).await;
        assert_eq!(page.status, 200);
        assert!(page.body.contains("Acme (simulated)"));
        let installed = app.store.user(TEAM, ALICE).await.expect("read").expect("alice").credentials.expect("token");

        // One message through the quick form, one through the modal.
        let reply = app.command(ALICE, GENERAL, "in 6 seconds Journey: quick form").await;
        assert!(reply.body.contains("Scheduled for"), "{}", reply.body);
        app.command(ALICE, GENERAL, "").await;
        wait_until("the modal opens", Duration::from_secs(5), || async {
            app.sim.views().into_iter().find(|v| v.view["type"] == "modal").map(|_| ())
        })
        .await;
        let due = (Utc::now() + chrono::Duration::seconds(7)).timestamp();
        let answer = app.submit(ALICE, None, Some(RANDOM), "Journey: modal", Some(due)).await;
        assert_eq!((answer.status, answer.body.as_str()), (200, ""));

        let delivered = wait_until("both messages are delivered", Duration::from_secs(30), || async {
            let all = app.messages().await;
            (all.len() == 2 && all.iter().all(|m| m.status == MessageStatus::Sent)).then_some(all)
        })
        .await;
        for message in &delivered {
            assert!(message.sent_at.expect("sent_at") >= message.due_at, "never early");
        }
        // The cycle's figures are kept once it ends, a moment after its writes.
        let cycle = wait_until("the delivering cycle's figures are kept", Duration::from_secs(10), || async {
            app.state.scheduler.recent_cycles().into_iter().rev().find(|c| c.sent >= 1)
        })
        .await;
        assert!(cycle.db_statements >= 2, "{cycle:?}");
        let posts: Vec<_> = app.sim.messages(None).into_iter().filter(|m| !m.as_bot).collect();
        assert_eq!(posts.len(), 2);
        assert!(posts.iter().all(|m| m.user == ALICE), "posted as alice");
        let mut channels: Vec<&str> = posts.iter().map(|m| m.channel.as_str()).collect();
        channels.sort_unstable();
        assert_eq!(channels, [GENERAL, RANDOM], "one in each conversation");

        // The install token had expired by then: the posts used a refreshed one.
        let post_tokens: Vec<String> = app.sim.calls(Some("chat.postMessage")).into_iter()
            .filter(|c| c.outcome == "ok")
            .filter_map(|c| c.token)
            .filter(|t| t.starts_with("xoxe.xoxp-"))
            .collect();
        assert_eq!(post_tokens.len(), 2);
        assert!(post_tokens.iter().all(|t| t != installed.access_token.expose_secret()), "refreshed before use");
        let now = app.store.user(TEAM, ALICE).await.expect("read").expect("alice").credentials.expect("token");
        assert_ne!(
            now.refresh_token.expect("refresh").expose_secret(),
            installed.refresh_token.expect("refresh").expose_secret(),
            "the rotated refresh token was stored"
        );
        assert!(app.sim.calls(Some("chat.postMessage")).iter().all(|c| c.outcome == "ok"), "Slack refused nothing");

        // Nothing waits any more; the list keeps both delivery records,
        // each with its permalink, and the Home tab shows both as sent.
        let list = app.command(ALICE, GENERAL, "list").await;
        assert!(list.body.contains("(0)") && list.body.contains("Journey: modal"), "{}", list.body);
        assert_eq!(list.body.matches("|View>").count(), 2, "{}", list.body);
        app.event("Ev-journey", serde_json::json!({"type": "app_home_opened", "user": ALICE, "channel": "D0001", "tab": "home"})).await;
        let home = wait_until("the home shows both sent", Duration::from_secs(10), || async {
            app.sim.home_view(ALICE).map(|v| v.to_string()).filter(|v| v.contains("Journey: modal") && v.contains("*2* sent"))
        })
        .await;
        assert!(home.contains("Journey: quick form") && home.contains("Recently sent"));
        assert!(!home.contains(blocks::ACTION_CONNECT));
        app.stop().await;
    }
}

on_both_backends! {
    /// Slack stops accepting alice's token: her message is held, she is told,
    /// she reconnects, and sends it from the Home tab.
    async fn a_held_message_waits_for_its_author_to_reconnect_and_send_it(db: TestDb) {
        let app = TestApp::start(&db).await;
        app.install(ALICE).await;
        app.sim.revoke_tokens(ALICE);
        app.command(ALICE, GENERAL, "in 2 seconds Held until I'm back").await;
        let held = wait_until("the message is held", Duration::from_secs(15), || async {
            let m = app.messages().await.into_iter().next()?;
            (m.status == MessageStatus::Held).then_some(m)
        })
        .await;
        assert_eq!(held.reason.as_deref(), Some("token_revoked"));
        let dm = wait_until("alice is told", Duration::from_secs(10), || async {
            app.sim.messages(None).into_iter().find(|m| m.as_bot && m.text.contains("has not been posted yet"))
        })
        .await;
        assert!(dm.text.contains("/slack/install?team=T0001"), "offers to reconnect: {}", dm.text);
        let home = wait_until("the Home tab offers to reconnect", Duration::from_secs(10), || async {
            app.sim.home_view(ALICE).map(|v| v.to_string()).filter(|v| v.contains(blocks::ACTION_CONNECT))
        })
        .await;
        assert!(home.contains("Waiting for you"), "{home}");

        assert_eq!(app.install(ALICE).await.status, 200, "alice reconnects");
        let still = app.store.message(held.id).await.expect("read").expect("row");
        assert_eq!(still.status, MessageStatus::Held, "an overdue message waits for alice's choice");
        let home = wait_until("the Home tab offers Send now", Duration::from_secs(10), || async {
            app.sim.home_view(ALICE).map(|v| v.to_string()).filter(|v| v.contains(blocks::ACTION_SEND_NOW))
        })
        .await;
        assert!(!home.contains(blocks::ACTION_CONNECT), "connected again");

        app.press(TEAM, ALICE, blocks::ACTION_SEND_NOW, &held.id.to_string(), false).await;
        let sent = wait_until("the message is sent", Duration::from_secs(15), || async {
            let m = app.store.message(held.id).await.ok().flatten()?;
            (m.status == MessageStatus::Sent).then_some(m)
        })
        .await;
        let posted = app.sim.messages(Some(GENERAL));
        assert_eq!(posted.len(), 1);
        assert_eq!((posted[0].user.as_str(), posted[0].ts.as_str()), (ALICE, sent.slack_ts.as_deref().unwrap_or_default()));
    }
}
