//! "Add to Slack": the landing page, the redirect, the callback and its
//! refusals, through the real HTTP server with the simulator as Slack.

use std::collections::HashMap;
use std::time::Duration;

use chrono::Utc;
use sha2::{Digest, Sha256};
use slack_scheduler::store::TokenStatus;

use crate::common::harness::{ALICE, BOB, TEAM};
use crate::common::{TestApp, wait_until};
use crate::on_both_backends;

/// Starts an install: returns the state (from the authorize URL) and the cookie.
async fn start(app: &TestApp) -> (reqwest::Url, String, String) {
    let response = app
        .http
        .get(format!("{}/slack/install", app.url))
        .send()
        .await
        .expect("install");
    assert_eq!(response.status(), 302);
    let cookie = response.headers()["set-cookie"]
        .to_str()
        .expect("cookie")
        .to_owned();
    let location = reqwest::Url::parse(response.headers()["location"].to_str().expect("location"))
        .expect("url");
    let state = location
        .query_pairs()
        .find(|(k, _)| k == "state")
        .map(|(_, v)| v.into_owned())
        .expect("state");
    (location, state, cookie)
}

/// Approves on the simulated Slack page: returns the callback URL.
async fn approve(app: &TestApp, authorize: reqwest::Url) -> reqwest::Url {
    let response = app.http.get(authorize).send().await.expect("authorize");
    assert_eq!(response.status(), 302, "the simulator redirects back");
    reqwest::Url::parse(response.headers()["location"].to_str().expect("location"))
        .expect("callback url")
}

async fn callback(app: &TestApp, url: &str, cookie: Option<&str>) -> (u16, String) {
    let mut request = app.http.get(url);
    if let Some(cookie) = cookie {
        request = request.header("cookie", cookie);
    }
    let response = request.send().await.expect("callback");
    (
        response.status().as_u16(),
        response.text().await.expect("body"),
    )
}

async fn nothing_stored(app: &TestApp) {
    assert!(
        app.store.workspace(TEAM).await.expect("read").is_none(),
        "no workspace stored"
    );
    assert!(
        app.store.user(TEAM, ALICE).await.expect("read").is_none(),
        "no user stored"
    );
}

on_both_backends! {
    async fn the_landing_page_offers_add_to_slack(db: TestDb) {
        let app = TestApp::start(&db).await;
        let page = app.http.get(&app.url).send().await.expect("landing");
        assert_eq!(page.status(), 200);
        let html = page.text().await.expect("html");
        assert!(html.contains("href=\"/slack/install\""), "{html}");
        assert!(html.contains("Add to Slack"));
        let css = app.http.get(format!("{}/static/style.css", app.url)).send().await.expect("css");
        assert_eq!(css.headers()["content-type"], "text/css; charset=utf-8");
    }
}

on_both_backends! {
    async fn install_redirects_to_slack_with_scopes_and_a_browser_bound_state(db: TestDb) {
        let app = TestApp::start(&db).await;
        let (location, state, cookie) = start(&app).await;
        assert!(location.as_str().starts_with(&app.sim.authorize_url()));
        let query: HashMap<String, String> = location.query_pairs().into_owned().collect();
        assert_eq!(query["client_id"], app.sim.settings().client_id);
        for scope in ["commands", "chat:write", "users:read"] {
            assert!(query["scope"].split(',').any(|s| s == scope), "bot scope {scope}");
        }
        for scope in ["chat:write", "channels:history"] {
            assert!(query["user_scope"].split(',').any(|s| s == scope), "user scope {scope}");
        }
        assert_eq!(query["redirect_uri"], format!("{}/slack/oauth/callback", app.url));
        assert_eq!(state.len(), 64, "256 random bits");
        assert!(cookie.starts_with(&format!("slack_oauth_state={state};")), "{cookie}");
        for attribute in ["HttpOnly", "SameSite=Lax", "Max-Age=600", "Path=/slack/oauth"] {
            assert!(cookie.contains(attribute), "cookie lacks {attribute}: {cookie}");
        }
        let (_, second, _) = start(&app).await;
        assert_ne!(state, second, "every install gets its own state");
    }
}

on_both_backends! {
    async fn a_successful_install_stores_both_tokens_and_names_the_workspace(db: TestDb) {
        let app = TestApp::start(&db).await;
        let page = app.install(ALICE).await;
        assert_eq!(page.status, 200);
        assert!(page.body.contains("Acme (simulated)"), "{}", page.body);
        let workspace = app.store.workspace(TEAM).await.expect("read").expect("stored");
        assert!(workspace.is_installed());
        assert_eq!(workspace.installed_by.as_deref(), Some(ALICE));
        let bot = workspace.bot.expect("bot token");
        assert!(bot.refresh_token.is_some() && bot.expires_at.is_some(), "bot token rotates too");
        let alice = app.store.user(TEAM, ALICE).await.expect("read").expect("stored");
        assert_eq!(alice.token_status, TokenStatus::Active);
        let creds = alice.credentials.expect("user token");
        assert!(creds.refresh_token.is_some());
        assert!(creds.expires_at.is_some_and(|at| at > Utc::now() + chrono::Duration::hours(11)));
        // The Home tab is published for the installer.
        wait_until("alice's Home tab is published", Duration::from_secs(5), || async {
            app.sim.home_view(ALICE).map(|_| ())
        })
        .await;

        // Another user connects their own account through the same flow.
        let page = app.install(BOB).await;
        assert_eq!(page.status, 200);
        assert_eq!(app.store.user(TEAM, BOB).await.expect("read").expect("bob").token_status, TokenStatus::Active);
        let workspace = app.store.workspace(TEAM).await.expect("read").expect("stored");
        assert_eq!(workspace.installed_by.as_deref(), Some(ALICE), "connecting is not reinstalling");
    }
}

