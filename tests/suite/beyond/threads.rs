//! Thread replies: the "Schedule a reply" message shortcut opens the
//! modal bound to the message's thread, and the reply goes out there
//! (also to the channel when asked).

use std::time::Duration;

use chrono::Utc;
use slack_scheduler::slack::blocks;

use crate::common::harness::{ALICE, BOB, GENERAL, TEAM};
use crate::common::modal::Filled;
use crate::common::{TestApp, wait_until};
use crate::on_both_backends;

/// Bob's message in #general, and the modal alice's shortcut on it opens.
async fn shortcut_on(app: &TestApp, ts: &str) -> serde_json::Value {
    let before = app.sim.views().len();
    let answer = app
        .sim
        .send_message_shortcut(&app.url, TEAM, ALICE, GENERAL, ts, blocks::REPLY_SHORTCUT)
        .await
        .expect("shortcut delivered");
    assert_eq!(answer.status, 200);
    wait_until("the reply modal opens", Duration::from_secs(5), || async {
        app.sim
            .views()
            .into_iter()
            .skip(before)
            .find(|v| v.view["type"] == "modal")
            .map(|v| v.view)
    })
    .await
}

on_both_backends! {
    /// The shortcut's modal names the thread, has no conversation field,
    /// offers the thread's own options; the reply is posted in the thread.
    async fn the_shortcut_schedules_a_reply_posted_in_its_thread(db: TestDb) {
        let app = TestApp::start(&db).await;
        app.install(ALICE).await;
        let parent = app.sim.post_as(GENERAL, BOB, "Can someone review my PR?");
        let modal = shortcut_on(&app, &parent).await;
        assert_eq!(modal["title"]["text"], "Schedule a reply");
        let text = modal.to_string();
        assert!(!text.contains(blocks::CHANNEL_BLOCK), "bound to the thread: {text}");
        assert!(text.contains(blocks::OPTION_UNLESS_REPLIED) && text.contains(blocks::OPTION_BROADCAST));
        let metadata = modal["private_metadata"].as_str().expect("metadata").to_owned();
        assert!(metadata.contains(&parent));

        let when = Utc::now().timestamp() + 2;
        let filled = Filled::new(&app, None, "I'll take a look after lunch", when);
        let answer = app.submit_modal(ALICE, blocks::NEW_CALLBACK, &metadata, &filled, None).await;
        let body: serde_json::Value = serde_json::from_str(&answer.body).expect("json");
        assert_eq!(body["response_action"], "update", "the modal says it is done");
        assert!(body["view"].to_string().contains("a thread in <#C0001>"), "{body}");
        assert!(answer.invalid_blocks.is_empty(), "{:?}", answer.invalid_blocks);

        let reply = wait_until("the reply is posted", Duration::from_secs(15), || async {
            app.sim.messages(Some(GENERAL)).into_iter().find(|m| m.text == "I'll take a look after lunch")
        })
        .await;
        assert_eq!(reply.thread_ts.as_deref(), Some(parent.as_str()), "in the thread");
        assert!(!reply.reply_broadcast);
        assert_eq!(reply.user, ALICE, "as alice");
        app.stop().await;
    }
}

on_both_backends! {
    /// "Also send to the channel" posts the reply with `reply_broadcast`;
    /// the shortcut on a reply binds to the thread it is in.
    async fn a_reply_can_also_go_to_the_channel_and_a_reply_s_shortcut_finds_its_thread(db: TestDb) {
        let app = TestApp::start(&db).await;
        app.install(ALICE).await;
        let parent = app.sim.post_as(GENERAL, BOB, "Release notes thread");
        let reply = app.sim.reply_as(GENERAL, &parent, BOB, "Draft is up");
        let modal = shortcut_on(&app, &reply).await;
        let metadata = modal["private_metadata"].as_str().expect("metadata").to_owned();
        assert!(metadata.contains(&parent) && !metadata.contains(&reply), "{metadata}");

        let when = Utc::now().timestamp() + 2;
        let filled = Filled::new(&app, None, "Shipping it now", when).options(&[blocks::OPTION_BROADCAST]);
        app.submit_modal(ALICE, blocks::NEW_CALLBACK, &metadata, &filled, None).await;
        let posted = wait_until("the reply is posted", Duration::from_secs(15), || async {
            app.sim.messages(Some(GENERAL)).into_iter().find(|m| m.text == "Shipping it now")
        })
        .await;
        assert_eq!(posted.thread_ts.as_deref(), Some(parent.as_str()));
        assert!(posted.reply_broadcast, "also sent to the channel");
        app.stop().await;
    }
}

on_both_backends! {
    /// A reply whose thread's parent is gone fails for good, in plain words.
    async fn a_reply_to_a_thread_that_is_gone_fails_in_plain_words(db: TestDb) {
        let app = TestApp::start(&db).await;
        app.install(ALICE).await;
        let metadata = serde_json::json!({"channel": GENERAL, "thread_ts": "1600000000.000100"}).to_string();
        let when = Utc::now().timestamp() + 2;
        let filled = Filled::new(&app, None, "Into the void", when);
        app.submit_modal(ALICE, blocks::NEW_CALLBACK, &metadata, &filled, None).await;
        let failed = wait_until("the reply fails", Duration::from_secs(15), || async {
            app.messages().await.into_iter().find(|m| m.status == slack_scheduler::domain::MessageStatus::Failed)
        })
        .await;
        assert_eq!(failed.reason.as_deref(), Some("thread_not_found"));
        app.stop().await;
    }
}
