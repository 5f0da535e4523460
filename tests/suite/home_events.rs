//! The Home tab, the Events API, and the DM an author gets when a message fails.

use std::time::Duration;

use serde_json::json;
use slack_scheduler::domain::MessageStatus;
use slack_scheduler::sim::{Fault, FaultKind};
use slack_scheduler::slack::blocks;
use slack_scheduler::store::TokenStatus;

use crate::common::harness::{ALICE, BOB, GENERAL, OLD, TEAM};
use crate::common::{TestApp, wait_until};
use crate::on_both_backends;

/// The Home tab published for `user` once it satisfies `check`.
async fn home_where(app: &TestApp, user: &str, what: &str, check: impl Fn(&str) -> bool) -> String {
    wait_until(what, Duration::from_secs(10), || async {
        app.sim
            .home_view(user)
            .map(|v| v.to_string())
            .filter(|v| check(v))
    })
    .await
}

on_both_backends! {
    async fn the_home_tab_shows_upcoming_sent_and_failed_with_counts(db: TestDb) {
        let app = TestApp::start(&db).await;
        app.install(ALICE).await;
        app.command(ALICE, GENERAL, "in 2 seconds Posted soon").await;
        app.command(ALICE, OLD, "in 2 seconds Into the archive").await;
        app.command(ALICE, GENERAL, "in 5 hours Later on").await;
        wait_until("both due messages are settled", Duration::from_secs(15), || async {
            let all = app.messages().await;
            (all.iter().filter(|m| matches!(m.status, MessageStatus::Sent | MessageStatus::Failed)).count() == 2).then_some(())
        })
        .await;

        let opened = app.event("Ev-home-1", json!({"type": "app_home_opened", "user": ALICE, "channel": "D0001", "tab": "home"})).await;
        assert_eq!(opened.status, 200);
        let home = home_where(&app, ALICE, "the home shows the failure", |v| v.contains("Recently failed")).await;
        assert!(home.contains("*1* upcoming") && home.contains("*1* sent") && home.contains("*1* failed"), "{home}");
        assert!(home.contains("Later on"), "upcoming listed");
        assert!(home.contains(blocks::ACTION_EDIT) && home.contains(blocks::ACTION_CANCEL), "with Edit and Cancel");
        assert!(home.contains("Posted soon"), "recently sent listed");
        assert!(home.contains("the channel has been archived"), "the reason in plain words: {home}");
        assert!(!home.contains(blocks::ACTION_CONNECT), "alice is connected");
    }
}

on_both_backends! {
    async fn a_user_without_a_token_sees_a_connect_link_at_home(db: TestDb) {
        let app = TestApp::start(&db).await;
        app.install(ALICE).await;
        app.event("Ev-home-2", json!({"type": "app_home_opened", "user": BOB, "channel": "D0002", "tab": "home"})).await;
        let home = home_where(&app, BOB, "bob's home", |_| true).await;
        assert!(home.contains(blocks::ACTION_CONNECT) && home.contains("/slack/install?team=T0001"), "{home}");
    }
}

on_both_backends! {
    async fn the_home_tab_is_republished_when_messages_change(db: TestDb) {
        let app = TestApp::start(&db).await;
        app.install(ALICE).await;
        app.command(ALICE, GENERAL, "in 4 hours Something to cancel").await;
        home_where(&app, ALICE, "the new message appears", |v| v.contains("Something to cancel")).await;
        let id = app.messages().await[0].id;
        app.press(TEAM, ALICE, blocks::ACTION_CANCEL, &id.to_string(), false).await;
        home_where(&app, ALICE, "the cancelled message disappears", |v| !v.contains("Something to cancel")).await;
    }
}

on_both_backends! {
    async fn url_verification_is_answered_and_events_are_handled_once(db: TestDb) {
        let app = TestApp::start(&db).await;
        app.install(ALICE).await;
        let verification = app.sim.send_event(&app.url, json!({"type": "url_verification", "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P", "token": "x"})).await.expect("sent");
        assert_eq!(verification.status, 200);
        assert_eq!(verification.json().expect("json")["challenge"], "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P");

        let publishes = || app.sim.calls(Some("views.publish")).len();
        wait_until("the install's home publish", Duration::from_secs(5), || async { (publishes() >= 1).then_some(()) }).await;
        let before = publishes();
        let event = json!({"type": "app_home_opened", "user": ALICE, "channel": "D0001", "tab": "home"});
        for _ in 0..3 {
            // Slack retries the same delivery.
            assert_eq!(app.event("Ev-dup", event.clone()).await.status, 200);
        }
        wait_until("one publish for the event", Duration::from_secs(5), || async { (publishes() == before + 1).then_some(()) }).await;
        // The Messages tab opening publishes nothing.
        app.event("Ev-messages", json!({"type": "app_home_opened", "user": ALICE, "channel": "D0001", "tab": "messages"})).await;
        app.event("Ev-after", event).await;
        wait_until("the next real open publishes", Duration::from_secs(5), || async { (publishes() == before + 2).then_some(()) }).await;
    }
}

on_both_backends! {
    async fn tokens_revoked_deletes_the_users_tokens_and_cancels_their_messages(db: TestDb) {
        let app = TestApp::start(&db).await;
        app.install(ALICE).await;
        app.install(BOB).await;
        app.command(ALICE, GENERAL, "in 5 hours alice's").await;
        app.command(BOB, GENERAL, "in 5 hours bob's").await;
        let answer = app.event("Ev-revoke", json!({"type": "tokens_revoked", "tokens": {"oauth": [ALICE], "bot": []}})).await;
        assert_eq!(answer.status, 200);
        let alice = app.store.user(TEAM, ALICE).await.expect("read").expect("row");
        assert_eq!((alice.token_status, alice.credentials.is_none()), (TokenStatus::Invalid, true));
        for m in app.messages().await {
            if m.user_id == ALICE {
                assert_eq!((m.status, m.reason.as_deref()), (MessageStatus::Cancelled, Some("tokens_revoked")));
            } else {
                assert_eq!(m.status, MessageStatus::Pending, "bob is unaffected");
            }
        }
        assert!(app.store.workspace(TEAM).await.expect("read").expect("row").is_installed(), "the bot stays");
    }
}

