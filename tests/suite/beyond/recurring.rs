//! Recurring messages through Slack: the quick form's phrases, the
//! modal's Repeat choice (which updates the modal in place), delivery of an
//! occurrence and the next one waiting, the rule in words with the next
//! three times, and rules that cannot work refused in words.

use std::time::Duration;

use chrono::Utc;
use serde_json::Value;
use slack_scheduler::domain::MessageStatus;
use slack_scheduler::slack::blocks;

use crate::common::harness::{ALICE, GENERAL, TEAM};
use crate::common::modal::Filled;
use crate::common::{TestApp, wait_until};
use crate::on_both_backends;

on_both_backends! {
    /// `/schedule every weekday at 9am Standup in 5`: a series in this
    /// conversation, confirmed with its rule in words and its next three
    /// times; one occurrence waits, counted in the stats.
    async fn the_quick_form_schedules_a_series_and_names_its_rule_and_next_three_times(db: TestDb) {
        let app = TestApp::start(&db).await;
        app.install(ALICE).await;
        let answer = app.command(ALICE, GENERAL, "every weekday at 9am until 2027-12-31 Standup in 5").await;
        assert_eq!(answer.status, 200);
        assert!(answer.body.contains("every weekday at 9:00 AM, until Dec 31, 2027"), "{}", answer.body);
        let body: Value = serde_json::from_str(&answer.body).expect("json");
        let shown = body["blocks"][0]["text"]["text"].as_str().expect("text");
        assert_eq!(shown.matches("<!date^").count(), 3, "the next three times: {shown}");
        assert!(answer.invalid_blocks.is_empty(), "{:?}", answer.invalid_blocks);
        let series = alice_series(&app).await;
        assert_eq!(series.len(), 1);
        assert_eq!(series[0].channel_id, GENERAL);
        let waiting: Vec<_> = app.messages().await.into_iter().filter(|m| m.status == MessageStatus::Pending).collect();
        assert_eq!(waiting.len(), 1, "one occurrence waits, the rest come as they are due");
        assert_eq!(waiting[0].text, "Standup in 5");
        let local = waiting[0].due_at.with_timezone(&chrono_tz::Europe::Berlin);
        assert_eq!(local.format("%H:%M").to_string(), "09:00", "9am where alice lives");
        assert!(!matches!(local.format("%a").to_string().as_str(), "Sat" | "Sun"));
        assert_eq!(app.store.message_stats(None).await.expect("stats").pending, 1);
        app.stop().await;
    }
}

on_both_backends! {
    /// Every recurring phrase SPEC §7 names makes a series; an end right
    /// after the time phrase is kept; a phrase that cannot be read is
    /// explained, and nothing is stored.
    async fn every_phrase_of_the_spec_makes_a_series(db: TestDb) {
        let app = TestApp::start(&db).await;
        app.install(ALICE).await;
        let phrases = [
            ("every weekday at 9am Standup in 5", "every weekday at 9:00 AM"),
            ("every monday 10:00 Plan the week", "every Monday at 10:00 AM"),
            ("every day at 17:30 Go home", "every day at 5:30 PM"),
            ("every 2 hours Stretch", "every 2 hours"),
            ("every month on the 1st at 9am Invoices", "every month on the 1st at 9:00 AM"),
            ("every month on the first monday at 9am Town hall", "every month on the first Monday at 9:00 AM"),
            ("every day at 8am for 10 times Water the plants", "every day at 8:00 AM, 10 times"),
        ];
        for (typed, words) in phrases {
            let answer = app.command(ALICE, GENERAL, typed).await;
            assert!(answer.body.contains(words), "{typed}: {}", answer.body);
        }
        assert_eq!(alice_series(&app).await.len(), phrases.len());
        for (typed, why) in [
            ("every blue moon Howl", "how often to repeat"),
            ("every day at teatime Tea", "read the time"),
            ("every weekday at 9am", "Write the message"),
        ] {
            let answer = app.command(ALICE, GENERAL, typed).await;
            assert!(answer.body.contains(why), "{typed}: {}", answer.body);
        }
        assert_eq!(alice_series(&app).await.len(), phrases.len(), "nothing more stored");
        app.stop().await;
    }
}

on_both_backends! {
    /// A daily series from the modal, starting in two seconds: its first
    /// occurrence is posted then, and the next waits for tomorrow, same
    /// time; the Home tab shows the series with its next five times.
    async fn a_series_from_the_modal_is_posted_and_its_next_occurrence_waits(db: TestDb) {
        let app = TestApp::start(&db).await;
        app.install(ALICE).await;
        let when = Utc::now().timestamp() + 2;
        let filled = Filled::new(&app, Some(GENERAL), "Morning check-in", when).repeat("daily");
        let answer = app.submit_modal(ALICE, blocks::NEW_CALLBACK, "", &filled, Some(GENERAL)).await;
        assert_eq!((answer.status, answer.body.as_str()), (200, ""));
        let confirmed = wait_until("the confirmation", Duration::from_secs(5), || async { app.last_ephemeral_text() }).await;
        assert!(confirmed.contains("every day at") && confirmed.matches("<!date^").count() == 3, "{confirmed}");

        wait_until("the first occurrence is posted", Duration::from_secs(15), || async {
            app.sim.messages(Some(GENERAL)).into_iter().find(|m| m.text == "Morning check-in")
        })
        .await;
        let next = wait_until("the next occurrence waits", Duration::from_secs(15), || async {
            app.messages().await.into_iter().find(|m| m.status == MessageStatus::Pending)
        })
        .await;
        assert_eq!(next.due_at.timestamp(), when + 24 * 3600, "tomorrow, same time");
        assert_eq!(next.occurrence, Some(2));

        app.event("Ev-series-home", serde_json::json!({"type": "app_home_opened", "user": ALICE, "channel": "D0001", "tab": "home"})).await;
        let home = wait_until("the Home tab shows the series", Duration::from_secs(10), || async {
            app.sim.home_view(ALICE).map(|v: Value| v.to_string()).filter(|v| v.contains("*Repeating*"))
        })
        .await;
        assert!(home.contains("every day at") && home.contains(blocks::ACTION_SKIP), "{home}");
        assert_eq!(home.matches("Skip ").count(), 5, "five next times to skip: {home}");
        app.stop().await;
    }
}

