//! Monitoring as code: every metric the Grafana dashboard and the alert
//! rules name is one a real app exports after a small delivery, and
//! promtool accepts the rules.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use slack_scheduler::domain::MessageStatus;

use crate::common::harness::{ALICE, GENERAL, OLD};
use crate::common::{TestApp, TestDb, wait_until};

const DASHBOARD: &str = "deploy/grafana/slack-scheduler.json";
const RULES: &str = "deploy/prometheus/alerts.yml";

fn read(path: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(path))
        .unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Every `expr` of the dashboard's panels.
fn dashboard_exprs() -> Vec<String> {
    fn walk(value: &serde_json::Value, out: &mut Vec<String>) {
        match value {
            serde_json::Value::Object(map) => {
                for (key, value) in map {
                    match (key.as_str(), value) {
                        ("expr", serde_json::Value::String(expr)) => out.push(expr.clone()),
                        _ => walk(value, out),
                    }
                }
            }
            serde_json::Value::Array(items) => items.iter().for_each(|v| walk(v, out)),
            _ => {}
        }
    }
    let dashboard: serde_json::Value =
        serde_json::from_str(&read(DASHBOARD)).expect("the dashboard is JSON");
    let mut exprs = Vec::new();
    walk(&dashboard, &mut exprs);
    exprs
}

/// Every `expr:` of the rules file (each is kept on one line).
fn rule_exprs() -> Vec<String> {
    read(RULES)
        .lines()
        .filter_map(|l| l.trim().strip_prefix("expr:"))
        .map(|e| e.trim().to_owned())
        .collect()
}

/// The metric names a PromQL expression reads: identifiers that are not
/// functions, keywords, label names (inside braces or grouping clauses),
/// strings, numbers or durations.
fn metric_names(expr: &str) -> BTreeSet<String> {
    const KEYWORDS: &[&str] = &[
        "and",
        "or",
        "unless",
        "bool",
        "offset",
        "by",
        "without",
        "on",
        "ignoring",
        "group_left",
        "group_right",
    ];
    // Aggregations may take their grouping clause before the parenthesis.
    const AGGREGATIONS: &[&str] = &[
        "sum",
        "min",
        "max",
        "avg",
        "count",
        "group",
        "stddev",
        "stdvar",
        "topk",
        "bottomk",
        "quantile",
        "count_values",
    ];
    let chars: Vec<char> = expr.chars().collect();
    let mut names = BTreeSet::new();
    let mut i = 0;
    let mut last_keyword: Option<String> = None;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '"' | '\'' => {
                i += 1;
                while i < chars.len() && chars[i] != c {
                    i += if chars[i] == '\\' { 2 } else { 1 };
                }
                i += 1;
            }
            '{' | '[' => {
                let close = if c == '{' { '}' } else { ']' };
                while i < chars.len() && chars[i] != close {
                    i += 1;
                }
                i += 1;
            }
            '(' if last_keyword.as_deref().is_some_and(|k| {
                [
                    "by",
                    "without",
                    "on",
                    "ignoring",
                    "group_left",
                    "group_right",
                ]
                .contains(&k)
            }) =>
            {
                // A grouping clause's label list.
                while i < chars.len() && chars[i] != ')' {
                    i += 1;
                }
                i += 1;
                last_keyword = None;
            }
            c if c.is_ascii_digit() || c == '.' => {
                while i < chars.len()
                    && (chars[i].is_ascii_alphanumeric() || chars[i] == '.' || chars[i] == '_')
                {
                    i += 1;
                }
            }
            c if c.is_ascii_alphabetic() || c == '_' || c == ':' => {
                let start = i;
                while i < chars.len()
                    && (chars[i].is_ascii_alphanumeric() || chars[i] == '_' || chars[i] == ':')
                {
                    i += 1;
                }
                let word: String = chars[start..i].iter().collect();
                let next = chars[i..].iter().find(|c| !c.is_whitespace());
                if KEYWORDS.contains(&word.as_str()) {
                    last_keyword = Some(word);
                } else if AGGREGATIONS.contains(&word.as_str()) {
                    last_keyword = None;
                } else if next != Some(&'(') {
                    names.insert(word);
                    last_keyword = None;
                } else {
                    last_keyword = None;
                }
            }
            _ => i += 1,
        }
    }
    names
}

