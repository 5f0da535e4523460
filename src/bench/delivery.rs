//! One delivery run, start to end:
//!
//! 1. a fresh database, and the simulator as a child process;
//! 2. workspaces, users and tokens created in the simulator and stored as
//!    an install would store them; messages generated in the database,
//!    due at a moment `T0` chosen so that seeding and start-up end first;
//! 3. the worker processes (`serve`, or the naive cycle) start and wait,
//!    as a deployed app waits, for `T0`;
//! 4. from `T0` the simulator's tally is watched until every message due
//!    in the run was posted (or the naive cycle's budget ran out); the CPU
//!    of the app, the simulator and the database is read for that window;
//! 5. the outcomes are written; statements and memory read off the
//!    workers; every message checked against what Slack received.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

use super::check::{self, Checked};
use super::database::{BenchDb, RunDir};
use super::procs::{self, Context, CpuWindow, Proc};
use super::report::RunResult;
use super::{Db, workers};
use crate::sim::state::TallySummary;
use crate::store::Store;

/// The cycle a run drives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    /// `serve`'s pipeline.
    Pipeline,
    /// The seed's sequential cycle (`crate::bench::naive`).
    Naive,
}

/// A workspace of the run: its users (every n-th with an expired token)
/// and conversations, named as [`crate::sim::bench`] names them.
#[derive(Debug, Clone)]
pub struct WorkspaceSeed {
    pub team_id: String,
    pub users: u32,
    pub channels: u32,
    pub expired_every: u32,
}

/// Messages `first..first + count` of a workspace: message `i` from user
/// `i % users`, into conversation `channel_offset + i % channels`, due at
/// `T0 + due_offset + (i / per_step) * step`.
#[derive(Debug, Clone)]
pub struct Segment {
    pub workspace: usize,
    pub first: u64,
    pub count: u64,
    pub channels: u32,
    pub channel_offset: u32,
    pub due_offset: Duration,
    pub step: Duration,
    pub per_step: u64,
}

#[derive(Debug, Clone)]
pub struct DeliveryPlan {
    pub workload: &'static str,
    pub db: Db,
    pub strategy: Strategy,
    pub latency_ms: u64,
    pub concurrency: u32,
    pub processes: usize,
    pub workspaces: Vec<WorkspaceSeed>,
    pub segments: Vec<Segment>,
    /// Messages due from `T0` to `T0 + window` are the run's; later ones
    /// only fill the table.
    pub window: Duration,
    /// The naive cycle stops after this long.
    pub budget: Option<Duration>,
    /// Counted apart (the hot workload's busy conversation).
    pub hot_channel: Option<String>,
    /// Time the claim at the table's full size afterwards.
    pub measure_claim: bool,
}

/// The `i`-th conversation of a workspace.
pub fn channel_name(workspace: &WorkspaceSeed, i: u32) -> String {
    crate::sim::bench::channel_id(&workspace.team_id, i)
}

impl DeliveryPlan {
    pub fn label(&self) -> String {
        format!(
            "{} {:?} {:?} {} ms ×{} p{}",
            self.workload,
            self.db,
            self.strategy,
            self.latency_ms,
            self.concurrency,
            self.processes
        )
    }

    fn rows(&self) -> u64 {
        self.segments.iter().map(|s| s.count).sum()
    }

    /// Messages due within the run's window.
    fn due_in_window(&self) -> u64 {
        self.segments
            .iter()
            .map(|s| {
                if s.due_offset > self.window {
                    return 0;
                }
                if s.step.is_zero() {
                    return s.count;
                }
                let steps = (self.window - s.due_offset).as_secs() / s.step.as_secs().max(1) + 1;
                let last = steps.saturating_mul(s.per_step);
                s.count.min(last.saturating_sub(s.first))
            })
            .sum()
    }
}

/// Rows the database generates a second, at the least: with a margin, how
/// far ahead `T0` is put. Measured on the shared two-core machine under a
/// load of 10 or more: SQLite 64,000 a second (10,000,000 rows in 157 s),
/// PostgreSQL under 30,000 (10,000,000 rows overran a plan of 60,000).
fn seed_rate(db: Db) -> f64 {
    match db {
        Db::Sqlite => 50_000.0,
        Db::Postgres => 20_000.0,
    }
}

pub async fn run(context: &Context, plan: &DeliveryPlan, run: usize) -> anyhow::Result<RunResult> {
    let dir = RunDir::new()?;
    let loadavg = procs::loadavg();
    let db = BenchDb::create(plan.db, dir.path(), &context.postgres_url).await?;
    let result = run_on(context, plan, run, &dir, &db, loadavg).await;
    db.drop_now().await;
    result
}

