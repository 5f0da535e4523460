//! The token key: rotation while the app works, a wrong key at start-up.

use std::time::Duration;

use chrono::Utc;
use secrecy::{ExposeSecret, SecretString};
use slack_scheduler::crypto::TokenCipher;
use slack_scheduler::domain::MessageStatus;
use slack_scheduler::ops::keys;
use slack_scheduler::scheduler::Settings;
use slack_scheduler::store::{Installation, RefreshTake, Store, TokenGrant, TokenOwner};
use tokio_util::sync::CancellationToken;

use crate::common::Harness;
use crate::common::bin::{binary, new_key};
use crate::common::harness::{ALICE, GENERAL, TEAM, test_settings};
use crate::on_both_backends;

fn grant(access: &str, refresh: &str) -> TokenGrant {
    TokenGrant {
        access_token: SecretString::from(access.to_owned()),
        refresh_token: Some(SecretString::from(refresh.to_owned())),
        expires_at: Some(Utc::now() + chrono::Duration::hours(12)),
    }
}

const USERS: usize = 120;

fn user(i: usize) -> String {
    format!("UR{i:04}")
}

on_both_backends! {
    /// rotate-key re-seals every token while a cycle refreshes a token and
    /// users reconnect: no value written meanwhile is overwritten with an
    /// older one, and afterwards the old key can be dropped.
    async fn rotation_mid_traffic_reseals_everything_and_loses_no_newer_token(db: TestDb) {
        let h = Harness::start(&db).await;
        let now = Utc::now();
        // Sealed with the old key: many users, alice (expired, so the cycle
        // must refresh her pair mid-rotation) and the workspace's bot.
        for i in 0..USERS {
            h.store.connect_user(TEAM, &user(i), &grant(&format!("xoxp-{i}-old"), &format!("xoxe-{i}-old")), now)
                .await.expect("user stored");
        }
        let (alice, tokens) = h.connect(ALICE).await;
        h.store_tokens_expiring(ALICE, &tokens, now - chrono::Duration::minutes(1)).await;
        h.store.upsert_installation(&Installation {
            team_id: TEAM.into(), team_name: "Sim".into(), bot_user_id: Some("UBOT".into()),
            bot: grant(&tokens.bot_access, &tokens.bot_refresh), installed_by: ALICE.into(),
        }, now).await.expect("installed");
        let id = h.schedule(&alice, GENERAL, "sent while the key rotates", now).await;

        // Every process now runs with the new key first, the old one after it.
        let (_, new_key) = new_key();
        let rotating = db.store_with(h.cipher.with_new_first_key(&new_key)).await;
        let runner = h.runner(rotating.clone(), test_settings());
        let rotation = tokio::spawn({
            let store = rotating.clone();
            async move { keys::rotate(&store, 7).await.expect("rotation runs") }
        });
        let reconnects = tokio::spawn({
            let store = rotating.clone();
            async move {
                for i in (0..USERS).rev() {
                    store.connect_user(TEAM, &user(i), &grant(&format!("xoxp-{i}-new"), &format!("xoxe-{i}-new")), Utc::now())
                        .await.expect("reconnect");
                    tokio::task::yield_now().await;
                }
            }
        });
        let cycle = runner.run_cycle(now + chrono::Duration::seconds(1), &CancellationToken::new()).await.expect("cycle");
        let rotation = rotation.await.expect("rotation task");
        reconnects.await.expect("reconnect task");
        assert_eq!(cycle.sent, 1, "{cycle:?}");
        assert_eq!(h.message(id).await.status, MessageStatus::Sent);
        assert_eq!(rotation.unreadable, 0, "{rotation:?}");

        // The old key can go: the new one alone opens everything, and each
        // user holds the last pair written for them.
        let only_new = db.store_with(TokenCipher::from_keys(&[new_key])).await;
        let audit = only_new.audit_tokens(50).await.expect("audit");
        assert_eq!((audit.unreadable, audit.stale), (0, 0), "{audit:?}");
        assert_eq!(audit.total, 2 * (USERS as u64 + 2), "users' and bot pairs: {audit:?}");
        for i in 0..USERS {
            let record = only_new.user(TEAM, &user(i)).await.expect("read").expect("row");
            let credentials = record.credentials.expect("credentials");
            assert_eq!(credentials.access_token.expose_secret(), format!("xoxp-{i}-new"));
            assert_eq!(credentials.refresh_token.expect("refresh").expose_secret(), format!("xoxe-{i}-new"));
        }
        // Alice's refresh token is the one Slack issued last: refreshing again works.
        let eager = Settings { refresh_margin: Duration::from_secs(48 * 3600), ..test_settings() };
        let after = h.runner(only_new.clone(), eager);
        let second = h.schedule(&alice, GENERAL, "sent after the rotation", Utc::now()).await;
        let report = after.run_cycle(Utc::now() + chrono::Duration::seconds(2), &CancellationToken::new()).await.expect("cycle");
        assert_eq!((report.sent, report.held), (1, 0), "{report:?}");
        assert_eq!(h.message(second).await.status, MessageStatus::Sent);
    }
}

