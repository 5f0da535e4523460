//! Secrets stay secret: no token in the database (the SQLite file's bytes, a
//! PostgreSQL dump), in logs at any level, in error pages, stats or metrics;
//! secrets given as flags are refused; the OAuth state is bound to the
//! browser that started the install.

use std::process::Stdio;
use std::time::Duration;

use chrono::Utc;
use serde_json::json;
use slack_scheduler::sim::{Command as SlashCommand, SimSettings, Simulator};
use slack_scheduler::slack::blocks;
use tokio::io::AsyncReadExt;
use tokio::process::Command;

use crate::common::harness::{ALICE, BOB, GENERAL, OLD, TEAM};
use crate::common::{TestApp, wait_until};
use crate::{on_both_backends, on_postgres};

const STATS_TOKEN: &str = "stats-bearer-0123456789";

fn binary() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_slack-scheduler"));
    command
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default());
    command
}

/// Every secret of the simulator (tokens minted, refresh tokens, client and
/// signing secrets), plus the stats token, found in `haystack`.
fn leaked(sim: &Simulator, haystack: &[u8]) -> Vec<String> {
    let text = String::from_utf8_lossy(haystack);
    sim.secrets()
        .into_iter()
        .chain([STATS_TOKEN.to_owned()])
        .filter(|s| text.contains(s.as_str()))
        .collect()
}

