//! The cycle with nothing due, and the claim at a large table's size.
//!
//! The idle workload builds the scheduler as `serve` does (its settings
//! from the same configuration) over a table whose rows are all ahead,
//! runs single cycles and counts their statements, then lets its loop run
//! for a few ticks of a second to count what each wake-up costs.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use clap::Parser;
use secrecy::SecretString;
use tokio_util::sync::CancellationToken;

use super::Db;
use super::database::{BenchDb, RunDir};
use super::procs::{self, Context};
use super::report::RunResult;
use crate::scheduler::{Scheduler, Settings};
use crate::slack::{SlackApi, SlackOAuth};
use crate::store::{ClaimRequest, SeedMessages, SeedUser, Store};
use crate::tokens::Refresher;

const CYCLES: usize = 21;
const LOOP_FOR: Duration = Duration::from_secs(6);

pub async fn run(context: &Context, db: Db, rows: u64, run: usize) -> anyhow::Result<RunResult> {
    let dir = RunDir::new()?;
    let loadavg = procs::loadavg();
    let bench_db = BenchDb::create(db, dir.path(), &context.postgres_url).await?;
    let result = run_on(context, &bench_db, rows, run, loadavg).await;
    bench_db.drop_now().await;
    result
}

async fn run_on(
    context: &Context,
    bench_db: &BenchDb,
    rows: u64,
    run: usize,
    loadavg: String,
) -> anyhow::Result<RunResult> {
    let store = Store::connect(&bench_db.url, context.cipher.clone()).await?;
    store.migrate().await?;
    let now = Utc::now();
    // Authors with tokens that are never used: nothing is due.
    let users: Vec<SeedUser> = (0..100)
        .map(|i| SeedUser {
            user_id: crate::sim::bench::user_id("TB0", i),
            access_token: SecretString::from(format!("xoxe.xoxp-idle-{i}")),
            refresh_token: SecretString::from(format!("xoxe-1-idle-{i}")),
            expires_at: now + chrono::Duration::hours(12),
        })
        .collect();
    store.seed_users("TB0", &users, "UTC", now).await?;
    let ahead = now + chrono::Duration::hours(1);
    store
        .seed_messages(&SeedMessages {
            team_id: "TB0".into(),
            user_prefix: crate::sim::bench::user_prefix("TB0"),
            users: 100,
            channel_prefix: crate::sim::bench::channel_prefix("TB0"),
            channels: 1_000,
            channel_offset: 0,
            first: 0,
            count: rows,
            due: chrono::DurationRound::duration_trunc(ahead, chrono::Duration::seconds(1))?,
            step: chrono::Duration::seconds(1),
            per_step: 100,
            text: "Not yet #".into(),
        })
        .await?;
    store.analyze().await?;

    let settings = crate::config::Cli::try_parse_from(["slack-scheduler"])?
        .config
        .scheduler_settings();
    let scheduler = scheduler(&store, settings.clone())?;
    let mut statements = Vec::with_capacity(CYCLES);
    let mut times = Vec::with_capacity(CYCLES);
    for _ in 0..CYCLES {
        let started = Instant::now();
        let report = scheduler
            .run_cycle(Utc::now(), &CancellationToken::new())
            .await?;
        times.push(started.elapsed().as_secs_f64() * 1000.0);
        statements.push(report.db_statements as f64);
    }
    // The loop, woken every second by its tick with nothing to do.
    let looping = scheduler_with_tick(&store, settings)?;
    let count = looping.statement_count();
    let status = looping.status();
    let stop = CancellationToken::new();
    let task = {
        let (looping, stop) = (looping, stop.clone());
        tokio::spawn(async move { looping.run(stop).await })
    };
    tokio::time::sleep(LOOP_FOR).await;
    stop.cancel();
    task.await?;
    // One statement reads the database's clock as the loop starts; each
    // wake-up reads the next due time, then runs its cycle; the last read
    // was for a wake-up the stop cut short.
    let wakes = status.recent_cycles().len().max(1) as f64;
    let per_wake = count.get().saturating_sub(2) as f64 / wakes;
    store.close().await;
    Ok(RunResult {
        workload: "idle".into(),
        db: format!("{db:?}", db = bench_db.db).to_lowercase(),
        strategy: "pipeline".into(),
        run,
        messages: rows,
        users: 100,
        cycle_ms: median(times),
        cycle_statements: median(statements),
        loop_statements_per_wake: Some(per_wake),
        loadavg,
        complete_expected: true,
        ..RunResult::default()
    })
}

fn median(mut values: Vec<f64>) -> Option<f64> {
    values.sort_by(|a, b| a.total_cmp(b));
    values.get(values.len() / 2).copied()
}

/// The scheduler as `serve` builds it (`crate::app`), on `store`; Slack is
/// never called since nothing is due.
fn scheduler(store: &Store, settings: Settings) -> anyhow::Result<Scheduler> {
    let slack = SlackApi::new("http://127.0.0.1:9/api", settings.slack_timeout)?;
    let oauth = SlackOAuth::new(
        "bench",
        &SecretString::from("bench".to_owned()),
        "http://127.0.0.1:9/oauth/v2/authorize",
        "http://127.0.0.1:9/api",
        "http://127.0.0.1:9/slack/oauth/callback",
    )?;
    let refresher = Refresher::new(store.counted(), oauth, settings.refresh_lock);
    Ok(Scheduler::new(store, slack, refresher, settings))
}

fn scheduler_with_tick(store: &Store, settings: Settings) -> anyhow::Result<Scheduler> {
    scheduler(
        store,
        Settings {
            tick: Duration::from_secs(1),
            ..settings
        },
    )
}

/// The claim's time with the table as the run left it, at `at` (when a
/// batch is due): the median of a few claims of a full batch, and the
/// plan the database chooses for its selection.
pub async fn time_claims(store: &Store, at: DateTime<Utc>) -> anyhow::Result<(f64, String)> {
    let settings = Settings::default();
    let span = |d: Duration| chrono::Duration::from_std(d).unwrap_or_default();
    let mut times = Vec::new();
    for _ in 0..9 {
        let request = ClaimRequest {
            now: at,
            limit: settings.batch_size,
            lease_until: at + span(settings.lease),
            claim_token: hex::encode(rand::random::<[u8; 12]>()),
            refresh_before: at + span(settings.refresh_margin),
            refresh_lock_until: at + span(settings.refresh_lock),
            pace_interval: chrono::Duration::seconds(1),
            pace_tolerance: chrono::Duration::seconds(1),
            pace_budget: span(settings.pacing_budget),
        };
        let started = Instant::now();
        let claimed = store.claim_due(&request).await?;
        times.push(started.elapsed().as_secs_f64() * 1000.0);
        if claimed.is_empty() {
            break;
        }
    }
    let plan = store
        .explain_claim(at, i64::from(settings.batch_size))
        .await?;
    Ok((median(times).unwrap_or_default(), plan))
}
