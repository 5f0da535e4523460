//! The delivery cycle against real databases and the simulator.

use std::time::Duration;

use chrono::Utc;
use secrecy::ExposeSecret;
use slack_scheduler::domain::MessageStatus;
use slack_scheduler::scheduler::Settings;
use slack_scheduler::sim::{Fault, FaultKind};
use slack_scheduler::store::{NewMessage, TokenStatus};
use tokio_util::sync::CancellationToken;

use crate::common::harness::{ALICE, BOB, GENERAL, OLD, RANDOM, TEAM, new_message, test_settings};
use crate::common::{Harness, wait_until};
use crate::on_both_backends;

fn refresh_calls(h: &Harness) -> usize {
    h.sim
        .calls(Some("oauth.v2.access"))
        .iter()
        .filter(|c| c.params.get("grant_type").and_then(|g| g.as_str()) == Some("refresh_token"))
        .count()
}

on_both_backends! {
    async fn a_mixed_batch_records_successes_retries_and_permanent_failures(db: TestDb) {
        let h = Harness::start(&db).await;
        let (alice, _) = h.connect(ALICE).await;
        let (bob, _) = h.connect(BOB).await;
        let due = Utc::now();
        let mut ok = Vec::new();
        for i in 0..3 {
            ok.push(h.schedule(&alice, GENERAL, &format!("fine {i}"), due).await);
        }
        let flaky = h.schedule(&alice, GENERAL, "flaky once", due).await;
        let gateway = h.schedule(&alice, RANDOM, "gateway once", due).await;
        let not_member = h.schedule(&bob, RANDOM, "bob is not in random", due).await;
        let archived = h.schedule(&alice, OLD, "into the archive", due).await;
        let missing = h.schedule(&alice, "C9999", "nowhere", due).await;
        h.sim.add_fault(Fault::new("chat.postMessage", FaultKind::SlackError { code: "service_unavailable".into() })
            .for_text("flaky once").times(1));
        h.sim.add_fault(Fault::new("chat.postMessage", FaultKind::Http { status: 502 }).for_text("gateway once").times(1));

        let report = h.cycle_at(due + chrono::Duration::seconds(1)).await;
        assert_eq!((report.claimed, report.sent, report.retrying, report.failed_permanently), (8, 3, 2, 3));
        assert_eq!(report.failed, 5);
        assert_eq!((report.claims, report.flushes), (1, 1));
        assert_eq!(report.db_statements, 3, "claim, successes, the rest");

        for id in &ok {
            let m = h.message(*id).await;
            assert_eq!((m.status, m.attempts), (MessageStatus::Sent, 1));
            let ts = m.slack_ts.expect("ts kept");
            assert!(h.sim.messages(Some(GENERAL)).iter().any(|p| p.ts == ts && p.user == ALICE));
        }
        for (id, reason) in [(flaky, "service_unavailable"), (gateway, "http_502")] {
            let m = h.message(id).await;
            assert_eq!((m.status, m.attempts, m.reason.as_deref()), (MessageStatus::Pending, 1, Some(reason)));
            assert!(m.wake_at.expect("retry time") >= report.started_at + chrono::Duration::seconds(5));
            assert!(!m.verify_before_post, "{reason} is not ambiguous");
        }
        for (id, reason) in [(not_member, "not_in_channel"), (archived, "is_archived"), (missing, "channel_not_found")] {
            let m = h.message(id).await;
            assert_eq!((m.status, m.reason.as_deref(), m.needs_notice), (MessageStatus::Failed, Some(reason), true));
            assert_eq!(m.wake_at, None);
        }

        // The transient ones go out on a later cycle.
        let later = h.cycle_at(Utc::now() + chrono::Duration::seconds(60)).await;
        assert_eq!((later.claimed, later.sent), (2, 2));
        for id in [flaky, gateway] {
            let m = h.message(id).await;
            assert_eq!((m.status, m.attempts, m.reason), (MessageStatus::Sent, 2, None));
        }
        assert_eq!(h.post_calls_for("flaky once"), 2);
        assert_eq!(h.post_calls_for("into the archive"), 1, "permanent failures are not retried");
    }
}

on_both_backends! {
    async fn transient_failures_become_final_after_the_last_attempt(db: TestDb) {
        let h = Harness::start(&db).await;
        let (alice, _) = h.connect(ALICE).await;
        let due = Utc::now();
        let id = h.schedule(&alice, GENERAL, "always down", due).await;
        h.sim.add_fault(Fault::new("chat.postMessage", FaultKind::SlackError { code: "request_timeout".into() }));
        let mut now = due + chrono::Duration::seconds(1);
        for _ in 0..3 {
            h.cycle_at(now).await;
            now += chrono::Duration::minutes(5);
        }
        let m = h.message(id).await;
        assert_eq!((m.status, m.attempts, m.reason.as_deref()), (MessageStatus::Failed, 3, Some("request_timeout")));
        assert!(m.needs_notice);
        assert_eq!(h.post_calls_for("always down"), 3, "SCHEDULER_MAX_ATTEMPTS is 3 here");
    }
}

