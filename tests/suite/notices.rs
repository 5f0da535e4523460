//! Notices (the DM an author gets when a message failed or is held) are
//! delivered at least once: a DM that fails is tried again later, a notice
//! that keeps failing is given up after a bounded number of tries, and two
//! processes never send the same one twice.

use std::time::Duration;

use chrono::Utc;
use secrecy::SecretString;
use slack_scheduler::bot::{Bot, NOTICE_LEASE, NOTICE_MAX_ATTEMPTS, NoticeReport};
use slack_scheduler::domain::MessageStatus;
use slack_scheduler::sim::{Fault, FaultKind};
use slack_scheduler::store::{Installation, TokenGrant};
use slack_scheduler::tokens::Refresher;
use tokio_util::sync::CancellationToken;

use crate::common::harness::{ALICE, OLD, TEAM};
use crate::common::{Harness, wait_until};
use crate::on_both_backends;

/// A harness with alice connected, the bot installed, and `count` of
/// alice's messages failed for good (posted into an archived channel).
async fn failed_messages(h: &Harness, count: usize) -> Vec<i64> {
    let (alice, tokens) = h.connect(ALICE).await;
    let install = Installation {
        team_id: TEAM.into(),
        team_name: "Acme (simulated)".into(),
        bot_user_id: Some("UB0001".into()),
        bot: TokenGrant {
            access_token: SecretString::from(tokens.bot_access.clone()),
            refresh_token: Some(SecretString::from(tokens.bot_refresh.clone())),
            expires_at: Some(Utc::now() + chrono::Duration::hours(12)),
        },
        installed_by: ALICE.into(),
    };
    h.store
        .upsert_installation(&install, Utc::now())
        .await
        .expect("installed");
    let due = Utc::now();
    let mut ids = Vec::new();
    for i in 0..count {
        // One archived conversation each: a channel takes about one post a
        // second, failed ones included.
        let channel = if i == 0 {
            OLD.to_owned()
        } else {
            let id = format!("C8{i:03}");
            h.sim.add_channel(TEAM, &id, &format!("old-{i}"), &[ALICE]);
            h.sim.archive_channel(&id);
            id
        };
        ids.push(
            h.schedule(&alice, &channel, &format!("Into the archive {i}"), due)
                .await,
        );
    }
    h.cycle_at(due + chrono::Duration::seconds(1)).await;
    for id in &ids {
        let m = h.message(*id).await;
        assert_eq!((m.status, m.needs_notice), (MessageStatus::Failed, true));
    }
    ids
}

fn bot(h: &Harness) -> Bot {
    Bot::new(
        h.store.clone(),
        h.slack.clone(),
        Refresher::new(h.store.clone(), h.oauth.clone(), h.settings.refresh_lock),
        "http://127.0.0.1:9".into(),
    )
}

/// The bot's DMs about failed messages, as Slack received them.
fn dms(h: &Harness) -> Vec<String> {
    h.sim
        .messages(None)
        .into_iter()
        .filter(|m| m.as_bot && m.text.contains("could not be posted"))
        .map(|m| m.text)
        .collect()
}

on_both_backends! {
    async fn a_notice_whose_dm_fails_is_sent_on_a_later_try(db: TestDb) {
        let h = Harness::start(&db).await;
        let ids = failed_messages(&h, 1).await;
        h.sim.add_fault(Fault::new("chat.postMessage", FaultKind::SlackError { code: "internal_error".into() }).in_channel(ALICE).times(1));
        let (bot, now, cancel) = (bot(&h), Utc::now(), CancellationToken::new());

        let first = bot.send_notices(now, &cancel).await;
        assert_eq!(first, NoticeReport { sent: 0, retrying: 1, given_up: 0 });
        assert!(dms(&h).is_empty(), "the first DM failed");
        assert!(h.message(ids[0]).await.needs_notice, "alice is still owed her notice");
        assert_eq!(bot.send_notices(now + chrono::Duration::seconds(5), &cancel).await, NoticeReport::default(), "not before its backoff");

        let later = bot.send_notices(now + chrono::Duration::minutes(1), &cancel).await;
        assert_eq!(later.sent, 1);
        assert_eq!(dms(&h).len(), 1, "the later try tells her");
        assert!(!h.message(ids[0]).await.needs_notice);
        bot.send_notices(now + chrono::Duration::hours(1), &cancel).await;
        assert_eq!(dms(&h).len(), 1, "and only once");
    }
}

