//! Slack retries an event it got no 200 for. A delivery whose handling was
//! cut short must not be remembered as handled, or the retry is dropped and
//! the event (a revocation, an uninstall) is lost.

use serde_json::json;
use slack_scheduler::domain::MessageStatus;
use slack_scheduler::store::{Backend, Store, TokenStatus};

use crate::common::TestApp;
use crate::common::harness::{ALICE, BOB, GENERAL, TEAM};
use crate::on_both_backends;

/// Makes the database refuse what a handler would do next: updating users,
/// and forgetting a delivery. A process killed mid-way does neither.
async fn cut_short(store: &Store) {
    let sql = match store.backend() {
        Backend::Sqlite => {
            "CREATE TRIGGER fault_users BEFORE UPDATE ON users BEGIN SELECT RAISE(ABORT, 'injected fault'); END;
             CREATE TRIGGER fault_events BEFORE DELETE ON slack_events BEGIN SELECT RAISE(ABORT, 'injected fault'); END;"
        }
        Backend::Postgres => {
            "CREATE FUNCTION injected_fault() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'injected fault'; END $$;
             CREATE TRIGGER fault_users BEFORE UPDATE ON users FOR EACH ROW EXECUTE FUNCTION injected_fault();
             CREATE TRIGGER fault_events BEFORE DELETE ON slack_events FOR EACH ROW EXECUTE FUNCTION injected_fault();"
        }
    };
    store.execute_raw(sql).await.expect("faults installed");
}

async fn restore(store: &Store) {
    let sql = match store.backend() {
        Backend::Sqlite => "DROP TRIGGER fault_users; DROP TRIGGER fault_events;",
        Backend::Postgres => {
            "DROP TRIGGER fault_users ON users; DROP TRIGGER fault_events ON slack_events;"
        }
    };
    store.execute_raw(sql).await.expect("faults removed");
}

on_both_backends! {
    async fn a_revocation_cut_short_is_handled_when_slack_retries_it(db: TestDb) {
        let app = TestApp::start(&db).await;
        app.install(ALICE).await;
        app.command(ALICE, GENERAL, "in 5 hours to be revoked").await;
        let revoked = json!({"type": "tokens_revoked", "tokens": {"oauth": [ALICE], "bot": []}});

        cut_short(&app.store).await;
        let first = app.event("Ev-cut-short", revoked.clone()).await;
        assert_ne!(first.status, 200, "no 200, so Slack retries");
        restore(&app.store).await;

        let retry = app.event("Ev-cut-short", revoked.clone()).await;
        assert_eq!(retry.status, 200);
        let alice = app.store.user(TEAM, ALICE).await.expect("read").expect("row");
        assert_eq!((alice.token_status, alice.credentials.is_none()), (TokenStatus::Invalid, true), "the retry revoked her token");
        let m = &app.messages().await[0];
        assert_eq!((m.status, m.reason.as_deref()), (MessageStatus::Cancelled, Some("tokens_revoked")));

        // Handled once it succeeded: a further retry changes nothing.
        app.store.execute_raw("UPDATE users SET token_problem = 'checked'").await.expect("mark");
        assert_eq!(app.event("Ev-cut-short", revoked).await.status, 200);
        let alice = app.store.user(TEAM, ALICE).await.expect("read").expect("row");
        assert_eq!(alice.token_problem.as_deref(), Some("checked"), "the handled delivery was not run again");
    }
}

on_both_backends! {
    async fn two_deliveries_of_one_event_racing_end_as_one(db: TestDb) {
        let app = TestApp::start(&db).await;
        app.install(ALICE).await;
        app.install(BOB).await;
        app.command(ALICE, GENERAL, "in 5 hours revoked twice at once").await;
        let revoked = json!({"type": "tokens_revoked", "tokens": {"oauth": [ALICE], "bot": []}});

        // Slack's retry arriving while the first delivery is still being handled.
        let (first, second) = tokio::join!(app.event("Ev-race", revoked.clone()), app.event("Ev-race", revoked.clone()));

        assert_eq!((first.status, second.status), (200, 200));
        let alice = app.store.user(TEAM, ALICE).await.expect("read").expect("row");
        assert_eq!(alice.token_status, TokenStatus::Invalid);
        let bob = app.store.user(TEAM, BOB).await.expect("read").expect("row");
        assert_eq!(bob.token_status, TokenStatus::Active, "nobody else touched");
        let m = &app.messages().await[0];
        assert_eq!((m.status, m.reason.as_deref()), (MessageStatus::Cancelled, Some("tokens_revoked")));
        let recorded = app.store.query_text_raw("SELECT event_id FROM slack_events").await.expect("read");
        assert_eq!(recorded, [["Ev-race"]], "recorded once");
    }
}
