//! What a run found: one JSON line per run (figures that do not apply are
//! left out), and at the end a table of medians per configuration.

use std::collections::BTreeMap;

use serde::Serialize;

/// The figures of one run. Times in seconds or milliseconds as named.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RunResult {
    pub workload: String,
    pub db: String,
    pub strategy: String,
    pub run: usize,
    pub latency_ms: u64,
    pub concurrency: u32,
    pub processes: usize,
    /// Messages the run is about (due within it).
    pub messages: u64,
    pub users: u64,
    pub channels: u64,
    pub posted: u64,
    pub drain_s: Option<f64>,
    pub posts_per_s: Option<f64>,
    pub slack_calls_per_message: Option<f64>,
    pub db_statements: Option<u64>,
    pub statements_per_1000: Option<f64>,
    pub refreshed_users: Option<u64>,
    pub peak_rss_mb: Option<f64>,
    pub lateness_p50_ms: Option<f64>,
    pub lateness_p99_ms: Option<f64>,
    pub lateness_max_ms: Option<f64>,
    /// Messages failed, held, or posted but not recorded sent.
    pub errors: u64,
    pub duplicates: u64,
    pub early: u64,
    /// 429 answers to `chat.postMessage`.
    pub ratelimited: u64,
    pub app_cpu_s: Option<f64>,
    pub sim_cpu_s: Option<f64>,
    pub db_cpu_s: Option<f64>,
    pub bench_cpu_s: Option<f64>,
    pub machine_busy_pct: Option<f64>,
    pub loadavg: String,
    pub seed_s: Option<f64>,
    pub hot_messages: Option<u64>,
    pub hot_posted: Option<u64>,
    pub hot_drain_s: Option<f64>,
    pub hot_max_per_10s: Option<u64>,
    pub claim_ms: Option<f64>,
    pub claim_plan: Option<String>,
    pub cycle_ms: Option<f64>,
    pub cycle_statements: Option<f64>,
    pub loop_statements_per_wake: Option<f64>,
    pub commands: Option<u64>,
    pub commands_per_s: Option<f64>,
    pub ack_p50_ms: Option<f64>,
    pub ack_p99_ms: Option<f64>,
    pub app_cpu_ms_per_command: Option<f64>,
    pub statements_per_command: Option<f64>,
    pub commands_refused: Option<u64>,
    pub notes: Vec<String>,
    /// Whether the run must deliver everything (the naive cycle is stopped
    /// at its budget).
    #[serde(skip)]
    pub complete_expected: bool,
}

impl RunResult {
    /// The run's JSON line, without the figures that do not apply.
    pub fn json_line(&self) -> String {
        let mut value = serde_json::to_value(self).unwrap_or_default();
        if let serde_json::Value::Object(map) = &mut value {
            map.retain(|_, v| !v.is_null() && v != &serde_json::json!([]));
        }
        value.to_string()
    }

    /// What went wrong, if anything: a message posted twice or early, or
    /// (unless the run was cut short on purpose) not delivered.
    pub fn problems(&self) -> Vec<String> {
        let label = format!(
            "{} {} {} run {}",
            self.workload, self.db, self.strategy, self.run
        );
        let mut problems = Vec::new();
        if self.duplicates > 0 {
            problems.push(format!("{label}: {} duplicate posts", self.duplicates));
        }
        if self.early > 0 {
            problems.push(format!("{label}: {} messages posted early", self.early));
        }
        if self.complete_expected {
            if self.errors > 0 {
                problems.push(format!("{label}: {} messages not delivered", self.errors));
            }
            let expected = self.messages + self.hot_messages.unwrap_or(0);
            let posted = self.posted + self.hot_posted.unwrap_or(0);
            if self.commands.is_none() && posted < expected {
                problems.push(format!("{label}: {posted} of {expected} posted"));
            }
        }
        problems
    }

    fn key(&self) -> String {
        format!(
            "{:<10} {:<8} {:<8} {:>4} {:>5} {:>2}",
            self.workload,
            self.db,
            self.strategy,
            self.latency_ms,
            self.concurrency,
            self.processes
        )
    }
}