/// `scheduler_notices_total{outcome="given_up"}` as `/metrics` would show it.
fn given_up_so_far() -> u64 {
    slack_scheduler::telemetry::metrics_handle()
        .render()
        .lines()
        .find(|l| l.starts_with("scheduler_notices_total{outcome=\"given_up\"}"))
        .and_then(|l| l.rsplit(' ').next()?.parse().ok())
        .unwrap_or(0)
}

on_both_backends! {
    async fn a_notice_that_keeps_failing_is_given_up_after_its_tries_and_counted(db: TestDb) {
        let h = Harness::start(&db).await;
        let before = given_up_so_far();
        let ids = failed_messages(&h, 1).await;
        h.sim.add_fault(Fault::new("chat.postMessage", FaultKind::Http { status: 503 }).in_channel(ALICE));
        let (bot, cancel) = (bot(&h), CancellationToken::new());
        let mut at = Utc::now();
        for attempt in 1..NOTICE_MAX_ATTEMPTS {
            let report = bot.send_notices(at, &cancel).await;
            assert_eq!(report.retrying, 1, "try {attempt} fails and is scheduled again");
            assert!(h.message(ids[0]).await.needs_notice);
            at += chrono::Duration::hours(1);
        }
        let last = bot.send_notices(at, &cancel).await;
        assert_eq!(last, NoticeReport { sent: 0, retrying: 0, given_up: 1 });
        assert!(!h.message(ids[0]).await.needs_notice, "no more tries");
        assert_eq!(bot.send_notices(at + chrono::Duration::days(1), &cancel).await, NoticeReport::default());
        let calls = h.sim.calls(Some("chat.postMessage")).into_iter().filter(|c| c.params["channel"] == ALICE).count();
        assert_eq!(calls as i32, NOTICE_MAX_ATTEMPTS, "exactly the bounded number of tries");
        assert!(given_up_so_far() > before, "counted in the metrics");
    }
}

on_both_backends! {
    async fn two_processes_never_send_the_same_notice_twice(db: TestDb) {
        let h = Harness::start(&db).await;
        failed_messages(&h, 30).await;
        // Leniency: the bot sends an author's notices as fast as it can, and
        // thirty DMs into one conversation at once are more than Slack's
        // pace of about one a second allows. This test is about two
        // processes never sending one notice twice.
        h.sim.update_settings(|s| s.channel_rate = None);
        // A second process: its own pool on the same database, its own bot.
        let other_store = db.store_with(h.cipher.clone()).await;
        let first = bot(&h);
        let second = Bot::new(other_store.clone(), h.slack.clone(), Refresher::new(other_store, h.oauth.clone(), h.settings.refresh_lock), "http://127.0.0.1:9".into());
        let (now, cancel) = (Utc::now(), CancellationToken::new());

        let (a, b) = tokio::join!(first.send_notices(now, &cancel), second.send_notices(now, &cancel));

        assert_eq!(a.sent + b.sent, 30, "{a:?} {b:?}");
        let mut told = dms(&h);
        assert_eq!(told.len(), 30);
        told.sort();
        told.dedup();
        assert_eq!(told.len(), 30, "no DM twice");
    }
}

on_both_backends! {
    async fn sending_notices_stops_at_once_when_cancelled_and_the_notice_waits_for_later(db: TestDb) {
        let h = Harness::start(&db).await;
        let ids = failed_messages(&h, 1).await;
        h.sim.add_fault(Fault::new("chat.postMessage", FaultKind::Latency { millis: 20_000 }).in_channel(ALICE));
        let (bot, now, cancel) = (std::sync::Arc::new(bot(&h)), Utc::now(), CancellationToken::new());
        let running = tokio::spawn({
            let (bot, cancel) = (bot.clone(), cancel.clone());
            async move { bot.send_notices(now, &cancel).await }
        });
        let sql = format!("SELECT CAST(notice_attempts AS TEXT) FROM scheduled_messages WHERE id = {}", ids[0]);
        wait_until("the notice is claimed", Duration::from_secs(5), || async {
            let rows = h.store.query_text_raw(&sql).await.ok()?;
            (rows.first()?.first()? == "1").then_some(())
        })
        .await;

        cancel.cancel();
        let stopped = tokio::time::timeout(Duration::from_millis(1_500), running).await;
        assert!(stopped.is_ok(), "send_notices returned promptly after the cancel");
        assert!(h.message(ids[0]).await.needs_notice, "alice is still owed her notice");
        h.sim.clear_faults();
        let later = bot.send_notices(now + NOTICE_LEASE + chrono::Duration::seconds(1), &CancellationToken::new()).await;
        assert_eq!(later.sent, 1, "once the lease ran out, another try tells her");
    }
}