on_both_backends! {
    async fn a_callback_without_a_state_or_cookie_is_refused(db: TestDb) {
        let app = TestApp::start(&db).await;
        let (authorize, _, cookie) = start(&app).await;
        let back = approve(&app, authorize).await;
        // No cookie: not the browser that started it.
        let (status, body) = callback(&app, back.as_str(), None).await;
        assert_eq!(status, 400);
        assert!(body.contains("did not start here"), "{body}");
        // No state at all.
        let (status, _) = callback(&app, &format!("{}/slack/oauth/callback?code=x", app.url), Some(&cookie)).await;
        assert_eq!(status, 400);
        nothing_stored(&app).await;
        assert!(app.sim.calls(Some("oauth.v2.access")).is_empty(), "no code was exchanged");
    }
}

on_both_backends! {
    async fn a_wrong_state_is_refused(db: TestDb) {
        let app = TestApp::start(&db).await;
        let (authorize, _, cookie) = start(&app).await;
        let back = approve(&app, authorize).await;
        let forged = back.as_str().replace("state=", "state=00");
        let (status, _) = callback(&app, &forged, Some(&cookie)).await;
        assert_eq!(status, 400);
        // A state the app never issued, with a cookie to match.
        let (status, _) = callback(
            &app,
            &format!("{}/slack/oauth/callback?code=x&state=abc", app.url),
            Some("slack_oauth_state=abc"),
        )
        .await;
        assert_eq!(status, 400);
        nothing_stored(&app).await;
    }
}

on_both_backends! {
    async fn a_state_works_once(db: TestDb) {
        let app = TestApp::start(&db).await;
        let (authorize, _, cookie) = start(&app).await;
        let back = approve(&app, authorize).await;
        let (status, _) = callback(&app, back.as_str(), Some(&cookie)).await;
        assert_eq!(status, 200);
        let (status, body) = callback(&app, back.as_str(), Some(&cookie)).await;
        assert_eq!(status, 400);
        assert!(body.contains("expired"), "{body}");
        assert_eq!(app.sim.calls(Some("oauth.v2.access")).len(), 1, "the replay exchanged nothing");
    }
}

on_both_backends! {
    async fn an_expired_state_is_refused(db: TestDb) {
        let app = TestApp::start(&db).await;
        let state = "e".repeat(64);
        let hash = hex::encode(Sha256::digest(state.as_bytes()));
        let then = Utc::now() - chrono::Duration::minutes(11);
        app.store.create_oauth_state(&hash, then, then + chrono::Duration::minutes(10)).await.expect("state");
        let code = app.sim.issue_code(TEAM, ALICE, Some(&format!("{}/slack/oauth/callback", app.url)));
        let url = format!("{}/slack/oauth/callback?code={code}&state={state}", app.url);
        let (status, body) = callback(&app, &url, Some(&format!("slack_oauth_state={state}"))).await;
        assert_eq!(status, 400);
        assert!(body.contains("expired"), "{body}");
        nothing_stored(&app).await;
    }
}

on_both_backends! {
    async fn a_denied_install_stores_nothing(db: TestDb) {
        let app = TestApp::start(&db).await;
        let (mut authorize, _, cookie) = start(&app).await;
        authorize.query_pairs_mut().append_pair("sim_deny", "1");
        let back = approve(&app, authorize).await;
        assert!(back.as_str().contains("error=access_denied"));
        let (status, body) = callback(&app, back.as_str(), Some(&cookie)).await;
        assert_eq!(status, 400);
        assert!(body.contains("cancelled"), "{body}");
        assert!(body.contains("/slack/install"), "offers to try again");
        nothing_stored(&app).await;
    }
}

on_both_backends! {
    async fn a_failed_code_exchange_stores_nothing(db: TestDb) {
        let app = TestApp::start(&db).await;
        let (authorize, _, cookie) = start(&app).await;
        let back = approve(&app, authorize).await;
        let bogus = reqwest::Url::parse_with_params(
            back.as_str().split('?').next().expect("base"),
            back.query_pairs().map(|(k, v)| if k == "code" { (k.into_owned(), "not-a-code".to_owned()) } else { (k.into_owned(), v.into_owned()) }),
        )
        .expect("url");
        let (status, body) = callback(&app, bogus.as_str(), Some(&cookie)).await;
        assert_eq!(status, 400);
        assert!(body.contains("Slack refused"), "{body}");
        nothing_stored(&app).await;
    }
}
