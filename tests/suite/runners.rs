//! Several processes sharing one PostgreSQL database.

use std::collections::HashMap;
use std::time::Duration;

use chrono::Utc;
use slack_scheduler::domain::MessageStatus;
use slack_scheduler::scheduler::{Scheduler, Settings};
use slack_scheduler::sim::{Fault, FaultKind};
use slack_scheduler::store::Store;
use tokio_util::sync::CancellationToken;

use crate::common::Harness;
use crate::common::harness::{ALICE, BOB, TEAM, test_settings};
use crate::on_postgres;

/// Runs cycles on `runner` until no message is waiting any more (paced
/// messages come back a moment later); returns how many it sent.
async fn drain(runner: &Scheduler, store: &Store) -> usize {
    let mut sent = 0;
    let give_up = tokio::time::Instant::now() + Duration::from_secs(120);
    loop {
        let report = runner
            .run_cycle(Utc::now(), &CancellationToken::new())
            .await
            .expect("cycle");
        sent += report.sent;
        if report.claimed > 0 {
            continue;
        }
        let waiting = store
            .all_messages()
            .await
            .expect("read")
            .iter()
            .any(|m| matches!(m.status, MessageStatus::Pending | MessageStatus::Sending));
        if !waiting {
            return sent;
        }
        assert!(
            tokio::time::Instant::now() < give_up,
            "messages still waiting after two minutes"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

on_postgres! {
    async fn two_runners_post_two_thousand_messages_exactly_once(db: TestDb) {
        let settings = Settings { batch_size: 200, concurrency: 32, ..test_settings() };
        let h = Harness::with_settings(&db, settings.clone()).await;
        // Leniency: 2,000 posts in one workspace take about seven of
        // Slack's minutes at its workspace-wide limit, which the app does
        // not pace itself by (it waits out the 429s). This test is about
        // claims: every message posted exactly once.
        h.sim.update_settings(|s| s.workspace_posts_per_minute = None);
        let (alice, _) = h.connect(ALICE).await;
        let (bob, _) = h.connect(BOB).await;
        let mut channels = Vec::new();
        for i in 0..40 {
            let id = format!("C2{i:03}");
            h.sim.add_channel(TEAM, &id, &format!("load-{i}"), &[ALICE, BOB]);
            channels.push(id);
        }
        let due = Utc::now() - chrono::Duration::seconds(2);
        for (i, channel) in channels.iter().enumerate() {
            let author = if i % 2 == 0 { &alice } else { &bob };
            h.schedule_many(author, channel, channel, 50, due).await;
        }
        // A second process: its own pool, its own scheduler, the same database.
        let second_store = db.store_with(h.cipher.clone()).await;
        let second = h.runner(second_store, settings);

        let (first_sent, second_sent) = tokio::join!(drain(&h.scheduler, &h.store), drain(&second, &h.store));
        assert_eq!(first_sent + second_sent, 2_000);
        assert!(first_sent > 0 && second_sent > 0, "both runners took work: {first_sent} / {second_sent}");

        let posted = h.sim.messages(None);
        assert_eq!(posted.len(), 2_000, "each message posted exactly once");
        let mut per_id: HashMap<String, usize> = HashMap::new();
        for message in &posted {
            let id = message.metadata.as_ref()
                .and_then(|m| m.pointer("/event_payload/scheduled_message_id"))
                .and_then(|v| v.as_str())
                .expect("our metadata")
                .to_owned();
            *per_id.entry(id).or_default() += 1;
        }
        assert_eq!(per_id.len(), 2_000);
        assert!(per_id.values().all(|n| *n == 1));
        let stored = h.store.all_messages().await.expect("read");
        assert!(stored.iter().all(|m| m.status == MessageStatus::Sent));
    }
}

on_postgres! {
    /// Two runners with messages of one author whose token has expired:
    /// the refresh right is taken in the claim, so Slack sees one refresh.
    async fn two_runners_refresh_a_shared_author_once(db: TestDb) {
        let settings = Settings { batch_size: 25, ..test_settings() };
        let h = Harness::with_settings(&db, settings.clone()).await;
        let (alice, tokens) = h.connect(ALICE).await;
        h.store_tokens_expiring(ALICE, &tokens, Utc::now() - chrono::Duration::minutes(1)).await;
        h.sim.expire_access_tokens(Some(ALICE));
        // Slow refreshes make the two runners overlap.
        h.sim.add_fault(Fault::new("oauth.v2.access", FaultKind::Latency { millis: 150 }));
        // Leniency: while both runners wait for the one refresh, the turns
        // they were given pass; each then catches up at the channel's pace,
        // but the two together go faster than Slack's. This test is about
        // the one refresh, not the channel's pace (pipeline::two_runners_
        // keep_one_channels_pace_together is).
        h.sim.update_settings(|s| s.channel_rate = None);
        h.schedule_many(&alice, crate::common::harness::GENERAL, "shared", 100, Utc::now() - chrono::Duration::seconds(2)).await;
        let second = h.runner(db.store_with(h.cipher.clone()).await, settings);
        let (a, b) = tokio::join!(drain(&h.scheduler, &h.store), drain(&second, &h.store));
        assert_eq!(a + b, 100);
        let refreshes = h.sim.calls(Some("oauth.v2.access")).len();
        assert_eq!(refreshes, 1, "the rotating refresh token was used once");
        let refused = h.sim.calls(Some("chat.postMessage")).iter().filter(|c| c.outcome != "ok").count();
        assert_eq!(refused, 0);
    }
}