on_both_backends! {
    /// Choosing "weekly" in the Repeat menu updates the modal with the day
    /// checkboxes and Ends; choosing "after a number of times" adds the
    /// count. What was entered stays, and every version is valid Block Kit.
    async fn the_repeat_choice_updates_the_modal_with_its_fields(db: TestDb) {
        let app = TestApp::start(&db).await;
        app.install(ALICE).await;
        app.command(ALICE, GENERAL, "").await;
        let opened = wait_until("the modal opens", Duration::from_secs(5), || async {
            app.sim.views().into_iter().find(|v| v.view["type"] == "modal").map(|v| v.view)
        })
        .await;
        let when = Utc::now().timestamp() + 3600;
        let weekly = Filled::new(&app, Some(GENERAL), "Sync", when).repeat("weekly");
        app.choose_in_modal(ALICE, &opened, &weekly, blocks::REPEAT_ACTION, "weekly").await;
        let updated = wait_until("views.update", Duration::from_secs(5), || async {
            app.sim.calls(Some("views.update")).into_iter().find(|c| c.outcome == "ok")
        })
        .await;
        assert_eq!(updated.params["view_id"], opened["id"]);
        assert_eq!(updated.params["hash"], opened["hash"], "guarded against a view changed meanwhile");
        let view = updated.params["view"].to_string();
        assert!(view.contains(blocks::DAYS_BLOCK) && view.contains(blocks::ENDS_BLOCK), "{view}");
        assert!(!view.contains(blocks::TIMES_BLOCK));
        assert!(view.contains("Sync"), "the message entered stays");

        let after = weekly.clone().on_days(&["tue"]).ends("after");
        let current = app.sim.views().into_iter().find(|v| v.id == opened["id"]).expect("the modal").view;
        app.choose_in_modal(ALICE, &current, &after, blocks::ENDS_ACTION, "after").await;
        wait_until("the count field", Duration::from_secs(5), || async {
            app.sim.calls(Some("views.update")).into_iter()
                .filter(|c| c.outcome == "ok")
                .find(|c| c.params["view"].to_string().contains(blocks::TIMES_BLOCK))
        })
        .await;
        assert!(app.sim.calls(Some("views.update")).iter().all(|c| c.outcome == "ok"), "Slack accepted every view");

        // Submitted as every three hours, three times.
        let hourly = Filled::new(&app, Some(GENERAL), "Hydrate", when)
            .repeat("hourly").every_hours(3).ends("after").times(3);
        let answer = app.submit_modal(ALICE, blocks::NEW_CALLBACK, "", &hourly, Some(GENERAL)).await;
        assert_eq!((answer.status, answer.body.as_str()), (200, ""));
        let series = alice_series(&app).await;
        assert_eq!(series[0].recurrence.describe(), "every 3 hours, 3 times");
        let next = series[0].schedule().after(Utc::now(), 5);
        assert_eq!(next.len(), 3);
        assert_eq!(next[0].timestamp(), when, "the first at the time picked");
        app.stop().await;
    }
}

on_both_backends! {
    /// A rule the author must fix comes back as a field error, and
    /// nothing is stored: weekly without a day, an end before the start,
    /// a count of zero, and editing a series into a one-off.
    async fn a_rule_that_cannot_work_is_a_field_error_and_stores_nothing(db: TestDb) {
        let app = TestApp::start(&db).await;
        app.install(ALICE).await;
        let when = Utc::now().timestamp() + 3600;
        let base = Filled::new(&app, Some(GENERAL), "Sync", when);
        let cases = [
            (base.clone().repeat("weekly"), blocks::DAYS_BLOCK),
            (base.clone().repeat("daily").ends("on").until("2020-01-01"), blocks::UNTIL_BLOCK),
            (base.clone().repeat("daily").ends("after").times(0), blocks::TIMES_BLOCK),
            (base.clone().repeat("hourly"), blocks::HOURS_BLOCK),
        ];
        for (filled, block) in cases {
            let answer = app.submit_modal(ALICE, blocks::NEW_CALLBACK, "", &filled, Some(GENERAL)).await;
            let body: Value = serde_json::from_str(&answer.body).expect("field errors");
            assert_eq!(body["response_action"], "errors");
            assert!(body["errors"][block].is_string(), "{block}: {body}");
        }
        assert!(app.messages().await.is_empty(), "nothing stored");
        assert!(alice_series(&app).await.is_empty());
        app.stop().await;
    }
}

/// Alice's series that are still going.
async fn alice_series(app: &TestApp) -> Vec<slack_scheduler::store::SeriesRecord> {
    let alice = app
        .store
        .user(TEAM, ALICE)
        .await
        .expect("read")
        .expect("alice");
    app.store
        .author_series(alice.author.id, 100)
        .await
        .expect("read")
}
