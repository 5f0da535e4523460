//! The simulator answers as Slack does, over real HTTP, through the same
//! clients the app uses. Each of Slack's rules has a test of its own:
//!
//! - [`limits`]: rate limits, history pages, the Marketplace profile, the time scale.
//! - [`block_kit`]: Block Kit validation of messages, views and answers.
//! - [`text_and_metadata`]: text stored as Slack stores it; metadata on user-token posts.
//! - [`oauth`]: redirect URIs at authorize and at `oauth.v2.access`.

mod block_kit;
mod limits;
mod oauth;
mod text_and_metadata;

use std::time::Duration;

use chrono::Utc;
use secrecy::{ExposeSecret, SecretString};
use slack_scheduler::sim::{Fault, FaultKind, SimSettings, Simulator};
use slack_scheduler::slack::{OAuthError, SlackApi, SlackError, SlackOAuth};

use crate::common::harness::{ALICE, BOB, GENERAL, OLD, RANDOM, TEAM};

const REDIRECT: &str = "http://127.0.0.1:9/slack/oauth/callback";

/// The simulator as strict as Slack, in real time, with the demo workspace.
async fn simulator() -> Simulator {
    // These tests are about other rules; metadata.rs and text_and_metadata.rs
    // are about what Slack does with metadata on user-token posts.
    simulator_with(SimSettings::default().accepting_metadata()).await
}

async fn simulator_with(settings: SimSettings) -> Simulator {
    let sim = Simulator::start(settings).await.expect("starts");
    sim.seed_demo_workspace();
    sim.allow_redirect_url(REDIRECT);
    sim
}

/// One Web API call as raw HTTP: the status, `Retry-After`, and the JSON.
async fn call(
    sim: &Simulator,
    method: &str,
    token: Option<&str>,
    body: serde_json::Value,
) -> (u16, Option<u64>, serde_json::Value) {
    let mut request = reqwest::Client::new()
        .post(format!("{}/{method}", sim.api_url()))
        .json(&body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.expect("request");
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok());
    let json = response.json().await.unwrap_or(serde_json::Value::Null);
    (status, retry_after, json)
}

fn oauth(sim: &Simulator) -> SlackOAuth {
    let settings = sim.settings();
    SlackOAuth::new(
        &settings.client_id,
        &SecretString::from(settings.client_secret),
        &sim.authorize_url(),
        &sim.api_url(),
        REDIRECT,
    )
    .expect("oauth client")
}

fn api(sim: &Simulator) -> SlackApi {
    SlackApi::new(&sim.api_url(), Duration::from_secs(1)).expect("client")
}

/// One page of a channel's history since `oldest`, newest first.
trait HistoryForTest {
    async fn history_since_for_test(
        &self,
        token: &SecretString,
        channel: &str,
        oldest: chrono::DateTime<Utc>,
    ) -> Result<Vec<slack_scheduler::slack::HistoryMessage>, SlackError>;
}

impl HistoryForTest for SlackApi {
    async fn history_since_for_test(
        &self,
        token: &SecretString,
        channel: &str,
        oldest: chrono::DateTime<Utc>,
    ) -> Result<Vec<slack_scheduler::slack::HistoryMessage>, SlackError> {
        let request = slack_scheduler::slack::HistoryRequest {
            channel_id: channel,
            oldest,
            latest: None,
            cursor: None,
            limit: 15,
        };
        self.history_page(token, TEAM, &request)
            .await
            .map(|page| page.messages)
    }
}

fn secret(s: &str) -> SecretString {
    SecretString::from(s.to_owned())
}

