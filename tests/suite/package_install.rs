//! The Debian package, built, installed and started on this machine.
//!
//! `cargo deb` packages the binary the tests already built (the release
//! build the package ships is the same code, only slower to make); `dpkg -i`
//! installs it, which creates the service's user and data directory. This
//! machine runs no systemd as PID 1, so the service is started the way its
//! unit says systemd starts it: `ExecStart` as the unit's `User`, in its
//! `WorkingDirectory`, with its `EnvironmentFile` (systemd-analyze checks
//! the unit itself, in `packaging.rs`). Then `dpkg --purge` removes it all.
//!
//! It needs root, dpkg and cargo-deb; `.ci/run` provides them, and under
//! `CI=true` a missing one fails the test rather than skipping it.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use slack_scheduler::sim::{SimSettings, Simulator};

use crate::common::wait_until;

const PACKAGE: &str = "slack-scheduler";

fn ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// Runs `program args` and returns its output, panicking with what it said on failure.
fn run(program: &str, args: &[&str]) -> String {
    let output = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{program} cannot run: {e}"));
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "{program} {args:?}: {said}");
    said
}

/// What the machine lacks for this test, if anything.
fn missing() -> Option<&'static str> {
    let is_root = run("id", &["-u"]).trim() == "0";
    if !is_root {
        return Some("root");
    }
    if Command::new("dpkg").arg("--version").output().is_err() {
        return Some("dpkg");
    }
    let cargo = env!("CARGO");
    match Command::new(cargo).args(["deb", "--version"]).output() {
        Ok(out) if out.status.success() => None,
        _ => Some("cargo-deb"),
    }
}

/// `KEY=value` settings of the unit's `[Service]` section.
fn service_setting(unit: &str, key: &str) -> String {
    unit.lines()
        .map(str::trim)
        .find_map(|l| l.strip_prefix(&format!("{key}=")))
        .unwrap_or_else(|| panic!("the unit has no {key}"))
        .to_owned()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_package_installs_and_its_service_starts_as_its_own_user() {
    if let Some(what) = missing() {
        assert!(
            !ci(),
            "the package test must run under CI, but {what} is missing"
        );
        eprintln!("SKIPPED: the package install test needs {what}");
        return;
    }
    let dir = tempfile::tempdir().expect("dir");
    let deb = dir.path().join("slack-scheduler.deb");
    let deb_path = deb.to_str().expect("utf-8 path");
    // A leftover from an interrupted run goes first.
    let _ = Command::new("dpkg").args(["--purge", PACKAGE]).output();
    run(
        env!("CARGO"),
        &[
            "deb",
            "--manifest-path",
            &format!("{}/Cargo.toml", env!("CARGO_MANIFEST_DIR")),
            "--profile",
            "dev",
            "--no-build",
            "--no-strip",
            "--fast",
            "-o",
            deb_path,
        ],
    );
    run("dpkg", &["-i", deb_path]);

    // What the package put in place.
    assert!(Path::new("/usr/bin/slack-scheduler").exists());
    let user = run("getent", &["passwd", PACKAGE]);
    assert!(
        user.contains("/usr/sbin/nologin"),
        "a system user without a shell: {user}"
    );
    let env_file = std::fs::metadata("/etc/slack-scheduler/env").expect("the env file");
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    assert_eq!(
        env_file.permissions().mode() & 0o777,
        0o640,
        "only root and the service read the secrets"
    );
    let data = std::fs::metadata("/var/lib/slack-scheduler").expect("the data directory");
    assert_eq!(data.permissions().mode() & 0o777, 0o750);
    let unit = std::fs::read_to_string("/usr/lib/systemd/system/slack-scheduler.service")
        .expect("the unit");
    assert_eq!(service_setting(&unit, "User"), PACKAGE);

    // The operator fills in the env file, as README says.
    let sim = Simulator::start(SimSettings::default())
        .await
        .expect("simulator");
    let port = free_port();
    let shipped = std::fs::read_to_string("/etc/slack-scheduler/env").expect("env");
    let s = sim.settings();
    let filled = shipped
        .replace(
            "BIND_ADDR=127.0.0.1:3000",
            &format!("BIND_ADDR=127.0.0.1:{port}"),
        )
        .replace(
            "SLACK_CLIENT_ID=\n",
            &format!("SLACK_CLIENT_ID={}\n", s.client_id),
        )
        .replace(
            "SLACK_CLIENT_SECRET=\n",
            &format!("SLACK_CLIENT_SECRET={}\n", s.client_secret),
        )
        .replace(
            "SLACK_SIGNING_SECRET=\n",
            &format!("SLACK_SIGNING_SECRET={}\n", s.signing_secret),
        )
        + &format!("SLACK_API_URL={}\n", sim.api_url());
    std::fs::write("/etc/slack-scheduler/env", filled).expect("env written");

    // Started as the unit starts it.
    let environment_file = service_setting(&unit, "EnvironmentFile");
    let working_directory = service_setting(&unit, "WorkingDirectory");
    let exec_start = service_setting(&unit, "ExecStart");
    let vars: Vec<String> = std::fs::read_to_string(&environment_file)
        .expect("env")
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#') && l.contains('='))
        .map(str::to_owned)
        .collect();
    let mut command = tokio::process::Command::new("runuser");
    command
        .args(["-u", PACKAGE, "--", "env", "-i", "PATH=/usr/bin:/bin"])
        .args(&vars)
        .args(exec_start.split_whitespace())
        .current_dir(&working_directory)
        .kill_on_drop(true)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped());
    let mut service = command.spawn().expect("the service starts");
    let client = reqwest::Client::new();
    let health = format!("http://127.0.0.1:{port}");
    wait_until("the service is ready", Duration::from_secs(30), || async {
        let ready = client.get(format!("{health}/readyz")).send().await.ok()?;
        ready.status().is_success().then_some(())
    })
    .await;
    let db =
        std::fs::metadata("/var/lib/slack-scheduler/slack-scheduler.db").expect("the database");
    let key =
        std::fs::metadata("/var/lib/slack-scheduler/slack-scheduler.db.key").expect("its key");
    let service_uid: u32 = run("id", &["-u", PACKAGE]).trim().parse().expect("uid");
    assert_eq!(
        (db.uid(), key.uid()),
        (service_uid, service_uid),
        "owned by the service's user"
    );
    assert_eq!(key.permissions().mode() & 0o777, 0o600);

    // Stopped as systemd stops it: SIGTERM, and a clean exit.
    let pid = service.id().expect("pid").to_string();
    run("pkill", &["-TERM", "-P", &pid]);
    let status = tokio::time::timeout(Duration::from_secs(15), service.wait())
        .await
        .expect("stops in time")
        .expect("exit status");
    assert!(status.success(), "{status}");

    run("dpkg", &["--purge", PACKAGE]);
    assert!(!Path::new("/usr/bin/slack-scheduler").exists());
    assert!(
        !Path::new("/var/lib/slack-scheduler").exists(),
        "purge takes the data"
    );
    assert!(
        Command::new("getent")
            .args(["passwd", PACKAGE])
            .output()
            .expect("getent")
            .stdout
            .is_empty()
    );
}
