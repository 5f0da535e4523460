//! The slash command under load: `serve` as deployed, and a load client
//! in this process playing Slack, which signs each `/schedule in 2 hours …`
//! (a quick-form command) as Slack signs it and keeps `clients` of them
//! in flight for the whole duration. Whatever rate that sustains is the
//! app's highest; every acknowledgement's time is kept for p50 and p99.
//!
//! Each user starts with `waiting` messages pending, so that the command's
//! per-user check (at most 1,000 waiting) runs against a full row.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use chrono::Utc;

use super::Db;
use super::check::Quantiles;
use super::database::{BenchDb, RunDir};
use super::delivery::{Segment, WorkspaceSeed};
use super::procs::{self, Context, Proc};
use super::report::RunResult;
use crate::sim::bench::{BenchTokens, BenchWorkspace};
use crate::store::{SeedMessages, SeedUser, Store};

#[derive(Debug, Clone)]
pub struct CommandsPlan {
    pub db: Db,
    pub users: u32,
    pub waiting: u64,
    pub clients: usize,
    pub duration: Duration,
}

impl CommandsPlan {
    pub fn label(&self) -> String {
        format!("commands {:?} ×{}", self.db, self.clients)
    }
}

const TEAM: &str = "TC0";
const CHANNELS: u32 = 100;

pub async fn run(context: &Context, plan: &CommandsPlan, run: usize) -> anyhow::Result<RunResult> {
    let dir = RunDir::new()?;
    let loadavg = procs::loadavg();
    let db = BenchDb::create(plan.db, dir.path(), &context.postgres_url).await?;
    let result = run_on(context, plan, run, &dir, &db, loadavg).await;
    db.drop_now().await;
    result
}

async fn run_on(
    context: &Context,
    plan: &CommandsPlan,
    run: usize,
    dir: &RunDir,
    db: &BenchDb,
    loadavg: String,
) -> anyhow::Result<RunResult> {
    let http = reqwest::Client::new();
    let (mut sim, sim_url) = procs::start_sim(context, dir.path(), 50).await?;
    let store = Store::connect(&db.url, context.cipher.clone()).await?;
    store.migrate().await?;
    seed(&http, &sim_url, &store, plan).await?;
    store.close().await;

    let port = procs::free_port()?;
    let url = format!("http://127.0.0.1:{port}");
    let mut env = context.app_env(&db.url, &sim_url);
    env.extend([
        ("BIND_ADDR".to_owned(), format!("127.0.0.1:{port}")),
        ("PUBLIC_URL".to_owned(), url.clone()),
    ]);
    let mut serve = Proc::spawn("serve", &context.exe, &["serve"], &env, dir.path(), false)?;
    procs::wait_ready(&http, &format!("{url}/readyz"), Duration::from_secs(120)).await?;
    let requests_before = statements(&http, &url).await?;
    let app_before = serve.cpu_seconds();
    let bench_before = procs::cpu_seconds(std::process::id()).unwrap_or_default();
    let db_window = procs::CpuWindow::start(&db.server_pids());
    let machine = procs::machine_ticks();

    let load = load(&context.sim.signing_secret, &url, plan).await?;

    let (busy, total) = procs::machine_ticks();
    let app_cpu = serve.cpu_seconds() - app_before;
    let bench_cpu = procs::cpu_seconds(std::process::id()).unwrap_or_default() - bench_before;
    let db_cpu = db_window.seconds(&db.server_pids());
    let requests = statements(&http, &url).await? - requests_before;
    serve.stop(Duration::from_secs(20)).await?;
    sim.stop(Duration::from_secs(10)).await?;

    let mut acks = load.acks_us;
    let commands = acks.len() as u64;
    let q = Quantiles::of(&mut acks).unwrap_or_default();
    let per_command = |v: f64| (commands > 0).then(|| v / commands as f64);
    let mut notes = Vec::new();
    if load.failed > 0 {
        notes.push(format!("{} commands not answered 200", load.failed));
    }
    Ok(RunResult {
        workload: "commands".into(),
        db: format!("{:?}", plan.db).to_lowercase(),
        strategy: "pipeline".into(),
        run,
        concurrency: plan.clients as u32,
        processes: 1,
        messages: plan.users as u64 * plan.waiting,
        users: u64::from(plan.users),
        commands: Some(commands),
        commands_per_s: Some(commands as f64 / load.elapsed.as_secs_f64()),
        ack_p50_ms: Some(q.p50 / 1000.0),
        ack_p99_ms: Some(q.p99 / 1000.0),
        app_cpu_ms_per_command: per_command(app_cpu * 1000.0),
        statements_per_command: per_command(requests as f64),
        commands_refused: Some(load.refused),
        app_cpu_s: Some(app_cpu),
        db_cpu_s: (plan.db == Db::Postgres).then_some(db_cpu),
        bench_cpu_s: Some(bench_cpu),
        machine_busy_pct: Some(
            busy.saturating_sub(machine.0) as f64 * 100.0
                / total.saturating_sub(machine.1).max(1) as f64,
        ),
        errors: load.failed,
        loadavg,
        notes,
        complete_expected: true,
        ..RunResult::default()
    })
}

