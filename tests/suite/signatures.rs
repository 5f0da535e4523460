//! Every Slack endpoint checks the request signature before anything else.

use slack_scheduler::sim::outbound::sign;

use crate::common::TestApp;
use crate::common::harness::{ALICE, GENERAL, TEAM};
use crate::on_both_backends;

const ENDPOINTS: [(&str, &str); 3] = [
    ("/slack/commands", "application/x-www-form-urlencoded"),
    ("/slack/interactivity", "application/x-www-form-urlencoded"),
    ("/slack/events", "application/json"),
];

fn body_for(path: &str) -> String {
    match path {
        "/slack/commands" => format!(
            "team_id={TEAM}&user_id={ALICE}&channel_id={GENERAL}&command=%2Fschedule&text=in+1+hour+hi&trigger_id=1.2.3&response_url=http%3A%2F%2F127.0.0.1%3A9%2Fr"
        ),
        "/slack/interactivity" => format!(
            "payload={}",
            urlencode(
                r#"{"type":"block_actions","team":{"id":"T0001"},"user":{"id":"U0001"},"actions":[]}"#
            )
        ),
        _ => r#"{"type":"url_verification","challenge":"abc"}"#.into(),
    }
}

async fn post(
    app: &TestApp,
    path: &str,
    content_type: &str,
    body: String,
    headers: &[(&str, String)],
) -> u16 {
    let mut request = app
        .http
        .post(format!("{}{path}", app.url))
        .header("content-type", content_type)
        .body(body);
    for (name, value) in headers {
        request = request.header(*name, value);
    }
    request.send().await.expect("request").status().as_u16()
}

on_both_backends! {
    async fn unsigned_wrongly_signed_and_stale_requests_get_401(db: TestDb) {
        let app = TestApp::start(&db).await;
        app.install(ALICE).await;
        let secret = app.sim.settings().signing_secret;
        let now = chrono::Utc::now().timestamp();
        for (path, content_type) in ENDPOINTS {
            let body = body_for(path);
            // Missing headers.
            assert_eq!(post(&app, path, content_type, body.clone(), &[]).await, 401, "{path} unsigned");
            // Signed with another secret.
            let wrong = sign("not-the-secret", now, &body);
            let headers = [("x-slack-request-timestamp", now.to_string()), ("x-slack-signature", wrong)];
            assert_eq!(post(&app, path, content_type, body.clone(), &headers).await, 401, "{path} wrong secret");
            // Right secret, body altered after signing.
            let signed = sign(&secret, now, &body);
            let headers = [("x-slack-request-timestamp", now.to_string()), ("x-slack-signature", signed)];
            assert_eq!(post(&app, path, content_type, format!("{body}&x=1"), &headers).await, 401, "{path} altered");
            // Right signature, but six minutes old, or six minutes ahead.
            for skew in [-360, 360] {
                let at = now + skew;
                let headers = [("x-slack-request-timestamp", at.to_string()), ("x-slack-signature", sign(&secret, at, &body))];
                assert_eq!(post(&app, path, content_type, body.clone(), &headers).await, 401, "{path} skew {skew}");
            }
            // And a correct one passes.
            let headers = [("x-slack-request-timestamp", now.to_string()), ("x-slack-signature", sign(&secret, now, &body))];
            assert_eq!(post(&app, path, content_type, body.clone(), &headers).await, 200, "{path} signed");
        }
        // Only the correctly signed command stored a message.
        assert_eq!(app.messages().await.len(), 1);
    }
}

on_both_backends! {
    async fn a_body_over_one_mebibyte_gets_413(db: TestDb) {
        let app = TestApp::start(&db).await;
        let secret = app.sim.settings().signing_secret;
        let now = chrono::Utc::now().timestamp();
        let body = format!("team_id={TEAM}&text={}", "a".repeat(1024 * 1024 + 1));
        let headers = [("x-slack-request-timestamp", now.to_string()), ("x-slack-signature", sign(&secret, now, &body))];
        assert_eq!(post(&app, "/slack/commands", "application/x-www-form-urlencoded", body, &headers).await, 413);
    }
}

fn urlencode(s: &str) -> String {
    serde_urlencoded::to_string([("v", s)])
        .expect("encodes")
        .split_off(2)
}