fn median(mut values: Vec<f64>) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(|a, b| a.total_cmp(b));
    Some(values[values.len() / 2])
}

/// A column: its heading and how to read it from a run.
type Column = (&'static str, fn(&RunResult) -> Option<f64>);

fn print_table(title: &str, runs: &[&RunResult], columns: &[Column]) {
    if runs.is_empty() {
        return;
    }
    let mut groups: BTreeMap<String, Vec<&RunResult>> = BTreeMap::new();
    for run in runs {
        groups.entry(run.key()).or_default().push(run);
    }
    println!("\n{title} (medians of the runs; n = runs)");
    let mut heading = format!(
        "{:<10} {:<8} {:<8} {:>4} {:>5} {:>2} {:>2}",
        "workload", "db", "strategy", "ms", "conc", "p", "n"
    );
    for (name, _) in columns {
        heading.push_str(&format!(" {name:>9}"));
    }
    println!("{heading}");
    for (key, runs) in groups {
        let mut line = format!("{key} {:>2}", runs.len());
        for (_, read) in columns {
            let value = median(runs.iter().filter_map(|r| read(r)).collect());
            line.push_str(&match value {
                Some(v) if v.abs() >= 100.0 => format!(" {v:>9.0}"),
                Some(v) => format!(" {v:>9.2}"),
                None => format!(" {:>9}", "-"),
            });
        }
        println!("{line}");
    }
}

pub fn print_tables(results: &[RunResult]) {
    let of = |kinds: &[&str]| -> Vec<&RunResult> {
        results
            .iter()
            .filter(|r| kinds.contains(&r.workload.as_str()))
            .collect()
    };
    print_table(
        "Delivery",
        &of(&["burst", "hot", "hot-absent", "steady", "scaleout"]),
        &[
            ("messages", |r| Some(r.messages as f64)),
            ("posts/s", |r| r.posts_per_s),
            ("drain s", |r| r.drain_s),
            ("p50 ms", |r| r.lateness_p50_ms),
            ("p99 ms", |r| r.lateness_p99_ms),
            ("max ms", |r| r.lateness_max_ms),
            ("stmt/1k", |r| r.statements_per_1000),
            ("calls/msg", |r| r.slack_calls_per_message),
            ("RSS MB", |r| r.peak_rss_mb),
            ("app cpu", |r| r.app_cpu_s),
            ("sim cpu", |r| r.sim_cpu_s),
            ("db cpu", |r| r.db_cpu_s),
            ("busy %", |r| r.machine_busy_pct),
            ("errors", |r| Some(r.errors as f64)),
            ("dups", |r| Some(r.duplicates as f64)),
            ("early", |r| Some(r.early as f64)),
        ],
    );
    print_table(
        "Hot channel",
        &of(&["hot"]),
        &[
            ("hot msgs", |r| r.hot_messages.map(|v| v as f64)),
            ("hot sent", |r| r.hot_posted.map(|v| v as f64)),
            ("hot s", |r| r.hot_drain_s),
            ("max/10s", |r| r.hot_max_per_10s.map(|v| v as f64)),
            ("429s", |r| Some(r.ratelimited as f64)),
        ],
    );
    print_table(
        "Claim at size (steady)",
        &of(&["steady"]),
        &[("claim ms", |r| r.claim_ms)],
    );
    print_table(
        "Idle cycle",
        &of(&["idle"]),
        &[
            ("cycle ms", |r| r.cycle_ms),
            ("stmts", |r| r.cycle_statements),
            ("per wake", |r| r.loop_statements_per_wake),
        ],
    );
    print_table(
        "Slash commands",
        &of(&["commands"]),
        &[
            ("commands", |r| r.commands.map(|v| v as f64)),
            ("cmd/s", |r| r.commands_per_s),
            ("ack p50", |r| r.ack_p50_ms),
            ("ack p99", |r| r.ack_p99_ms),
            ("cpu ms", |r| r.app_cpu_ms_per_command),
            ("stmt/cmd", |r| r.statements_per_command),
            ("refused", |r| r.commands_refused.map(|v| v as f64)),
            ("busy %", |r| r.machine_busy_pct),
        ],
    );
}
