//! How long the stats API's queries take with a million pending messages.
//!
//! `cargo bench --bench stats_query` seeds a fresh SQLite file (and a fresh
//! PostgreSQL database, when `TEST_DATABASE_URL` or the local server
//! answers) with 1,000,000 pending, 200,000 sent and 10,000 failed messages
//! across 100 workspaces, prints the plans, then times the whole stats
//! computation (global and for one workspace) and prints median and p95,
//! beside the time of counting the table itself.
//! `STATS_BENCH_ROWS` changes the pending count.

use std::time::{Duration, Instant};

use slack_scheduler::crypto::TokenCipher;
use slack_scheduler::store::{Backend, Store};
use sqlx::Connection;

const RUNS: usize = 40;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let pending: u64 = std::env::var("STATS_BENCH_ROWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let dir = tempfile::tempdir()?;
    let sqlite = format!("sqlite://{}/bench.db", dir.path().display());
    run("SQLite", &sqlite, pending).await?;

    let admin = std::env::var("TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    match sqlx::PgConnection::connect(&admin).await {
        Ok(mut conn) => {
            let name = format!("sst_bench_{}", std::process::id());
            sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                .execute(&mut conn)
                .await?;
            let url = format!(
                "{}/{name}",
                admin
                    .rsplit_once('/')
                    .map(|(base, _)| base)
                    .unwrap_or(&admin)
            );
            let result = run("PostgreSQL", &url, pending).await;
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "DROP DATABASE {name} WITH (FORCE)"
            )))
            .execute(&mut conn)
            .await?;
            result?;
        }
        Err(err) => println!("PostgreSQL skipped: {err}"),
    }
    Ok(())
}

async fn run(label: &str, url: &str, pending: u64) -> Result<(), Box<dyn std::error::Error>> {
    let store = Store::connect(url, TokenCipher::random()).await?;
    store.migrate().await?;
    let started = Instant::now();
    seed(&store, pending).await?;
    println!(
        "\n== {label}: seeded {pending} pending, 200000 sent, 10000 failed in {:.1?}",
        started.elapsed()
    );

    for (what, team) in [
        ("all workspaces", None),
        ("one workspace (?team=T0042)", Some("T0042")),
    ] {
        let mut timings = Vec::with_capacity(RUNS);
        let mut stats = None;
        for _ in 0..RUNS {
            let at = Instant::now();
            stats = Some(store.message_stats(team).await?);
            timings.push(at.elapsed());
        }
        timings.sort();
        let median = timings[RUNS / 2];
        let p95 = timings[RUNS * 95 / 100];
        println!(
            "{label} stats, {what}: median {} ms, p95 {} ms  ({stats:?})",
            ms(median),
            ms(p95)
        );
    }
    // Side by side: the same figures counted from the table itself, which
    // is what the trigger-kept counters replace.
    let mut timings = Vec::with_capacity(RUNS);
    for _ in 0..RUNS / 4 {
        let at = Instant::now();
        store
            .query_text_raw("SELECT status, COUNT(*) FROM scheduled_messages GROUP BY status")
            .await?;
        timings.push(at.elapsed());
    }
    timings.sort();
    println!(
        "{label} counting the table instead (GROUP BY status): median {} ms",
        ms(timings[timings.len() / 2])
    );
    println!("-- plan: the delivery cycle's claim (due now, 1000 at a time)");
    for line in store
        .explain_claim(chrono::Utc::now() + chrono::Duration::hours(1), 1000)
        .await?
        .lines()
    {
        println!("   {line}");
    }
    for (what, sql) in plans(store.backend()) {
        println!("-- plan: {what}");
        for line in store.query_text_raw(&sql).await? {
            println!("   {}", line.join(" "));
        }
    }
    store.close().await;
    Ok(())
}

fn ms(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64() * 1000.0)
}

fn plans(backend: Backend) -> Vec<(&'static str, String)> {
    let (explain, hint) = match backend {
        Backend::Sqlite => (
            "EXPLAIN QUERY PLAN",
            "INDEXED BY scheduled_messages_pending_due",
        ),
        Backend::Postgres => ("EXPLAIN (ANALYZE, BUFFERS, COSTS OFF)", ""),
    };
    vec![
        (
            "counts, all workspaces",
            format!(
                "{explain} SELECT status, CAST(SUM(n) AS BIGINT) FROM message_counts GROUP BY status"
            ),
        ),
        (
            "counts, one workspace",
            format!("{explain} SELECT status, n FROM message_counts WHERE team_id = 'T0042'"),
        ),
        (
            "pending range, all workspaces",
            format!(
                "{explain} SELECT (SELECT due_at FROM scheduled_messages {hint} WHERE status = 'pending' ORDER BY due_at LIMIT 1), (SELECT due_at FROM scheduled_messages {hint} WHERE status = 'pending' ORDER BY due_at DESC LIMIT 1)"
            ),
        ),
        (
            "pending range, one workspace",
            format!(
                "{explain} SELECT (SELECT due_at FROM scheduled_messages WHERE status = 'pending' AND team_id = 'T0042' ORDER BY due_at LIMIT 1), (SELECT due_at FROM scheduled_messages WHERE status = 'pending' AND team_id = 'T0042' ORDER BY due_at DESC LIMIT 1)"
            ),
        ),
    ]
}

/// Rows straight from SQL: a million inserts through the app would time the seeding, not the query.
async fn seed(store: &Store, pending: u64) -> Result<(), Box<dyn std::error::Error>> {
    let (series, ts) = match store.backend() {
        Backend::Sqlite => (
            "WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < {n})",
            "strftime('%Y-%m-%dT%H:%M:%S+00:00', 'now', '+' || i || ' seconds')",
        ),
        Backend::Postgres => (
            "WITH s(i) AS (SELECT generate_series(1, {n}))",
            "now() + make_interval(secs => i)",
        ),
    };
    // A thousand authors, as in a real deployment.
    store
        .execute_raw(&format!(
            "{} INSERT INTO users (team_id, user_id, created_at, updated_at)
             SELECT 'T0000', 'U' || i, '2026-01-01T00:00:00+00:00', '2026-01-01T00:00:00+00:00' FROM s",
            series.replace("{n}", "1000")
        ))
        .await?;
    for (status, n, wake) in [
        ("pending", pending, true),
        ("sent", 200_000, false),
        ("failed", 10_000, false),
    ] {
        let wake_at = if wake { ts } else { "NULL" };
        let sql = format!(
            "{series} INSERT INTO scheduled_messages (author_id, team_id, user_id, channel_id, text, due_at, status, wake_at, created_at, updated_at)
             SELECT 1 + i % 1000, 'T' || substr('0000' || (i % 100), -4, 4), 'U0000', 'C0001', 'benchmark message', {ts}, '{status}', {wake_at}, {ts}, {ts} FROM s",
            series = series.replace("{n}", &n.to_string()),
        );
        let sql = match store.backend() {
            Backend::Sqlite => sql,
            Backend::Postgres => sql.replace(
                "substr('0000' || (i % 100), -4, 4)",
                "lpad((i % 100)::text, 4, '0')",
            ),
        };
        store.execute_raw(&sql).await?;
    }
    match store.backend() {
        Backend::Sqlite => store.execute_raw("ANALYZE").await?,
        Backend::Postgres => {
            store
                .execute_raw("VACUUM ANALYZE scheduled_messages")
                .await?
        }
    };
    Ok(())
}
