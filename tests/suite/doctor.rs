//! `slack-scheduler doctor`, the real binary against the simulator and a
//! running app: all OK when healthy, and one line per broken part.

use std::process::Output;

use chrono::Utc;
use secrecy::SecretString;
use slack_scheduler::app::Application;
use slack_scheduler::config::SlackCredentials;
use slack_scheduler::crypto::TokenCipher;
use slack_scheduler::sim::{SimSettings, Simulator};
use slack_scheduler::store::{Installation, TokenGrant};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::common::TestDb;
use crate::common::app::base_config;
use crate::common::bin::{binary, new_key};
use crate::common::harness::{ALICE, TEAM, test_settings};
use crate::on_both_backends;

/// A deployment: a database with an installed workspace, the app serving
/// it, the simulator as Slack.
struct Deployment {
    sim: Simulator,
    url: String,
    key: String,
    key_bytes: [u8; 32],
    database_url: String,
    stop: CancellationToken,
}

impl Drop for Deployment {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

impl Deployment {
    async fn start(db: &TestDb) -> Self {
        let sim = Simulator::start(SimSettings::default())
            .await
            .expect("simulator");
        sim.seed_demo_workspace();
        let (key, bytes) = new_key();
        let store = db.store_with(TokenCipher::from_keys(&[bytes])).await;
        let tokens = sim.install(TEAM, ALICE);
        let grant = |access: &str, refresh: &str| TokenGrant {
            access_token: SecretString::from(access.to_owned()),
            refresh_token: Some(SecretString::from(refresh.to_owned())),
            expires_at: Some(Utc::now() + chrono::Duration::hours(12)),
        };
        store
            .upsert_installation(
                &Installation {
                    team_id: TEAM.into(),
                    team_name: "Sim".into(),
                    bot_user_id: None,
                    bot: grant(&tokens.bot_access, &tokens.bot_refresh),
                    installed_by: ALICE.into(),
                },
                Utc::now(),
            )
            .await
            .expect("installed");
        store
            .connect_user(
                TEAM,
                ALICE,
                &grant(&tokens.user_access, &tokens.user_refresh),
                Utc::now(),
            )
            .await
            .expect("user");
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("port");
        let url = format!("http://{}", listener.local_addr().expect("address"));
        let mut config = base_config();
        config.database_url = db.url.clone();
        config.public_url = url.clone();
        config.slack_api_url = sim.api_url();
        let settings = sim.settings();
        let credentials = SlackCredentials {
            client_id: settings.client_id.clone(),
            client_secret: settings.client_secret.clone().into(),
            signing_secret: settings.signing_secret.clone().into(),
        };
        let app = Application::assemble(&config, credentials, store, test_settings(), listener)
            .expect("app builds");
        let stop = CancellationToken::new();
        tokio::spawn(app.run_until(stop.clone()));
        Self {
            sim,
            url,
            key,
            key_bytes: bytes,
            database_url: db.url.clone(),
            stop,
        }
    }

