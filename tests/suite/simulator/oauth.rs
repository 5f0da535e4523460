//! Redirect URIs: the authorize page sends codes only to the app's
//! configured Redirect URLs, and `oauth.v2.access` wants the same one back.

use chrono::Utc;
use slack_scheduler::slack::OAuthError;

use super::{ALICE, REDIRECT, TEAM, oauth, simulator};

async fn authorize(
    sim: &slack_scheduler::sim::Simulator,
    redirect_uri: Option<&str>,
) -> reqwest::Response {
    let mut url = reqwest::Url::parse(&sim.authorize_url()).expect("url");
    url.query_pairs_mut()
        .append_pair("client_id", &sim.settings().client_id)
        .append_pair("state", "xyz")
        .append_pair("sim_user", ALICE);
    if let Some(uri) = redirect_uri {
        url.query_pairs_mut().append_pair("redirect_uri", uri);
    }
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
        .get(url)
        .send()
        .await
        .expect("answered")
}

#[tokio::test]
async fn the_authorize_page_refuses_a_redirect_uri_the_app_did_not_register() {
    let sim = simulator().await;
    let refused = authorize(&sim, Some("https://attacker.test/slack/oauth/callback")).await;
    assert_eq!(refused.status(), 400);
    assert!(
        refused.headers().get("location").is_none(),
        "no code is sent anywhere"
    );
    assert!(
        refused
            .text()
            .await
            .expect("page")
            .contains("redirect_uri did not match any configured URIs")
    );

    // A prefix or a longer path is not the same URL.
    let longer = authorize(&sim, Some(&format!("{REDIRECT}/more"))).await;
    assert_eq!(longer.status(), 400);

    let approved = authorize(&sim, Some(REDIRECT)).await;
    assert_eq!(approved.status(), 302);
    let location = approved.headers()["location"]
        .to_str()
        .expect("location")
        .to_owned();
    assert!(
        location.starts_with(&format!("{REDIRECT}?code=")),
        "{location}"
    );

    // Without one, Slack uses the first configured.
    let defaulted = authorize(&sim, None).await;
    assert_eq!(defaulted.status(), 302);
    assert!(
        defaulted.headers()["location"]
            .to_str()
            .expect("location")
            .starts_with(REDIRECT)
    );
}

#[tokio::test]
async fn a_code_is_exchanged_only_with_the_redirect_uri_it_was_issued_for() {
    let sim = simulator().await;
    let other = "http://127.0.0.1:9/elsewhere";
    sim.allow_redirect_url(other);
    let code = sim.issue_code(TEAM, ALICE, Some(other));
    // The client names REDIRECT, the code was issued for `other`.
    assert_eq!(
        oauth(&sim).exchange_code(&code, Utc::now()).await.err(),
        Some(OAuthError::Refused("bad_redirect_uri".into()))
    );
    let code = sim.issue_code(TEAM, ALICE, Some(REDIRECT));
    assert!(oauth(&sim).exchange_code(&code, Utc::now()).await.is_ok());
}
