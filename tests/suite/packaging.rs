//! The Debian package's parts, checked without building it (a release
//! build is too slow for every CI run): the cargo-deb metadata, the
//! systemd unit and its hardening, the maintainer scripts, and the
//! configuration file, each against the others and the binary.

use std::collections::BTreeMap;
use std::path::Path;

fn read(path: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(path))
        .unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// `[Service]` → key → values (a key may repeat).
fn unit_sections(text: &str) -> BTreeMap<String, BTreeMap<String, Vec<String>>> {
    let mut sections: BTreeMap<String, BTreeMap<String, Vec<String>>> = BTreeMap::new();
    let mut current = String::new();
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            current = name.to_owned();
            continue;
        }
        let (key, value) = line
            .split_once('=')
            .unwrap_or_else(|| panic!("not key=value: {line}"));
        sections
            .entry(current.clone())
            .or_default()
            .entry(key.to_owned())
            .or_default()
            .push(value.to_owned());
    }
    sections
}

/// `KEY=value` lines of the env file, commented-out ones included.
fn env_file() -> BTreeMap<String, (String, bool)> {
    read("deploy/debian/env")
        .lines()
        .filter_map(|line| {
            let (active, line) = match line.strip_prefix('#') {
                Some(rest) => (false, rest),
                None => (true, line),
            };
            let (key, value) = line.split_once('=')?;
            (!key.is_empty() && key.chars().all(|c| c.is_ascii_uppercase() || c == '_'))
                .then(|| (key.to_owned(), (value.to_owned(), active)))
        })
        .collect()
}

#[test]
fn the_unit_runs_serve_as_its_own_user_with_the_env_file_and_hardening() {
    let unit = unit_sections(&read("deploy/debian/slack-scheduler.service"));
    let service = &unit["Service"];
    let one = |key: &str| -> &str {
        let values = service
            .get(key)
            .unwrap_or_else(|| panic!("[Service] has no {key}"));
        values.last().expect("a value")
    };
    assert_eq!(one("ExecStart"), "/usr/bin/slack-scheduler serve");
    assert_eq!(one("User"), "slack-scheduler");
    assert_eq!(one("Group"), "slack-scheduler");
    assert_eq!(one("EnvironmentFile"), "/etc/slack-scheduler/env");
    assert_eq!(one("ReadWritePaths"), "/var/lib/slack-scheduler");
    assert_eq!(one("WorkingDirectory"), "/var/lib/slack-scheduler");
    for (key, value) in [
        ("NoNewPrivileges", "yes"),
        ("ProtectSystem", "strict"),
        ("ProtectHome", "yes"),
        ("PrivateTmp", "yes"),
        ("PrivateDevices", "yes"),
        ("CapabilityBoundingSet", ""),
        ("RestrictAddressFamilies", "AF_INET AF_INET6 AF_UNIX"),
        ("MemoryDenyWriteExecute", "yes"),
        ("UMask", "0077"),
    ] {
        assert_eq!(one(key), value, "{key}");
    }
    // serve needs SHUTDOWN_GRACE to finish its posts after SIGTERM.
    let stop: u64 = one("TimeoutStopSec")
        .trim_end_matches('s')
        .parse()
        .expect("seconds");
    assert!(
        stop > slack_scheduler::app::SHUTDOWN_GRACE.as_secs(),
        "systemd would kill serve mid-post"
    );
    assert_eq!(unit["Install"]["WantedBy"], ["multi-user.target"]);
}

