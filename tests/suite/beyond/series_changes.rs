//! An author's changes to a series, through Slack: pause across the due
//! time and resume, skip the waiting occurrence or a later one, edit the
//! whole series mid-way, cancel; only their own.

use std::time::Duration;

use chrono::Utc;
use serde_json::Value;
use slack_scheduler::domain::MessageStatus;
use slack_scheduler::slack::blocks;
use slack_scheduler::store::{MessageRecord, SeriesStatus};

use crate::common::harness::{ALICE, BOB, GENERAL, RANDOM};
use crate::common::modal::Filled;
use crate::common::{TestApp, wait_until};
use crate::on_both_backends;

/// Alice, connected, with a daily series due in `secs` seconds.
async fn with_series(app: &TestApp, secs: i64) -> i64 {
    app.install(ALICE).await;
    let when = Utc::now().timestamp() + secs;
    let filled = Filled::new(app, Some(GENERAL), "Daily standup", when).repeat("daily");
    let answer = app
        .submit_modal(ALICE, blocks::NEW_CALLBACK, "", &filled, Some(GENERAL))
        .await;
    assert_eq!((answer.status, answer.body.as_str()), (200, ""), "accepted");
    occurrences(app).await[0].series_id.expect("an occurrence")
}

async fn occurrences(app: &TestApp) -> Vec<MessageRecord> {
    app.messages()
        .await
        .into_iter()
        .filter(|m| m.series_id.is_some())
        .collect()
}

async fn waiting(app: &TestApp) -> Vec<MessageRecord> {
    occurrences(app)
        .await
        .into_iter()
        .filter(|m| m.status == MessageStatus::Pending)
        .collect()
}

on_both_backends! {
    /// Paused before its time, the occurrence is not posted; resumed
    /// after it, the series carries on with the next one, tomorrow.
    async fn a_series_paused_across_its_due_time_resumes_with_the_next(db: TestDb) {
        let app = TestApp::start(&db).await;
        let series = with_series(&app, 3).await;
        let first = waiting(&app).await[0].clone();
        app.press(crate::common::harness::TEAM, ALICE, blocks::ACTION_PAUSE_SERIES, &series.to_string(), false).await;
        wait_until("the series is paused", Duration::from_secs(10), || async {
            let s = app.store.series(series).await.expect("read")?;
            (s.status == SeriesStatus::Paused).then_some(())
        })
        .await;
        // Past its due time: nothing was posted.
        let after_due = first.due_at + chrono::Duration::seconds(2);
        wait_until("the due time passes", Duration::from_secs(10), || async {
            (Utc::now() > after_due).then_some(())
        })
        .await;
        assert!(app.sim.messages(Some(GENERAL)).iter().all(|m| m.text != "Daily standup"), "not posted while paused");
        assert_eq!(app.store.message(first.id).await.expect("read").expect("row").status, MessageStatus::Cancelled);

        app.press(crate::common::harness::TEAM, ALICE, blocks::ACTION_RESUME_SERIES, &series.to_string(), false).await;
        let next = wait_until("the next occurrence waits", Duration::from_secs(15), || async {
            waiting(&app).await.into_iter().next()
        })
        .await;
        assert_eq!(next.due_at, first.due_at + chrono::Duration::days(1), "tomorrow, same time");
        assert_eq!(next.occurrence, Some(2));
        app.stop().await;
    }
}

on_both_backends! {
    /// Skipping the waiting occurrence makes it `skipped` and brings the
    /// next; skipping a later one of the five previewed means it is never
    /// created.
    async fn skipping_the_waiting_occurrence_or_a_later_one(db: TestDb) {
        let app = TestApp::start(&db).await;
        let series = with_series(&app, 3600).await;
        let first = waiting(&app).await[0].clone();
        let value = blocks::occurrence_value(series, first.due_at);
        app.choose(ALICE, blocks::ACTION_SKIP, &value).await;
        let second = wait_until("the next occurrence waits", Duration::from_secs(15), || async {
            waiting(&app).await.into_iter().find(|m| m.occurrence == Some(2))
        })
        .await;
        assert_eq!(app.store.message(first.id).await.expect("read").expect("row").status, MessageStatus::Skipped);
        assert_eq!(second.due_at, first.due_at + chrono::Duration::days(1));

        // The day after that is skipped ahead of time.
        let third_due = second.due_at + chrono::Duration::days(1);
        app.choose(ALICE, blocks::ACTION_SKIP, &blocks::occurrence_value(series, third_due)).await;
        wait_until("the skip is kept", Duration::from_secs(10), || async {
            let s = app.store.series(series).await.expect("read")?;
            s.skipped.contains(&third_due).then_some(())
        })
        .await;
        let preview = app.store.series(series).await.expect("read").expect("series");
        let next_five = blocks::SeriesView::of(preview, Utc::now(), 5).next;
        assert_eq!(next_five[0], second.due_at, "the waiting one first");
        assert!(!next_five.contains(&third_due), "never to be created: {next_five:?}");
        assert_eq!(next_five[1], third_due + chrono::Duration::days(1));
        app.stop().await;
    }
}

