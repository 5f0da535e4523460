//! Retention: settled messages lose their text after MESSAGE_RETENTION_DAYS;
//! rows, outcomes, counts and App Home's history stay right.

use std::time::Duration;

use chrono::Utc;
use serde_json::json;
use slack_scheduler::domain::MessageStatus;
use slack_scheduler::retention::Retention;
use slack_scheduler::store::Backend;
use tokio_util::sync::CancellationToken;

use crate::common::harness::{ALICE, GENERAL, OLD, TEAM};
use crate::common::{Harness, TestApp, wait_until};
use crate::on_both_backends;

on_both_backends! {
    /// Sent, failed and cancelled messages lose their text once 30 days old,
    /// in bounded batches; pending ones and recent ones keep it, and the
    /// counts the stats read do not move.
    async fn settled_text_is_erased_after_the_retention_period_and_counts_stay(db: TestDb) {
        let h = Harness::start(&db).await;
        let (alice, _) = h.connect(ALICE).await;
        let now = Utc::now();
        let mut sent = Vec::new();
        for i in 0..5 {
            sent.push(h.schedule(&alice, GENERAL, &format!("sent {i}"), now).await);
        }
        let failed = h.schedule(&alice, OLD, "into the archive", now).await;
        let cancelled = h.schedule(&alice, GENERAL, "changed my mind", now + chrono::Duration::hours(3)).await;
        let pending = h.schedule(&alice, GENERAL, "still ahead", now + chrono::Duration::days(60)).await;
        h.cycle_at(now + chrono::Duration::seconds(1)).await;
        h.store.cancel_message(cancelled, alice.id, now).await.expect("cancel");
        // The bot has told alice about the failure.
        let notices = h.store.claim_notices(10, now, now + chrono::Duration::minutes(1)).await.expect("notices");
        assert_eq!(notices.len(), 1);
        h.store.notice_sent(notices[0].id).await.expect("told");
        let before = h.store.message_stats(None).await.expect("stats");
        let team_before = h.store.message_stats(Some(TEAM)).await.expect("stats");
        assert_eq!((before.sent, before.failed), (5, 1));

        let retention = Retention::new(h.store.clone(), 30).with_batch(2);
        let stop = CancellationToken::new();
        assert_eq!(retention.sweep(now + chrono::Duration::days(29), &stop).await.expect("sweep"), 0, "too early");
        let later = now + chrono::Duration::days(31);
        assert_eq!(h.store.erase_settled_text(later - chrono::Duration::days(30), later, 2).await.expect("one batch"), 2, "a batch is bounded");
        assert_eq!(retention.sweep(later, &stop).await.expect("sweep"), 5, "the rest, two at a time");
        assert_eq!(retention.sweep(later, &stop).await.expect("sweep"), 0, "nothing left");

        for id in sent.iter().copied().chain([failed, cancelled]) {
            let message = h.message(id).await;
            assert_eq!(message.text, "", "message {id} keeps no text");
            assert!(message.text_erased_at.is_some());
        }
        let first = h.message(sent[0]).await;
        assert_eq!(first.status, MessageStatus::Sent, "the outcome stays");
        assert!(first.slack_ts.is_some() && first.sent_at.is_some());
        assert_eq!(h.message(failed).await.reason.as_deref(), Some("is_archived"));
        assert_eq!(h.message(cancelled).await.status, MessageStatus::Cancelled);
        let waiting = h.message(pending).await;
        assert_eq!((waiting.text.as_str(), waiting.text_erased_at), ("still ahead", None));
        assert_eq!(h.store.message_stats(None).await.expect("stats"), before, "counts do not move");
        assert_eq!(h.store.message_stats(Some(TEAM)).await.expect("stats"), team_before);
        let counts = h.store.author_counts(alice.id).await.expect("counts");
        assert_eq!((counts.sent, counts.failed), (5, 1));
    }
}

on_both_backends! {
    /// The eraser reads the retention index, never the table, with many rows.
    async fn the_eraser_reads_the_retention_index(db: TestDb) {
        let h = Harness::start(&db).await;
        let (alice, _) = h.connect(ALICE).await;
        let now = Utc::now();
        let author = alice.clone();
        for chunk in 0..20 {
            let batch: Vec<_> = (0..1_000)
                .map(|i| crate::common::harness::new_message(&author, "C1", "x", now + chrono::Duration::minutes(chunk * 1_000 + i + 1)))
                .collect();
            // Past the per-user limit of pending messages: store them for other authors.
            let other = h.store.ensure_user(TEAM, &format!("UB{chunk:03}"), now).await.expect("user");
            let batch: Vec<_> = batch.into_iter().map(|mut m| { m.author_id = other.id; m.user_id = other.user_id.clone(); m }).collect();
            h.store.insert_messages(&batch, now).await.expect("bulk");
        }
        for i in 0..20 {
            h.schedule(&alice, GENERAL, &format!("sent {i}"), now).await;
        }
        h.cycle_at(now + chrono::Duration::seconds(1)).await;
        if db.backend == Backend::Postgres {
            h.store.execute_raw("ANALYZE scheduled_messages").await.expect("analyze");
        }
        let plan = h.store.explain_retention(now, 500).await.expect("explain");
        println!("{plan}");
        assert!(plan.contains("scheduled_messages_retention"), "the eraser must use the retention index:\n{plan}");
        assert!(!plan.contains("SCAN scheduled_messages\n") && !plan.ends_with("SCAN scheduled_messages") && !plan.contains("Seq Scan"), "no table scan:\n{plan}");
    }
}