async fn run_on(
    context: &Context,
    plan: &DeliveryPlan,
    run: usize,
    dir: &RunDir,
    db: &BenchDb,
    loadavg: String,
) -> anyhow::Result<RunResult> {
    let http = reqwest::Client::new();
    let (sim, sim_url) = procs::start_sim(context, dir.path(), plan.latency_ms).await?;
    let store = Store::connect(&db.url, context.cipher.clone()).await?;
    store.migrate().await?;
    let seeding = Instant::now();
    let now = Utc::now();
    for workspace in &plan.workspaces {
        super::seed::workspace(&http, &sim_url, &store, workspace, now).await?;
    }
    let lead = Duration::from_secs_f64(plan.rows() as f64 / seed_rate(plan.db) * 1.5)
        + Duration::from_secs(15);
    let t0 = super::seed::whole_second(Utc::now() + chrono::Duration::from_std(lead)?);
    super::seed::messages(&store, plan, t0).await?;
    store.analyze().await?;
    let seed_s = seeding.elapsed().as_secs_f64();
    // The workers' own connections are what the database's CPU is read from.
    store.close().await;
    let workers = workers::start(context, plan, dir.path(), &db.url, &sim_url, &http).await?;
    let slack_room = (t0 - Utc::now()).num_milliseconds();
    if slack_room < 1_000 {
        anyhow::bail!(
            "seeding and start-up ended {} ms before the messages' due time: too late to measure",
            slack_room
        );
    }
    sleep_until(t0 - chrono::Duration::milliseconds(500)).await;
    let window = Window::start(&workers, &sim, db);
    let done = watch(&http, &sim_url, plan, t0).await?;
    let cpu = window.read(&workers, &sim, db);

    let store = Store::connect(&db.url, context.cipher.clone()).await?;
    let settled_by = t0 + chrono::Duration::from_std(plan.window)?;
    let figures = workers::finish(workers, &store, &http, done.posted).await?;
    let posts = http
        .get(format!("{sim_url}/_sim/bench/posts"))
        .send()
        .await?
        .error_for_status()?
        .text()
        .await?;
    let posts = crate::sim::state::parse_posts(&posts);
    let rows = store.delivery_rows(settled_by).await?;
    let checked = check::check(&rows, &posts, plan.hot_channel.as_deref());
    let claim = if plan.measure_claim {
        Some(super::idle::time_claims(&store, settled_by + chrono::Duration::seconds(60)).await?)
    } else {
        None
    };
    store.close().await;
    let mut sim = sim;
    sim.stop(Duration::from_secs(10)).await?;

    let mut result = RunResult {
        workload: plan.workload.into(),
        db: format!("{:?}", plan.db).to_lowercase(),
        strategy: format!("{:?}", plan.strategy).to_lowercase(),
        run,
        latency_ms: plan.latency_ms,
        concurrency: if plan.strategy == Strategy::Naive {
            1
        } else {
            plan.concurrency
        },
        processes: plan.processes,
        users: plan.workspaces.iter().map(|w| u64::from(w.users)).sum(),
        channels: plan.workspaces.iter().map(|w| u64::from(w.channels)).sum(),
        loadavg,
        seed_s: Some(seed_s),
        complete_expected: plan.budget.is_none(),
        ..RunResult::default()
    };
    fill(
        &mut result,
        plan,
        t0,
        &checked,
        &done.summary,
        &figures,
        &cpu,
    );
    if let Some((claim_ms, claim_plan)) = claim {
        result.claim_ms = Some(claim_ms);
        result.claim_plan = Some(claim_plan);
    }
    Ok(result)
}