on_both_backends! {
    async fn an_expired_token_is_refreshed_once_for_fifty_messages(db: TestDb) {
        let h = Harness::start(&db).await;
        let (alice, tokens) = h.connect(ALICE).await;
        // The stored pair has expired, in the database and in Slack.
        h.store_tokens_expiring(ALICE, &tokens, Utc::now() - chrono::Duration::minutes(1)).await;
        h.sim.expire_access_tokens(Some(ALICE));
        let due = Utc::now();
        // Five each into ten conversations: at Slack's pace of one post a
        // second per channel, fifty into one would take most of a minute.
        for channel in h.add_channels("C4", 10, &[ALICE]) {
            h.schedule_many(&alice, &channel, "standup", 5, due).await;
        }

        let report = h.cycle_at(due + chrono::Duration::seconds(1)).await;
        assert_eq!((report.claimed, report.sent), (50, 50));
        assert_eq!(refresh_calls(&h), 1, "one refresh for fifty messages");
        let fresh = h.store.user_by_id(alice.id).await.expect("read").and_then(|u| u.credentials).expect("creds");
        assert_ne!(fresh.access_token.expose_secret(), tokens.user_access);
        assert!(fresh.expires_at.is_some_and(|at| at > Utc::now() + chrono::Duration::hours(11)));
        let posts = h.sim.calls(Some("chat.postMessage"));
        assert_eq!(posts.len(), 50);
        assert!(posts.iter().all(|c| c.token.as_deref() == Some(fresh.access_token.expose_secret())),
            "every post uses the new token");
        assert_eq!(report.refreshed, 1);
        assert_eq!(report.db_statements, 3, "claim, the new token pair, the successes");
    }
}

on_both_backends! {
    async fn a_token_expiring_within_two_hours_is_refreshed_before_use(db: TestDb) {
        let h = Harness::start(&db).await;
        let (alice, tokens) = h.connect(ALICE).await;
        h.store_tokens_expiring(ALICE, &tokens, Utc::now() + chrono::Duration::minutes(90)).await;
        let due = Utc::now();
        h.schedule(&alice, GENERAL, "ahead of expiry", due).await;
        let report = h.cycle_at(due + chrono::Duration::seconds(1)).await;
        assert_eq!(report.sent, 1);
        assert_eq!(refresh_calls(&h), 1);
        let used = h.sim.calls(Some("chat.postMessage"))[0].token.clone();
        assert_ne!(used.as_deref(), Some(tokens.user_access.as_str()), "posted with the refreshed token");
    }
}

on_both_backends! {
    async fn a_token_expired_answer_gets_one_refresh_and_one_retry(db: TestDb) {
        let h = Harness::start(&db).await;
        let (alice, _) = h.connect(ALICE).await;
        // The database thinks the token is good for hours; Slack disagrees.
        h.sim.expire_access_tokens(Some(ALICE));
        let due = Utc::now();
        let id = h.schedule(&alice, GENERAL, "after a refresh", due).await;
        let report = h.cycle_at(due + chrono::Duration::seconds(1)).await;
        assert_eq!(report.sent, 1);
        assert_eq!(refresh_calls(&h), 1);
        assert_eq!(h.post_calls_for("after a refresh"), 2);
        assert_eq!(h.message(id).await.status, MessageStatus::Sent);

        // Refused again after the refresh: held, not retried in a loop.
        let stubborn = h.schedule(&alice, GENERAL, "still refused", Utc::now()).await;
        h.sim.add_fault(Fault::new("chat.postMessage", FaultKind::SlackError { code: "token_expired".into() }).times(5));
        h.cycle_at(Utc::now() + chrono::Duration::seconds(2)).await;
        assert_eq!(h.post_calls_for("still refused"), 2, "one retry, never a loop");
        assert_eq!(refresh_calls(&h), 2);
        let m = h.message(stubborn).await;
        assert_eq!((m.status, m.reason.as_deref()), (MessageStatus::Held, Some("token_expired")));
    }
}

