//! The real binary's logs through a whole journey: JSON lines with the
//! cycle's figures, and never a token, a secret or a message's text.

use std::process::Stdio;
use std::time::Duration;

use chrono::Utc;
use serde_json::{Value, json};
use slack_scheduler::sim::{Command as SlashCommand, SimSettings, Simulator};
use slack_scheduler::slack::blocks;
use tokio::io::AsyncReadExt;
use tokio::process::Command;

use crate::common::harness::{ALICE, GENERAL, OLD, TEAM};
use crate::common::wait_until;

const SECRET_TEXT: &str = "Secret plan: the launch is Friday";
const FAILING_TEXT: &str = "Confidential retro notes";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_journey_logs_json_lines_without_tokens_or_message_text() {
    let sim = Simulator::start(SimSettings::default().accepting_metadata())
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
    let mut child = Command::new(env!("CARGO_BIN_EXE_slack-scheduler"))
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
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
        .env("SCHEDULER_TICK_SECS", "1")
        .env("LOG_FORMAT", "json")
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("serve starts");
    let mut stdout = child.stdout.take().expect("stdout");
    let collect = tokio::spawn(async move {
        let mut out = String::new();
        let _ = stdout.read_to_string(&mut out).await;
        out
    });

    let http = reqwest::Client::new();
    wait_until("the app answers", Duration::from_secs(20), || async {
        http.get(format!("{app_url}/healthz"))
            .send()
            .await
            .ok()
            .filter(|r| r.status() == 200)
            .map(|_| ())
    })
    .await;
    assert_eq!(
        sim.browser_install(&app_url, Some(ALICE))
            .await
            .expect("install")
            .status,
        200
    );
    let quick = sim
        .send_command(
            &app_url,
            SlashCommand {
                team_id: TEAM,
                user_id: ALICE,
                channel_id: GENERAL,
                text: &format!("in 2 seconds {SECRET_TEXT}"),
            },
        )
        .await
        .expect("command");
    assert!(quick.body.contains("Scheduled for"));
    let due = (Utc::now() + chrono::Duration::seconds(2)).timestamp();
    let submission = json!({
        "type": "view_submission", "team": {"id": TEAM}, "user": {"id": ALICE, "team_id": TEAM},
        "view": {"id": "V1", "callback_id": blocks::NEW_CALLBACK, "private_metadata": "", "state": {"values": {
            blocks::CHANNEL_BLOCK: {blocks::CHANNEL_ACTION: {"type": "conversations_select", "selected_conversation": OLD}},
            blocks::TEXT_BLOCK: {blocks::TEXT_ACTION: {"type": "plain_text_input", "value": FAILING_TEXT}},
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
            let posted = messages.iter().any(|m| m.text == SECRET_TEXT);
            let told = messages
                .iter()
                .any(|m| m.as_bot && m.text.contains("could not be posted"));
            (posted && told).then_some(())
        },
    )
    .await;

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
    let logs = collect.await.expect("stdout read");

    let lines: Vec<Value> = logs
        .lines()
        .map(|line| {
            serde_json::from_str(line).unwrap_or_else(|_| panic!("not a JSON line: {line}"))
        })
        .collect();
    let summary = lines
        .iter()
        .find(|l| {
            l["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("Processing complete:"))
        })
        .expect("a cycle summary line");
    for field in [
        "claimed",
        "sent",
        "failed",
        "duration_ms",
        "db_statements",
        "cycle_id",
    ] {
        assert!(
            summary.get(field).is_some(),
            "the summary carries {field}: {summary}"
        );
    }
    let batch = lines
        .iter()
        .find(|l| {
            l["message"]
                .as_str()
                .is_some_and(|m| m.contains("scheduled messages: bulk updated"))
        })
        .expect("a batch line");
    assert!(
        batch["span"]["cycle_id"].is_u64(),
        "the batch line is inside its cycle's span: {batch}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l["message"] == "request" && l["span"]["route"] == "/slack/commands"),
        "requests are traced"
    );
    assert!(
        lines
            .iter()
            .all(|l| l["level"] != "DEBUG" && l["level"] != "TRACE")
    );

    for secret in sim.secrets() {
        assert!(!logs.contains(&secret), "a secret leaked into the logs");
    }
    for text in [SECRET_TEXT, FAILING_TEXT, "the launch is Friday"] {
        assert!(
            !logs.contains(text),
            "message text leaked into the logs: {text}"
        );
    }
    assert!(
        !logs.contains("code=sim-code"),
        "OAuth codes stay out of the logs"
    );
}
