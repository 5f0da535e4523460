//! Token refreshes can't be half-done: once sent to Slack, a refresh runs
//! to the end and stores its result whoever stops waiting; a rotated pair
//! that could not be stored is kept and stored again; a refresh uses the
//! refresh token stored now, not the one read earlier; two processes never
//! refresh one rotating token twice; leases run on the database's clock.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use secrecy::{ExposeSecret, SecretString};
use slack_scheduler::clock::Clock;
use slack_scheduler::domain::MessageStatus;
use slack_scheduler::scheduler::{Scheduler, Settings};
use slack_scheduler::sim::{Fault, FaultKind};
use slack_scheduler::store::{Backend, Installation, TokenGrant, TokenOwner, TokenStatus};
use slack_scheduler::tokens::Refresher;
use tokio_util::sync::CancellationToken;

use crate::common::harness::{ALICE, GENERAL, TEAM, test_settings};
use crate::common::{Harness, TestApp, TestDb, wait_until};
use crate::{on_both_backends, on_postgres};

fn refresh_calls(sim: &slack_scheduler::sim::Simulator) -> usize {
    sim.calls(Some("oauth.v2.access"))
        .iter()
        .filter(|c| c.params.get("grant_type").and_then(|g| g.as_str()) == Some("refresh_token"))
        .count()
}

/// Makes every store of a new access token fail until `until` (a store
/// that fails after Slack has already rotated the pair).
async fn fail_token_stores_until(
    db: &TestDb,
    store: &slack_scheduler::store::Store,
    until: chrono::DateTime<Utc>,
) {
    let until = until.format("%Y-%m-%d %H:%M:%S%.3f");
    let sql = match db.backend {
        Backend::Sqlite => format!(
            "CREATE TRIGGER fail_token_store BEFORE UPDATE OF access_token ON users
             WHEN julianday('now') < julianday('{until}')
             BEGIN SELECT RAISE(ABORT, 'injected failure'); END;"
        ),
        Backend::Postgres => format!(
            "CREATE FUNCTION fail_token_store() RETURNS trigger LANGUAGE plpgsql AS $$
             BEGIN
               IF NEW.access_token IS DISTINCT FROM OLD.access_token
                  AND clock_timestamp() < '{until}+00'::timestamptz THEN
                 RAISE EXCEPTION 'injected failure';
               END IF;
               RETURN NEW;
             END $$;
             CREATE TRIGGER fail_token_store BEFORE UPDATE ON users
             FOR EACH ROW EXECUTE FUNCTION fail_token_store();"
        ),
    };
    store.execute_raw(&sql).await.expect("trigger installed");
}

on_both_backends! {
    /// The bot token is near its end and Slack is slow to rotate it: the
    /// caller in a hurry gets the current token at once, the refresh runs on
    /// and stores the new pair, and nobody refreshes it a second time.
    async fn a_bot_refresh_outlives_whoever_stops_waiting(db: TestDb) {
        let app = TestApp::start(&db).await;
        app.install(ALICE).await;
        let workspace = app.store.workspace(TEAM).await.expect("read").expect("installed");
        let old = workspace.bot.clone().expect("bot token");
        // As if granted long ago: an hour left, less than the two-hour margin.
        app.store.upsert_installation(&Installation {
            team_id: TEAM.into(),
            team_name: workspace.team_name.clone(),
            bot_user_id: workspace.bot_user_id.clone(),
            bot: TokenGrant {
                access_token: old.access_token.clone(),
                refresh_token: old.refresh_token.clone(),
                expires_at: Some(Utc::now() + chrono::Duration::hours(1)),
            },
            installed_by: ALICE.into(),
        }, Utc::now()).await.expect("re-stored");
        app.sim.add_fault(Fault::new("oauth.v2.access", FaultKind::Latency { millis: 3_000 }).times(1));

        let started = std::time::Instant::now();
        let token = app.state.bot.token(TEAM).await.expect("a token");
        assert!(started.elapsed() < Duration::from_secs(2), "not held up by Slack: {:?}", started.elapsed());
        assert_eq!(token.expose_secret(), old.access_token.expose_secret(), "the current one, still good");

        let fresh = wait_until("the rotated pair is stored", Duration::from_secs(10), || async {
            let bot = app.store.workspace(TEAM).await.ok().flatten()?.bot?;
            (bot.access_token.expose_secret() != old.access_token.expose_secret()).then_some(bot)
        }).await;
        assert_eq!(app.state.bot.token(TEAM).await.expect("token").expose_secret(), fresh.access_token.expose_secret());
        assert_eq!(refresh_calls(&app.sim), 1, "one refresh, however many callers");
        app.stop().await;
    }
}