/// Figures from the check, the tally, the workers and /proc.
fn fill(
    result: &mut RunResult,
    plan: &DeliveryPlan,
    t0: DateTime<Utc>,
    checked: &Checked,
    summary: &TallySummary,
    figures: &workers::Figures,
    cpu: &Cpu,
) {
    let t0_ms = t0.timestamp_millis();
    let posted = checked.posted as u64 + checked.hot.as_ref().map_or(0, |h| h.posted as u64);
    result.messages = checked.messages as u64;
    result.posted = checked.posted as u64;
    result.duplicates = checked.duplicates;
    result.early = checked.early as u64;
    result.errors = (checked.failed + checked.unrecorded) as u64;
    if let (true, Some(last)) = (plan.window.is_zero(), checked.last_ms) {
        let drain = (last - t0_ms).max(1) as f64 / 1000.0;
        result.drain_s = Some(drain);
        result.posts_per_s = Some(checked.posted as f64 / drain);
    }
    if let Some(q) = checked.lateness {
        result.lateness_p50_ms = Some(q.p50);
        result.lateness_p99_ms = Some(q.p99);
        result.lateness_max_ms = Some(q.max);
    }
    if let Some(hot) = &checked.hot {
        result.hot_messages = Some(hot.messages as u64);
        result.hot_posted = Some(hot.posted as u64);
        result.hot_drain_s = hot.last_ms.map(|l| (l - t0_ms) as f64 / 1000.0);
        result.hot_max_per_10s = Some(hot.max_per_10s as u64);
    }
    let calls: u64 = summary.calls.values().flat_map(|m| m.values()).sum();
    if posted > 0 {
        result.slack_calls_per_message = Some(calls as f64 / posted as f64);
    }
    result.ratelimited = summary
        .calls
        .get("chat.postMessage")
        .and_then(|m| m.get("ratelimited"))
        .copied()
        .unwrap_or(0);
    result.db_statements = figures.statements;
    result.refreshed_users = figures.refreshed;
    if let (Some(statements), true) = (figures.statements, posted > 0) {
        let beyond = statements.saturating_sub(figures.refreshed.unwrap_or(0));
        result.statements_per_1000 = Some(beyond as f64 * 1000.0 / posted as f64);
    }
    result.peak_rss_mb = figures.peak_rss_mb;
    result.app_cpu_s = Some(cpu.app);
    result.sim_cpu_s = Some(cpu.sim);
    result.db_cpu_s = (plan.db == Db::Postgres).then_some(cpu.db);
    result.bench_cpu_s = Some(cpu.bench);
    result.machine_busy_pct = Some(cpu.busy_pct);
    if summary.unnamed_posts > 0 {
        result
            .notes
            .push(format!("{} posts named no message", summary.unnamed_posts));
    }
    result.notes.extend(figures.notes.iter().cloned());
}

async fn sleep_until(at: DateTime<Utc>) {
    if let Ok(wait) = (at - Utc::now()).to_std() {
        tokio::time::sleep(wait).await;
    }
}

/// How the watch ended.
struct Done {
    summary: TallySummary,
    posted: u64,
}

/// Reads the tally four times a second until every message due in the run
/// was posted and the window has passed, or the budget (or a generous
/// deadline) runs out.
async fn watch(
    http: &reqwest::Client,
    sim_url: &str,
    plan: &DeliveryPlan,
    t0: DateTime<Utc>,
) -> anyhow::Result<Done> {
    let expected = plan.due_in_window();
    let window_end = t0 + chrono::Duration::from_std(plan.window)?;
    let hot = plan
        .segments
        .iter()
        .filter(|s| s.channels == 1)
        .map(|s| s.count)
        .sum::<u64>();
    let deadline = match plan.budget {
        Some(budget) => t0 + chrono::Duration::from_std(budget)?,
        None => {
            window_end + chrono::Duration::seconds(120 + (expected / 200) as i64 + 2 * hot as i64)
        }
    };
    loop {
        tokio::time::sleep(Duration::from_millis(250)).await;
        let summary: TallySummary = http
            .get(format!("{sim_url}/_sim/bench/summary"))
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        let now = Utc::now();
        let all = summary.distinct >= expected && now >= window_end;
        if all || now >= deadline {
            if !all && plan.budget.is_none() {
                eprintln!(
                    "{}: {} of {expected} posted by the deadline",
                    plan.label(),
                    summary.distinct
                );
            }
            return Ok(Done {
                posted: summary.distinct,
                summary,
            });
        }
    }
}

/// CPU seconds over the watch: the app's processes, the simulator, the
/// database's server processes for this database, this process; and how
/// busy the whole machine was.
pub struct Cpu {
    pub app: f64,
    pub sim: f64,
    pub db: f64,
    pub bench: f64,
    pub busy_pct: f64,
}

struct Window {
    app: CpuWindow,
    sim: f64,
    db: CpuWindow,
    bench: f64,
    machine: (u64, u64),
}

impl Window {
    fn start(workers: &workers::Workers, sim: &Proc, db: &BenchDb) -> Self {
        Self {
            app: CpuWindow::start(&workers.pids()),
            sim: sim.cpu_seconds(),
            db: CpuWindow::start(&db.server_pids()),
            bench: procs::cpu_seconds(std::process::id()).unwrap_or_default(),
            machine: procs::machine_ticks(),
        }
    }

    fn read(&self, workers: &workers::Workers, sim: &Proc, db: &BenchDb) -> Cpu {
        let (busy, total) = procs::machine_ticks();
        let busy = busy.saturating_sub(self.machine.0) as f64;
        let total = total.saturating_sub(self.machine.1).max(1) as f64;
        Cpu {
            app: self.app.seconds(&workers.pids()),
            sim: sim.cpu_seconds() - self.sim,
            db: self.db.seconds(&db.server_pids()),
            bench: procs::cpu_seconds(std::process::id()).unwrap_or_default() - self.bench,
            busy_pct: busy * 100.0 / total,
        }
    }
}