#[test]
fn the_env_file_names_only_variables_the_binary_reads_and_points_at_the_data_directory() {
    let env = env_file();
    let (database, active) = &env["DATABASE_URL"];
    assert!(*active);
    assert_eq!(
        database,
        "sqlite:///var/lib/slack-scheduler/slack-scheduler.db"
    );
    let path = slack_scheduler::crypto::sqlite_path(database).expect("a file");
    assert!(
        path.starts_with("/var/lib/slack-scheduler"),
        "the database is where the unit may write"
    );
    let help = std::process::Command::new(env!("CARGO_BIN_EXE_slack-scheduler"))
        .arg("--help")
        .output()
        .expect("--help runs");
    let help = String::from_utf8_lossy(&help.stdout);
    for key in env.keys() {
        assert!(
            help.contains(&format!("[env: {key}")),
            "{key} is not a variable the binary reads"
        );
    }
    for required in [
        "SLACK_CLIENT_ID",
        "SLACK_CLIENT_SECRET",
        "SLACK_SIGNING_SECRET",
        "PUBLIC_URL",
    ] {
        assert!(
            env.get(required).is_some_and(|(_, active)| *active),
            "{required} is there to fill in"
        );
    }
}

#[test]
fn the_package_metadata_installs_what_the_unit_and_scripts_expect() {
    let cargo = read("Cargo.toml");
    let deb = cargo
        .split("[package.metadata.deb]")
        .nth(1)
        .and_then(|rest| rest.split("\n[").next())
        .expect("Cargo.toml has [package.metadata.deb]");
    for needle in [
        r#"["target/release/slack-scheduler", "usr/bin/", "755"]"#,
        r#"["deploy/debian/env", "etc/slack-scheduler/env", "640"]"#,
        r#"conf-files = ["/etc/slack-scheduler/env"]"#,
        r#"maintainer-scripts = "deploy/debian/""#,
        r#"unit-name = "slack-scheduler""#,
        "adduser",
    ] {
        assert!(
            deb.contains(needle),
            "[package.metadata.deb] lacks {needle}"
        );
    }
    let postinst = read("deploy/debian/postinst");
    assert!(
        postinst.contains("adduser --system --group"),
        "the service user is created"
    );
    assert!(
        postinst.contains("/var/lib/slack-scheduler")
            && postinst.contains("chmod 0640 /etc/slack-scheduler/env")
    );
    assert!(
        postinst.contains("#DEBHELPER#") && read("deploy/debian/postrm").contains("#DEBHELPER#")
    );
    #[cfg(unix)]
    for script in ["postinst", "postrm"] {
        use std::os::unix::fs::PermissionsExt;
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("deploy/debian")
            .join(script);
        let mode = std::fs::metadata(&path)
            .expect("script")
            .permissions()
            .mode();
        assert_eq!(mode & 0o111, 0o111, "{script} is executable");
        let status = std::process::Command::new("sh")
            .arg("-n")
            .arg(&path)
            .status()
            .expect("sh runs");
        assert!(status.success(), "{script} is valid sh");
    }
}

#[test]
fn systemd_accepts_the_unit() {
    let Ok(version) = std::process::Command::new("systemd-analyze")
        .arg("--version")
        .output()
    else {
        assert!(
            !std::env::var("CI").is_ok_and(|v| v == "true"),
            "systemd-analyze must be installed under CI"
        );
        eprintln!("SKIPPED: systemd-analyze verify (systemd-analyze is not installed)");
        return;
    };
    assert!(version.status.success());
    // Verified as installed, with the binary at the path the unit names
    // replaced by the one just built.
    let dir = tempfile::tempdir().expect("dir");
    let unit = read("deploy/debian/slack-scheduler.service").replace(
        "/usr/bin/slack-scheduler",
        env!("CARGO_BIN_EXE_slack-scheduler"),
    );
    let path = dir.path().join("slack-scheduler.service");
    std::fs::write(&path, unit).expect("unit written");
    let output = std::process::Command::new("systemd-analyze")
        .arg("verify")
        .arg(&path)
        .output()
        .expect("systemd-analyze runs");
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "{said}");
    let complaints: Vec<&str> = said
        .lines()
        .filter(|l| l.contains("slack-scheduler.service"))
        .collect();
    assert!(complaints.is_empty(), "systemd-analyze: {said}");
}