/// One workspace, its users connected, each with `waiting` messages a day ahead.
async fn seed(
    http: &reqwest::Client,
    sim_url: &str,
    store: &Store,
    plan: &CommandsPlan,
) -> anyhow::Result<()> {
    let tokens: BenchTokens = http
        .post(format!("{sim_url}/_sim/bench/workspace"))
        .json(&BenchWorkspace {
            team_id: TEAM.into(),
            users: plan.users,
            channels: CHANNELS,
            expired_every: 0,
        })
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let now = Utc::now();
    let expires = now + chrono::Duration::hours(12);
    store
        .upsert_installation(
            &crate::store::Installation {
                team_id: TEAM.into(),
                team_name: "Bench commands".into(),
                bot_user_id: Some(tokens.bot_user_id.clone()),
                bot: crate::store::TokenGrant {
                    access_token: tokens.bot_access.clone().into(),
                    refresh_token: Some(tokens.bot_refresh.clone().into()),
                    expires_at: Some(expires),
                },
                installed_by: crate::sim::bench::user_id(TEAM, 0),
            },
            now,
        )
        .await?;
    let users: Vec<SeedUser> = tokens
        .users
        .iter()
        .map(|[user_id, access, refresh]| SeedUser {
            user_id: user_id.clone(),
            access_token: access.clone().into(),
            refresh_token: refresh.clone().into(),
            expires_at: expires,
        })
        .collect();
    store.seed_users(TEAM, &users, "Europe/Berlin", now).await?;
    let workspace = WorkspaceSeed {
        team_id: TEAM.into(),
        users: plan.users,
        channels: CHANNELS,
        expired_every: 0,
    };
    let segment = Segment {
        workspace: 0,
        first: 0,
        count: u64::from(plan.users) * plan.waiting,
        channels: CHANNELS,
        channel_offset: 0,
        due_offset: Duration::ZERO,
        step: Duration::from_secs(1),
        per_step: u64::from(plan.users),
    };
    let due = chrono::DurationRound::duration_trunc(
        now + chrono::Duration::days(1),
        chrono::Duration::seconds(1),
    )?;
    store
        .seed_messages(&SeedMessages {
            team_id: workspace.team_id.clone(),
            user_prefix: crate::sim::bench::user_prefix(TEAM),
            users: workspace.users,
            channel_prefix: crate::sim::bench::channel_prefix(TEAM),
            channels: segment.channels,
            channel_offset: 0,
            first: 0,
            count: segment.count,
            due,
            step: chrono::Duration::seconds(1),
            per_step: segment.per_step,
            text: "Waiting #".into(),
        })
        .await?;
    store.analyze().await?;
    Ok(())
}

