//! `slack-scheduler bench`: delivery and the slash command measured through
//! the app's real interfaces, on SQLite and PostgreSQL (BENCHMARKS.md has
//! the commands and the results).
//!
//! ```text
//!   bench ──seed──► database ◄──claim/record── serve × N ──HTTP──► sim
//!     └── watches the sim's tally, reads /proc, checks every message ─┘
//! ```
//!
//! The delivery cycle runs in `serve` child processes exactly as deployed
//! (the same binary, configured by the same variables); the simulator runs
//! as a child process too, so that Slack's side is real HTTP on loopback
//! and costs its own CPU, which /proc keeps apart from the app's.
//!
//! - [`workloads`]: the configurations to run; [`shapes`]: each workload's sizes and seeds.
//! - [`database`]: a fresh database per run.
//! - [`procs`]: the child processes, and their CPU and memory from /proc.
//! - [`delivery`]: one delivery run: seed, wait for the due time, watch, stop.
//! - [`seed`]: a run's workspaces, users, tokens and messages.
//! - [`workers`]: the app under test: `serve` processes, or the naive cycle.
//! - [`check`]: every message posted exactly once and none early; lateness.
//! - [`idle`]: a cycle with nothing due.
//! - [`commands`]: signed quick-form commands at the app's highest rate.
//! - [`naive`]: the seed's sequential cycle, the "before".
//! - [`report`]: one JSON line per run and a table of medians.

mod check;
mod commands;
mod database;
mod delivery;
mod idle;
pub mod naive;
mod procs;
mod report;
mod seed;
mod shapes;
mod workers;
mod workloads;

use std::io::Write;
use std::path::PathBuf;

use clap::{Args, ValueEnum};

pub use workloads::{DbChoice, StrategyChoice, WorkloadKind};

/// `slack-scheduler bench`'s options.
#[derive(Debug, Clone, Args)]
pub struct BenchArgs {
    /// Workloads to run, comma-separated.
    #[arg(long, value_enum, value_delimiter = ',', default_values_t = [WorkloadKind::All])]
    pub workload: Vec<WorkloadKind>,

    /// Databases to run them on.
    #[arg(long, value_enum, default_value_t = DbChoice::Both)]
    pub db: DbChoice,

    /// The delivery cycle to run: the pipeline `serve` runs, the seed's
    /// sequential one, or both side by side (burst and hot workloads).
    #[arg(long, value_enum, default_value_t = StrategyChoice::Pipeline)]
    pub strategy: StrategyChoice,

    /// Runs of each configuration (the table shows medians).
    #[arg(long, default_value_t = 3)]
    pub runs: usize,

    /// Small sizes (about 20,000 messages a workload): minutes, not an hour.
    #[arg(long)]
    pub quick: bool,

    /// Slack's latency per call, in milliseconds (default: 0 and 50 for burst, 50 otherwise).
    #[arg(long, value_delimiter = ',')]
    pub latency_ms: Vec<u64>,

    /// SCHEDULER_CONCURRENCY (default: 256 and 1024 for burst, 1024 otherwise).
    #[arg(long, value_delimiter = ',')]
    pub concurrency: Vec<u32>,

    /// Messages of the burst workload (default 1,000,000; 20,000 with --quick).
    #[arg(long)]
    pub messages: Option<u64>,

    /// PostgreSQL server on which each run creates (and drops) a database.
    #[arg(
        long,
        env = "BENCH_DATABASE_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/postgres"
    )]
    pub postgres_url: String,

    /// Seconds the naive cycle runs on a workload before it is stopped and
    /// its rate taken (at its pace a million messages would take hours).
    #[arg(long, default_value_t = 60)]
    pub naive_budget_secs: u64,

    /// SCHEDULER_CONCURRENCY of each process in the scale-out workload: low
    /// enough that one process is bound by Slack's latency, not by the CPU,
    /// so that adding processes measures how they share the database.
    #[arg(long, default_value_t = 64)]
    pub scaleout_concurrency: u32,

    /// Commands in flight in the commands workload.
    #[arg(long, default_value_t = 64)]
    pub command_clients: usize,

    /// Seconds the commands workload sends for.
    #[arg(long)]
    pub command_secs: Option<u64>,

    /// Also append each run's JSON line to this file.
    #[arg(long)]
    pub json_out: Option<PathBuf>,
}

/// Runs every workload asked for; fails if any run posted a message twice,
/// early, or not at all (beyond the naive cycle's budget).
pub async fn run(args: &BenchArgs) -> anyhow::Result<()> {
    let jobs = workloads::plan(args)?;
    let context = procs::Context::new(args)?;
    println!(
        "slack-scheduler bench: {} configurations × {} runs on {}",
        jobs.len(),
        args.runs,
        procs::machine_summary()
    );
    let mut results = Vec::new();
    let mut problems = Vec::new();
    for job in &jobs {
        for run in 1..=args.runs.max(1) {
            let result = job.run(&context, run).await;
            let result = match result {
                Ok(result) => result,
                Err(err) => {
                    problems.push(format!("{} run {run}: {err:#}", job.label()));
                    eprintln!("{} run {run} failed: {err:#}", job.label());
                    continue;
                }
            };
            let line = result.json_line();
            println!("{line}");
            if let Some(path) = &args.json_out {
                let mut file = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)?;
                writeln!(file, "{line}")?;
            }
            problems.extend(result.problems());
            results.push(result);
        }
    }
    report::print_tables(&results);
    if problems.is_empty() {
        Ok(())
    } else {
        anyhow::bail!(
            "{} problem(s):\n  {}",
            problems.len(),
            problems.join("\n  ")
        )
    }
}

/// Which database a run uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Db {
    Sqlite,
    Postgres,
}
