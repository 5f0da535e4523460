//! Slack may refuse or drop message metadata on posts made with a user
//! token: the app then posts without it, remembers that for the workspace,
//! and finds in-doubt messages by author and text as Slack stores it.

use chrono::Utc;
use secrecy::SecretString;
use slack_scheduler::domain::MessageStatus;
use slack_scheduler::sim::MetadataMode;
use slack_scheduler::store::ClaimRequest;

use crate::common::Harness;
use crate::common::harness::{ALICE, GENERAL, RANDOM, TEAM};
use crate::on_both_backends;

fn crashed_claim(now: chrono::DateTime<Utc>) -> ClaimRequest {
    ClaimRequest {
        now,
        limit: 100,
        lease_until: now + chrono::Duration::milliseconds(500),
        claim_token: "crashed-runner".into(),
        refresh_before: now,
        refresh_lock_until: now,
        pace_interval: chrono::Duration::milliseconds(1),
        pace_tolerance: chrono::Duration::zero(),
        pace_budget: chrono::Duration::seconds(20),
    }
}

/// Posts (calls) to chat.postMessage that carried our metadata.
fn calls_with_metadata(h: &Harness) -> (usize, usize) {
    let calls = h.sim.calls(Some("chat.postMessage"));
    let with = calls
        .iter()
        .filter(|c| c.params.get("metadata").is_some_and(|m| !m.is_null()))
        .count();
    (with, calls.len())
}

on_both_backends! {
    /// Slack refuses the metadata: the post is made again at once without
    /// it, and the workspace's later posts go without it from the start.
    async fn refused_metadata_is_dropped_for_the_workspace_and_nothing_is_lost(db: TestDb) {
        let h = Harness::start(&db).await;
        h.sim.update_settings(|s| s.user_token_metadata = MetadataMode::Refused);
        let (alice, _) = h.connect(ALICE).await;
        let due = Utc::now();
        let first = h.schedule(&alice, GENERAL, "first, refused then posted", due).await;
        let report = h.cycle_at(due + chrono::Duration::seconds(1)).await;
        assert_eq!(report.sent, 1);
        assert_eq!(h.message(first).await.status, MessageStatus::Sent);
        let refused: Vec<_> = h.sim.calls(Some("chat.postMessage")).into_iter().filter(|c| c.outcome == "metadata_must_be_sent_from_app").collect();
        assert_eq!(refused.len(), 1, "refused once");
        assert_eq!(h.message(first).await.attempts, 1, "the refusal is not an attempt");

        for (i, channel) in [GENERAL, RANDOM].into_iter().enumerate() {
            h.schedule(&alice, channel, &format!("later {i}"), Utc::now()).await;
        }
        let report = h.cycle_at(Utc::now() + chrono::Duration::seconds(1)).await;
        assert_eq!(report.sent, 2);
        let (with, all) = calls_with_metadata(&h);
        assert_eq!((with, all), (1, 4), "only the very first post tried metadata");
        assert_eq!(h.sim.messages(None).len(), 3, "each message posted once");
    }
}