/// The request handlers' statements so far, from `serve`'s metrics.
async fn statements(http: &reqwest::Client, url: &str) -> anyhow::Result<u64> {
    let text = http
        .get(format!("{url}/metrics"))
        .send()
        .await?
        .error_for_status()?
        .text()
        .await?;
    Ok(text
        .lines()
        .find_map(|l| {
            l.strip_prefix("db_statements_total{source=\"requests\"}")?
                .trim()
                .parse::<f64>()
                .ok()
        })
        .map_or(0, |v| v as u64))
}

struct Load {
    acks_us: Vec<i64>,
    refused: u64,
    failed: u64,
    elapsed: Duration,
}

/// `plan.clients` senders, each sending its next command as soon as the
/// last is answered, for `plan.duration`.
async fn load(signing_secret: &str, url: &str, plan: &CommandsPlan) -> anyhow::Result<Load> {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(plan.clients)
        .timeout(Duration::from_secs(10))
        .build()?;
    let sent = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let until = started + plan.duration;
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..plan.clients {
        let (client, sent, secret) = (client.clone(), sent.clone(), signing_secret.to_owned());
        let url = format!("{url}/slack/commands");
        let users = plan.users;
        tasks.spawn(async move {
            let mut acks = Vec::new();
            let (mut refused, mut failed) = (0u64, 0u64);
            while Instant::now() < until {
                let n = sent.fetch_add(1, Ordering::Relaxed);
                let body = command_body(n, users);
                let ts = Utc::now().timestamp();
                let signature = crate::sim::outbound::sign(&secret, ts, &body);
                let at = Instant::now();
                let answer = client
                    .post(&url)
                    .header("content-type", "application/x-www-form-urlencoded")
                    .header("x-slack-request-timestamp", ts.to_string())
                    .header("x-slack-signature", signature)
                    .body(body)
                    .send()
                    .await;
                let ok = match answer {
                    Ok(response) if response.status().is_success() => {
                        let text = response.text().await.unwrap_or_default();
                        if text.contains("already have 1,000") {
                            refused += 1;
                        }
                        true
                    }
                    _ => false,
                };
                if ok {
                    acks.push(at.elapsed().as_micros() as i64);
                } else {
                    failed += 1;
                }
            }
            (acks, refused, failed)
        });
    }
    let mut load = Load {
        acks_us: Vec::new(),
        refused: 0,
        failed: 0,
        elapsed: Duration::ZERO,
    };
    while let Some(done) = tasks.join_next().await {
        let (acks, refused, failed) = done?;
        load.acks_us.extend(acks);
        load.refused += refused;
        load.failed += failed;
    }
    load.elapsed = started.elapsed();
    Ok(load)
}

/// The `n`-th command, from user `n % users`, as Slack posts it.
fn command_body(n: u64, users: u32) -> String {
    let user = crate::sim::bench::user_id(TEAM, (n % u64::from(users)) as u32);
    let channel = crate::sim::bench::channel_id(TEAM, (n % u64::from(CHANNELS)) as u32);
    let text = format!("in 2 hours Standup moved to 11, see the notes #{n}");
    let trigger = format!(
        "{n}.{}.{}",
        Utc::now().timestamp_millis(),
        hex::encode(rand::random::<[u8; 8]>())
    );
    let response_url = format!("http://127.0.0.1:9/_sim/response/{n}");
    serde_urlencoded::to_string([
        ("token", "deprecated-verification-token"),
        ("team_id", TEAM),
        ("team_domain", "tc0"),
        ("channel_id", &channel),
        ("channel_name", "bench"),
        ("user_id", &user),
        ("user_name", "bench"),
        ("command", "/schedule"),
        ("text", &text),
        ("api_app_id", "A0SIMAPP"),
        ("response_url", &response_url),
        ("trigger_id", &trigger),
    ])
    .unwrap_or_default()
}