on_both_backends! {
    /// App Home's history still lists an erased message, saying its text is gone.
    async fn app_home_history_says_the_text_was_removed(db: TestDb) {
        let app = TestApp::start(&db).await;
        app.install(ALICE).await;
        app.command(ALICE, GENERAL, "in 2 seconds A private thought").await;
        wait_until("the message is sent", Duration::from_secs(15), || async {
            app.messages().await.iter().any(|m| m.status == MessageStatus::Sent).then_some(())
        })
        .await;
        let later = Utc::now() + chrono::Duration::days(31);
        let erased = Retention::new(app.store.clone(), 30).sweep(later, &CancellationToken::new()).await.expect("sweep");
        assert_eq!(erased, 1);

        app.event("Ev-retention-1", json!({"type": "app_home_opened", "user": ALICE, "channel": "D0001", "tab": "home"})).await;
        // The home published after the sweep says so (earlier ones showed the text).
        let home = wait_until("the home shows the erased text", Duration::from_secs(10), || async {
            app.sim.home_view(ALICE).map(|v| v.to_string()).filter(|v| v.contains("text removed after"))
        })
        .await;
        assert!(home.contains("Recently sent") && home.contains("(text removed after 31 days)"), "{home}");
        assert!(!home.contains("A private thought"), "{home}");
        assert!(home.contains("*1* sent"), "the count stays: {home}");
    }
}

on_both_backends! {
    /// A series that ended or was cancelled loses its text with its
    /// occurrences; one still going keeps it.
    async fn a_series_that_is_over_loses_its_text_after_the_retention_period(db: TestDb) {
        use slack_scheduler::domain::recurrence::{Ends, Recurrence, Repeat, Schedule};
        use slack_scheduler::domain::{DueTime, MessageText};
        use slack_scheduler::store::NewSeries;
        let h = Harness::start(&db).await;
        let (alice, _) = h.connect(ALICE).await;
        let now = Utc::now();
        let daily = Recurrence { repeat: Repeat::Hours { hours: 6 }, ends: Ends::Never };
        let (schedule, first) = Schedule::start(&daily, chrono_tz::UTC, now).expect("series");
        let new = |text: &str| NewSeries {
            author_id: alice.id, team_id: TEAM.into(), user_id: ALICE.into(), channel_id: GENERAL.into(),
            text: MessageText::parse(text).expect("text"), rich_text: None, options: Default::default(),
            recurrence: daily.clone(), tz: chrono_tz::UTC, anchor: schedule.anchor,
            first: DueTime::parse(first, now).expect("due"),
        };
        let ids = h.store.create_series(&[new("over and done"), new("still going")], now).await.expect("stored");
        h.store.cancel_series(ids[0].0, alice.id, now).await.expect("cancelled");
        h.store.execute_raw("UPDATE series SET updated_at = '2000-01-01T00:00:00+00:00'").await.expect("aged");
        Retention::new(h.store.clone(), 30).sweep(now, &CancellationToken::new()).await.expect("sweep");
        let over = h.store.series(ids[0].0).await.expect("read").expect("series");
        let going = h.store.series(ids[1].0).await.expect("read").expect("series");
        assert_eq!(over.text, "", "erased");
        assert_eq!(going.text, "still going", "kept while the series goes on");
    }
}

on_both_backends! {
    /// `serve` erases on its own: started on a database holding a message
    /// sent long ago, it sweeps at once, and the stats do not move.
    async fn serve_sweeps_on_its_own(db: TestDb) {
        let store = db.store().await;
        let now = Utc::now();
        let alice = store.ensure_user(TEAM, ALICE, now).await.expect("alice");
        let id = store
            .insert_message(&crate::common::harness::new_message(&alice, GENERAL, "long gone", now + chrono::Duration::hours(1)), now)
            .await
            .expect("stored");
        store.execute_raw(&format!(
            "UPDATE scheduled_messages SET status = 'sent', wake_at = NULL, sent_at = due_at, \
             updated_at = '2001-01-01T00:00:00+00:00' WHERE id = {id}"
        ))
        .await
        .expect("settled long ago");
        let before = store.message_stats(None).await.expect("stats");
        store.close().await;

        let app = TestApp::start(&db).await;
        wait_until("serve erased the text", Duration::from_secs(15), || async {
            let m = app.store.message(id).await.expect("read")?;
            m.text_erased_at.is_some().then_some(())
        })
        .await;
        assert_eq!(app.store.message(id).await.expect("read").expect("row").text, "");
        assert_eq!(app.store.message_stats(None).await.expect("stats"), before);
        app.stop().await;
    }
}
