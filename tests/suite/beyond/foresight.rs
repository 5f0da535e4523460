//! Failure foresight: when a message is scheduled, and again an hour
//! before it is due, the app checks its author can still post there and
//! warns them (App Home at once; a DM an hour ahead), within Slack's rate
//! limits.

use std::time::Duration;

use chrono::Utc;
use serde_json::Value;

use crate::common::harness::{ALICE, BOB, GENERAL, OLD, RANDOM, TEAM, new_message};
use crate::common::{TestApp, wait_until};
use crate::on_both_backends;

on_both_backends! {
    /// Scheduled into an archived channel: the message is flagged at once,
    /// and the Home tab says why it cannot be posted as things stand.
    async fn a_message_into_an_archived_channel_is_flagged_at_home_at_once(db: TestDb) {
        let app = TestApp::start(&db).await;
        app.install(ALICE).await;
        let answer = app.command(ALICE, OLD, "tomorrow 9am Into the archive").await;
        assert!(answer.body.contains("Scheduled"), "{}", answer.body);
        let flagged = wait_until("the warning is kept", Duration::from_secs(10), || async {
            app.messages().await.into_iter().find(|m| m.warning.is_some())
        })
        .await;
        assert_eq!(flagged.warning.as_deref(), Some("is_archived"));
        let home = wait_until("the Home tab shows it", Duration::from_secs(10), || async {
            app.sim.home_view(ALICE).map(|v: Value| v.to_string()).filter(|v| v.contains("as things stand"))
        })
        .await;
        assert!(home.contains("archived"), "{home}");
        assert_eq!(app.sim.calls(Some("conversations.info")).len(), 1);
        app.stop().await;
    }
}

on_both_backends! {
    /// An hour before it is due, bob's message into a channel he is not in
    /// gets him a DM; messages into a channel he can post in get none.
    async fn an_hour_before_its_time_the_author_is_warned_by_dm(db: TestDb) {
        let app = TestApp::start(&db).await;
        app.install(BOB).await;
        let bob = app.store.user(TEAM, BOB).await.expect("read").expect("bob").author;
        let due = Utc::now() + chrono::Duration::hours(1) + chrono::Duration::seconds(2);
        // Stored without the checks a command makes at once, so that only
        // the hour-before pass looks.
        let messages = vec![
            new_message(&bob, RANDOM, "not a member here", due),
            new_message(&bob, RANDOM, "nor here", due + chrono::Duration::seconds(1)),
            new_message(&bob, GENERAL, "fine here", due),
        ];
        app.store.insert_messages(&messages, Utc::now()).await.expect("stored");
        app.state.foresight.check_soon(Vec::new());
        let dm = wait_until("the DM", Duration::from_secs(15), || async {
            app.sim.messages(None).into_iter().find(|m| m.as_bot && m.text.contains("Heads up"))
        })
        .await;
        assert!(dm.text.contains("2 of your messages") && dm.text.contains("<#C0002>"), "{}", dm.text);
        assert!(dm.text.contains("not a member"), "{}", dm.text);
        let rows = app.messages().await;
        for row in &rows {
            let expected = (row.channel_id == RANDOM).then_some("not_in_channel");
            assert_eq!(row.warning.as_deref(), expected, "{row:?}");
        }
        // One look-up per author and conversation, not per message.
        wait_until("both conversations checked", Duration::from_secs(10), || async {
            (app.sim.calls(Some("conversations.info")).len() >= 2).then_some(())
        })
        .await;
        assert_eq!(app.sim.calls(Some("conversations.info")).len(), 2);
        assert_eq!(app.sim.messages(None).iter().filter(|m| m.as_bot && m.text.contains("Heads up")).count(), 1);
        app.stop().await;
    }
}

on_both_backends! {
    /// A message whose author has not connected their account is flagged
    /// without asking Slack.
    async fn an_author_without_a_token_is_flagged_without_a_look_up(db: TestDb) {
        let app = TestApp::start(&db).await;
        app.install(ALICE).await;
        let answer = app.command(BOB, GENERAL, "tomorrow 9am Before connecting").await;
        assert!(answer.body.contains("Connect your account"), "{}", answer.body);
        let flagged = wait_until("the warning is kept", Duration::from_secs(10), || async {
            app.messages().await.into_iter().find(|m| m.warning.is_some())
        })
        .await;
        assert_eq!(flagged.warning.as_deref(), Some("not_connected"));
        assert!(app.sim.calls(Some("conversations.info")).is_empty());
        app.stop().await;
    }
}