    /// The binary's environment for this deployment, as an operator would set it.
    fn doctor(&self) -> tokio::process::Command {
        let settings = self.sim.settings();
        let mut command = binary();
        command
            .arg("doctor")
            .env("DATABASE_URL", &self.database_url)
            .env("TOKEN_ENCRYPTION_KEY", &self.key)
            .env("SLACK_CLIENT_ID", &settings.client_id)
            .env("SLACK_CLIENT_SECRET", &settings.client_secret)
            .env("SLACK_SIGNING_SECRET", &settings.signing_secret)
            .env("SLACK_API_URL", self.sim.api_url())
            .env("PUBLIC_URL", &self.url)
            .env("RUST_LOG", "warn");
        command
    }
}

/// The doctor's own lines (`ok` / `FAIL`), without log lines.
fn findings(output: &Output) -> Vec<String> {
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter(|l| l.starts_with("ok ") || l.starts_with("FAIL "))
        .map(str::to_owned)
        .collect()
}

fn has(lines: &[String], prefix: &str) -> bool {
    lines.iter().any(|l| l.starts_with(prefix))
}

on_both_backends! {
    async fn a_healthy_deployment_is_all_ok_and_exits_zero(db: TestDb) {
        let deployment = Deployment::start(&db).await;
        let output = deployment.doctor().output().await.expect("runs");
        let lines = findings(&output);
        assert!(output.status.success(), "{lines:#?}\n{}", String::from_utf8_lossy(&output.stderr));
        assert!(lines.iter().all(|l| l.starts_with("ok ")), "{lines:#?}");
        for area in ["ok   configuration:", "ok   database: answers; all", "ok   key: opens all 4 stored tokens",
                     "ok   workspace T0001: bot token accepted by auth.test",
                     "ok   slack app: SLACK_CLIENT_ID and SLACK_CLIENT_SECRET accepted",
                     "ok   public url: GET"] {
            assert!(has(&lines, area), "missing {area:?}: {lines:#?}");
        }
        let calls = deployment.sim.calls(Some("oauth.v2.access"));
        assert_eq!(calls.len(), 1, "one probe of the client credentials");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_broken_part_gets_its_own_line_and_a_non_zero_exit() {
    let db = TestDb::sqlite().await;
    let deployment = Deployment::start(&db).await;
    // A bot token Slack does not know (say, from another app's install).
    let store = db
        .store_with(TokenCipher::from_keys(&[deployment.key_bytes]))
        .await;
    store
        .upsert_installation(
            &Installation {
                team_id: TEAM.into(),
                team_name: "Sim".into(),
                bot_user_id: None,
                bot: TokenGrant {
                    access_token: SecretString::from("xoxb-not-issued-by-slack".to_owned()),
                    refresh_token: None,
                    expires_at: None,
                },
                installed_by: ALICE.into(),
            },
            Utc::now(),
        )
        .await
        .expect("stored");
    let dead = TcpListener::bind("127.0.0.1:0").await.expect("port");
    let dead_url = format!("http://{}", dead.local_addr().expect("address"));
    drop(dead);
    let output = deployment
        .doctor()
        .env("SLACK_CLIENT_SECRET", "not-the-secret")
        .env("PUBLIC_URL", &dead_url)
        .output()
        .await
        .expect("runs");
    let lines = findings(&output);
    assert_eq!(output.status.code(), Some(1), "{lines:#?}");
    assert!(
        has(&lines, "FAIL slack app: Slack refused SLACK_CLIENT_SECRET"),
        "{lines:#?}"
    );
    assert!(
        has(&lines, "FAIL workspace T0001: Slack refused the bot token"),
        "{lines:#?}"
    );
    assert!(
        has(
            &lines,
            &format!("FAIL public url: GET {dead_url}/healthz failed")
        ),
        "{lines:#?}"
    );
    assert!(
        has(&lines, "ok   database:"),
        "the database is fine: {lines:#?}"
    );
    assert_eq!(
        lines.iter().filter(|l| l.starts_with("FAIL")).count(),
        3,
        "{lines:#?}"
    );
    assert!(String::from_utf8_lossy(&output.stderr).contains("doctor found 3 problem(s)"));

    let output = deployment
        .doctor()
        .env("SLACK_CLIENT_ID", "999.999")
        .output()
        .await
        .expect("runs");
    assert!(
        has(
            &findings(&output),
            "FAIL slack app: Slack does not know SLACK_CLIENT_ID"
        ),
        "{:#?}",
        findings(&output)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_key_is_a_key_problem_naming_the_variable() {
    let db = TestDb::sqlite().await;
    let deployment = Deployment::start(&db).await;
    let (wrong, _) = new_key();
    let output = deployment
        .doctor()
        .env("TOKEN_ENCRYPTION_KEY", wrong)
        .output()
        .await
        .expect("runs");
    let lines = findings(&output);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        has(
            &lines,
            "FAIL key: TOKEN_ENCRYPTION_KEY cannot open 4 of 4 stored tokens"
        ),
        "{lines:#?}"
    );
}

#[tokio::test]
async fn a_missing_secret_and_a_missing_database_are_named_and_nothing_is_created() {
    let dir = tempfile::tempdir().expect("dir");
    let url = format!("sqlite://{}/absent.db", dir.path().display());
    let output = binary()
        .arg("doctor")
        .env("DATABASE_URL", &url)
        .env("SLACK_CLIENT_ID", "1.2")
        .env("SLACK_CLIENT_SECRET", "s")
        .env("PUBLIC_URL", "http://127.0.0.1:9")
        .env("SLACK_API_URL", "http://127.0.0.1:9/api")
        .output()
        .await
        .expect("runs");
    let lines = findings(&output);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        has(
            &lines,
            "FAIL configuration: SLACK_SIGNING_SECRET is not set"
        ),
        "{lines:#?}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("FAIL database:") && l.contains("absent.db does not exist")),
        "{lines:#?}"
    );
    assert!(
        std::fs::read_dir(dir.path())
            .expect("list")
            .next()
            .is_none(),
        "doctor created nothing"
    );
}

on_both_backends! {
    async fn an_unmigrated_database_is_told_to_run_migrate(db: TestDb) {
        // A database that exists but never saw a migration.
        let store = slack_scheduler::store::Store::connect(&db.url, TokenCipher::random()).await.expect("connect");
        store.ping().await.expect("exists");
        store.close().await;
        let (key, _) = new_key();
        let output = binary()
            .arg("doctor")
            .env("DATABASE_URL", &db.url)
            .env("TOKEN_ENCRYPTION_KEY", key)
            .env("PUBLIC_URL", "http://127.0.0.1:9")
            .env("SLACK_API_URL", "http://127.0.0.1:9/api")
            .output()
            .await
            .expect("runs");
        let lines = findings(&output);
        assert!(lines.iter().any(|l| l.starts_with("FAIL database: 0 of ") && l.contains("run `slack-scheduler migrate`")), "{lines:#?}");
    }
}
