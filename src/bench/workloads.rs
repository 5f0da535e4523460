//! The workloads: what each seeds, how it runs, at full size (the issue's
//! figures) and at `--quick` size.
//!
//! | workload | full size | measures |
//! | --- | --- | --- |
//! | burst | 1,000,000 due at once; 10 workspaces × 1,000 users (10 % expired) × 10,000 channels | throughput, statements, memory, lateness |
//! | hot | 300 due at once in one channel + 20,000 over 10,000 others; and the same without the 300 | the others unaffected; the hot one paced and complete |
//! | steady | 10,000,000 rows, 20,000 due each minute for 5 minutes | lateness; the claim's time and plan |
//! | idle | one cycle with nothing due, 10,000 rows ahead | statements and time of an empty cycle |
//! | scaleout | 60,000 due at once, PostgreSQL, 1, 2 and 4 processes | scaling and zero duplicates |
//! | commands | signed quick-form commands, 2,000 users with 900 waiting each | commands/s, ack p50/p99, CPU and statements per command |

use std::time::Duration;

use clap::ValueEnum;

use super::delivery::{DeliveryPlan, Strategy};
use super::shapes::{Sizes, burst, hot, scaleout, steady};
use super::{BenchArgs, Db};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum WorkloadKind {
    Burst,
    Hot,
    Steady,
    Idle,
    Scaleout,
    Commands,
    All,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DbChoice {
    Sqlite,
    Postgres,
    Both,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StrategyChoice {
    Pipeline,
    Naive,
    Both,
}

/// One configuration, run `--runs` times.
pub enum Job {
    Delivery(DeliveryPlan),
    Idle { db: Db, rows: u64 },
    Commands(super::commands::CommandsPlan),
}

impl Job {
    pub fn label(&self) -> String {
        match self {
            Self::Delivery(plan) => plan.label(),
            Self::Idle { db, .. } => format!("idle {db:?}"),
            Self::Commands(plan) => plan.label(),
        }
    }

    pub async fn run(
        &self,
        context: &super::procs::Context,
        run: usize,
    ) -> anyhow::Result<super::report::RunResult> {
        match self {
            Self::Delivery(plan) => super::delivery::run(context, plan, run).await,
            Self::Idle { db, rows } => super::idle::run(context, *db, *rows, run).await,
            Self::Commands(plan) => super::commands::run(context, plan, run).await,
        }
    }
}

/// Every configuration `args` asks for, in a sensible order.
pub fn plan(args: &BenchArgs) -> anyhow::Result<Vec<Job>> {
    let mut sizes = if args.quick {
        Sizes::quick()
    } else {
        Sizes::full()
    };
    if let Some(messages) = args.messages {
        sizes.burst = messages;
    }
    if let Some(secs) = args.command_secs {
        sizes.command_secs = secs;
    }
    let all = args.workload.contains(&WorkloadKind::All);
    let wants = |kind| all || args.workload.contains(&kind);
    let dbs: Vec<Db> = match args.db {
        DbChoice::Sqlite => vec![Db::Sqlite],
        DbChoice::Postgres => vec![Db::Postgres],
        DbChoice::Both => vec![Db::Sqlite, Db::Postgres],
    };
    let strategies: Vec<Strategy> = match args.strategy {
        StrategyChoice::Pipeline => vec![Strategy::Pipeline],
        StrategyChoice::Naive => vec![Strategy::Naive],
        StrategyChoice::Both => vec![Strategy::Pipeline, Strategy::Naive],
    };
    let or = |given: &[u64], default: &[u64]| -> Vec<u64> {
        if given.is_empty() {
            default.to_vec()
        } else {
            given.to_vec()
        }
    };
    let latencies_burst = or(&args.latency_ms, &[0, 50]);
    let latencies = or(&args.latency_ms, &[50]);
    let concurrency_burst: Vec<u32> = if args.concurrency.is_empty() {
        vec![256, 1024]
    } else {
        args.concurrency.clone()
    };
    let concurrency = *args.concurrency.last().unwrap_or(&1024);
    let budget = Duration::from_secs(args.naive_budget_secs);
    let mut jobs = Vec::new();
    if wants(WorkloadKind::Burst) {
        for &db in &dbs {
            for &latency_ms in &latencies_burst {
                for &concurrency in &concurrency_burst {
                    for &strategy in &strategies {
                        // The naive cycle has no concurrency: run it once per latency.
                        if strategy == Strategy::Naive && concurrency != concurrency_burst[0] {
                            continue;
                        }
                        jobs.push(Job::Delivery(burst(
                            &sizes,
                            db,
                            strategy,
                            latency_ms,
                            concurrency,
                            budget,
                        )));
                    }
                }
            }
        }
    }
    if wants(WorkloadKind::Hot) {
        for &db in &dbs {
            for &latency_ms in &latencies {
                for &strategy in &strategies {
                    for with_hot in [true, false] {
                        jobs.push(Job::Delivery(hot(
                            &sizes,
                            db,
                            strategy,
                            latency_ms,
                            concurrency,
                            with_hot,
                            budget,
                        )));
                    }
                }
            }
        }
    }
    if wants(WorkloadKind::Steady) {
        for &db in &dbs {
            jobs.push(Job::Delivery(steady(&sizes, db, latencies[0], concurrency)));
        }
    }
    if wants(WorkloadKind::Idle) {
        for &db in &dbs {
            jobs.push(Job::Idle {
                db,
                rows: sizes.idle_rows,
            });
        }
    }
    if wants(WorkloadKind::Scaleout) && dbs.contains(&Db::Postgres) {
        for processes in [1, 2, 4] {
            jobs.push(Job::Delivery(scaleout(
                &sizes,
                processes,
                latencies[0],
                args.scaleout_concurrency,
            )));
        }
    }
    if wants(WorkloadKind::Commands) {
        for &db in &dbs {
            jobs.push(Job::Commands(super::commands::CommandsPlan {
                db,
                users: sizes.command_users,
                waiting: sizes.command_waiting,
                clients: args.command_clients,
                duration: Duration::from_secs(sizes.command_secs),
            }));
        }
    }
    if jobs.is_empty() {
        anyhow::bail!("nothing to run (scale-out needs PostgreSQL)");
    }
    Ok(jobs)
}
