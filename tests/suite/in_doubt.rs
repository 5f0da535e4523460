//! In-doubt messages under Slack's history limits: look-ups keep to the
//! workspace's budget, a history cut short is never "not found", and
//! nothing waits for ever.

use std::collections::HashMap;
use std::time::Duration;

use chrono::Utc;
use secrecy::SecretString;
use slack_scheduler::domain::MessageStatus;
use slack_scheduler::scheduler::Settings;
use slack_scheduler::sim::{Fault, FaultKind};
use slack_scheduler::store::ClaimRequest;

use crate::common::Harness;
use crate::common::harness::{ALICE, BOB, GENERAL, TEAM, settings_at};
use crate::on_both_backends;

/// A crashed runner's claim: the rows are `sending` under a lease of `lease`.
fn crashed_claim(now: chrono::DateTime<Utc>, lease: chrono::Duration) -> ClaimRequest {
    ClaimRequest {
        now,
        limit: 100,
        lease_until: now + lease,
        claim_token: "crashed-runner".into(),
        refresh_before: now,
        refresh_lock_until: now,
        pace_interval: chrono::Duration::milliseconds(1),
        pace_tolerance: chrono::Duration::zero(),
        pace_budget: chrono::Duration::seconds(20),
    }
}

/// Slack's "minute" lasts one second here, in the simulator and the app.
const SCALE: f64 = 1.0 / 60.0;

fn scaled() -> Settings {
    Settings {
        history_window: Duration::from_secs(1),
        history_per_window: 1,
        history_page: 15,
        ..settings_at(SCALE)
    }
}

/// Runs cycles until every message is sent or `deadline` passes.
async fn settle(h: &Harness, deadline: Duration) {
    let give_up = std::time::Instant::now() + deadline;
    while std::time::Instant::now() < give_up {
        h.cycle_at(Utc::now()).await;
        let all = h.store.all_messages().await.expect("read");
        if all.iter().all(|m| m.status == MessageStatus::Sent) {
            return;
        }
        let next = all.iter().filter_map(|m| m.wake_at).min();
        let wait = next
            .map(|at| (at - Utc::now()).to_std().unwrap_or_default())
            .unwrap_or(Duration::from_millis(50))
            .min(Duration::from_millis(500));
        tokio::time::sleep(wait.max(Duration::from_millis(10))).await;
    }
    panic!(
        "messages still waiting: {:?}",
        h.store.all_messages().await.expect("read")
    );
}

/// Times each message id was posted, from Slack's own record.
fn posts_per_id(h: &Harness) -> HashMap<String, usize> {
    let mut per_id = HashMap::new();
    for message in h.sim.messages(None) {
        let id = message
            .metadata
            .as_ref()
            .and_then(|m| m.pointer("/event_payload/scheduled_message_id"))
            .and_then(|v| v.as_str())
            .map(str::to_owned)
            .unwrap_or(message.text);
        *per_id.entry(id).or_default() += 1;
    }
    per_id
}

on_both_backends! {
    /// Six in-doubt messages in three conversations, half of them already
    /// posted by the runner that died: each conversation is looked up once,
    /// the look-ups keep to the workspace's one-a-"minute" budget, and every
    /// message ends posted exactly once.
    async fn look_ups_keep_to_the_workspace_budget_and_post_each_message_once(db: TestDb) {
        let h = Harness::with_settings_at(&db, SCALE, scaled()).await;
        let (alice, tokens) = h.connect(ALICE).await;
        let rooms: Vec<String> = (0..3).map(|i| {
            let id = format!("C7{i:02}");
            h.sim.add_channel(TEAM, &id, &format!("busy-{i}"), &[ALICE, BOB]);
            id
        }).collect();
        let due = Utc::now();
        let mut ids = Vec::new();
        for room in &rooms {
            for n in 0..2 {
                ids.push(h.schedule(&alice, room, &format!("{room} #{n}"), due).await);
            }
        }
        let claimed = h.store.claim_due(&crashed_claim(due + chrono::Duration::seconds(1), chrono::Duration::seconds(1)))
            .await.expect("crashed claim");
        assert_eq!(claimed.len(), 6);
        let token = SecretString::from(tokens.user_access.clone());
        for message in claimed.iter().filter(|m| m.text.ends_with("#0")) {
            h.slack.post_message(&token, TEAM, &message.channel_id, &message.text, message.rich_text.as_deref(), Some(message.id))
                .await.expect("the crashed runner's post");
        }
        for room in &rooms {
            h.sim.post_as(room, BOB, "chatter after the crash");
        }

        settle(&h, Duration::from_secs(20)).await;

        let per_id = posts_per_id(&h);
        for id in &ids {
            assert_eq!(per_id.get(&id.to_string()), Some(&1), "message {id} posted exactly once: {per_id:?}");
        }
        let looks: Vec<_> = h.sim.calls(Some("conversations.history"));
        let seen: Vec<String> = looks.iter().map(|c| format!("{} {} {}", c.at.format("%S%.3f"), c.params["channel"], c.outcome)).collect();
        assert_eq!(looks.len(), 3, "one look-up per conversation: {seen:?}");
        for pair in looks.windows(2) {
            let gap = pair[1].at - pair[0].at;
            assert!(gap >= chrono::Duration::milliseconds(950), "one call per second of budget: {gap}");
        }
        assert!(looks.iter().all(|c| c.params["limit"] == "15"), "15 a page");
    }
}

