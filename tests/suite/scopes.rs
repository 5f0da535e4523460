//! Scopes: installing asks for the bot's and the user's, connecting one's
//! own account only for the user's; the manifest and README declare exactly
//! the scopes the code asks for.

use std::collections::{BTreeSet, HashMap};

use secrecy::ExposeSecret;
use slack_scheduler::slack::oauth::{BOT_SCOPES, USER_SCOPES};
use slack_scheduler::store::TokenStatus;

use crate::common::TestApp;
use crate::common::harness::{ALICE, BOB, TEAM};
use crate::on_both_backends;

/// `GET path` on the app: the authorize URL's query and the state cookie.
async fn authorize(app: &TestApp, path: &str) -> (reqwest::Url, HashMap<String, String>, String) {
    let response = app
        .http
        .get(format!("{}{path}", app.url))
        .send()
        .await
        .expect("install");
    assert_eq!(response.status(), 302, "{path}");
    let cookie = response.headers()["set-cookie"]
        .to_str()
        .expect("cookie")
        .split(';')
        .next()
        .expect("pair")
        .to_owned();
    let location = reqwest::Url::parse(response.headers()["location"].to_str().expect("location"))
        .expect("url");
    let query = location.query_pairs().into_owned().collect();
    (location, query, cookie)
}

fn scopes(list: &str) -> BTreeSet<String> {
    list.split(',')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

on_both_backends! {
    async fn installing_asks_for_both_scope_sets_and_connecting_only_for_the_users(db: TestDb) {
        let app = TestApp::start(&db).await;
        let (_, install, _) = authorize(&app, "/slack/install").await;
        assert_eq!(scopes(&install["scope"]), scopes(BOT_SCOPES));
        assert_eq!(scopes(&install["user_scope"]), scopes(USER_SCOPES));

        let connect_path = app.state.bot.connect_url(TEAM).trim_start_matches(&app.url).to_owned();
        let (_, connect, _) = authorize(&app, &connect_path).await;
        assert!(connect.get("scope").is_none_or(|s| s.is_empty()), "no bot scopes when connecting: {connect:?}");
        assert_eq!(scopes(&connect["user_scope"]), scopes(USER_SCOPES));
        assert_eq!(connect["team"], TEAM, "the workspace is preselected");
    }
}

on_both_backends! {
    async fn a_user_only_authorization_stores_the_users_pair_and_leaves_the_bot_token_alone(db: TestDb) {
        let app = TestApp::start(&db).await;
        app.install(ALICE).await;
        let bot_before = app.store.workspace(TEAM).await.expect("read").expect("installed").bot.expect("bot token");

        let connect_path = app.state.bot.connect_url(TEAM).trim_start_matches(&app.url).to_owned();
        let (mut location, _, cookie) = authorize(&app, &connect_path).await;
        location.query_pairs_mut().append_pair("sim_user", BOB);
        let approved = app.http.get(location).send().await.expect("approve");
        let callback = approved.headers()["location"].to_str().expect("callback").to_owned();
        let page = app.http.get(&callback).header("cookie", cookie).send().await.expect("callback");
        assert_eq!(page.status(), 200, "{}", page.text().await.unwrap_or_default());

        let bob = app.store.user(TEAM, BOB).await.expect("read").expect("bob");
        assert_eq!(bob.token_status, TokenStatus::Active);
        assert!(bob.credentials.as_ref().is_some_and(|c| c.refresh_token.is_some()), "bob's own pair, rotating");
        let workspace = app.store.workspace(TEAM).await.expect("read").expect("installed");
        let bot_after = workspace.bot.expect("bot token kept");
        assert_eq!(bot_after.access_token.expose_secret(), bot_before.access_token.expose_secret(), "the bot token is untouched");
        assert_eq!(bot_after.expires_at, bot_before.expires_at);
        assert_eq!(workspace.installed_by.as_deref(), Some(ALICE));
    }
}

/// The scopes under `oauth_config.scopes.<kind>` in manifest.yml.
fn manifest_scopes(kind: &str) -> BTreeSet<String> {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/manifest.yml"))
        .expect("manifest.yml");
    let docs = yaml_rust2::YamlLoader::load_from_str(&text).expect("manifest.yml is YAML");
    docs[0]["oauth_config"]["scopes"][kind]
        .as_vec()
        .expect("a list of scopes")
        .iter()
        .map(|s| s.as_str().expect("a scope name").to_owned())
        .collect()
}

#[test]
fn the_manifest_declares_exactly_the_scopes_the_code_asks_for() {
    assert_eq!(manifest_scopes("bot"), scopes(BOT_SCOPES));
    assert_eq!(manifest_scopes("user"), scopes(USER_SCOPES));
}

#[test]
fn the_readme_gives_a_reason_for_every_scope() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"))
        .expect("README.md");
    for (kind, list) in [("bot", BOT_SCOPES), ("user", USER_SCOPES)] {
        for scope in scopes(list) {
            let row = readme
                .lines()
                .find(|l| l.starts_with(&format!("| {kind} | `{scope}` |")))
                .unwrap_or_else(|| panic!("README has no row for the {kind} scope {scope}"));
            let reason = row.rsplit('|').nth(1).unwrap_or_default().trim();
            assert!(
                reason.len() > 10,
                "the {kind} scope {scope} needs a reason: {row}"
            );
        }
    }
}

#[test]
fn the_manifest_declares_the_reply_shortcut_the_app_answers() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("manifest.yml");
    let text = std::fs::read_to_string(path).expect("manifest.yml");
    let docs = yaml_rust2::YamlLoader::load_from_str(&text).expect("manifest.yml is YAML");
    let shortcuts = docs[0]["features"]["shortcuts"]
        .as_vec()
        .expect("shortcuts declared");
    let reply = shortcuts
        .iter()
        .find(|s| s["callback_id"].as_str() == Some(slack_scheduler::slack::blocks::REPLY_SHORTCUT))
        .expect("the reply shortcut");
    assert_eq!(reply["type"].as_str(), Some("message"), "on messages");
    // The manifest schema allows a name of 1 to 24 characters and a
    // description of 1 to 150 (slackapi/manifest-schema, features.shortcuts).
    assert_eq!(reply["name"].as_str(), Some("Schedule a reply"));
    let description = reply["description"].as_str().expect("a description");
    assert!(
        (1..=150).contains(&description.chars().count()),
        "{description}"
    );
}