on_both_backends! {
    /// Slack drops the metadata silently: the app notices the post came back
    /// without it, stops sending it, and an in-doubt message (a runner died
    /// after posting) is found by author and text as Slack stored it
    /// (escaped, its link wrapped), not posted twice.
    async fn dropped_metadata_is_noticed_and_in_doubt_posts_are_found_by_text(db: TestDb) {
        let h = Harness::start(&db).await;
        h.sim.update_settings(|s| s.user_token_metadata = MetadataMode::Dropped);
        let (alice, tokens) = h.connect(ALICE).await;
        let due = Utc::now();
        h.schedule(&alice, GENERAL, "a first post teaches the app", due).await;
        h.cycle_at(due + chrono::Duration::seconds(1)).await;

        let text = "Q3 plan & budget: see https://example.com/plan?a=1&b=2 <draft>";
        let id = h.schedule(&alice, RANDOM, text, Utc::now()).await;
        let claimed = h.store.claim_due(&crashed_claim(Utc::now() + chrono::Duration::seconds(1))).await.expect("claim");
        assert_eq!(claimed.len(), 1);
        // The runner that died had posted it (with metadata, which Slack dropped).
        let token = SecretString::from(tokens.user_access.clone());
        h.slack.post_message(&token, TEAM, RANDOM, text, None, Some(id)).await.expect("posted before the crash");
        let stored = h.sim.messages(Some(RANDOM)).pop().expect("in the channel");
        assert_ne!(stored.text, text, "Slack keeps its own form of the text");
        assert!(stored.metadata.is_none(), "and dropped the metadata");

        let report = crate::common::wait_until("the in-doubt message is settled", std::time::Duration::from_secs(20), || async {
            let report = h.cycle_at(Utc::now()).await;
            (h.message(id).await.status == MessageStatus::Sent).then_some(report)
        }).await;
        assert_eq!(report.found_posted, 1, "found by author and text");
        assert_eq!(h.post_calls_for(text), 1, "not posted twice");
        let m = h.message(id).await;
        assert_eq!(m.slack_ts.as_deref(), Some(stored.ts.as_str()));
        let (with, all) = calls_with_metadata(&h);
        assert_eq!((with, all), (2, 2), "the first post and the crashed runner's carried metadata; nothing was posted since");
    }
}

on_both_backends! {
    /// Found out once, remembered for good: another process (or this one
    /// after a restart) posts into the workspace without metadata from its
    /// first post, never refused again.
    async fn a_workspace_that_refused_metadata_is_remembered_by_every_process(db: TestDb) {
        use slack_scheduler::scheduler::Scheduler;
        use slack_scheduler::sim::SimSettings;
        use slack_scheduler::slack::{SlackApi, SlackOAuth};
        use slack_scheduler::tokens::Refresher;
        use std::time::Duration;

        use crate::common::harness::{TIME_SCALE, new_message, test_settings};
        use crate::common::{TestApp, wait_until};

        // Slack as strict as it gets: metadata refused.
        let app = TestApp::start_with(&db, SimSettings::default().with_time_scale(TIME_SCALE), test_settings(), |_| {}).await;
        app.install(ALICE).await;
        app.command(ALICE, GENERAL, "in 1 second the first post").await;
        wait_until("the workspace is remembered", Duration::from_secs(15), || async {
            let teams = app.store.workspaces_without_metadata().await.expect("read");
            teams.contains(&TEAM.to_owned()).then_some(())
        })
        .await;
        wait_until("the first post is recorded", Duration::from_secs(15), || async {
            app.messages().await.iter().all(|m| m.status == MessageStatus::Sent).then_some(())
        })
        .await;
        let refusals = || app.sim.calls(Some("chat.postMessage")).into_iter()
            .filter(|c| c.outcome == "metadata_must_be_sent_from_app").count();
        assert_eq!(refusals(), 1);

        // Another process on the same database.
        let settings = test_settings();
        let s = app.sim.settings();
        let oauth = SlackOAuth::new(&s.client_id, &SecretString::from(s.client_secret.clone()),
            &app.sim.authorize_url(), &app.sim.api_url(), "http://127.0.0.1:9/slack/oauth/callback").expect("oauth");
        let slack = SlackApi::new(&app.sim.api_url(), settings.slack_timeout).expect("client");
        let refresher = Refresher::new(app.store.clone(), oauth, settings.refresh_lock);
        let other = Scheduler::new(&app.store, slack, refresher, settings);
        other.load_workspace_memory().await.expect("read");
        let alice = app.store.user(TEAM, ALICE).await.expect("read").expect("alice").author;
        // Due in an hour: the app's own loop leaves it to the other process.
        let due = Utc::now() + chrono::Duration::hours(1);
        app.store.insert_messages(&[new_message(&alice, GENERAL, "from the other process", due)], Utc::now())
            .await.expect("stored");
        let report = other.run_cycle(due + chrono::Duration::seconds(1), &tokio_util::sync::CancellationToken::new())
            .await.expect("cycle");
        assert_eq!(report.sent, 1);
        assert_eq!(refusals(), 1, "never refused again");
        app.stop().await;
    }
}