#[tokio::test]
async fn code_grant_installs_and_refresh_tokens_rotate_once() {
    let sim = simulator().await;
    let oauth = oauth(&sim);
    let code = sim.issue_code(TEAM, ALICE, Some(REDIRECT));
    let install = oauth
        .exchange_code(&code, Utc::now())
        .await
        .expect("install");
    assert_eq!(
        (install.team_id.as_str(), install.user_id.as_str()),
        (TEAM, ALICE)
    );
    assert_eq!(install.team_name, "Acme (simulated)");
    let user = install.user.expect("user token");
    assert!(user.access_token.expose_secret().starts_with("xoxe.xoxp-"));
    assert!(
        user.expires_at
            .is_some_and(|at| at > Utc::now() + chrono::Duration::hours(11))
    );
    assert!(
        install
            .bot
            .expect("bot token")
            .access_token
            .expose_secret()
            .starts_with("xoxe.xoxb-")
    );

    // A code works once.
    assert_eq!(
        oauth.exchange_code(&code, Utc::now()).await.err(),
        Some(OAuthError::Refused("invalid_code".into()))
    );

    // A refresh token works once; the new pair works.
    let old_refresh = user.refresh_token.expect("refresh token");
    let rotated = oauth
        .refresh(&old_refresh, Utc::now())
        .await
        .expect("refresh");
    assert_ne!(
        rotated.access_token.expose_secret(),
        user.access_token.expose_secret()
    );
    let again = oauth.refresh(&old_refresh, Utc::now()).await;
    assert_eq!(
        again.err(),
        Some(OAuthError::Refused("invalid_refresh_token".into()))
    );
    let ts = api(&sim)
        .post_message(
            &rotated.access_token,
            TEAM,
            GENERAL,
            "with the new token",
            None,
            Some(1),
        )
        .await;
    assert!(ts.is_ok(), "{ts:?}");

    let grants: Vec<String> = sim
        .calls(Some("oauth.v2.access"))
        .iter()
        .filter_map(|c| {
            c.params
                .get("grant_type")
                .and_then(|g| g.as_str())
                .map(str::to_owned)
        })
        .collect();
    assert_eq!(
        grants,
        [
            "authorization_code",
            "authorization_code",
            "refresh_token",
            "refresh_token"
        ]
    );
}

#[tokio::test]
async fn wrong_client_credentials_are_refused() {
    let sim = simulator().await;
    let wrong = SlackOAuth::new(
        "1.2",
        &secret("nope"),
        &sim.authorize_url(),
        &sim.api_url(),
        REDIRECT,
    )
    .expect("client");
    let code = sim.issue_code(TEAM, ALICE, Some(REDIRECT));
    assert_eq!(
        wrong.exchange_code(&code, Utc::now()).await.err(),
        Some(OAuthError::Refused("invalid_client_id".into()))
    );
}

#[tokio::test]
async fn access_tokens_expire_and_revoked_ones_are_refused() {
    let sim = simulator().await;
    let tokens = sim.install(TEAM, ALICE);
    let api = api(&sim);
    let token = secret(&tokens.user_access);
    api.post_message(&token, TEAM, GENERAL, "fresh", None, Some(1))
        .await
        .expect("fresh token posts");
    sim.expire_access_tokens(Some(ALICE));
    assert_eq!(
        api.post_message(&token, TEAM, GENERAL, "stale", None, Some(2))
            .await,
        Err(SlackError::api("token_expired"))
    );
    sim.revoke_tokens(ALICE);
    assert_eq!(
        api.post_message(&token, TEAM, GENERAL, "revoked", None, Some(3))
            .await,
        Err(SlackError::api("token_revoked"))
    );
    assert_eq!(
        api.post_message(&secret("xoxp-unknown"), TEAM, GENERAL, "x", None, Some(4))
            .await,
        Err(SlackError::api("invalid_auth"))
    );
}

