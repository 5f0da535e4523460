//! Slack's rate limits and page sizes, on by default, each answered with
//! 429 and `Retry-After` beyond the limit.

use std::time::{Duration, Instant};

use chrono::Utc;
use serde_json::json;
use slack_scheduler::sim::{SimSettings, Simulator};
use slack_scheduler::slack::SlackError;

use super::{
    ALICE, BOB, GENERAL, RANDOM, TEAM, api, call, oauth, secret, simulator, simulator_with,
};
use crate::common::wait_until;

/// A second workspace with one member and one channel.
fn add_other_workspace(sim: &Simulator) -> String {
    sim.add_team("T0002", "Other Co");
    sim.add_user("T0002", "U0009", "mallory", "UTC");
    sim.add_channel("T0002", "C0900", "elsewhere", &["U0009"]);
    sim.install("T0002", "U0009").user_access
}

#[tokio::test]
async fn history_allows_one_call_a_minute_per_workspace_whatever_the_token() {
    let sim = simulator().await;
    let alice = sim.install(TEAM, ALICE).user_access;
    let bob = sim.install(TEAM, BOB).user_access;
    let mallory = add_other_workspace(&sim);
    let history = |channel: &str| json!({"channel": channel});

    let (status, _, first) = call(
        &sim,
        "conversations.history",
        Some(&alice),
        history(GENERAL),
    )
    .await;
    assert_eq!((status, first["ok"].as_bool()), (200, Some(true)));
    // Another user's token in the same workspace shares the budget.
    let (status, retry_after, refused) =
        call(&sim, "conversations.history", Some(&bob), history(GENERAL)).await;
    assert_eq!(
        (status, refused["error"].as_str()),
        (429, Some("ratelimited"))
    );
    assert!(
        retry_after.is_some_and(|s| (1..=60).contains(&s)),
        "{retry_after:?}"
    );
    // So does another channel.
    let (status, _, _) = call(&sim, "conversations.history", Some(&alice), history(RANDOM)).await;
    assert_eq!(status, 429);
    // Another workspace has its own.
    let (status, _, _) = call(
        &sim,
        "conversations.history",
        Some(&mallory),
        history("C0900"),
    )
    .await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn a_history_page_holds_at_most_fifteen_messages_and_pages_with_a_cursor() {
    // Four pages in a row: this test is about page size, so the call rate
    // (which has its own test) is lifted.
    let sim = simulator_with(SimSettings {
        history_per_minute: None,
        ..SimSettings::default()
    })
    .await;
    let alice = sim.install(TEAM, ALICE).user_access;
    for i in 0..40 {
        sim.post_as(GENERAL, BOB, &format!("message {i}"));
    }
    let mut cursor = String::new();
    let mut pages = Vec::new();
    loop {
        let (_, _, page) = call(
            &sim,
            "conversations.history",
            Some(&alice),
            json!({"channel": GENERAL, "limit": "200", "cursor": cursor}),
        )
        .await;
        let texts: Vec<String> = page["messages"]
            .as_array()
            .expect("messages")
            .iter()
            .map(|m| m["text"].as_str().expect("text").to_owned())
            .collect();
        pages.push(texts);
        cursor = page["response_metadata"]["next_cursor"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        assert_eq!(page["has_more"].as_bool(), Some(!cursor.is_empty()));
        if cursor.is_empty() {
            break;
        }
    }
    let sizes: Vec<usize> = pages.iter().map(Vec::len).collect();
    assert_eq!(sizes, [15, 15, 10], "a limit of 200 is capped to 15");
    let all: Vec<String> = pages.concat();
    let expected: Vec<String> = (0..40).rev().map(|i| format!("message {i}")).collect();
    assert_eq!(all, expected, "newest first, each once");
    // Without a limit, the default page is 15 too.
    let (_, _, page) = call(
        &sim,
        "conversations.history",
        Some(&alice),
        json!({"channel": GENERAL}),
    )
    .await;
    assert_eq!(page["messages"].as_array().map(Vec::len), Some(15));
}

#[tokio::test]
async fn the_marketplace_profile_raises_history_to_tier_three_and_999_a_page() {
    let sim = simulator_with(SimSettings::default().marketplace().accepting_metadata()).await;
    let alice = sim.install(TEAM, ALICE).user_access;
    for i in 0..1_200 {
        sim.post_as(GENERAL, BOB, &format!("m{i}"));
    }
    let (_, _, big) = call(
        &sim,
        "conversations.history",
        Some(&alice),
        json!({"channel": GENERAL, "limit": "5000"}),
    )
    .await;
    assert_eq!(big["messages"].as_array().map(Vec::len), Some(999));
    let (_, _, default) = call(
        &sim,
        "conversations.history",
        Some(&alice),
        json!({"channel": GENERAL}),
    )
    .await;
    assert_eq!(default["messages"].as_array().map(Vec::len), Some(100));
    for _ in 2..50 {
        let (status, _, _) = call(
            &sim,
            "conversations.history",
            Some(&alice),
            json!({"channel": GENERAL, "limit": "1"}),
        )
        .await;
        assert_eq!(status, 200);
    }
    let (status, retry_after, _) = call(
        &sim,
        "conversations.history",
        Some(&alice),
        json!({"channel": GENERAL, "limit": "1"}),
    )
    .await;
    assert_eq!(
        (status, retry_after.is_some()),
        (429, true),
        "the 51st call in a minute"
    );
}

#[tokio::test]
async fn posts_into_one_channel_go_at_about_one_a_second_after_a_short_burst() {
    let sim = simulator().await;
    let alice = secret(&sim.install(TEAM, ALICE).user_access);
    let api = api(&sim);
    for i in 0..3 {
        assert!(
            api.post_message(&alice, TEAM, GENERAL, "burst", None, Some(i))
                .await
                .is_ok(),
            "post {i} of the burst"
        );
    }
    assert_eq!(
        api.post_message(&alice, TEAM, GENERAL, "one too many", None, Some(3))
            .await,
        Err(SlackError::RateLimited {
            retry_after: Some(Duration::from_secs(1))
        })
    );
    assert!(
        api.post_message(&alice, TEAM, RANDOM, "another channel", None, Some(4))
            .await
            .is_ok()
    );
    assert_eq!(
        sim.messages(Some(GENERAL)).len(),
        3,
        "the refused post is not in the channel"
    );
}

#[tokio::test]
async fn a_workspace_wide_post_limit_holds_across_channels() {
    let sim = simulator().await;
    let alice = sim.install(TEAM, ALICE).user_access;
    let mallory = add_other_workspace(&sim);
    let limit = SimSettings::default()
        .workspace_posts_per_minute
        .expect("on by default");
    let channels: Vec<String> = (0..limit.div_ceil(3))
        .map(|i| format!("C7{i:03}"))
        .collect();
    for channel in &channels {
        sim.add_channel(TEAM, channel, channel, &[ALICE]);
    }
    let mut posted = 0;
    'posting: for channel in &channels {
        for _ in 0..3 {
            if posted == limit {
                break 'posting;
            }
            let (status, _, _) = call(
                &sim,
                "chat.postMessage",
                Some(&alice),
                json!({"channel": channel, "text": "hi"}),
            )
            .await;
            assert_eq!(status, 200, "post {posted}");
            posted += 1;
        }
    }
    sim.add_channel(TEAM, "C7999", "fresh", &[ALICE]);
    let (status, retry_after, refused) = call(
        &sim,
        "chat.postMessage",
        Some(&alice),
        json!({"channel": "C7999", "text": "one more"}),
    )
    .await;
    assert_eq!(
        (status, refused["error"].as_str()),
        (429, Some("ratelimited")),
        "a fresh channel, a full workspace"
    );
    assert!(retry_after.is_some_and(|s| s >= 1));
    let (status, _, _) = call(
        &sim,
        "chat.postMessage",
        Some(&mallory),
        json!({"channel": "C0900", "text": "hi"}),
    )
    .await;
    assert_eq!(status, 200, "another workspace is unaffected");
}

#[tokio::test]
async fn views_publish_is_limited_per_workspace() {
    let sim = simulator().await;
    let bot = sim.install(TEAM, ALICE).bot_access;
    let home = json!({"type": "home", "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "hi"}}]});
    let per_minute = SimSettings::default()
        .views_publish_per_minute
        .expect("on by default");
    for i in 0..per_minute {
        let user = if i % 2 == 0 { ALICE } else { BOB };
        let (status, _, answer) = call(
            &sim,
            "views.publish",
            Some(&bot),
            json!({"user_id": user, "view": home}),
        )
        .await;
        assert_eq!(
            (status, answer["ok"].as_bool()),
            (200, Some(true)),
            "publish {i}"
        );
    }
    let (status, retry_after, _) = call(
        &sim,
        "views.publish",
        Some(&bot),
        json!({"user_id": ALICE, "view": home}),
    )
    .await;
    assert_eq!(
        (status, retry_after.is_some()),
        (429, true),
        "Tier 4: 100 a minute"
    );
}

#[tokio::test]
async fn oauth_access_is_limited_per_app_and_workspace() {
    let sim = simulator().await;
    let oauth = oauth(&sim);
    let mut refresh = secret(&sim.install(TEAM, ALICE).user_refresh);
    let per_minute = SimSettings::default()
        .oauth_access_per_minute
        .expect("on by default");
    for i in 0..per_minute {
        let rotated = oauth
            .refresh(&refresh, Utc::now())
            .await
            .unwrap_or_else(|e| panic!("refresh {i}: {e:?}"));
        refresh = rotated.refresh_token.expect("rotated");
    }
    let refused = oauth.refresh(&refresh, Utc::now()).await;
    assert!(refused.is_err(), "refresh {per_minute} is over the limit");
    let calls = sim.calls(Some("oauth.v2.access"));
    assert_eq!(
        calls.last().map(|c| c.outcome.as_str()),
        Some("ratelimited")
    );
    // The refused call spent nothing: the same refresh token works later,
    // and another workspace is not held up meanwhile.
    let mallory_refresh = {
        add_other_workspace(&sim);
        secret(&sim.install("T0002", "U0009").user_refresh)
    };
    assert!(oauth.refresh(&mallory_refresh, Utc::now()).await.is_ok());
}

#[tokio::test]
async fn a_scaled_simulator_keeps_slacks_ratios_in_less_time() {
    // Slack's minute lasts three seconds, its second 50 ms.
    let sim = simulator_with(
        SimSettings::default()
            .with_time_scale(0.05)
            .accepting_metadata(),
    )
    .await;
    let alice = sim.install(TEAM, ALICE).user_access;
    let started = Instant::now();
    let (status, _, _) = call(
        &sim,
        "conversations.history",
        Some(&alice),
        json!({"channel": GENERAL}),
    )
    .await;
    assert_eq!(status, 200);
    let (status, retry_after, _) = call(
        &sim,
        "conversations.history",
        Some(&alice),
        json!({"channel": GENERAL}),
    )
    .await;
    assert_eq!(status, 429);
    assert_eq!(retry_after, Some(3), "three real seconds, rounded up");
    wait_until(
        "history is allowed again",
        Duration::from_secs(10),
        || async {
            let (status, _, _) = call(
                &sim,
                "conversations.history",
                Some(&alice),
                json!({"channel": GENERAL}),
            )
            .await;
            (status == 200).then_some(())
        },
    )
    .await;
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(2_900) && waited < Duration::from_secs(6),
        "{waited:?}"
    );

    // One post a (50 ms) second per channel after a burst of three.
    for _ in 0..3 {
        let (status, _, _) = call(
            &sim,
            "chat.postMessage",
            Some(&alice),
            json!({"channel": GENERAL, "text": "x"}),
        )
        .await;
        assert_eq!(status, 200);
    }
    let refused_at = Instant::now();
    let (status, retry_after, _) = call(
        &sim,
        "chat.postMessage",
        Some(&alice),
        json!({"channel": GENERAL, "text": "x"}),
    )
    .await;
    assert_eq!(
        (status, retry_after),
        (429, Some(1)),
        "50 ms, said as the least whole second"
    );
    wait_until(
        "the channel takes a post again",
        Duration::from_secs(2),
        || async {
            let (status, _, _) = call(
                &sim,
                "chat.postMessage",
                Some(&alice),
                json!({"channel": GENERAL, "text": "y"}),
            )
            .await;
            (status == 200).then_some(())
        },
    )
    .await;
    assert!(
        refused_at.elapsed() < Duration::from_millis(500),
        "well before a real second"
    );
}
