//! The delivery cycle as a pipeline: nothing waits for the slowest message
//! of a batch, a busy conversation holds up only itself, outcomes are
//! written as they complete, and one conversation's pace holds across
//! processes.

use std::time::Duration;

use chrono::Utc;
use slack_scheduler::domain::MessageStatus;
use slack_scheduler::scheduler::{Scheduler, Settings};
use slack_scheduler::sim::{Fault, FaultKind};
use slack_scheduler::store::Store;
use tokio_util::sync::CancellationToken;

use crate::common::harness::{ALICE, GENERAL, TEAM, test_settings};
use crate::common::{Harness, wait_until};
use crate::{on_both_backends, on_postgres};

/// Runs cycles on `runner` until every message is sent (or 30 s pass);
/// returns how many it sent.
async fn until_all_sent(runner: &Scheduler, store: &Store) -> usize {
    let mut sent = 0;
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while std::time::Instant::now() < deadline {
        let report = runner
            .run_cycle(Utc::now(), &CancellationToken::new())
            .await
            .expect("cycle");
        sent += report.sent;
        let all = store.all_messages().await.expect("read");
        if all.iter().all(|m| m.status == MessageStatus::Sent) {
            break;
        }
        if report.claimed == 0 {
            // Nothing due for this runner yet: the next turn is a little way off.
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    sent
}

/// Adds `count` channels `{prefix}{i}` with alice in them.
fn channels(h: &Harness, prefix: &str, count: usize) -> Vec<String> {
    (0..count)
        .map(|i| {
            let id = format!("{prefix}{i:03}");
            h.sim
                .add_channel(TEAM, &id, &format!("room-{id}"), &[ALICE]);
            id
        })
        .collect()
}

on_both_backends! {
    /// A conversation whose post hangs does not hold up the next claim or
    /// the other conversations, and their outcomes are written before it
    /// finishes: claims keep the window full, not a batch at a time.
    async fn a_slow_conversation_holds_up_only_itself(db: TestDb) {
        let settings = Settings {
            batch_size: 10,
            concurrency: 8,
            flush_interval: Duration::from_millis(50),
            slack_timeout: Duration::from_secs(10),
            ..test_settings()
        };
        let h = Harness::with_settings(&db, settings).await;
        let (alice, _) = h.connect(ALICE).await;
        let rooms = channels(&h, "C4", 31);
        let due = Utc::now();
        h.schedule(&alice, &rooms[0], "the slow one", due - chrono::Duration::seconds(1)).await;
        for room in &rooms[1..] {
            h.schedule(&alice, room, &format!("quick into {room}"), due).await;
        }
        h.sim.add_fault(Fault::new("chat.postMessage", FaultKind::Latency { millis: 4_000 }).in_channel(&rooms[0]));
        let cycle = h.cycle_at(due + chrono::Duration::seconds(1));
        let watch = async {
            wait_until("the quick messages are recorded while the slow one is in flight", Duration::from_secs(10), || async {
                let all = h.store.all_messages().await.expect("read");
                let quick_sent = all.iter().filter(|m| m.text.starts_with("quick") && m.status == MessageStatus::Sent).count();
                let slow = all.iter().find(|m| m.text == "the slow one").map(|m| m.status);
                (quick_sent == 30).then_some(slow)
            })
            .await
        };
        let (report, slow_meanwhile) = tokio::join!(cycle, watch);
        assert_eq!(slow_meanwhile, Some(MessageStatus::Sending), "recorded before the slow post finished");
        assert_eq!((report.claimed, report.sent), (31, 31));
        assert!(report.claims >= 4, "four batches of ten, claimed as room freed up: {report:?}");
    }
}

on_both_backends! {
    /// 40 messages into one channel and one each into 20 others: the others
    /// go at once; the busy one is paced, and what its budget cannot hold
    /// goes back to wait for its turn, spread by its place in the queue.
    async fn a_hot_channel_is_paced_while_the_others_go_at_once(db: TestDb) {
        let settings = Settings {
            channel_rate_per_sec: 10,
            channel_burst: 2,
            pacing_budget: Duration::from_secs(1),
            ..test_settings()
        };
        let h = Harness::with_settings(&db, settings).await;
        // Slack's pace, one a second after a burst of three, at the
        // harness's time scale: ten a real second.
        h.sim.update_settings(|s| s.channel_rate = Some((1, 3)));
        let (alice, _) = h.connect(ALICE).await;
        let rooms = channels(&h, "C5", 20);
        let due = Utc::now();
        h.schedule_many(&alice, GENERAL, "hot", 40, due).await;
        for room in &rooms {
            h.schedule(&alice, room, &format!("calm {room}"), due).await;
        }
        let started = Utc::now();
        let mut deferred = 0;
        for _ in 0..200 {
            let report = h.cycle_at(Utc::now()).await;
            deferred += report.retrying;
            if h.store.all_messages().await.expect("read").iter().all(|m| m.status == MessageStatus::Sent) {
                break;
            }
            if report.claimed == 0 {
                // The next turn is a moment away.
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
        assert!(deferred > 0, "what the budget cannot hold goes back to wait");
        let posts = h.sim.calls(Some("chat.postMessage"));
        assert!(posts.iter().all(|c| c.outcome == "ok"), "Slack never had to refuse a post");
        let calm_done = posts
            .iter()
            .filter(|c| c.params["text"].as_str().is_some_and(|t| t.starts_with("calm")))
            .map(|c| c.at)
            .max()
            .expect("calm posts");
        assert!(calm_done - started < chrono::Duration::milliseconds(1_500), "the others were not held up: {}", calm_done - started);
        let hot: Vec<String> = h.sim.messages(Some(GENERAL)).into_iter().map(|m| m.text).collect();
        assert_eq!(hot, (0..40).map(|i| format!("hot {i}")).collect::<Vec<_>>(), "all posted, in due order");
        let hot_done = posts.iter().map(|c| c.at).max().expect("posts");
        assert!(hot_done - started >= chrono::Duration::milliseconds(3_700), "paced at ten a second: {}", hot_done - started);
    }
}

on_both_backends! {
    /// Slack limits one conversation: it waits out its Retry-After while the
    /// workspace's other conversations keep going.
    async fn a_429_in_one_channel_does_not_stop_the_others(db: TestDb) {
        let h = Harness::start(&db).await;
        let (alice, _) = h.connect(ALICE).await;
        let rooms = channels(&h, "C6", 5);
        let due = Utc::now();
        h.schedule(&alice, GENERAL, "limited", due).await;
        for room in &rooms {
            h.schedule(&alice, room, &format!("free {room}"), due).await;
        }
        h.sim.add_fault(Fault::new("chat.postMessage", FaultKind::RateLimited { retry_after_secs: 60 }).in_channel(GENERAL).times(1));
        let report = h.cycle_at(due + chrono::Duration::seconds(1)).await;
        assert_eq!((report.sent, report.retrying), (5, 1));
        let limited = h.store.all_messages().await.expect("read").into_iter().find(|m| m.text == "limited").expect("row");
        assert_eq!((limited.status, limited.attempts, limited.reason.as_deref()), (MessageStatus::Pending, 0, Some("ratelimited")));
    }
}

on_postgres! {
    /// Two processes posting into one channel keep its pace together: the
    /// database, not each process, hands out its turns.
    async fn two_runners_keep_one_channels_pace_together(db: TestDb) {
        let settings = Settings {
            channel_rate_per_sec: 5,
            channel_burst: 1,
            pacing_budget: Duration::from_millis(600),
            batch_size: 4,
            ..test_settings()
        };
        let h = Harness::with_settings(&db, settings.clone()).await;
        // Slack's pace, one a second with a burst of two, with its second
        // lasting 200 ms here: five a real second.
        h.sim.update_settings(|s| {
            s.time_scale = 0.2;
            s.channel_rate = Some((1, 2));
        });
        let (alice, _) = h.connect(ALICE).await;
        let due = Utc::now() - chrono::Duration::seconds(1);
        h.schedule_many(&alice, GENERAL, "shared pace", 20, due).await;
        let second = h.runner(db.store_with(h.cipher.clone()).await, settings);
        let started = std::time::Instant::now();
        let (a, b) = tokio::join!(until_all_sent(&h.scheduler, &h.store), until_all_sent(&second, &h.store));
        assert_eq!(a + b, 20);
        assert!(a > 0 && b > 0, "both took part: {a} / {b}");
        assert!(started.elapsed() >= Duration::from_millis(3_600), "19 intervals of 200 ms: {:?}", started.elapsed());
        let posts = h.sim.calls(Some("chat.postMessage"));
        let times: Vec<String> = posts.iter().map(|c| format!("{} {}", c.at.format("%S%.3f"), c.outcome)).collect();
        let refused = posts.iter().filter(|c| c.outcome != "ok").count();
        assert_eq!(refused, 0, "Slack never had to refuse a post: {times:?}");
        assert_eq!(h.sim.messages(Some(GENERAL)).len(), 20);
    }
}