/// The series names in a Prometheus text exposition, histograms with their
/// `_bucket`, `_sum` and `_count` series.
fn exported(text: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let mut parts = rest.split_whitespace();
            if let (Some(name), Some(kind)) = (parts.next(), parts.next()) {
                names.insert(name.to_owned());
                if kind == "histogram" || kind == "summary" {
                    for suffix in ["_bucket", "_sum", "_count"] {
                        names.insert(format!("{name}{suffix}"));
                    }
                }
            }
        } else if !line.starts_with('#') && !line.is_empty() {
            let end = line.find(['{', ' ']).unwrap_or(line.len());
            names.insert(line[..end].to_owned());
        }
    }
    names
}

#[test]
fn the_expression_reader_finds_metrics_and_skips_the_rest() {
    let names = metric_names(
        r#"histogram_quantile(0.99, sum by (le, method) (rate(slack_api_call_duration_seconds_bucket{outcome!="ok"}[5m]))) > 60 and max(a_gauge offset 1h) - b:recorded"#,
    );
    let expected: BTreeSet<String> = [
        "slack_api_call_duration_seconds_bucket",
        "a_gauge",
        "b:recorded",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    assert_eq!(names, expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_metric_the_dashboard_and_the_alerts_name_is_exported() {
    let db = TestDb::sqlite().await;
    let app = TestApp::start(&db).await;
    app.install(ALICE).await;
    app.command(ALICE, GENERAL, "in 2 seconds Counted").await;
    app.command(ALICE, OLD, "in 2 seconds Fails into the archive")
        .await;
    wait_until(
        "both messages are settled",
        Duration::from_secs(15),
        || async {
            let settled = app
                .messages()
                .await
                .iter()
                .filter(|m| matches!(m.status, MessageStatus::Sent | MessageStatus::Failed))
                .count();
            (settled == 2).then_some(())
        },
    )
    .await;
    let text = app
        .http
        .get(format!("{}/metrics", app.url))
        .send()
        .await
        .expect("scrape")
        .text()
        .await
        .expect("body");
    let exported = exported(&text);

    let dashboard = dashboard_exprs();
    let rules = rule_exprs();
    assert!(
        dashboard.len() >= 10,
        "the dashboard has panels: {dashboard:?}"
    );
    assert_eq!(rules.len(), 6, "{rules:?}");
    let used: BTreeSet<String> = dashboard
        .iter()
        .chain(&rules)
        .flat_map(|e| metric_names(e))
        .collect();
    let unknown: Vec<&String> = used.iter().filter(|n| !exported.contains(*n)).collect();
    assert!(
        unknown.is_empty(),
        "named but not exported: {unknown:?}\nexported: {exported:?}"
    );

    // The rules cover what an operator must hear about.
    let rule_names: BTreeSet<String> = rules.iter().flat_map(|e| metric_names(e)).collect();
    for needed in [
        "scheduler_last_cycle_timestamp_seconds",
        "scheduler_delivery_lateness_seconds_bucket",
        "scheduler_messages_failed_total",
        "scheduler_held_users",
        "scheduler_database_ready",
    ] {
        assert!(rule_names.contains(needed), "no rule reads {needed}");
    }
}

#[tokio::test]
async fn promtool_accepts_the_alert_rules() {
    let rules = Path::new(env!("CARGO_MANIFEST_DIR")).join(RULES);
    let output = match tokio::process::Command::new("promtool")
        .arg("check")
        .arg("rules")
        .arg(&rules)
        .output()
        .await
    {
        Ok(output) => output,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            if std::env::var("CI").is_ok_and(|v| v == "true") {
                panic!("promtool is required under CI (apt-get install -y prometheus)");
            }
            eprintln!("SKIPPED: promtool check rules (promtool is not installed)");
            return;
        }
        Err(err) => panic!("promtool: {err}"),
    };
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "{said}");
    assert!(said.contains("SUCCESS: 6 rules found"), "{said}");
}
