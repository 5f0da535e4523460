//! Nothing lost, nothing posted twice: expired leases, in-doubt posts and
//! failed bulk writes.

use chrono::{Duration, Utc};
use secrecy::SecretString;
use slack_scheduler::domain::MessageStatus;
use slack_scheduler::sim::{Fault, FaultKind};
use slack_scheduler::store::{Backend, ClaimRequest};

use crate::common::Harness;
use crate::common::harness::{ALICE, GENERAL};
use crate::on_both_backends;

fn claim_at(now: chrono::DateTime<Utc>, lease: Duration) -> ClaimRequest {
    ClaimRequest {
        now,
        limit: 100,
        lease_until: now + lease,
        claim_token: "crashed-runner".into(),
        refresh_before: now,
        refresh_lock_until: now,
        pace_interval: chrono::Duration::seconds(1),
        pace_tolerance: chrono::Duration::zero(),
        pace_budget: chrono::Duration::seconds(20),
    }
}

on_both_backends! {
    /// A runner posted, then died before recording: the message is found in
    /// the conversation's history by its metadata and recorded, not reposted.
    async fn a_lease_that_ran_out_after_the_post_is_not_posted_again(db: TestDb) {
        let h = Harness::start(&db).await;
        let (alice, tokens) = h.connect(ALICE).await;
        let id = h.schedule(&alice, GENERAL, "posted before the crash", Utc::now()).await;
        let due = h.message(id).await.due_at;
        let claimed = h.store.claim_due(&claim_at(due, Duration::seconds(30))).await.expect("claim");
        assert_eq!(claimed.len(), 1);
        let ts = h.slack
            .post_message(&SecretString::from(tokens.user_access.clone()), &alice.team_id, GENERAL, &claimed[0].text, None, Some(id))
            .await
            .expect("the crashed runner's post reached Slack")
            .ts;
        assert_eq!(h.message(id).await.status, MessageStatus::Sending);

        let report = h.cycle_at(due + Duration::seconds(31)).await;
        assert_eq!((report.claimed, report.sent), (1, 1));
        let m = h.message(id).await;
        assert_eq!((m.status, m.slack_ts.as_deref()), (MessageStatus::Sent, Some(ts.as_str())));
        assert_eq!(h.post_calls_for("posted before the crash"), 1, "posted once");
        assert_eq!(h.sim.calls(Some("conversations.history")).len(), 1);
    }
}

on_both_backends! {
    /// Without our metadata (say Slack dropped it), author and text identify the post.
    async fn an_in_doubt_post_is_also_found_by_author_and_text(db: TestDb) {
        let h = Harness::start(&db).await;
        let (alice, _) = h.connect(ALICE).await;
        let id = h.schedule(&alice, GENERAL, "a <b>bold</b> & brave plan", Utc::now()).await;
        let due = h.message(id).await.due_at;
        h.store.claim_due(&claim_at(due, Duration::seconds(30))).await.expect("claim");
        // Slack escapes <, > and & in the text it stores.
        let ts = h.sim.post_as(GENERAL, ALICE, "a &lt;b&gt;bold&lt;/b&gt; &amp; brave plan");
        h.cycle_at(due + Duration::seconds(31)).await;
        let m = h.message(id).await;
        assert_eq!((m.status, m.slack_ts), (MessageStatus::Sent, Some(ts)));
        assert_eq!(h.sim.calls(Some("chat.postMessage")).len(), 0);
    }
}

on_both_backends! {
    /// A runner claimed, then died before posting: the message goes out once.
    async fn a_lease_that_ran_out_before_the_post_is_posted_once(db: TestDb) {
        let h = Harness::start(&db).await;
        let (alice, _) = h.connect(ALICE).await;
        let id = h.schedule(&alice, GENERAL, "claimed before the crash", Utc::now()).await;
        let due = h.message(id).await.due_at;
        h.store.claim_due(&claim_at(due, Duration::seconds(30))).await.expect("claim");
        // Before the lease runs out nobody else takes it.
        assert_eq!(h.cycle_at(due + Duration::seconds(10)).await.claimed, 0);
        let report = h.cycle_at(due + Duration::seconds(31)).await;
        assert_eq!(report.sent, 1);
        assert_eq!(h.message(id).await.status, MessageStatus::Sent);
        assert_eq!(h.post_calls_for("claimed before the crash"), 1);
        assert_eq!(h.sim.messages(Some(GENERAL)).len(), 1);
    }
}

on_both_backends! {
    /// Slack answered fatal_error but had posted: the retry finds the post.
    async fn an_ambiguous_failure_is_checked_before_it_is_retried(db: TestDb) {
        let h = Harness::start(&db).await;
        let (alice, _) = h.connect(ALICE).await;
        let due = Utc::now();
        let id = h.schedule(&alice, GENERAL, "did it go?", due).await;
        h.sim.add_fault(
            Fault::new("chat.postMessage", FaultKind::SlackError { code: "fatal_error".into() }).times(1).after_effect(),
        );
        h.cycle_at(due + Duration::seconds(1)).await;
        let m = h.message(id).await;
        assert_eq!((m.status, m.verify_before_post, m.reason.as_deref()), (MessageStatus::Pending, true, Some("fatal_error")));
        h.cycle_at(Utc::now() + Duration::minutes(2)).await;
        let m = h.message(id).await;
        assert_eq!(m.status, MessageStatus::Sent);
        assert_eq!(h.post_calls_for("did it go?"), 1, "found in history, not posted again");
        assert_eq!(h.sim.messages(Some(GENERAL)).len(), 1);
    }
}