on_both_backends! {
    /// A row refreshed between rotate-key's read and its write keeps the
    /// refreshed pair: the write compares the old sealed bytes first.
    async fn a_token_refreshed_between_read_and_write_is_not_overwritten(db: TestDb) {
        let old = TokenCipher::random();
        let store = db.store_with(old.clone()).await;
        let now = Utc::now();
        let author = store.connect_user(TEAM, ALICE, &grant("xoxp-1", "xoxe-1"), now).await.expect("user");
        let (_, new_key) = new_key();
        let rotating = db.store_with(old.with_new_first_key(&new_key)).await;
        let page = rotating.user_token_page(0, 10).await.expect("page");
        assert_eq!(page.len(), 1);
        assert!(matches!(&page[0].owner, TokenOwner::User { user_id, .. } if user_id == ALICE));

        // The cycle refreshes alice's pair meanwhile, as the refresher does.
        let owner = TokenOwner::User { id: author.id, team_id: TEAM.into(), user_id: ALICE.into() };
        let RefreshTake::Taken(right) = rotating.take_refresh_right(&owner, None, now, now + chrono::Duration::seconds(30)).await.expect("take") else {
            panic!("the refresh right is free");
        };
        assert!(rotating.store_refreshed_pair(&owner, right.generation, &grant("xoxp-2", "xoxe-2"), now).await.expect("refresh"));
        assert!(!rotating.reseal_one(&page[0]).await.expect("compare-and-swap"), "a stale pair was written");
        let credentials = rotating.user(TEAM, ALICE).await.expect("read").and_then(|u| u.credentials).expect("credentials");
        assert_eq!(credentials.access_token.expose_secret(), "xoxp-2");
        assert_eq!(credentials.refresh_token.expect("refresh").expose_secret(), "xoxe-2");

        // Read afresh, the same row re-seals.
        let page = rotating.user_token_page(0, 10).await.expect("page");
        assert!(rotating.reseal_one(&page[0]).await.expect("reseal"));
        let audit = db.store_with(old.with_new_first_key(&new_key).first_key_only()).await.audit_tokens(10).await.expect("audit");
        assert_eq!((audit.unreadable, audit.stale), (0, 0));
    }
}

/// Tokens sealed with `cipher` in a fresh SQLite database at `url`.
async fn database_with_tokens(url: &str, cipher: TokenCipher) {
    let store = Store::connect(url, cipher).await.expect("db");
    store.migrate().await.expect("migrate");
    let now = Utc::now();
    store
        .connect_user(TEAM, ALICE, &grant("xoxp-a", "xoxe-a"), now)
        .await
        .expect("user");
    store
        .upsert_installation(
            &Installation {
                team_id: TEAM.into(),
                team_name: "Sim".into(),
                bot_user_id: None,
                bot: grant("xoxb-b", "xoxe-b"),
                installed_by: ALICE.into(),
            },
            now,
        )
        .await
        .expect("install");
    store.close().await;
}

