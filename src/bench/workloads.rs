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

use super::delivery::{DeliveryPlan, Segment, Strategy, WorkspaceSeed};
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

/// Sizes of the workloads.
#[derive(Debug, Clone)]
struct Sizes {
    burst: u64,
    burst_workspaces: u32,
    burst_users: u32,
    burst_channels: u32,
    hot: u64,
    hot_others: u64,
    hot_channels: u32,
    steady_rows: u64,
    steady_per_minute: u64,
    steady_minutes: u64,
    idle_rows: u64,
    scaleout: u64,
    command_users: u32,
    command_waiting: u64,
    command_secs: u64,
}

impl Sizes {
    fn full() -> Self {
        Self {
            burst: 1_000_000,
            burst_workspaces: 10,
            burst_users: 1_000,
            burst_channels: 10_000,
            hot: 300,
            hot_others: 20_000,
            hot_channels: 10_000,
            steady_rows: 10_000_000,
            steady_per_minute: 20_000,
            steady_minutes: 5,
            idle_rows: 10_000,
            scaleout: 60_000,
            command_users: 2_000,
            command_waiting: 900,
            command_secs: 30,
        }
    }

    fn quick() -> Self {
        Self {
            burst: 20_000,
            burst_workspaces: 2,
            burst_users: 100,
            burst_channels: 1_000,
            hot: 30,
            hot_others: 2_000,
            hot_channels: 1_000,
            steady_rows: 200_000,
            steady_per_minute: 2_000,
            steady_minutes: 2,
            idle_rows: 1_000,
            scaleout: 6_000,
            command_users: 200,
            command_waiting: 900,
            command_secs: 5,
        }
    }
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

fn workspaces(count: u32, users: u32, channels: u32, expired_every: u32) -> Vec<WorkspaceSeed> {
    (0..count)
        .map(|w| WorkspaceSeed {
            team_id: format!("TB{w}"),
            users,
            channels,
            expired_every,
        })
        .collect()
}

/// `count` messages spread over the workspaces, their users and channels,
/// each workspace's share numbered from 0, due at once.
fn spread(workspaces: &[WorkspaceSeed], count: u64) -> Vec<Segment> {
    let n = workspaces.len().max(1) as u64;
    workspaces
        .iter()
        .enumerate()
        .map(|(w, ws)| Segment {
            workspace: w,
            first: 0,
            count: count / n + u64::from((w as u64) < count % n),
            channels: ws.channels,
            channel_offset: 0,
            due_offset: Duration::ZERO,
            step: Duration::ZERO,
            per_step: u64::MAX,
        })
        .collect()
}

fn burst(
    sizes: &Sizes,
    db: Db,
    strategy: Strategy,
    latency_ms: u64,
    concurrency: u32,
    budget: Duration,
) -> DeliveryPlan {
    let workspaces = workspaces(
        sizes.burst_workspaces,
        sizes.burst_users,
        sizes.burst_channels,
        10,
    );
    let segments = spread(&workspaces, sizes.burst);
    DeliveryPlan {
        workload: "burst",
        db,
        strategy,
        latency_ms,
        concurrency,
        processes: 1,
        workspaces,
        segments,
        window: Duration::ZERO,
        budget: (strategy == Strategy::Naive).then_some(budget),
        hot_channel: None,
        measure_claim: false,
    }
}

#[allow(clippy::too_many_arguments)]
fn hot(
    sizes: &Sizes,
    db: Db,
    strategy: Strategy,
    latency_ms: u64,
    concurrency: u32,
    with_hot: bool,
    budget: Duration,
) -> DeliveryPlan {
    // Channel 0 is the hot one; the others are 1..=hot_channels.
    let workspaces = workspaces(1, 1_000, sizes.hot_channels + 1, 0);
    let mut segments = vec![Segment {
        workspace: 0,
        first: 0,
        count: sizes.hot_others,
        channels: sizes.hot_channels,
        channel_offset: 1,
        due_offset: Duration::ZERO,
        step: Duration::ZERO,
        per_step: u64::MAX,
    }];
    if with_hot {
        segments.push(Segment {
            workspace: 0,
            first: sizes.hot_others,
            count: sizes.hot,
            channels: 1,
            channel_offset: 0,
            due_offset: Duration::ZERO,
            step: Duration::ZERO,
            per_step: u64::MAX,
        });
    }
    DeliveryPlan {
        workload: if with_hot { "hot" } else { "hot-absent" },
        db,
        strategy,
        latency_ms,
        concurrency,
        processes: 1,
        hot_channel: Some(super::delivery::channel_name(&workspaces[0], 0)),
        workspaces,
        segments,
        window: Duration::ZERO,
        budget: (strategy == Strategy::Naive).then_some(budget),
        measure_claim: false,
    }
}

fn steady(sizes: &Sizes, db: Db, latency_ms: u64, concurrency: u32) -> DeliveryPlan {
    let workspaces = workspaces(10, 1_000, 10_000, 10);
    let n = workspaces.len() as u64;
    // Each workspace holds its share of the rows; together they have
    // `steady_per_minute` due at each minute.
    let segments = (0..workspaces.len())
        .map(|w| Segment {
            workspace: w,
            first: 0,
            count: sizes.steady_rows / n,
            channels: 10_000,
            channel_offset: 0,
            due_offset: Duration::ZERO,
            step: Duration::from_secs(60),
            per_step: sizes.steady_per_minute / n,
        })
        .collect();
    DeliveryPlan {
        workload: "steady",
        db,
        strategy: Strategy::Pipeline,
        latency_ms,
        concurrency,
        processes: 1,
        workspaces,
        segments,
        window: Duration::from_secs(60 * (sizes.steady_minutes - 1)),
        budget: None,
        hot_channel: None,
        measure_claim: true,
    }
}

fn scaleout(sizes: &Sizes, processes: usize, latency_ms: u64, concurrency: u32) -> DeliveryPlan {
    let workspaces = workspaces(4, 1_000, 15_000, 10);
    let segments = spread(&workspaces, sizes.scaleout);
    DeliveryPlan {
        workload: "scaleout",
        db: Db::Postgres,
        strategy: Strategy::Pipeline,
        latency_ms,
        concurrency,
        processes,
        workspaces,
        segments,
        window: Duration::ZERO,
        budget: None,
        hot_channel: None,
        measure_claim: false,
    }
}
