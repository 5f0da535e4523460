//! A rich-text post in doubt, its metadata dropped by Slack, is found in
//! the conversation's history by author and text: the text Slack keeps of
//! it is the plain rendering the app posted (a bare link wrapped).

use chrono::{Duration, Utc};
use secrecy::SecretString;
use serde_json::json;
use slack_scheduler::domain::{DueTime, MessageStatus, MessageText};
use slack_scheduler::sim::MetadataMode;
use slack_scheduler::slack::rich_text::RichText;
use slack_scheduler::store::{ClaimRequest, NewMessage};

use crate::common::Harness;
use crate::common::harness::{ALICE, GENERAL};
use crate::on_both_backends;

/// A runner's claim of everything due at `now`, leased for 30 seconds.
fn claim_at(now: chrono::DateTime<Utc>) -> ClaimRequest {
    ClaimRequest {
        now,
        limit: 10,
        lease_until: now + Duration::seconds(30),
        claim_token: "runner-that-crashed".into(),
        refresh_before: now,
        refresh_lock_until: now,
        pace_interval: Duration::seconds(1),
        pace_tolerance: Duration::zero(),
        pace_budget: Duration::seconds(20),
    }
}

on_both_backends! {
    async fn a_rich_text_post_in_doubt_is_found_by_its_text_when_metadata_is_dropped(db: TestDb) {
        let h = Harness::start(&db).await;
        h.sim.update_settings(|s| s.user_token_metadata = MetadataMode::Dropped);
        let (alice, tokens) = h.connect(ALICE).await;
        let rich = RichText::from_value(&json!({"type": "rich_text", "elements": [{"type": "rich_text_section", "elements": [
            {"type": "text", "text": "see https://x.test/?a=1&b=2 & "},
            {"type": "user", "user_id": "U0002"},
            {"type": "text", "text": " <now>", "style": {"bold": true}},
        ]}]})).expect("rich text");
        let text = rich.markup();
        assert_eq!(text, "see https://x.test/?a=1&amp;b=2 &amp; <@U0002> *&lt;now&gt;*");
        let due = Utc::now();
        let message = NewMessage {
            author_id: alice.id,
            team_id: alice.team_id.clone(),
            user_id: alice.user_id.clone(),
            channel_id: GENERAL.into(),
            text: MessageText::parse(&text).expect("text"),
            rich_text: Some(rich.to_json()),
            due: DueTime::parse(due, due - Duration::seconds(1)).expect("due"),
            options: Default::default(),
        };
        let id = h.store.insert_message(&message, due - Duration::seconds(1)).await.expect("stored");
        let claimed = h.store.claim_due(&claim_at(due + Duration::seconds(1))).await.expect("claim");
        assert_eq!(claimed[0].rich_text.as_deref(), Some(rich.to_json().as_str()), "the claim carries the rich text");

        // The runner posted, then died before recording it; Slack dropped the metadata.
        let posted = h.slack
            .post_message(&SecretString::from(tokens.user_access.clone()), &alice.team_id, GENERAL,
                          &claimed[0].text, claimed[0].rich_text.as_deref(), Some(id))
            .await
            .expect("the crashed runner's post reached Slack");
        assert!(!posted.metadata_kept);
        let kept = h.sim.messages(Some(GENERAL));
        assert_eq!(kept[0].text, "see <https://x.test/?a=1&amp;b=2> &amp; <@U0002> *&lt;now&gt;*", "Slack wrapped the link");

        h.cycle_at(due + Duration::seconds(32)).await;
        let m = h.message(id).await;
        assert_eq!((m.status, m.slack_ts.as_deref()), (MessageStatus::Sent, Some(posted.ts.as_str())), "found, not posted again");
        assert_eq!(h.sim.messages(Some(GENERAL)).len(), 1);
    }
}