on_both_backends! {
    async fn refused_credentials_hold_messages_instead_of_failing_them(db: TestDb) {
        let h = Harness::start(&db).await;
        let (alice, _) = h.connect(ALICE).await;
        let (bob, _) = h.connect(BOB).await;
        let due = Utc::now();
        h.sim.revoke_tokens(ALICE);
        let first = h.schedule(&alice, GENERAL, "revoked 1", due).await;
        let second = h.schedule(&alice, GENERAL, "revoked 2", due).await;
        let unaffected = h.schedule(&bob, GENERAL, "bob is fine", due).await;
        let report = h.cycle_at(due + chrono::Duration::seconds(1)).await;
        assert_eq!((report.sent, report.held), (1, 2));
        for id in [first, second] {
            let m = h.message(id).await;
            assert_eq!((m.status, m.reason.as_deref(), m.needs_notice), (MessageStatus::Held, Some("token_revoked"), true));
        }
        assert_eq!(h.post_calls_for("revoked 2"), 0, "once the token is refused, the author's other posts wait");
        assert_eq!(h.message(unaffected).await.status, MessageStatus::Sent);
        let user = h.store.user_by_id(alice.id).await.expect("read").expect("row");
        assert_eq!((user.token_status, user.token_problem.as_deref()), (TokenStatus::Invalid, Some("token_revoked")));

        // A refused refresh holds too, without posting anything.
        let (carol, _) = {
            h.sim.add_user(TEAM, "U0003", "carol", "Asia/Tokyo");
            h.sim.add_channel(TEAM, "C0100", "carol-room", &["U0003"]);
            h.connect("U0003").await
        };
        let carol_tokens = h.sim.install(TEAM, "U0003");
        h.store_tokens_expiring("U0003", &carol_tokens, Utc::now() - chrono::Duration::minutes(1)).await;
        h.sim.revoke_tokens("U0003");
        let held = h.schedule(&carol, "C0100", "refresh refused", Utc::now()).await;
        h.cycle_at(Utc::now() + chrono::Duration::seconds(2)).await;
        let m = h.message(held).await;
        assert_eq!((m.status, m.reason.as_deref()), (MessageStatus::Held, Some("invalid_refresh_token")));
        assert_eq!(h.post_calls_for("refresh refused"), 0);
    }
}

on_both_backends! {
    async fn retry_after_is_honoured(db: TestDb) {
        let h = Harness::start(&db).await;
        let (alice, _) = h.connect(ALICE).await;
        let due = Utc::now();
        // A short Retry-After is waited out within the cycle.
        let quick = h.schedule(&alice, GENERAL, "brief limit", due).await;
        h.sim.add_fault(Fault::new("chat.postMessage", FaultKind::RateLimited { retry_after_secs: 1 }).for_text("brief").times(1));
        let started = std::time::Instant::now();
        let report = h.cycle_at(due + chrono::Duration::seconds(1)).await;
        assert_eq!(report.sent, 1);
        assert!(started.elapsed() >= Duration::from_secs(1), "waited for Retry-After");
        assert_eq!(h.post_calls_for("brief limit"), 2);
        assert_eq!(h.message(quick).await.attempts, 1, "a rate limit is not an attempt");

        // A long one sends the message back to wait, without using an attempt.
        let slow = h.schedule(&alice, GENERAL, "long limit", Utc::now()).await;
        h.sim.add_fault(Fault::new("chat.postMessage", FaultKind::RateLimited { retry_after_secs: 120 }).times(1));
        let now = Utc::now() + chrono::Duration::seconds(1);
        h.cycle_at(now).await;
        let m = h.message(slow).await;
        assert_eq!((m.status, m.attempts, m.reason.as_deref()), (MessageStatus::Pending, 0, Some("ratelimited")));
        assert!(m.wake_at.expect("wake") >= now + chrono::Duration::seconds(119));
    }
}

on_both_backends! {
    async fn a_burst_into_one_channel_is_paced_not_rejected(db: TestDb) {
        // The harness's pace is Slack's at its time scale: ten posts a real
        // second; the simulator tolerates a burst of 3, as jitter can bring
        // two posts closer together than they were sent.
        let h = Harness::start(&db).await;
        let (alice, _) = h.connect(ALICE).await;
        let due = Utc::now();
        h.schedule_many(&alice, GENERAL, "burst", 10, due).await;
        let started = std::time::Instant::now();
        let report = h.cycle_at(due + chrono::Duration::seconds(1)).await;
        assert_eq!(report.sent, 10);
        let spacing = Duration::from_secs(1) / h.settings.channel_rate_per_sec;
        let after_burst = 10 - h.settings.channel_burst;
        assert!(started.elapsed() >= spacing * after_burst, "{after_burst} posts after the burst, {spacing:?} apart");
        let refused = h.sim.calls(Some("chat.postMessage")).iter().filter(|c| c.outcome != "ok").count();
        assert_eq!(refused, 0, "Slack never had to refuse a post");
        // Posted in due order.
        let texts: Vec<String> = h.sim.messages(Some(GENERAL)).into_iter().map(|m| m.text).collect();
        let expected: Vec<String> = (0..10).map(|i| format!("burst {i}")).collect();
        assert_eq!(texts, expected);
    }
}