#[tokio::test]
async fn secrets_given_as_flags_are_refused_by_the_binary_without_echoing_them() {
    let dir = tempfile::tempdir().expect("dir");
    for (flag, variable) in [
        ("--slack-client-secret", "SLACK_CLIENT_SECRET"),
        ("--slack-signing-secret", "SLACK_SIGNING_SECRET"),
        ("--token-encryption-key", "TOKEN_ENCRYPTION_KEY"),
        ("--stats-api-token", "STATS_API_TOKEN"),
    ] {
        let output = binary()
            .current_dir(dir.path())
            .args(["migrate", flag, "value-that-must-not-echo"])
            .env(
                "DATABASE_URL",
                format!("sqlite://{}/app.db", dir.path().display()),
            )
            .output()
            .await
            .expect("runs");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{flag}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
        assert!(
            stderr.contains(flag) && stderr.contains(variable),
            "{stderr}"
        );
        assert!(!stderr.contains("value-that-must-not-echo"), "{stderr}");
        assert!(!dir.path().join("app.db").exists(), "{flag}: nothing ran");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_journey_at_trace_level_leaves_no_secret_in_logs_database_pages_stats_or_metrics() {
    let sim = Simulator::start(SimSettings {
        // Short-lived tokens: every use refreshes, so refresh grants are logged too.
        access_token_ttl: Duration::from_secs(3600),
        ..SimSettings::default()
    })
    .await
    .expect("simulator");
    sim.seed_demo_workspace();
    let dir = tempfile::tempdir().expect("dir");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("port")
        .local_addr()
        .expect("addr")
        .port();
    let app_url = format!("http://127.0.0.1:{port}");
    sim.allow_redirect_url(&format!("{app_url}/slack/oauth/callback"));
    let settings = sim.settings();
    let mut child = binary()
        .current_dir(dir.path())
        .arg("serve")
        .env(
            "DATABASE_URL",
            format!("sqlite://{}/app.db", dir.path().display()),
        )
        .env("BIND_ADDR", format!("127.0.0.1:{port}"))
        .env("PUBLIC_URL", &app_url)
        .env("SLACK_CLIENT_ID", &settings.client_id)
        .env("SLACK_CLIENT_SECRET", &settings.client_secret)
        .env("SLACK_SIGNING_SECRET", &settings.signing_secret)
        .env("SLACK_API_URL", sim.api_url())
        .env("SLACK_AUTHORIZE_URL", sim.authorize_url())
        .env("STATS_API_TOKEN", STATS_TOKEN)
        .env("SCHEDULER_TICK_SECS", "1")
        .env("RUST_LOG", "trace")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("serve starts");
    let (mut stdout, mut stderr) = (
        child.stdout.take().expect("stdout"),
        child.stderr.take().expect("stderr"),
    );
    let logs = tokio::spawn(async move {
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let _ = tokio::join!(stdout.read_to_end(&mut out), stderr.read_to_end(&mut err));
        out.extend(err);
        out
    });
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    wait_until("the app answers", Duration::from_secs(20), || async {
        http.get(format!("{app_url}/healthz"))
            .send()
            .await
            .ok()
            .filter(|r| r.status() == 200)
            .map(|_| ())
    })
    .await;

    for user in [ALICE, BOB] {
        assert_eq!(
            sim.browser_install(&app_url, Some(user))
                .await
                .expect("install")
                .status,
            200
        );
    }
    let command = |text: &'static str| SlashCommand {
        team_id: TEAM,
        user_id: ALICE,
        channel_id: GENERAL,
        text,
    };
    assert!(
        sim.send_command(&app_url, command("in 2 seconds posted as alice"))
            .await
            .expect("command")
            .body
            .contains("Scheduled for")
    );
    let due = (Utc::now() + chrono::Duration::seconds(2)).timestamp();
    let submission = json!({
        "type": "view_submission", "team": {"id": TEAM}, "user": {"id": ALICE, "team_id": TEAM},
        "view": {"id": "V1", "callback_id": blocks::NEW_CALLBACK, "private_metadata": "", "state": {"values": {
            blocks::CHANNEL_BLOCK: {blocks::CHANNEL_ACTION: {"type": "conversations_select", "selected_conversation": OLD}},
            blocks::TEXT_BLOCK: {blocks::TEXT_ACTION: {"type": "plain_text_input", "value": "into the archive"}},
            blocks::WHEN_BLOCK: {blocks::WHEN_ACTION: {"type": "datetimepicker", "selected_date_time": due}}}}},
    });
    assert_eq!(
        sim.send_interaction(&app_url, submission)
            .await
            .expect("submit")
            .status,
        200
    );
    wait_until(
        "the post and the failure DM",
        Duration::from_secs(30),
        || async {
            let messages = sim.messages(None);
            let posted = messages.iter().any(|m| m.text == "posted as alice");
            let told = messages
                .iter()
                .any(|m| m.as_bot && m.text.contains("could not be posted"));
            (posted && told).then_some(())
        },
    )
    .await;
    let refreshed = sim
        .calls(Some("oauth.v2.access"))
        .iter()
        .filter(|c| c.params["grant_type"] == "refresh_token")
        .count();
    assert!(refreshed > 0, "the journey refreshed tokens");

    // What an operator or a stranger can fetch.
    let mut fetched = Vec::new();
    for (path, bearer) in [
        ("/api/messages/scheduler/stats", true),
        ("/metrics", true),
        ("/metrics", false),
        ("/slack/oauth/callback?code=bogus&state=bogus", false),
        ("/status", true),
    ] {
        let mut request = http.get(format!("{app_url}{path}"));
        if bearer {
            request = request.bearer_auth(STATS_TOKEN);
        }
        let response = request.send().await.expect("fetch");
        fetched.extend(response.bytes().await.expect("body"));
    }
    let unsigned = http
        .post(format!("{app_url}/slack/commands"))
        .body("team_id=T0001")
        .send()
        .await
        .expect("post");
    assert_eq!(unsigned.status(), 401);
    fetched.extend(unsigned.bytes().await.expect("body"));
    assert_eq!(
        leaked(&sim, &fetched),
        Vec::<String>::new(),
        "pages, stats and metrics hold no secret"
    );

    let pid = child.id().expect("running");
    Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .await
        .expect("kill");
    let status = tokio::time::timeout(Duration::from_secs(30), child.wait())
        .await
        .expect("stops")
        .expect("status");
    assert!(status.success());
    let logs = logs.await.expect("logs read");
    assert!(
        String::from_utf8_lossy(&logs).contains("TRACE"),
        "the run logged at trace level"
    );
    assert_eq!(
        leaked(&sim, &logs),
        Vec::<String>::new(),
        "no secret in {} bytes of trace logs",
        logs.len()
    );

    let mut database = Vec::new();
    for file in ["app.db", "app.db-wal", "app.db-shm"] {
        if let Ok(bytes) = std::fs::read(dir.path().join(file)) {
            database.extend(bytes);
        }
    }
    assert!(database.len() > 4096, "the database was read");
    assert_eq!(
        leaked(&sim, &database),
        Vec::<String>::new(),
        "no token in the SQLite file"
    );
}

on_postgres! {
    async fn a_postgres_dump_holds_no_token(db: TestDb) {
        let app = TestApp::start(&db).await;
        app.install(ALICE).await;
        app.install(BOB).await;
        app.command(ALICE, GENERAL, "in 2 seconds hello from alice").await;
        wait_until("the post", Duration::from_secs(15), || async {
            app.sim.messages(None).iter().any(|m| m.text == "hello from alice").then_some(())
        })
        .await;
        let dump = Command::new("pg_dump").args(["--data-only", "--dbname", &db.url]).output().await.expect("pg_dump runs");
        assert!(dump.status.success(), "{}", String::from_utf8_lossy(&dump.stderr));
        let text = String::from_utf8_lossy(&dump.stdout);
        assert!(text.contains("hello from alice"), "the dump has the data");
        assert_eq!(leaked(&app.sim, &dump.stdout), Vec::<String>::new(), "no token in the dump");
    }
}

on_both_backends! {
    async fn a_state_started_in_another_browser_is_refused_and_stays_usable_by_its_own(db: TestDb) {
        let app = TestApp::start(&db).await;
        let start = || async {
            let response = app.http.get(format!("{}/slack/install", app.url)).send().await.expect("install");
            let cookie = response.headers()["set-cookie"].to_str().expect("cookie").split(';').next().expect("pair").to_owned();
            let mut authorize = reqwest::Url::parse(response.headers()["location"].to_str().expect("location")).expect("url");
            authorize.query_pairs_mut().append_pair("sim_user", ALICE);
            let approved = app.http.get(authorize).send().await.expect("approve");
            (cookie, approved.headers()["location"].to_str().expect("callback").to_owned())
        };
        let (mine, _) = start().await;
        let (theirs, their_callback) = start().await;

        // The victim's callback link, opened in the attacker's browser.
        let stolen = app.http.get(&their_callback).header("cookie", &mine).send().await.expect("callback");
        assert_eq!(stolen.status(), 400);
        assert!(app.store.workspace(TEAM).await.expect("read").is_none(), "nothing installed");
        assert!(app.sim.calls(Some("oauth.v2.access")).is_empty(), "the code was not exchanged");

        let own = app.http.get(&their_callback).header("cookie", &theirs).send().await.expect("callback");
        assert_eq!(own.status(), 200, "the browser that started it finishes it");
    }
}