on_both_backends! {
    /// A drain stops while Slack is still answering a refresh: the drain
    /// releases its message and ends; the refresh still stores its pair,
    /// which the next drain posts with.
    async fn a_user_refresh_is_stored_even_when_the_drain_stops(db: TestDb) {
        let h = Harness::start(&db).await;
        let (alice, tokens) = h.connect(ALICE).await;
        h.store_tokens_expiring(ALICE, &tokens, Utc::now() - chrono::Duration::minutes(1)).await;
        h.sim.expire_access_tokens(Some(ALICE));
        h.sim.add_fault(Fault::new("oauth.v2.access", FaultKind::Latency { millis: 3_000 }).times(1));
        let id = h.schedule(&alice, GENERAL, "after a slow refresh", Utc::now()).await;

        let cancel = CancellationToken::new();
        let stopper = async {
            wait_until("the drain has claimed", Duration::from_secs(5), || async {
                (h.message(id).await.status == MessageStatus::Sending).then_some(())
            }).await;
            // Well inside the three seconds Slack takes to answer the refresh.
            tokio::time::sleep(Duration::from_millis(300)).await;
            cancel.cancel();
        };
        let started = std::time::Instant::now();
        let (report, ()) = tokio::join!(h.scheduler.run_cycle(Utc::now() + chrono::Duration::seconds(1), &cancel), stopper);
        let report = report.expect("cycle");
        assert!(started.elapsed() < Duration::from_millis(2_500), "the drain did not wait for Slack: {:?}", started.elapsed());
        assert_eq!((report.sent, report.retrying), (0, 1));
        assert_eq!(h.message(id).await.status, MessageStatus::Pending);

        let fresh = wait_until("the refreshed pair is stored", Duration::from_secs(10), || async {
            let user = h.store.user_by_id(alice.id).await.ok().flatten()?;
            let creds = user.credentials?;
            (creds.access_token.expose_secret() != tokens.user_access).then_some(creds)
        }).await;
        let report = h.cycle_at(Utc::now() + chrono::Duration::seconds(1)).await;
        assert_eq!(report.sent, 1);
        assert_eq!(refresh_calls(&h.sim), 1, "the spent refresh token was never used again");
        let post = h.sim.calls(Some("chat.postMessage")).pop().expect("posted");
        assert_eq!(post.token.as_deref(), Some(fresh.access_token.expose_secret()));
    }
}

on_both_backends! {
    /// Slack rotated the pair, then the database refused to store it for a
    /// while: the new pair is used, kept, stored once the database takes it,
    /// and the spent refresh token is never sent again.
    async fn a_rotated_pair_the_database_refused_is_kept_and_stored_again(db: TestDb) {
        let h = Harness::start(&db).await;
        let (alice, tokens) = h.connect(ALICE).await;
        h.store_tokens_expiring(ALICE, &tokens, Utc::now() - chrono::Duration::minutes(1)).await;
        h.sim.expire_access_tokens(Some(ALICE));
        fail_token_stores_until(&db, &h.store, Utc::now() + chrono::Duration::milliseconds(2_500)).await;
        h.schedule_many(&alice, GENERAL, "first round", 3, Utc::now()).await;

        let report = h.cycle_at(Utc::now() + chrono::Duration::seconds(1)).await;
        assert_eq!(report.sent, 3, "posted with the new pair though it is not stored yet");
        let used = h.sim.calls(Some("chat.postMessage")).pop().and_then(|c| c.token).expect("token");
        assert_ne!(used, tokens.user_access);

        wait_until("the kept pair is stored at last", Duration::from_secs(15), || async {
            let creds = h.store.user_by_id(alice.id).await.ok().flatten()?.credentials?;
            (creds.access_token.expose_secret() == used).then_some(())
        }).await;
        h.schedule_many(&alice, GENERAL, "second round", 2, Utc::now()).await;
        let report = h.cycle_at(Utc::now() + chrono::Duration::seconds(1)).await;
        assert_eq!(report.sent, 2);
        assert_eq!(refresh_calls(&h.sim), 1, "one refresh in all");
        let user = h.store.user_by_id(alice.id).await.expect("read").expect("row");
        assert_eq!(user.token_status, TokenStatus::Active);
    }
}