#[tokio::test]
async fn posting_follows_channel_membership_and_state() {
    let sim = simulator().await;
    let bob = secret(&sim.install(TEAM, BOB).user_access);
    let api = api(&sim);
    assert_eq!(
        api.post_message(&bob, TEAM, RANDOM, "x", None, Some(1))
            .await,
        Err(SlackError::api("not_in_channel"))
    );
    assert_eq!(
        api.post_message(&bob, TEAM, OLD, "x", None, Some(2)).await,
        Err(SlackError::api("is_archived"))
    );
    assert_eq!(
        api.post_message(&bob, TEAM, "C9999", "x", None, Some(3))
            .await,
        Err(SlackError::api("channel_not_found"))
    );
    assert_eq!(
        api.post_message(&bob, TEAM, GENERAL, " ", None, Some(4))
            .await,
        Err(SlackError::api("no_text"))
    );
    let ts = api
        .post_message(&bob, TEAM, GENERAL, "hello", None, Some(5))
        .await
        .expect("posted");
    let posted = sim.messages(Some(GENERAL));
    assert_eq!(posted.len(), 1);
    assert_eq!(
        (
            posted[0].ts.as_str(),
            posted[0].user.as_str(),
            posted[0].text.as_str()
        ),
        (ts.ts.as_str(), BOB, "hello")
    );
}

#[tokio::test]
async fn posts_carry_metadata_that_history_returns() {
    // Three look-ups in a row: this test is about what history returns, so
    // it runs as a Marketplace app; the 1-a-minute limit has its own test.
    let sim = simulator_with(SimSettings::default().marketplace().accepting_metadata()).await;
    let alice = secret(&sim.install(TEAM, ALICE).user_access);
    let api = api(&sim);
    let since = Utc::now() - chrono::Duration::seconds(1);
    api.post_message(&alice, TEAM, GENERAL, "tagged <b> & co", None, Some(42))
        .await
        .expect("posted");
    sim.post_as(GENERAL, BOB, "typed by hand");
    let history = api
        .history_since_for_test(&alice, GENERAL, since)
        .await
        .expect("history");
    assert_eq!(history.len(), 2);
    assert_eq!(history[1].scheduled_message_id, Some(42));
    assert_eq!(history[1].user.as_deref(), Some(ALICE));
    assert_eq!(history[0].scheduled_message_id, None);

    // Without include_all_metadata only the event type comes back.
    let raw: serde_json::Value = reqwest::Client::new()
        .get(format!(
            "{}/conversations.history?channel={GENERAL}",
            sim.api_url()
        ))
        .bearer_auth(alice.expose_secret())
        .send()
        .await
        .expect("request")
        .json()
        .await
        .expect("json");
    assert_eq!(
        raw.pointer("/messages/1/metadata"),
        Some(&serde_json::json!({"event_type": "scheduled_message"}))
    );

    // Only messages newer than `oldest` are returned.
    let later = Utc::now() + chrono::Duration::seconds(1);
    assert!(
        api.history_since_for_test(&alice, GENERAL, later)
            .await
            .expect("history")
            .is_empty()
    );
}

#[tokio::test]
async fn users_info_and_auth_test_answer_for_the_workspace() {
    let sim = simulator().await;
    let tokens = sim.install(TEAM, ALICE);
    let api = api(&sim);
    let info = api
        .users_info(&secret(&tokens.bot_access), TEAM, BOB)
        .await
        .expect("users.info");
    assert_eq!(info.tz.as_deref(), Some("America/New_York"));
    assert_eq!(
        api.users_info(&secret(&tokens.bot_access), TEAM, "U404")
            .await
            .err(),
        Some(SlackError::api("user_not_found"))
    );
    let (team, user) = api
        .auth_test(&secret(&tokens.user_access), TEAM)
        .await
        .expect("auth.test");
    assert_eq!((team.as_str(), user.as_str()), (TEAM, ALICE));
}

