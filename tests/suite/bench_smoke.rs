//! A small run of the benchmark, as CI runs it: about 20,000 messages due
//! at once through `slack-scheduler bench` (the simulator and `serve` as
//! child processes, over real HTTP), on SQLite and on PostgreSQL. It
//! asserts correctness only, every message posted exactly once and none
//! early: throughput is for BENCHMARKS.md, on a quiet machine.

use serde_json::Value;

use crate::common::TestDb;
use crate::common::bin::binary;

/// Runs the quick burst on `db` and returns its one JSON line.
async fn smoke(db: &str, postgres_url: Option<&str>) -> Value {
    let dir = tempfile::tempdir().expect("dir");
    let out = dir.path().join("runs.jsonl");
    let mut command = binary();
    command.current_dir(dir.path()).args([
        "bench",
        "--workload",
        "burst",
        "--quick",
        "--runs",
        "1",
        "--db",
        db,
        "--latency-ms",
        "0",
        "--concurrency",
        "256",
        "--json-out",
    ]);
    command.arg(&out);
    if let Some(url) = postgres_url {
        command.args(["--postgres-url", url]);
    }
    let output = command.output().await.expect("the benchmark runs");
    let shown = format!(
        "stdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "the benchmark failed\n{shown}");
    let lines = std::fs::read_to_string(&out).expect("its JSON line");
    let runs: Vec<Value> = lines
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON"))
        .collect();
    assert_eq!(runs.len(), 1, "one run\n{shown}");
    runs.into_iter().next().expect("one run")
}

fn assert_delivered_exactly_once(run: &Value) {
    let figure = |name: &str| run.get(name).and_then(Value::as_u64);
    assert_eq!(figure("messages"), Some(20_000), "{run}");
    assert_eq!(
        figure("posted"),
        Some(20_000),
        "every message posted: {run}"
    );
    assert_eq!(figure("duplicates"), Some(0), "none twice: {run}");
    assert_eq!(figure("early"), Some(0), "none early: {run}");
    assert_eq!(figure("errors"), Some(0), "every one recorded sent: {run}");
    assert!(
        figure("refreshed_users").is_some_and(|n| n > 0),
        "expired tokens were refreshed: {run}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_thousand_messages_are_each_posted_once_and_none_early_on_sqlite() {
    let run = smoke("sqlite", None).await;
    assert_delivered_exactly_once(&run);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_thousand_messages_are_each_posted_once_and_none_early_on_postgres() {
    // Fails rather than skips under CI=true when the server is away.
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    let run = smoke("postgres", Some(&db.url)).await;
    assert_delivered_exactly_once(&run);
}
