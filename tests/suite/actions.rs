//! Edit, Cancel and Send now: only for the message's author, in their own
//! workspace, checked on the server.

use std::time::Duration;

use chrono::Utc;
use slack_scheduler::domain::MessageStatus;
use slack_scheduler::slack::blocks;

use crate::common::harness::{ALICE, BOB, GENERAL, RANDOM, TEAM};
use crate::common::{TestApp, wait_until};
use crate::on_both_backends;

async fn alice_schedules(app: &TestApp, text: &str) -> i64 {
    app.command(ALICE, GENERAL, &format!("in 3 hours {text}"))
        .await;
    app.messages()
        .await
        .into_iter()
        .find(|m| m.text == text)
        .expect("stored")
        .id
}

on_both_backends! {
    async fn the_author_cancels_from_the_list_and_the_list_refreshes(db: TestDb) {
        let app = TestApp::start(&db).await;
        app.install(ALICE).await;
        let keep = alice_schedules(&app, "keep me").await;
        let drop = alice_schedules(&app, "drop me").await;
        let answer = app.press(TEAM, ALICE, blocks::ACTION_CANCEL, &drop.to_string(), true).await;
        assert_eq!(answer.status, 200);
        let cancelled = wait_until("the message is cancelled", Duration::from_secs(5), || async {
            let m = app.store.message(drop).await.ok().flatten()?;
            (m.status == MessageStatus::Cancelled).then_some(m)
        })
        .await;
        assert_eq!(cancelled.reason.as_deref(), Some("cancelled_by_author"));
        assert_eq!(app.store.message(keep).await.expect("read").expect("row").status, MessageStatus::Pending);
        let refreshed = wait_until("the list is replaced", Duration::from_secs(5), || async {
            app.sim.ephemerals().into_iter().find(|e| e.body["replace_original"] == true)
        })
        .await;
        let rendered = refreshed.body.to_string();
        assert!(rendered.contains("keep me") && !rendered.contains("drop me"), "{rendered}");
    }
}

on_both_backends! {
    async fn nobody_else_can_cancel_or_edit_a_message(db: TestDb) {
        let app = TestApp::start(&db).await;
        app.install(ALICE).await;
        app.install(BOB).await;
        let id = alice_schedules(&app, "alice's own").await;
        let before = app.store.message(id).await.expect("read").expect("row");

        // bob presses Cancel with alice's message id.
        app.press(TEAM, BOB, blocks::ACTION_CANCEL, &id.to_string(), true).await;
        let refusal = wait_until("bob is told no", Duration::from_secs(5), || async { app.last_ephemeral_text() }).await;
        assert!(refusal.contains("not yours"), "{refusal}");
        // Someone in another workspace with alice's user id tries too: that
        // workspace has no Scheduler, so it is told how to install.
        app.sim.add_team("T0002", "Other Co");
        app.sim.add_user("T0002", "U0009", "mallory", "UTC");
        app.press("T0002", ALICE, blocks::ACTION_CANCEL, &id.to_string(), true).await;
        wait_until("the other workspace is told to install", Duration::from_secs(5), || async {
            app.sim.ephemerals().iter().any(|e| e.body.to_string().contains("not installed")).then_some(())
        })
        .await;
        // bob submits an edit of alice's message.
        let when = (Utc::now() + chrono::Duration::hours(5)).timestamp();
        let answer = app.submit(BOB, Some(id), Some(GENERAL), "hijacked", Some(when)).await;
        let errors: serde_json::Value = serde_json::from_str(&answer.body).expect("json");
        assert!(errors["errors"][blocks::TEXT_BLOCK].as_str().expect("error").contains("not yours"));
        // bob asks to edit it: refused, no modal.
        app.press(TEAM, BOB, blocks::ACTION_EDIT, &id.to_string(), true).await;
        wait_until("the second refusal", Duration::from_secs(5), || async {
            (app.sim.ephemerals().iter().filter(|e| e.body.to_string().contains("not yours")).count() >= 2).then_some(())
        })
        .await;

        let after = app.store.message(id).await.expect("read").expect("row");
        assert_eq!(after, before, "nothing changed");
        assert!(app.sim.views().iter().all(|v| v.view["type"] != "modal"), "no edit modal was opened");
    }
}

on_both_backends! {
    async fn edit_opens_the_modal_prefilled_and_saves_the_change(db: TestDb) {
        let app = TestApp::start(&db).await;
        app.install(ALICE).await;
        let id = alice_schedules(&app, "first draft").await;
        app.press(TEAM, ALICE, blocks::ACTION_EDIT, &id.to_string(), false).await;
        let modal = wait_until("the edit modal opens", Duration::from_secs(5), || async {
            app.sim.views().into_iter().find(|v| v.view["type"] == "modal").map(|v| v.view)
        })
        .await;
        assert_eq!(modal["callback_id"], blocks::EDIT_CALLBACK);
        assert_eq!(modal["private_metadata"], id.to_string());
        let field = modal["blocks"].as_array().expect("blocks").iter()
            .find(|b| b["block_id"] == blocks::TEXT_BLOCK).expect("message field")["element"].clone();
        assert_eq!(field["type"], "rich_text_input");
        assert_eq!(field["initial_value"]["elements"][0]["elements"], serde_json::json!([{"type": "text", "text": "first draft"}]));
        assert!(modal.to_string().contains(&format!("\"initial_conversation\":\"{GENERAL}\"")));

        let when = (Utc::now() + chrono::Duration::hours(6)).timestamp();
        let answer = app.submit(ALICE, Some(id), Some(RANDOM), "final text", Some(when)).await;
        assert_eq!((answer.status, answer.body.as_str()), (200, ""));
        let m = app.store.message(id).await.expect("read").expect("row");
        assert_eq!((m.text.as_str(), m.channel_id.as_str(), m.due_at.timestamp(), m.status), ("final text", RANDOM, when, MessageStatus::Pending));
    }
}

on_both_backends! {
    async fn a_sent_message_can_no_longer_be_changed(db: TestDb) {
        let app = TestApp::start(&db).await;
        app.install(ALICE).await;
        app.command(ALICE, GENERAL, "in 2 seconds already gone").await;
        let id = app.messages().await[0].id;
        wait_until("it is sent", Duration::from_secs(10), || async {
            let m = app.store.message(id).await.ok().flatten()?;
            (m.status == MessageStatus::Sent).then_some(())
        })
        .await;
        app.press(TEAM, ALICE, blocks::ACTION_CANCEL, &id.to_string(), true).await;
        let refusal = wait_until("alice is told", Duration::from_secs(5), || async { app.last_ephemeral_text() }).await;
        assert!(refusal.contains("no longer be changed"), "{refusal}");
        assert_eq!(app.store.message(id).await.expect("read").expect("row").status, MessageStatus::Sent);
    }
}
