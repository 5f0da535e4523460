//! The real binary: start-up errors, migrations, and stopping on SIGTERM.

use std::process::Stdio;
use std::time::Duration;

use base64::Engine;
use chrono::Utc;
use secrecy::SecretString;
use slack_scheduler::crypto::TokenCipher;
use slack_scheduler::domain::MessageStatus;
use slack_scheduler::sim::{SimSettings, Simulator};
use slack_scheduler::store::{Store, TokenGrant};
use tokio::process::Command;

use crate::common::harness::{ALICE, TEAM, new_message};
use crate::common::wait_until;

fn binary() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_slack-scheduler"));
    command
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default());
    command
}

#[tokio::test]
async fn a_missing_credential_stops_start_up_with_one_line_naming_it() {
    let dir = tempfile::tempdir().expect("dir");
    let output = binary()
        .current_dir(dir.path())
        .arg("serve")
        .env(
            "DATABASE_URL",
            format!("sqlite://{}/app.db", dir.path().display()),
        )
        .env("SLACK_CLIENT_SECRET", "s")
        .output()
        .await
        .expect("runs");
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
    assert!(
        stderr.starts_with("error: SLACK_CLIENT_ID is not set"),
        "{stderr}"
    );
}

#[tokio::test]
async fn migrate_creates_the_sqlite_database_and_its_key_file() {
    let dir = tempfile::tempdir().expect("dir");
    let output = binary()
        .current_dir(dir.path())
        .arg("migrate")
        .env(
            "DATABASE_URL",
            format!("sqlite://{}/fresh.db", dir.path().display()),
        )
        .output()
        .await
        .expect("runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(dir.path().join("fresh.db").exists());
    assert!(
        dir.path().join("fresh.db.key").exists(),
        "the token key is generated beside the database"
    );
    assert!(String::from_utf8_lossy(&output.stdout).contains("migrations applied"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_finishes_the_calls_in_flight_and_records_them() {
    let sim = Simulator::start(SimSettings::default().accepting_metadata())
        .await
        .expect("simulator");
    sim.seed_demo_workspace();
    sim.update_settings(|s| s.latency = Duration::from_millis(400));
    let dir = tempfile::tempdir().expect("dir");
    let url = format!("sqlite://{}/app.db", dir.path().display());
    let key = base64::engine::general_purpose::STANDARD.encode(rand::random::<[u8; 32]>());
    let store = Store::connect(&url, TokenCipher::from_base64(&key).expect("key"))
        .await
        .expect("db");
    store.migrate().await.expect("migrate");
    let tokens = sim.install(TEAM, ALICE);
    let grant = TokenGrant {
        access_token: SecretString::from(tokens.user_access),
        refresh_token: Some(SecretString::from(tokens.user_refresh)),
        expires_at: Some(Utc::now() + chrono::Duration::hours(12)),
    };
    let alice = store
        .connect_user(TEAM, ALICE, &grant, Utc::now())
        .await
        .expect("user");
    let due = Utc::now();
    let mut messages = Vec::new();
    for i in 0..30 {
        let channel = format!("C3{i:03}");
        sim.add_channel(TEAM, &channel, &format!("room-{i}"), &[ALICE]);
        messages.push(new_message(&alice, &channel, &format!("message {i}"), due));
    }
    store.insert_messages(&messages, due).await.expect("stored");

    let settings = sim.settings();
    let mut child = binary()
        .current_dir(dir.path())
        .arg("serve")
        .env("DATABASE_URL", &url)
        .env("BIND_ADDR", "127.0.0.1:0")
        .env("SLACK_CLIENT_ID", &settings.client_id)
        .env("SLACK_CLIENT_SECRET", &settings.client_secret)
        .env("SLACK_SIGNING_SECRET", &settings.signing_secret)
        .env("SLACK_API_URL", sim.api_url())
        .env("TOKEN_ENCRYPTION_KEY", &key)
        .env("SCHEDULER_TICK_SECS", "1")
        .env("SCHEDULER_CONCURRENCY", "3")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("serve starts");

    wait_until("the cycle is posting", Duration::from_secs(20), || async {
        (!sim.calls(Some("chat.postMessage")).is_empty()).then_some(())
    })
    .await;
    let pid = child.id().expect("running");
    let killed = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .await
        .expect("kill runs");
    assert!(killed.success());
    let status = tokio::time::timeout(Duration::from_secs(30), child.wait())
        .await
        .expect("stops within 30 s")
        .expect("exit status");
    assert!(status.success(), "exits cleanly: {status}");

    let stored = store.all_messages().await.expect("read");
    assert!(
        stored.iter().all(|m| m.status != MessageStatus::Sending),
        "nothing left in doubt"
    );
    let sent = stored
        .iter()
        .filter(|m| m.status == MessageStatus::Sent)
        .count();
    assert_eq!(
        sim.messages(None).len(),
        sent,
        "every post Slack took was recorded"
    );
    assert!(
        sent > 0 && sent < 30,
        "stopped part-way through: {sent} sent"
    );
}
