//! Block Kit is checked wherever Slack checks it: messages with `blocks`
//! (`chat.postMessage`, `chat.postEphemeral`, `response_url` posts, a slash
//! command's answer) and views (`views.open`, `views.publish`,
//! `views.update`), refused with Slack's codes and reasons.

use axum::routing::post;
use serde_json::{Value, json};
use slack_scheduler::sim::Command;

use super::{ALICE, GENERAL, TEAM, call, simulator};

fn mrkdwn_header() -> Value {
    json!([{"type": "header", "text": {"type": "mrkdwn", "text": "*not allowed*"}}])
}

fn reasons(answer: &Value) -> Vec<String> {
    answer["response_metadata"]["messages"]
        .as_array()
        .map(|m| {
            m.iter()
                .filter_map(|r| r.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn a_message_with_invalid_blocks_is_refused_with_slacks_reasons() {
    let sim = simulator().await;
    let alice = sim.install(TEAM, ALICE).user_access;
    let (status, _, answer) = call(
        &sim,
        "chat.postMessage",
        Some(&alice),
        json!({"channel": GENERAL, "text": "fallback", "blocks": mrkdwn_header()}),
    )
    .await;
    assert_eq!(
        (status, answer["ok"].as_bool(), answer["error"].as_str()),
        (200, Some(false), Some("invalid_blocks"))
    );
    assert_eq!(
        reasons(&answer),
        ["[ERROR] must be plain_text, not mrkdwn [json-pointer:/blocks/0/text/type]"]
    );
    assert!(sim.messages(None).is_empty(), "nothing posted");
    assert_eq!(
        sim.calls(Some("chat.postMessage"))[0].outcome,
        "invalid_blocks"
    );

    let too_many: Vec<Value> = (0..51).map(|_| json!({"type": "divider"})).collect();
    let (_, _, answer) = call(
        &sim,
        "chat.postMessage",
        Some(&alice),
        json!({"channel": GENERAL, "text": "x", "blocks": too_many}),
    )
    .await;
    assert_eq!(
        reasons(&answer),
        ["[ERROR] no more than 50 items allowed [json-pointer:/blocks]"]
    );

    let (_, _, answer) = call(
        &sim,
        "chat.postMessage",
        Some(&alice),
        json!({"channel": GENERAL, "text": "x", "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "fine"}}]}),
    )
    .await;
    assert_eq!(answer["ok"], true, "valid blocks are posted");
    assert_eq!(sim.messages(Some(GENERAL)).len(), 1);
}

#[tokio::test]
async fn an_invalid_view_is_refused_with_invalid_arguments() {
    let sim = simulator().await;
    let bot = sim.install(TEAM, ALICE).bot_access;
    let too_many: Vec<Value> = (0..101).map(|_| json!({"type": "divider"})).collect();
    let (_, _, answer) = call(
        &sim,
        "views.publish",
        Some(&bot),
        json!({"user_id": ALICE, "view": {"type": "home", "blocks": too_many}}),
    )
    .await;
    assert_eq!(
        (answer["ok"].as_bool(), answer["error"].as_str()),
        (Some(false), Some("invalid_arguments"))
    );
    assert_eq!(
        reasons(&answer),
        ["[ERROR] no more than 100 items allowed [json-pointer:/view/blocks]"]
    );
    assert!(sim.home_view(ALICE).is_none(), "nothing published");

    let trigger = sim.issue_trigger(TEAM, ALICE);
    let long_title = json!({"type": "modal", "title": {"type": "plain_text", "text": "A title far longer than Slack allows"}, "blocks": []});
    let (_, _, answer) = call(
        &sim,
        "views.open",
        Some(&bot),
        json!({"trigger_id": trigger, "view": long_title}),
    )
    .await;
    assert_eq!(answer["error"], "invalid_arguments");
    assert_eq!(
        reasons(&answer),
        ["[ERROR] must be less than 25 characters [json-pointer:/view/title/text]"]
    );

    let trigger = sim.issue_trigger(TEAM, ALICE);
    let modal =
        json!({"type": "modal", "title": {"type": "plain_text", "text": "Fine"}, "blocks": []});
    let (_, _, opened) = call(
        &sim,
        "views.open",
        Some(&bot),
        json!({"trigger_id": trigger, "view": modal}),
    )
    .await;
    assert_eq!(opened["ok"], true, "{opened}");
    let view_id = opened["view"]["id"].as_str().expect("id");
    let bad_metadata = json!({"type": "modal", "title": {"type": "plain_text", "text": "Fine"}, "blocks": [],
                              "private_metadata": "m".repeat(3001)});
    let (_, _, answer) = call(
        &sim,
        "views.update",
        Some(&bot),
        json!({"view_id": view_id, "view": bad_metadata}),
    )
    .await;
    assert_eq!(answer["error"], "invalid_arguments");
    assert_eq!(
        reasons(&answer),
        ["[ERROR] must be less than 3001 characters [json-pointer:/view/private_metadata]"]
    );
}

#[tokio::test]
async fn ephemeral_and_response_url_posts_are_checked_too() {
    let sim = simulator().await;
    let bot = sim.install(TEAM, ALICE).bot_access;
    let (_, _, answer) = call(
        &sim,
        "chat.postEphemeral",
        Some(&bot),
        json!({"channel": GENERAL, "user": ALICE, "text": "x", "blocks": mrkdwn_header()}),
    )
    .await;
    assert_eq!(answer["error"], "invalid_blocks");
    assert!(sim.ephemerals().is_empty());

    let url = sim.issue_response_url(TEAM, GENERAL, ALICE);
    let http = reqwest::Client::new();
    let refused = http
        .post(&url)
        .json(&json!({"text": "x", "blocks": mrkdwn_header()}))
        .send()
        .await
        .expect("sent");
    assert_eq!(refused.status(), 400);
    let body: Value = refused.json().await.expect("json");
    assert_eq!(body["error"], "invalid_blocks");
    assert!(sim.ephemerals().is_empty(), "not shown");
    let shown = http
        .post(&url)
        .json(&json!({"text": "x", "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "ok"}}]}))
        .send()
        .await
        .expect("sent");
    assert_eq!(shown.status(), 200);
    assert_eq!(sim.ephemerals().len(), 1);
    let outcomes: Vec<String> = sim
        .calls(Some("response_url"))
        .into_iter()
        .map(|c| c.outcome)
        .collect();
    assert_eq!(outcomes, ["invalid_blocks", "ok"]);
}

#[tokio::test]
async fn a_slash_command_answer_with_invalid_blocks_is_reported() {
    let sim = simulator().await;
    // An app that answers every command with a mrkdwn header.
    let app = axum::Router::new().route(
        "/slack/commands",
        post(|| async {
            axum::Json(
                json!({"response_type": "ephemeral", "text": "x", "blocks": mrkdwn_header()}),
            )
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("port");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, app).await });
    let answer = sim
        .send_command(
            &url,
            Command {
                team_id: TEAM,
                user_id: ALICE,
                channel_id: GENERAL,
                text: "list",
            },
        )
        .await
        .expect("answered");
    assert_eq!(answer.status, 200);
    assert_eq!(
        answer.invalid_blocks,
        ["[ERROR] must be plain_text, not mrkdwn [json-pointer:/blocks/0/text/type]"]
    );
}
