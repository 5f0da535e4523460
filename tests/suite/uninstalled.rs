//! A request from a workspace where Scheduler is not installed, or was
//! uninstalled, changes nothing, whatever it carries, and is answered with
//! how to install (SPEC §4): on every Slack endpoint.

use std::time::Duration;

use chrono::Utc;
use serde_json::{Value, json};
use slack_scheduler::slack::blocks;

use crate::common::harness::{ALICE, GENERAL, TEAM};
use crate::common::{TestApp, wait_until};
use crate::on_both_backends;

const OTHER_TEAM: &str = "T0002";
const MALLORY: &str = "U0009";

/// A modal submission from `team`, as Slack sends it (new message, or an edit of `editing`).
fn submission(team: &str, user: &str, editing: Option<i64>, text: &str) -> Value {
    let when = (Utc::now() + chrono::Duration::hours(2)).timestamp();
    let (callback, metadata) = match editing {
        Some(id) => (blocks::EDIT_CALLBACK, id.to_string()),
        None => (blocks::NEW_CALLBACK, String::new()),
    };
    json!({
        "type": "view_submission", "team": {"id": team}, "user": {"id": user, "team_id": team},
        "api_app_id": "A0SIMAPP",
        "view": {"id": "V0", "type": "modal", "callback_id": callback, "private_metadata": metadata,
                 "state": {"values": {
                     blocks::TEXT_BLOCK: {blocks::TEXT_ACTION: {"type": "plain_text_input", "value": text}},
                     blocks::CHANNEL_BLOCK: {blocks::CHANNEL_ACTION: {"type": "conversations_select", "selected_conversation": GENERAL}},
                     blocks::WHEN_BLOCK: {blocks::WHEN_ACTION: {"type": "datetimepicker", "selected_date_time": when}}}}},
    })
}

/// The field error a modal answer carries, or "" if none.
fn field_error(answer: &slack_scheduler::sim::AppAnswer) -> String {
    answer
        .json()
        .and_then(|v| v["errors"][blocks::TEXT_BLOCK].as_str().map(str::to_owned))
        .unwrap_or_default()
}

fn install_refusals(app: &TestApp) -> usize {
    app.sim
        .ephemerals()
        .iter()
        .filter(|e| e.body.to_string().contains("not installed"))
        .count()
}

on_both_backends! {
    async fn a_modal_from_a_workspace_without_scheduler_stores_nothing_and_says_how_to_install(db: TestDb) {
        let app = TestApp::start(&db).await;
        app.install(ALICE).await;
        app.sim.add_team(OTHER_TEAM, "Other Co");
        app.sim.add_user(OTHER_TEAM, MALLORY, "mallory", "UTC");

        let answer = app.sim.send_interaction(&app.url, submission(OTHER_TEAM, MALLORY, None, "from nowhere")).await.expect("sent");

        assert_eq!(answer.status, 200, "a clean Slack answer: {}", answer.body);
        let error = field_error(&answer);
        assert!(error.contains("not installed") && error.contains("/slack/install"), "says how to install: {}", answer.body);
        assert!(app.messages().await.is_empty(), "no message stored");
        assert!(app.store.user(OTHER_TEAM, MALLORY).await.expect("read").is_none(), "no user row either");
    }
}

on_both_backends! {
    async fn after_an_uninstall_buttons_and_modals_change_nothing(db: TestDb) {
        let app = TestApp::start(&db).await;
        app.install(ALICE).await;
        app.command(ALICE, GENERAL, "in 3 hours still waiting").await;
        let id = app.messages().await[0].id;
        // The workspace's tokens are gone; its messages would be cancelled by
        // the same event a moment later. Whatever arrives in between must not
        // act on the installation that no longer exists.
        app.store.uninstall_workspace(TEAM, Utc::now()).await.expect("uninstall");
        let before = app.store.message(id).await.expect("read").expect("row");

        app.press(TEAM, ALICE, blocks::ACTION_CANCEL, &id.to_string(), true).await;
        wait_until("the cancel is refused", Duration::from_secs(5), || async { (install_refusals(&app) >= 1).then_some(()) }).await;
        app.press(TEAM, ALICE, blocks::ACTION_SEND_NOW, &id.to_string(), true).await;
        wait_until("send now is refused", Duration::from_secs(5), || async { (install_refusals(&app) >= 2).then_some(()) }).await;
        app.press(TEAM, ALICE, blocks::ACTION_EDIT, &id.to_string(), true).await;
        wait_until("edit is refused", Duration::from_secs(5), || async { (install_refusals(&app) >= 3).then_some(()) }).await;
        let edit = app.sim.send_interaction(&app.url, submission(TEAM, ALICE, Some(id), "edited after uninstall")).await.expect("sent");
        assert!(field_error(&edit).contains("not installed"), "{}", edit.body);
        let new = app.sim.send_interaction(&app.url, submission(TEAM, ALICE, None, "new after uninstall")).await.expect("sent");
        assert!(field_error(&new).contains("not installed"), "{}", new.body);

        let after = app.store.message(id).await.expect("read").expect("row");
        assert_eq!(after, before, "the message is untouched");
        assert_eq!(app.messages().await.len(), 1, "nothing new stored");
        assert!(app.sim.views().iter().all(|v| v.view["type"] != "modal"), "no modal opened");
    }
}

on_both_backends! {
    async fn events_from_a_workspace_without_scheduler_change_nothing(db: TestDb) {
        let app = TestApp::start(&db).await;
        app.install(ALICE).await;
        let home = |team: &str, user: &str, id: &str| json!({"token": "x", "team_id": team, "api_app_id": "A0SIMAPP",
            "type": "event_callback", "event_id": id, "event_time": Utc::now().timestamp(),
            "event": {"type": "app_home_opened", "user": user, "channel": "D0009", "tab": "home"}});
        let publishes = || app.sim.calls(Some("views.publish")).len();
        wait_until("the install's home publish", Duration::from_secs(5), || async { (publishes() >= 1).then_some(()) }).await;
        let before = publishes();

        let answer = app.sim.send_event(&app.url, home(OTHER_TEAM, MALLORY, "Ev-other")).await.expect("sent");
        assert_eq!(answer.status, 200, "acknowledged, so Slack does not retry");
        // An event from the installed workspace, sent after it: once its Home
        // tab is published, work started for the first event would have run too.
        app.sim.send_event(&app.url, home(TEAM, ALICE, "Ev-ours")).await.expect("sent");
        wait_until("alice's home is republished", Duration::from_secs(5), || async { (publishes() > before).then_some(()) }).await;

        assert!(app.store.user(OTHER_TEAM, MALLORY).await.expect("read").is_none(), "no user row for the other workspace");
        assert!(app.store.workspace(OTHER_TEAM).await.expect("read").is_none());
        let recorded = app.store.query_text_raw("SELECT event_id FROM slack_events ORDER BY event_id").await.expect("read");
        assert!(!recorded.iter().any(|r| r[0] == "Ev-other"), "not even its id is stored: {recorded:?}");
    }
}