on_both_backends! {
    /// The post lies beyond the first page (a busy channel): the scan goes
    /// on from its cursor at the next call the budget allows, finds it, and
    /// never takes a cut-short history for "not found".
    async fn a_history_cut_short_is_read_on_not_taken_for_not_found(db: TestDb) {
        let h = Harness::with_settings_at(&db, SCALE, scaled()).await;
        let (alice, tokens) = h.connect(ALICE).await;
        let due = Utc::now();
        let id = h.schedule(&alice, GENERAL, "deep in a busy channel", due).await;
        let claimed = h.store.claim_due(&crashed_claim(due + chrono::Duration::seconds(1), chrono::Duration::seconds(1)))
            .await.expect("crashed claim");
        let token = SecretString::from(tokens.user_access.clone());
        h.slack.post_message(&token, TEAM, GENERAL, &claimed[0].text, claimed[0].rich_text.as_deref(), Some(id)).await.expect("the crashed runner's post");
        for i in 0..20 {
            h.sim.post_as(GENERAL, BOB, &format!("busy {i}"));
        }

        settle(&h, Duration::from_secs(20)).await;

        assert_eq!(h.post_calls_for("deep in a busy channel"), 1, "found on the second page, not posted again");
        let looks = h.sim.calls(Some("conversations.history"));
        let outcomes: Vec<&str> = looks.iter().map(|c| c.outcome.as_str()).collect();
        assert_eq!(looks.len(), 2, "two pages, at two calls of the budget: {outcomes:?}");
        assert!(looks[1].params.get("cursor").is_some_and(|c| !c.is_null()), "the second page goes on from the cursor");
        assert!(looks[1].at - looks[0].at >= chrono::Duration::milliseconds(950));
        assert!(h.message(id).await.slack_ts.is_some());
    }
}