on_both_backends! {
    /// When no look-up is possible the message is posted again (and logged).
    async fn without_history_access_an_in_doubt_message_is_posted_again(db: TestDb) {
        let h = Harness::start(&db).await;
        let (alice, _) = h.connect(ALICE).await;
        let id = h.schedule(&alice, GENERAL, "cannot check", Utc::now()).await;
        let due = h.message(id).await.due_at;
        h.store.claim_due(&claim_at(due, Duration::seconds(30))).await.expect("claim");
        h.sim.add_fault(Fault::new("conversations.history", FaultKind::SlackError { code: "missing_scope".into() }));
        h.cycle_at(due + Duration::seconds(31)).await;
        assert_eq!(h.message(id).await.status, MessageStatus::Sent);
        assert_eq!(h.post_calls_for("cannot check"), 1);
    }
}

on_both_backends! {
    /// The bulk write of successes fails (a trigger rejects one row): every
    /// other row is written on its own; the rejected one stays `sending`, and
    /// once its lease runs out it is found in Slack and recorded, not reposted.
    async fn a_failed_bulk_write_falls_back_to_rows_and_loses_nothing(db: TestDb) {
        let h = Harness::start(&db).await;
        let (alice, _) = h.connect(ALICE).await;
        let due = Utc::now();
        // Five each into four conversations: the bulk write, not one
        // channel's pace or a long history, is what this test is about.
        for channel in h.add_channels("C6", 4, &[ALICE]) {
            h.schedule_many(&alice, &channel, "bulk", 5, due).await;
        }
        let ids: Vec<i64> = h.store.all_messages().await.expect("read").iter().map(|m| m.id).collect();
        let poisoned = ids[7];
        let trigger = match db.backend {
            Backend::Sqlite => format!(
                "CREATE TRIGGER reject_one BEFORE UPDATE OF status ON scheduled_messages
                 WHEN NEW.id = {poisoned} AND NEW.status = 'sent'
                 BEGIN SELECT RAISE(ABORT, 'injected failure'); END;"
            ),
            Backend::Postgres => format!(
                "CREATE FUNCTION reject_one() RETURNS trigger LANGUAGE plpgsql AS $$
                 BEGIN
                   IF NEW.id = {poisoned} AND NEW.status = 'sent' THEN RAISE EXCEPTION 'injected failure'; END IF;
                   RETURN NEW;
                 END $$;
                 CREATE TRIGGER reject_one BEFORE UPDATE ON scheduled_messages
                 FOR EACH ROW EXECUTE FUNCTION reject_one();"
            ),
        };
        h.store.execute_raw(&trigger).await.expect("trigger installed");

        let report = h.cycle_at(due + Duration::seconds(1)).await;
        assert_eq!((report.sent, report.fallback_rows, report.unwritten_rows), (20, 19, 1));
        assert_eq!(
            report.db_statements,
            report.claims as u64 + 1 + 20,
            "the claim, the failed bulk write, one write per row"
        );
        for m in h.store.all_messages().await.expect("read") {
            let expected = if m.id == poisoned { MessageStatus::Sending } else { MessageStatus::Sent };
            assert_eq!(m.status, expected, "message {}", m.id);
        }

        let drop = match db.backend {
            Backend::Sqlite => "DROP TRIGGER reject_one",
            Backend::Postgres => "DROP TRIGGER reject_one ON scheduled_messages",
        };
        h.store.execute_raw(drop).await.expect("trigger dropped");
        let lease = chrono::Duration::from_std(h.settings.lease).expect("lease");
        let later = h.cycle_at(due + lease + Duration::seconds(5)).await;
        assert_eq!((later.claimed, later.sent), (1, 1));
        assert_eq!(h.message(poisoned).await.status, MessageStatus::Sent);
        assert_eq!(h.sim.calls(Some("chat.postMessage")).len(), 20, "no message posted twice");
    }
}

on_both_backends! {
    /// A rate-limited history look-up is waited for: posting blind could
    /// post twice.
    async fn a_rate_limited_history_look_up_is_waited_for_not_skipped(db: TestDb) {
        let h = Harness::start(&db).await;
        let (alice, tokens) = h.connect(ALICE).await;
        let id = h.schedule(&alice, GENERAL, "maybe posted", Utc::now()).await;
        let due = h.message(id).await.due_at;
        h.store.claim_due(&claim_at(due, Duration::seconds(30))).await.expect("claim");
        h.slack
            .post_message(&SecretString::from(tokens.user_access.clone()), &alice.team_id, GENERAL, "maybe posted", None, Some(id))
            .await
            .expect("the crashed runner's post");
        h.sim.add_fault(Fault::new("conversations.history", FaultKind::RateLimited { retry_after_secs: 30 }).times(1));
        let later = due + Duration::seconds(31);
        h.cycle_at(later).await;
        let m = h.message(id).await;
        assert_eq!((m.status, m.verify_before_post, m.attempts), (MessageStatus::Pending, true, 0));
        assert!(m.wake_at.expect("wake") >= later + Duration::seconds(30));
        assert_eq!(h.post_calls_for("maybe posted"), 1, "not posted blind");
        h.cycle_at(later + Duration::seconds(31)).await;
        assert_eq!(h.message(id).await.status, MessageStatus::Sent);
        assert_eq!(h.post_calls_for("maybe posted"), 1, "found once the look-up worked");
    }
}