on_both_backends! {
    async fn app_uninstalled_deletes_every_token_and_cancels_waiting_messages(db: TestDb) {
        let app = TestApp::start(&db).await;
        app.install(ALICE).await;
        app.install(BOB).await;
        app.command(ALICE, GENERAL, "in 5 hours one").await;
        app.command(BOB, GENERAL, "in 6 hours two").await;
        assert_eq!(app.event("Ev-gone", json!({"type": "app_uninstalled"})).await.status, 200);
        // Slack may send tokens_revoked too, in either order: still fine.
        assert_eq!(app.event("Ev-gone-2", json!({"type": "tokens_revoked", "tokens": {"oauth": [ALICE, BOB], "bot": ["UB0001"]}})).await.status, 200);
        let workspace = app.store.workspace(TEAM).await.expect("read").expect("row");
        assert!(!workspace.is_installed() && workspace.bot.is_none());
        for user in [ALICE, BOB] {
            assert!(app.store.user(TEAM, user).await.expect("read").expect("row").credentials.is_none());
        }
        for m in app.messages().await {
            assert_eq!((m.status, m.reason.as_deref()), (MessageStatus::Cancelled, Some("app_uninstalled")));
        }
        let reply = app.command(ALICE, GENERAL, "in 1 hour anyone?").await;
        assert!(reply.body.contains("not installed"), "{}", reply.body);
    }
}

on_both_backends! {
    async fn a_permanent_failure_sends_the_author_a_dm_in_plain_words(db: TestDb) {
        let app = TestApp::start(&db).await;
        app.install(ALICE).await;
        app.sim.add_fault(Fault::new("chat.postMessage", FaultKind::SlackError { code: "restricted_action".into() }).for_text("Forbidden").times(1));
        app.command(ALICE, GENERAL, "in 2 seconds Forbidden words").await;
        let dm = wait_until("the bot's DM", Duration::from_secs(15), || async {
            app.sim.messages(None).into_iter().find(|m| m.as_bot && m.text.contains("could not be posted"))
        })
        .await;
        assert_eq!(dm.channel, "D0001", "a DM to alice");
        assert!(dm.text.contains("Forbidden words"), "names the message: {}", dm.text);
        assert!(dm.text.contains("the workspace does not allow you to post there"), "{}", dm.text);
        // The notice is settled once the DM went out (at least once), a moment after Slack took it.
        wait_until("the notice is settled", Duration::from_secs(5), || async {
            let m = app.messages().await.remove(0);
            (m.status == MessageStatus::Failed && !m.needs_notice).then_some(())
        })
        .await;
        let dms = app.sim.messages(None).into_iter().filter(|m| m.as_bot && m.text.contains("could not be posted")).count();
        assert_eq!(dms, 1, "told once");
    }
}

on_both_backends! {
    /// Three hundred messages of every kind: Slack accepts the Home tab
    /// (within 100 blocks), which shows the most relevant first and says
    /// how many more there are.
    async fn a_home_tab_for_three_hundred_messages_is_accepted_by_slack(db: TestDb) {
        let app = TestApp::start(&db).await;
        app.install(ALICE).await;
        app.store_many(ALICE, GENERAL, 300).await;
        // A quarter each: held, pending, sent and failed.
        app.store
            .execute_raw(
                "UPDATE scheduled_messages SET
                   status = CASE id % 4 WHEN 0 THEN 'held' WHEN 2 THEN 'sent' ELSE 'failed' END,
                   reason = CASE id % 4 WHEN 0 THEN 'token_revoked' WHEN 3 THEN 'is_archived' ELSE NULL END,
                   wake_at = NULL
                 WHERE id % 4 <> 1",
            )
            .await
            .expect("statuses set");
        app.event("Ev-home-300", json!({"type": "app_home_opened", "user": ALICE, "channel": "D0001", "tab": "home"})).await;
        // Publishes started before the statuses were set may come first.
        let home = wait_until("the Home tab of all 300 is published", Duration::from_secs(15), || async {
            app.sim.home_view(ALICE).filter(|v| v.to_string().contains("*75* waiting for you"))
        })
        .await;
        let publishes = app.sim.calls(Some("views.publish"));
        assert!(publishes.iter().all(|c| c.outcome == "ok"), "Slack refused a publish: {:?}",
            publishes.iter().map(|c| c.outcome.clone()).collect::<Vec<_>>());
        let shown = home["blocks"].as_array().expect("blocks").len();
        assert!(shown <= 100, "{shown} blocks");
        let rendered = home.to_string();
        assert!(rendered.contains("*75* upcoming") && rendered.contains("*75* sent") && rendered.contains("*75* failed"), "{rendered}");
        let held_at = rendered.find("Waiting for you").expect("held section");
        let upcoming_at = rendered.find("*Upcoming*").expect("upcoming section");
        assert!(held_at < upcoming_at, "held messages first");
        for more in [
            format!("…and {} more waiting for you.", 75 - blocks::HOME_HELD),
            format!("…and {} more.", 75 - blocks::HOME_UPCOMING),
            format!("…and {} more sent earlier.", 75 - blocks::HOME_RECENT),
            format!("…and {} more failed earlier.", 75 - blocks::HOME_RECENT),
        ] {
            assert!(rendered.contains(&more), "{more}");
        }
    }
}
