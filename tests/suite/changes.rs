//! What an author may do to a message whose fate is not settled: one that
//! may already be posted can't be cancelled or edited until Scheduler knows,
//! and a held one can't be sent now until its author reconnected.

use std::time::Duration;

use chrono::Utc;
use slack_scheduler::domain::MessageStatus;
use slack_scheduler::slack::blocks;

use crate::common::harness::{ALICE, GENERAL, RANDOM, TEAM};
use crate::common::{TestApp, wait_until};
use crate::on_both_backends;

const IN_DOUBT: &str = "may already have been posted";

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

/// Ephemeral answers (button refusals) containing `words`.
fn answers_with(app: &TestApp, words: &str) -> usize {
    app.sim
        .ephemerals()
        .iter()
        .filter(|e| e.body.to_string().contains(words))
        .count()
}

async fn edit(app: &TestApp, id: i64) -> String {
    let when = (Utc::now() + chrono::Duration::hours(5)).timestamp();
    let answer = app
        .submit(ALICE, Some(id), Some(RANDOM), "changed my mind", Some(when))
        .await;
    answer
        .json()
        .and_then(|v| v["errors"][blocks::TEXT_BLOCK].as_str().map(str::to_owned))
        .unwrap_or_default()
}

on_both_backends! {
    async fn a_message_that_may_already_be_posted_cannot_be_cancelled_or_edited(db: TestDb) {
        let app = TestApp::start(&db).await;
        app.install(ALICE).await;
        let id = alice_schedules(&app, "maybe out already").await;
        // A crash left it in doubt: the next cycle checks the conversation first.
        app.store.execute_raw(&format!("UPDATE scheduled_messages SET verify_before_post = TRUE WHERE id = {id}")).await.expect("in doubt");
        let before = app.store.message(id).await.expect("read").expect("row");

        app.press(TEAM, ALICE, blocks::ACTION_CANCEL, &id.to_string(), true).await;
        wait_until("the cancel is refused in words", Duration::from_secs(5), || async { (answers_with(&app, IN_DOUBT) >= 1).then_some(()) }).await;
        app.press(TEAM, ALICE, blocks::ACTION_EDIT, &id.to_string(), true).await;
        wait_until("the edit button is refused too", Duration::from_secs(5), || async { (answers_with(&app, IN_DOUBT) >= 2).then_some(()) }).await;
        let error = edit(&app, id).await;
        assert!(error.contains(IN_DOUBT) && error.contains("checking"), "the modal says why: {error}");

        let after = app.store.message(id).await.expect("read").expect("row");
        assert_eq!(after, before, "neither cancelled nor edited, and still to be checked");
        assert!(app.sim.views().iter().all(|v| v.view["type"] != "modal"), "no edit modal was opened");
    }
}

on_both_backends! {
    async fn a_message_being_sent_cannot_be_cancelled_or_edited(db: TestDb) {
        let app = TestApp::start(&db).await;
        app.install(ALICE).await;
        let id = alice_schedules(&app, "on its way").await;
        app.store.execute_raw(&format!("UPDATE scheduled_messages SET status = 'sending' WHERE id = {id}")).await.expect("sending");
        let before = app.store.message(id).await.expect("read").expect("row");

        app.press(TEAM, ALICE, blocks::ACTION_CANCEL, &id.to_string(), true).await;
        wait_until("the cancel is refused in words", Duration::from_secs(5), || async { (answers_with(&app, IN_DOUBT) >= 1).then_some(()) }).await;
        assert!(edit(&app, id).await.contains(IN_DOUBT));
        assert_eq!(app.store.message(id).await.expect("read").expect("row"), before);
    }
}

on_both_backends! {
    async fn send_now_waits_until_the_author_has_reconnected(db: TestDb) {
        let app = TestApp::start(&db).await;
        app.install(ALICE).await;
        let id = alice_schedules(&app, "held back").await;
        let alice = app.store.user(TEAM, ALICE).await.expect("read").expect("alice").author;
        // Slack refused alice's token while the message was overdue: held.
        app.store.execute_raw(&format!(
            "UPDATE scheduled_messages SET status = 'held', wake_at = NULL, reason = 'token_revoked',
                 due_at = created_at WHERE id = {id}"
        )).await.expect("held");
        app.store.revoke_user_tokens(alice.id, "token_revoked", Utc::now(), Utc::now()).await.expect("invalid");

        app.press(TEAM, ALICE, blocks::ACTION_SEND_NOW, &id.to_string(), true).await;
        wait_until("send now is refused", Duration::from_secs(5), || async { (answers_with(&app, "Reconnect your account") >= 1).then_some(()) }).await;
        assert_eq!(app.store.message(id).await.expect("read").expect("row").status, MessageStatus::Held);

        // Once alice connects again, the same button sends it.
        app.install(ALICE).await;
        app.press(TEAM, ALICE, blocks::ACTION_SEND_NOW, &id.to_string(), true).await;
        wait_until("it is posted", Duration::from_secs(10), || async {
            let m = app.store.message(id).await.ok().flatten()?;
            (m.status == MessageStatus::Sent).then_some(())
        })
        .await;
    }
}