#[tokio::test]
async fn injected_faults_reach_the_client_as_slack_sends_them() {
    let sim = simulator().await;
    let alice = secret(&sim.install(TEAM, ALICE).user_access);
    let api = api(&sim);
    sim.add_fault(
        Fault::new(
            "chat.postMessage",
            FaultKind::SlackError {
                code: "internal_error".into(),
            },
        )
        .times(1),
    );
    sim.add_fault(Fault::new("chat.postMessage", FaultKind::Http { status: 503 }).times(1));
    sim.add_fault(
        Fault::new(
            "chat.postMessage",
            FaultKind::RateLimited {
                retry_after_secs: 7,
            },
        )
        .times(1),
    );
    sim.add_fault(Fault::new("chat.postMessage", FaultKind::Hang { millis: 1_500 }).times(1));
    assert_eq!(
        api.post_message(&alice, TEAM, GENERAL, "a", None, Some(1))
            .await,
        Err(SlackError::api("internal_error"))
    );
    assert_eq!(
        api.post_message(&alice, TEAM, GENERAL, "b", None, Some(2))
            .await,
        Err(SlackError::Http { status: 503 })
    );
    assert_eq!(
        api.post_message(&alice, TEAM, GENERAL, "c", None, Some(3))
            .await,
        Err(SlackError::RateLimited {
            retry_after: Some(Duration::from_secs(7))
        })
    );
    assert_eq!(
        api.post_message(&alice, TEAM, GENERAL, "d", None, Some(4))
            .await,
        Err(SlackError::Timeout(Duration::from_secs(1)))
    );
    assert!(
        api.post_message(&alice, TEAM, GENERAL, "e", None, Some(5))
            .await
            .is_ok(),
        "faults were used up"
    );
    assert!(
        sim.messages(None).iter().all(|m| m.text == "e"),
        "failed calls post nothing"
    );

    // A fault with an after-effect posts, then fails: an in-doubt post.
    sim.add_fault(
        Fault::new(
            "chat.postMessage",
            FaultKind::SlackError {
                code: "fatal_error".into(),
            },
        )
        .times(1)
        .after_effect(),
    );
    assert_eq!(
        api.post_message(&alice, TEAM, GENERAL, "f", None, Some(6))
            .await,
        Err(SlackError::api("fatal_error"))
    );
    assert_eq!(
        sim.messages(None).iter().filter(|m| m.text == "f").count(),
        1
    );

    let outcomes: Vec<String> = sim
        .calls(Some("chat.postMessage"))
        .iter()
        .map(|c| c.outcome.clone())
        .collect();
    assert_eq!(
        outcomes,
        [
            "internal_error",
            "http_503",
            "ratelimited",
            "hung",
            "ok",
            "fatal_error"
        ]
    );
}

#[tokio::test]
async fn a_post_is_judged_by_ok_and_ts_not_by_the_rest_of_the_answer() {
    let sim = simulator().await;
    let alice = secret(&sim.install(TEAM, ALICE).user_access);
    let api = api(&sim);
    // A minimal answer is a success.
    sim.add_fault(
        Fault::new(
            "chat.postMessage",
            FaultKind::Raw {
                status: 200,
                content_type: "application/json".into(),
                body: r#"{"ok":true,"channel":"C0001","ts":"1700000000.000100"}"#.into(),
            },
        )
        .times(1)
        .after_effect(),
    );
    assert_eq!(
        api.post_message(&alice, TEAM, GENERAL, "minimal", None, Some(1))
            .await,
        Ok(slack_scheduler::slack::Posted {
            ts: "1700000000.000100".into(),
            metadata_kept: false
        })
    );
    // A proxy's HTML page says nothing about the post: in doubt, not sent.
    sim.add_fault(
        Fault::new(
            "chat.postMessage",
            FaultKind::Raw {
                status: 200,
                content_type: "text/html".into(),
                body: "<html>maintenance</html>".into(),
            },
        )
        .times(1)
        .after_effect(),
    );
    let answer = api
        .post_message(&alice, TEAM, GENERAL, "behind a proxy", None, Some(2))
        .await;
    assert!(
        matches!(&answer, Err(err) if err.class() == slack_scheduler::slack::ErrorClass::Ambiguous),
        "{answer:?}"
    );
}
