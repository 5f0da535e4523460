//! The whole journey, from "Add to Slack" to delivery, with access tokens
//! that expire on the way: on SQLite and on PostgreSQL.

use std::time::Duration;

use chrono::Utc;
use secrecy::ExposeSecret;
use slack_scheduler::domain::MessageStatus;
use slack_scheduler::sim::SimSettings;
use slack_scheduler::slack::blocks;

use crate::common::harness::{ALICE, GENERAL, RANDOM, TEAM, test_settings};
use crate::common::{TestApp, wait_until};
use crate::on_both_backends;

on_both_backends! {
    async fn install_schedule_and_deliver_with_tokens_expiring_on_the_way(db: TestDb) {
        // Slack's tokens here live four seconds; the messages are due later.
        let sim_settings = SimSettings { access_token_ttl: Duration::from_secs(4), ..SimSettings::default() };
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
        let cycle = app.state.scheduler.last_cycle().expect("a cycle ran");
        assert!(cycle.sent >= 1 && cycle.db_statements >= 2, "{cycle:?}");
        let posts: Vec<_> = app.sim.messages(None).into_iter().filter(|m| !m.as_bot).collect();
        assert_eq!(posts.len(), 2);
        assert!(posts.iter().all(|m| m.user == ALICE), "posted as alice");
        assert_eq!(posts.iter().map(|m| m.channel.as_str()).collect::<Vec<_>>(), [GENERAL, RANDOM]);

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

        // The list is empty again, and the Home tab shows both as sent.
        let list = app.command(ALICE, GENERAL, "list").await;
        assert!(list.body.contains("no scheduled messages"), "{}", list.body);
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
