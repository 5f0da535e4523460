//! The 1,000-waiting-messages limit per author holds exactly, however many
//! inserts race, and frees up as messages settle.

use chrono::Utc;
use slack_scheduler::domain::message::MAX_PENDING_PER_USER;
use slack_scheduler::store::{InsertError, Store};
use tokio::task::JoinSet;

use crate::common::harness::{ALICE, GENERAL, TEAM, new_message};
use crate::on_both_backends;

async fn waiting(store: &Store, author_id: i64) -> i64 {
    let counts = store.author_counts(author_id).await.expect("counts");
    counts.pending + counts.held
}

on_both_backends! {
    async fn concurrent_inserts_never_pass_the_thousand_message_limit(db: TestDb) {
        let store = db.store().await;
        let now = Utc::now();
        let alice = store.ensure_user(TEAM, ALICE, now).await.expect("alice");
        let due = now + chrono::Duration::days(1);
        let seeded: Vec<_> = (0..950).map(|i| new_message(&alice, GENERAL, &format!("seed {i}"), due)).collect();
        store.insert_messages(&seeded, now).await.expect("seeded");

        // 120 commands at once for 50 free places, over every pooled connection.
        let mut racing = JoinSet::new();
        for i in 0..120 {
            let (store, message) = (store.clone(), new_message(&alice, GENERAL, &format!("race {i}"), due));
            racing.spawn(async move { store.insert_message(&message, now).await });
        }
        let (mut stored, mut refused) = (0, 0);
        while let Some(result) = racing.join_next().await {
            match result.expect("task") {
                Ok(_) => stored += 1,
                Err(InsertError::PendingLimit) => refused += 1,
                Err(InsertError::Store(err)) => panic!("an insert failed: {err}"),
            }
        }

        assert_eq!((stored, refused), (50, 70));
        assert_eq!(waiting(&store, alice.id).await, MAX_PENDING_PER_USER);
        assert_eq!(store.all_messages().await.expect("read").len() as i64, MAX_PENDING_PER_USER);
    }
}

on_both_backends! {
    async fn the_limit_frees_up_as_messages_are_cancelled_sent_or_failed(db: TestDb) {
        let store = db.store().await;
        let now = Utc::now();
        let alice = store.ensure_user(TEAM, ALICE, now).await.expect("alice");
        let bob = store.ensure_user(TEAM, "U0002", now).await.expect("bob");
        let due = now + chrono::Duration::days(1);
        let seeded: Vec<_> = (0..MAX_PENDING_PER_USER).map(|i| new_message(&alice, GENERAL, &format!("seed {i}"), due)).collect();
        store.insert_messages(&seeded, now).await.expect("seeded");
        let one_more = || new_message(&alice, GENERAL, "one more", due);
        assert!(matches!(store.insert_message(&one_more(), now).await, Err(InsertError::PendingLimit)));
        store.insert_message(&new_message(&bob, GENERAL, "bob's own", due), now).await.expect("bob has his own limit");

        let ids: Vec<i64> = store.all_messages().await.expect("read").iter().filter(|m| m.author_id == alice.id).map(|m| m.id).take(4).collect();
        // Cancelled by its author: one place frees up.
        store.cancel_message(ids[0], alice.id, now).await.expect("cancel");
        store.insert_message(&one_more(), now).await.expect("a place after the cancel");
        assert!(matches!(store.insert_message(&one_more(), now).await, Err(InsertError::PendingLimit)));
        // Claimed (still waiting), then sent or failed for good: each frees one.
        store.execute_raw(&format!("UPDATE scheduled_messages SET status = 'sending' WHERE id IN ({}, {})", ids[1], ids[2])).await.expect("claimed");
        assert!(matches!(store.insert_message(&one_more(), now).await, Err(InsertError::PendingLimit)), "sending still counts");
        store.execute_raw(&format!("UPDATE scheduled_messages SET status = 'sent', wake_at = NULL WHERE id = {}", ids[1])).await.expect("sent");
        store.execute_raw(&format!("UPDATE scheduled_messages SET status = 'failed', wake_at = NULL WHERE id = {}", ids[2])).await.expect("failed");
        store.insert_message(&one_more(), now).await.expect("a place after the send");
        store.insert_message(&one_more(), now).await.expect("a place after the failure");
        // Held counts; a deleted row gives its place back.
        store.execute_raw(&format!("UPDATE scheduled_messages SET status = 'held', wake_at = NULL WHERE id = {}", ids[3])).await.expect("held");
        assert!(matches!(store.insert_message(&one_more(), now).await, Err(InsertError::PendingLimit)), "held still counts");
        store.execute_raw(&format!("DELETE FROM scheduled_messages WHERE id = {}", ids[3])).await.expect("deleted");
        store.insert_message(&one_more(), now).await.expect("a place after the delete");

        assert_eq!(waiting(&store, alice.id).await, MAX_PENDING_PER_USER);
    }
}
