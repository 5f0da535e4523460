//! The store keeps a message's rich text beside its text, whichever way the
//! message is stored, edited or claimed, on both databases.

use chrono::{Duration, Utc};
use slack_scheduler::domain::{DueTime, MessageText};
use slack_scheduler::store::{ClaimRequest, MessageEdit, NewMessage};

use crate::common::Harness;
use crate::common::harness::{ALICE, GENERAL, RANDOM, new_message};
use crate::on_both_backends;

const RICH: &str = r#"{"type":"rich_text","elements":[{"type":"rich_text_section","elements":[{"type":"text","text":"hi ","style":{"bold":true}},{"type":"user","user_id":"U0002"}]}]}"#;

fn claim(now: chrono::DateTime<Utc>) -> ClaimRequest {
    ClaimRequest {
        now,
        limit: 10,
        lease_until: now + Duration::seconds(30),
        claim_token: "rich-text-claim".into(),
        refresh_before: now,
        refresh_lock_until: now,
        pace_interval: Duration::milliseconds(1),
        pace_tolerance: Duration::seconds(10),
        pace_budget: Duration::seconds(20),
    }
}

on_both_backends! {
    async fn the_rich_text_is_stored_edited_and_claimed_with_its_message(db: TestDb) {
        let h = Harness::start(&db).await;
        let (alice, _) = h.connect(ALICE).await;
        let due = Utc::now() + Duration::hours(1);
        let one = NewMessage { rich_text: Some(RICH.into()), ..new_message(&alice, GENERAL, "*hi* <@U0002>", due) };
        let single = h.store.insert_message(&one, Utc::now()).await.expect("insert");
        let plain = new_message(&alice, GENERAL, "plain", due);
        h.store.insert_messages(&[one.clone(), plain], Utc::now()).await.expect("bulk insert");
        let kept: Vec<Option<String>> = h.store.all_messages().await.expect("read").into_iter().map(|m| m.rich_text).collect();
        assert_eq!(kept, [Some(RICH.to_owned()), Some(RICH.to_owned()), None]);

        let edit = |rich_text: Option<String>| MessageEdit {
            channel_id: RANDOM.into(),
            text: MessageText::parse("edited").expect("text"),
            rich_text,
            due: DueTime::parse(due, Utc::now()).expect("due"),
            conditions: Default::default(),
            reply_broadcast: false,
        };
        let replaced = r#"{"type":"rich_text","elements":[{"type":"rich_text_section","elements":[{"type":"text","text":"edited"}]}]}"#;
        let edited = h.store.edit_message(single, alice.id, &edit(Some(replaced.into())), Utc::now()).await.expect("edit");
        assert_eq!(edited.rich_text.as_deref(), Some(replaced));
        let cleared = h.store.edit_message(single, alice.id, &edit(None), Utc::now()).await.expect("edit");
        assert_eq!(cleared.rich_text, None, "an edit replaces it, even with none");

        let claimed = h.store.claim_due(&claim(due + Duration::seconds(1))).await.expect("claim");
        let mut carried: Vec<(String, Option<String>)> = claimed.into_iter().map(|m| (m.text, m.rich_text)).collect();
        carried.sort();
        assert_eq!(carried, [
            ("*hi* <@U0002>".to_owned(), Some(RICH.to_owned())),
            ("edited".to_owned(), None),
            ("plain".to_owned(), None),
        ]);
    }
}

on_both_backends! {
    /// Retention erases what a settled message said: its rich text too.
    async fn a_settled_messages_rich_text_is_erased_with_its_text(db: TestDb) {
        let h = Harness::start(&db).await;
        let (alice, _) = h.connect(ALICE).await;
        let now = Utc::now();
        let sent = NewMessage { rich_text: Some(RICH.into()), ..new_message(&alice, GENERAL, "*hi* <@U0002>", now) };
        let sent = h.store.insert_message(&sent, now - Duration::seconds(1)).await.expect("insert");
        let ahead = NewMessage { rich_text: Some(RICH.into()), ..new_message(&alice, GENERAL, "*hi* <@U0002>", now + Duration::days(60)) };
        let ahead = h.store.insert_message(&ahead, now).await.expect("insert");
        h.cycle_at(now + Duration::seconds(1)).await;
        let later = now + Duration::days(31);
        let erased = h.store.erase_settled_text(later - Duration::days(30), later, 10).await.expect("erase");
        assert_eq!(erased, 1);
        let gone = h.message(sent).await;
        assert_eq!((gone.text.as_str(), gone.rich_text), ("", None));
        assert_eq!(h.message(ahead).await.rich_text.as_deref(), Some(RICH), "a waiting message keeps it");
    }
}