fn serve_env(command: &mut tokio::process::Command, url: &str) {
    command
        .arg("serve")
        .env("DATABASE_URL", url)
        .env("BIND_ADDR", "127.0.0.1:0")
        .env("SLACK_CLIENT_ID", "1.2")
        .env("SLACK_CLIENT_SECRET", "s")
        .env("SLACK_SIGNING_SECRET", "s");
}

#[tokio::test]
async fn a_wrong_key_stops_start_up_with_one_line_saying_which_tokens() {
    let dir = tempfile::tempdir().expect("dir");
    let url = format!("sqlite://{}/app.db", dir.path().display());
    let (right, right_bytes) = new_key();
    database_with_tokens(&url, TokenCipher::from_keys(&[right_bytes])).await;
    let (wrong, _) = new_key();

    let mut serve = binary();
    serve_env(&mut serve, &url);
    let output = serve
        .env("TOKEN_ENCRYPTION_KEY", &wrong)
        .output()
        .await
        .expect("runs");
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
    assert!(
        stderr.starts_with("error: TOKEN_ENCRYPTION_KEY cannot open 4 of 4 stored tokens (user U0001 of T0001: access, user U0001 of T0001: refresh, bot of T0001: access and 1 more)"),
        "{stderr}"
    );

    let output = binary()
        .arg("migrate")
        .env("DATABASE_URL", &url)
        .env("TOKEN_ENCRYPTION_KEY", &wrong)
        .output()
        .await
        .expect("runs");
    assert_eq!(output.status.code(), Some(1), "migrate checks the key too");
    assert!(String::from_utf8_lossy(&output.stderr).contains("cannot open 4 of 4 stored tokens"));

    // The old key listed after a new one opens them: start-up goes on.
    let output = binary()
        .arg("migrate")
        .env("DATABASE_URL", &url)
        .env("TOKEN_ENCRYPTION_KEY", format!("{wrong},{right}"))
        .output()
        .await
        .expect("runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[tokio::test]
async fn a_key_file_generated_anew_beside_an_existing_database_stops_start_up() {
    let dir = tempfile::tempdir().expect("dir");
    let url = format!("sqlite://{}/app.db", dir.path().display());
    let key_file = dir.path().join("app.db.key");
    let cipher = TokenCipher::from_config(None, &url).expect("first key file");
    database_with_tokens(&url, cipher).await;
    std::fs::remove_file(&key_file).expect("the key file is lost");

    let mut serve = binary();
    serve_env(&mut serve, &url);
    let output = serve.output().await.expect("runs");
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
    assert!(
        stderr.contains("TOKEN_ENCRYPTION_KEY cannot open 4 of 4 stored tokens"),
        "{stderr}"
    );
    assert!(
        stderr.contains("a new one was generated at"),
        "says what happened: {stderr}"
    );
}

on_both_backends! {
    /// The command: with "new,old" it re-seals everything, and says the old key may go.
    async fn rotate_key_command_reseals_every_token_with_the_first_key(db: TestDb) {
        let (old, old_bytes) = new_key();
        let (new, new_bytes) = new_key();
        let store = db.store_with(TokenCipher::from_keys(&[old_bytes])).await;
        let now = Utc::now();
        for i in 0..12 {
            store.connect_user(TEAM, &user(i), &grant("xoxp-x", "xoxe-x"), now).await.expect("user");
        }
        let output = binary().arg("rotate-key").env("DATABASE_URL", &db.url)
            .env("TOKEN_ENCRYPTION_KEY", format!("{new},{old}"))
            .output().await.expect("runs");
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(output.status.success(), "{stdout}{}", String::from_utf8_lossy(&output.stderr));
        let summary = stdout.lines().find(|l| l.starts_with("re-sealed")).unwrap_or_default();
        assert!(summary.starts_with("re-sealed 24 tokens; every stored token is now sealed with the first key"), "{stdout}");
        let only_new = db.store_with(TokenCipher::from_keys(&[new_bytes])).await;
        let audit = only_new.audit_tokens(5).await.expect("audit");
        assert_eq!((audit.total, audit.unreadable, audit.stale), (24, 0, 0));
    }
}