on_both_backends! {
    async fn statements_are_counted_per_batch(db: TestDb) {
        let settings = Settings { batch_size: 100, ..test_settings() };
        let h = Harness::with_settings(&db, settings).await;
        let (alice, _) = h.connect(ALICE).await;
        let base = Utc::now();
        // 250 messages; the first of each batch of 100 fails (no such channel).
        // The rest go to 100 conversations, a message each per batch:
        // statements, not one channel's pace, are what this test counts.
        let channels = h.add_channels("C5", 100, &[ALICE]);
        let messages: Vec<NewMessage> = (0..250i64)
            .map(|i| {
                let channel = if i % 100 == 0 { "C9999" } else { channels[i as usize % 100].as_str() };
                new_message(&alice, channel, &format!("counted {i}"), base + chrono::Duration::milliseconds(i * 1_000))
            })
            .collect();
        h.store.insert_messages(&messages, base).await.expect("stored");
        let report = h.cycle_at(base + chrono::Duration::minutes(5)).await;
        assert_eq!((report.claimed, report.sent, report.failed_permanently, report.claims), (250, 247, 3, 3));
        // Outcomes are written as they come, a batch's worth at a time: at
        // most two statements (successes, the rest) per write.
        assert!(report.flushes <= 4, "{report:?}");
        assert!(
            report.db_statements <= report.claims as u64 + 2 * report.flushes as u64,
            "one statement per claim, at most two per write: {report:?}"
        );
    }
}

on_both_backends! {
    async fn shutdown_finishes_the_calls_in_flight_and_records_them(db: TestDb) {
        let settings = Settings { concurrency: 4, ..test_settings() };
        let h = Harness::with_settings(&db, settings).await;
        h.sim.update_settings(|s| s.latency = Duration::from_millis(250));
        let (alice, _) = h.connect(ALICE).await;
        let mut channels = Vec::new();
        for i in 0..24 {
            let id = format!("C1{i:03}");
            h.sim.add_channel(TEAM, &id, &format!("room-{i}"), &[ALICE]);
            channels.push(id);
        }
        let due = Utc::now();
        for channel in &channels {
            h.schedule(&alice, channel, &format!("to {channel}"), due).await;
        }
        let cancel = CancellationToken::new();
        let cycle = {
            let cancel = cancel.clone();
            let scheduler = &h.scheduler;
            async move { scheduler.run_cycle(due + chrono::Duration::seconds(1), &cancel).await }
        };
        let stopper = async {
            wait_until("the first posts completed", Duration::from_secs(10), || async {
                (!h.sim.calls(Some("chat.postMessage")).is_empty()).then_some(())
            })
            .await;
            cancel.cancel();
        };
        let (report, ()) = tokio::join!(cycle, stopper);
        let report = report.expect("cycle");
        let messages = h.store.all_messages().await.expect("read");
        assert!(messages.iter().all(|m| m.status != MessageStatus::Sending), "nothing left in doubt");
        let sent: Vec<_> = messages.iter().filter(|m| m.status == MessageStatus::Sent).collect();
        let waiting = messages.iter().filter(|m| m.status == MessageStatus::Pending && m.attempts == 0).count();
        assert_eq!(sent.len() + waiting, 24);
        assert!(!sent.is_empty() && waiting > 0, "stopped part-way: {} sent, {waiting} waiting", sent.len());
        assert_eq!(h.sim.messages(None).len(), sent.len(), "every post Slack took is recorded as sent");
        assert_eq!(report.sent, sent.len());
    }
}

on_both_backends! {
    async fn the_scheduler_wakes_for_a_message_due_between_ticks(db: TestDb) {
        let h = Harness::start(&db).await;
        let (alice, _) = h.connect(ALICE).await;
        let cancel = CancellationToken::new();
        let scheduler = &h.scheduler;
        let run = scheduler.run(cancel.clone());
        let check = async {
            // Due in two seconds, to the millisecond: between two minute ticks.
            let due = Utc::now() + chrono::Duration::milliseconds(2_000);
            let id = h.schedule(&alice, GENERAL, "between ticks", due).await;
            let due = h.message(id).await.due_at;
            scheduler.wake_signal().due_at(due);
            let m = wait_until("the message is sent", Duration::from_secs(15), || async {
                let m = h.message(id).await;
                (m.status == MessageStatus::Sent).then_some(m)
            })
            .await;
            cancel.cancel();
            let sent_at = m.sent_at.expect("sent_at");
            assert!(sent_at >= due, "never early: due {due}, sent {sent_at}");
            assert!(sent_at - due < chrono::Duration::seconds(2), "due {due}, sent {sent_at}");
        };
        tokio::join!(run, check);
    }
}