on_both_backends! {
    /// History stays rate limited: past SCHEDULER_VERIFY_WAIT_SECS the
    /// message is posted again rather than waiting for ever, and counted.
    async fn past_the_verify_wait_an_in_doubt_message_is_posted_again_and_counted(db: TestDb) {
        let settings = Settings { verify_wait: Duration::from_secs(2), ..scaled() };
        let h = Harness::with_settings(&db, settings).await;
        let (alice, _) = h.connect(ALICE).await;
        let due = Utc::now();
        let id = h.schedule(&alice, GENERAL, "never verifiable", due).await;
        h.store.claim_due(&crashed_claim(due + chrono::Duration::seconds(1), chrono::Duration::milliseconds(200)))
            .await.expect("crashed claim");
        h.sim.add_fault(Fault::new("conversations.history", FaultKind::RateLimited { retry_after_secs: 1 }));

        let started = std::time::Instant::now();
        let mut reposted = 0;
        while std::time::Instant::now() - started < Duration::from_secs(15) {
            let report = h.cycle_at(Utc::now()).await;
            reposted += report.reposted_unverified;
            if h.message(id).await.status == MessageStatus::Sent {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let m = h.message(id).await;
        assert_eq!(m.status, MessageStatus::Sent);
        assert_eq!(reposted, 1, "the repost is counted");
        assert_eq!(h.post_calls_for("never verifiable"), 1);
        assert!(started.elapsed() >= Duration::from_millis(1_500), "it waited out the verify wait first");
        let metrics = slack_scheduler::telemetry::metrics_handle().render();
        assert!(metrics.contains("scheduler_in_doubt_reposted_total{cause=\"verify_wait\"}"), "{metrics}");
    }
}

on_both_backends! {
    /// An in-doubt message whose author's token Slack then refuses is held,
    /// still in doubt: once the author reconnects it is looked for before
    /// it is posted, and found, so it is not posted twice.
    async fn a_held_in_doubt_message_is_looked_for_after_the_author_reconnects(db: TestDb) {
        let h = Harness::with_settings_at(&db, SCALE, scaled()).await;
        let (alice, tokens) = h.connect(ALICE).await;
        let due = Utc::now();
        let id = h.schedule(&alice, GENERAL, "posted, then the token was revoked", due).await;
        let claimed = h.store.claim_due(&crashed_claim(due + chrono::Duration::seconds(1), chrono::Duration::milliseconds(500)))
            .await.expect("crashed claim");
        let token = SecretString::from(tokens.user_access.clone());
        h.slack.post_message(&token, TEAM, GENERAL, &claimed[0].text, claimed[0].rich_text.as_deref(), Some(id)).await.expect("the crashed runner's post");
        h.sim.revoke_tokens(ALICE);

        let held = crate::common::wait_until("the message is held", Duration::from_secs(10), || async {
            h.cycle_at(Utc::now()).await;
            let m = h.message(id).await;
            (m.status == MessageStatus::Held).then_some(m)
        }).await;
        assert!(held.verify_before_post, "held, and still in doubt");

        // alice reconnects; her message is overdue, so she sends it now.
        h.connect(ALICE).await;
        h.store.resume_held(alice.id, Utc::now()).await.expect("resume");
        h.store.send_held_now(id, alice.id, Utc::now()).await.expect("send now");
        settle(&h, Duration::from_secs(20)).await;
        assert_eq!(h.post_calls_for("posted, then the token was revoked"), 1, "found in history, not posted again");
    }
}

crate::on_postgres! {
    /// However long a refresh takes, a message is not posted once its lease
    /// would run out before Slack answers: another runner takes it over when
    /// the lease ends, and posting it too would post it twice.
    async fn a_message_whose_lease_runs_out_while_its_token_is_refreshed_is_not_posted_twice(db: TestDb) {
        let settings = Settings { lease: Duration::from_secs(6), ..scaled() };
        let h = Harness::with_settings_at(&db, SCALE, settings.clone()).await;
        let (alice, tokens) = h.connect(ALICE).await;
        h.store_tokens_expiring(ALICE, &tokens, Utc::now() - chrono::Duration::minutes(1)).await;
        h.sim.expire_access_tokens(Some(ALICE));
        // Slack takes longer to refresh than the lease lasts.
        h.sim.add_fault(Fault::new("oauth.v2.access", FaultKind::Latency { millis: 8_000 }).times(1));
        let id = h.schedule(&alice, GENERAL, "outlived its lease", Utc::now()).await;
        let second = h.runner(db.store_with(h.cipher.clone()).await, settings);

        let first = h.cycle_at(Utc::now() + chrono::Duration::seconds(1));
        let takeover = async {
            let lease_end = crate::common::wait_until("the first runner claims", Duration::from_secs(5), || async {
                let m = h.message(id).await;
                (m.status == MessageStatus::Sending).then_some(m.wake_at)
            }).await.expect("a lease");
            crate::common::wait_until("the second runner posts it", Duration::from_secs(30), || async {
                if Utc::now() > lease_end {
                    second.run_cycle(Utc::now(), &tokio_util::sync::CancellationToken::new()).await.expect("cycle");
                }
                (h.message(id).await.status == MessageStatus::Sent).then_some(())
            }).await;
        };
        let (first, ()) = tokio::join!(first, takeover);
        assert!(first.retrying >= 1, "the first runner sent it back rather than post past its lease: {first:?}");
        assert_eq!(h.post_calls_for("outlived its lease"), 1, "posted once, by the runner that took it over");
        let refreshes = h.sim.calls(Some("oauth.v2.access")).len();
        assert_eq!(refreshes, 1, "the second runner waited for the first's refresh");
    }
}