on_both_backends! {
    /// Slack answers token_expired to the token a drain claimed, but another
    /// process refreshed the pair meanwhile: the drain takes the stored new
    /// token instead of refreshing with the refresh token it read, which
    /// Slack has retired (that would have cost the user their connection).
    async fn a_rejected_token_is_replaced_by_the_stored_pair_not_refreshed_again(db: TestDb) {
        let h = Harness::start(&db).await;
        let (alice, tokens) = h.connect(ALICE).await;
        h.sim.expire_access_tokens(Some(ALICE));
        h.sim.add_fault(Fault::new("chat.postMessage", FaultKind::Latency { millis: 1_500 }).times(1));
        let id = h.schedule(&alice, GENERAL, "claimed with the old pair", Utc::now()).await;

        let other_process = async {
            wait_until("the drain has claimed", Duration::from_secs(5), || async {
                (h.message(id).await.status == MessageStatus::Sending).then_some(())
            }).await;
            let owner = TokenOwner::User { id: alice.id, team_id: TEAM.into(), user_id: ALICE.into() };
            let generation = h.store.user_by_id(alice.id).await.expect("read").expect("row").token_generation;
            let grant = h.oauth.refresh(&SecretString::from(tokens.user_refresh.clone()), Utc::now()).await.expect("refreshed elsewhere");
            assert!(h.store.store_refreshed_pair(&owner, generation, &grant, Utc::now()).await.expect("stored"));
            grant
        };
        let (report, grant) = tokio::join!(h.cycle_at(Utc::now() + chrono::Duration::seconds(1)), other_process);
        assert_eq!(report.sent, 1);
        assert_eq!(refresh_calls(&h.sim), 1, "only the other process refreshed");
        let last = h.sim.calls(Some("chat.postMessage")).pop().expect("posted");
        assert_eq!(last.token.as_deref(), Some(grant.access_token.expose_secret()));
        let user = h.store.user_by_id(alice.id).await.expect("read").expect("row");
        assert_eq!(user.token_status, TokenStatus::Active, "the user keeps their connection");
    }
}

on_postgres! {
    /// Slack takes longer to refresh than a refresh right lasts: the holder
    /// renews its right while it waits, so the other process waits for the
    /// new pair instead of taking over and refreshing the same token again.
    async fn a_slow_refresh_is_never_taken_over_while_its_holder_lives(db: TestDb) {
        let settings = Settings { refresh_lock: Duration::from_millis(900), batch_size: 5, ..test_settings() };
        let h = Harness::with_settings(&db, settings.clone()).await;
        let (alice, tokens) = h.connect(ALICE).await;
        h.store_tokens_expiring(ALICE, &tokens, Utc::now() - chrono::Duration::minutes(1)).await;
        h.sim.expire_access_tokens(Some(ALICE));
        h.sim.add_fault(Fault::new("oauth.v2.access", FaultKind::Latency { millis: 3_000 }).times(1));
        h.schedule_many(&alice, GENERAL, "shared author", 20, Utc::now() - chrono::Duration::seconds(2)).await;
        let second = h.runner(db.store_with(h.cipher.clone()).await, settings);
        let now = Utc::now();
        let cancel = CancellationToken::new();
        let (a, b) = tokio::join!(h.scheduler.run_cycle(now, &cancel), second.run_cycle(now, &cancel));
        let (a, b) = (a.expect("first"), b.expect("second"));
        assert_eq!(refresh_calls(&h.sim), 1, "the rotating refresh token was used once");
        assert_eq!(a.sent + b.sent + a.retrying + b.retrying, 20);
        let user = h.store.user_by_id(alice.id).await.expect("read").expect("row");
        assert_eq!(user.token_status, TokenStatus::Active);
    }
}

on_both_backends! {
    /// A process whose clock runs an hour ahead reckons in the database's
    /// time: it neither posts early nor takes over a live lease.
    async fn a_process_whose_clock_runs_ahead_does_not_post_early(db: TestDb) {
        let h = Harness::start(&db).await;
        let (alice, _) = h.connect(ALICE).await;
        let ahead = Clock::with_local(|| Utc::now() + chrono::Duration::hours(1));
        let refresher = Refresher::with_clock(h.store.clone(), h.oauth.clone(), h.settings.refresh_lock, ahead);
        let skewed = Arc::new(Scheduler::new(&h.store, h.slack.clone(), refresher, h.settings.clone()));
        let due = Utc::now() + chrono::Duration::seconds(2);
        let id = h.schedule(&alice, GENERAL, "not before its time", due).await;
        let due = h.message(id).await.due_at;

        let cancel = CancellationToken::new();
        let run = skewed.run(cancel.clone());
        let check = async {
            let m = wait_until("the message is sent", Duration::from_secs(15), || async {
                let m = h.message(id).await;
                (m.status == MessageStatus::Sent).then_some(m)
            }).await;
            cancel.cancel();
            m
        };
        let ((), m) = tokio::join!(run, check);
        let posted_at = h.sim.calls(Some("chat.postMessage")).pop().expect("posted").at;
        assert!(posted_at >= due, "never early by Slack's clock: due {due}, posted {posted_at}");
        assert!(m.sent_at.is_some_and(|at| at >= due && at - due < chrono::Duration::seconds(5)), "{m:?}");
    }
}