on_both_backends! {
    /// Edited mid-way (another text, conversation, time and rule), the
    /// series' waiting occurrence takes all of it, and so will the next.
    async fn a_series_edited_midway_moves_its_waiting_occurrence(db: TestDb) {
        let app = TestApp::start(&db).await;
        let series = with_series(&app, 3600).await;
        let when = Utc::now().timestamp() + 7200;
        let filled = Filled::new(&app, Some(RANDOM), "Weekly sync", when)
            .repeat("weekly")
            .on_days(&["mon", "thu"])
            .ends("after")
            .times(3);
        let answer = app
            .submit_modal(ALICE, blocks::SERIES_CALLBACK, &series.to_string(), &filled, Some(RANDOM))
            .await;
        assert_eq!((answer.status, answer.body.as_str()), (200, ""), "accepted");
        let edited = app.store.series(series).await.expect("read").expect("series");
        assert_eq!((edited.channel_id.as_str(), edited.text.as_str()), (RANDOM, "Weekly sync"));
        assert_eq!(edited.recurrence.describe().split(" at ").next(), Some("every Monday and Thursday"));
        let moved = waiting(&app).await;
        assert_eq!(moved.len(), 1, "still one waiting");
        assert_eq!((moved[0].channel_id.as_str(), moved[0].text.as_str()), (RANDOM, "Weekly sync"));
        let expected = edited.schedule().next_after(Utc::now()).expect("a next one");
        assert_eq!(moved[0].due_at, expected, "the new rule's first");
        app.stop().await;
    }
}

on_both_backends! {
    /// Cancelled, a series and its waiting occurrence stop; nobody else
    /// can pause, skip or cancel it.
    async fn only_its_author_can_cancel_a_series(db: TestDb) {
        let app = TestApp::start(&db).await;
        let series = with_series(&app, 3600).await;
        let first = waiting(&app).await[0].clone();
        app.install(BOB).await;
        // In a `/schedule list` message (answered there) and in the Home tab
        // (answered in a small modal).
        for action in [blocks::ACTION_PAUSE_SERIES, blocks::ACTION_CANCEL_SERIES] {
            app.press(crate::common::harness::TEAM, BOB, action, &series.to_string(), true).await;
        }
        app.choose(BOB, blocks::ACTION_SKIP, &blocks::occurrence_value(series, first.due_at)).await;
        wait_until("bob is told it is not his, each time", Duration::from_secs(10), || async {
            let in_messages = app.sim.ephemerals().iter()
                .filter(|e| e.body.to_string().contains("not yours"))
                .count();
            let in_modals = app.sim.views().into_iter()
                .filter(|v| v.view.to_string().contains("not yours"))
                .count();
            (in_messages >= 2 && in_modals >= 1).then_some(())
        })
        .await;
        assert_eq!(app.store.series(series).await.expect("read").expect("s").status, SeriesStatus::Active);
        assert_eq!(waiting(&app).await.len(), 1);

        app.press(crate::common::harness::TEAM, ALICE, blocks::ACTION_CANCEL_SERIES, &series.to_string(), false).await;
        wait_until("the series is cancelled", Duration::from_secs(10), || async {
            let s = app.store.series(series).await.expect("read")?;
            (s.status == SeriesStatus::Cancelled).then_some(())
        })
        .await;
        let stopped = app.store.message(first.id).await.expect("read").expect("row");
        assert_eq!((stopped.status, stopped.reason.as_deref()), (MessageStatus::Cancelled, Some("series_cancelled")));
        // The Home tab no longer offers it.
        app.event("Ev-home-cancel", serde_json::json!({"type": "app_home_opened", "user": ALICE, "channel": "D0001", "tab": "home"})).await;
        wait_until("the Home tab drops the series", Duration::from_secs(10), || async {
            let home = app.sim.home_view(ALICE).map(|v: Value| v.to_string())?;
            (!home.contains(blocks::ACTION_CANCEL_SERIES) && home.contains("*Upcoming*")).then_some(())
        })
        .await;
        app.stop().await;
    }
}

on_both_backends! {
    /// Editing one occurrence changes that one only: the series keeps its
    /// text, and its next occurrence is made from the series.
    async fn editing_one_occurrence_leaves_the_series_as_it_was(db: TestDb) {
        let app = TestApp::start(&db).await;
        let series = with_series(&app, 3600).await;
        let first = waiting(&app).await[0].clone();
        let when = first.due_at.timestamp() + 600;
        let filled = Filled::new(&app, Some(GENERAL), "Standup moved by ten minutes, today only", when);
        let answer = app
            .submit_modal(ALICE, blocks::EDIT_CALLBACK, &first.id.to_string(), &filled, Some(GENERAL))
            .await;
        assert_eq!((answer.status, answer.body.as_str()), (200, ""));
        let edited = app.store.message(first.id).await.expect("read").expect("row");
        assert_eq!(edited.text, "Standup moved by ten minutes, today only");
        assert_eq!(edited.due_at.timestamp(), when);
        let kept = app.store.series(series).await.expect("read").expect("series");
        assert_eq!(kept.text, "Daily standup", "the series is as it was");
        // Skipped, the edited one is followed by one made from the series.
        app.choose(ALICE, blocks::ACTION_SKIP, &blocks::occurrence_value(series, edited.due_at)).await;
        let next = wait_until("the next occurrence", Duration::from_secs(15), || async {
            waiting(&app).await.into_iter().find(|m| m.occurrence == Some(2))
        })
        .await;
        assert_eq!(next.text, "Daily standup");
        assert_eq!(next.due_at, first.due_at + chrono::Duration::days(1), "the rule's time, not the edited one");
        app.stop().await;
    }
}
