//! The app under test: `serve` processes configured by the same variables
//! as a deployment (or the naive cycle's process), started before the
//! messages come due and stopped once their outcomes are written; what
//! they report of themselves (statements, refreshes) and of their memory.

use std::path::Path;
use std::time::Duration;

use super::delivery::{DeliveryPlan, Strategy};
use super::procs::{self, Context, Proc};
use crate::store::Store;

pub struct Workers {
    strategy: Strategy,
    procs: Vec<Proc>,
    /// Where each `serve` answers HTTP.
    urls: Vec<String>,
}

impl Workers {
    pub fn pids(&self) -> Vec<u32> {
        self.procs.iter().map(|p| p.pid).collect()
    }
}

/// What the workers said of themselves at the end.
#[derive(Debug, Default)]
pub struct Figures {
    /// Statements of the delivery cycle (all processes).
    pub statements: Option<u64>,
    /// User token pairs refreshed.
    pub refreshed: Option<u64>,
    /// The largest peak resident memory of one process.
    pub peak_rss_mb: Option<f64>,
    pub notes: Vec<String>,
}

pub async fn start(
    context: &Context,
    plan: &DeliveryPlan,
    dir: &Path,
    database_url: &str,
    sim_url: &str,
    http: &reqwest::Client,
) -> anyhow::Result<Workers> {
    let mut workers = Workers {
        strategy: plan.strategy,
        procs: Vec::new(),
        urls: Vec::new(),
    };
    for n in 0..plan.processes {
        let port = procs::free_port()?;
        let url = format!("http://127.0.0.1:{port}");
        let mut env = context.app_env(database_url, sim_url);
        env.extend([
            ("BIND_ADDR".to_owned(), format!("127.0.0.1:{port}")),
            ("PUBLIC_URL".to_owned(), url.clone()),
            (
                "SCHEDULER_CONCURRENCY".to_owned(),
                plan.concurrency.to_string(),
            ),
        ]);
        match plan.strategy {
            Strategy::Pipeline => {
                let serve = Proc::spawn(
                    &format!("serve-{n}"),
                    &context.exe,
                    &["serve"],
                    &env,
                    dir,
                    false,
                )?;
                workers.procs.push(serve);
                procs::wait_ready(http, &format!("{url}/readyz"), Duration::from_secs(120)).await?;
            }
            Strategy::Naive => {
                let mut naive =
                    Proc::spawn("naive", &context.exe, &["bench-naive"], &env, dir, true)?;
                naive
                    .wait_for_line(super::naive::READY, Duration::from_secs(120))
                    .await?;
                workers.procs.push(naive);
            }
        }
        workers.urls.push(url);
    }
    Ok(workers)
}

/// Waits for the pipeline to write the outcomes of the `posted` messages,
/// reads the workers' figures, and stops them.
pub async fn finish(
    mut workers: Workers,
    store: &Store,
    http: &reqwest::Client,
    posted: u64,
) -> anyhow::Result<Figures> {
    let mut figures = Figures::default();
    match workers.strategy {
        Strategy::Pipeline => {
            let give_up = tokio::time::Instant::now() + Duration::from_secs(120);
            loop {
                let stats = store.message_stats(None).await?;
                if stats.sending == 0 && stats.sent as u64 >= posted {
                    break;
                }
                if tokio::time::Instant::now() >= give_up {
                    figures.notes.push(format!(
                        "outcomes not all written 2 minutes after the last post: {stats:?}"
                    ));
                    break;
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            let mut statements = 0;
            let mut refreshed = 0;
            for url in &workers.urls {
                let metrics = http
                    .get(format!("{url}/metrics"))
                    .send()
                    .await?
                    .error_for_status()?
                    .text()
                    .await?;
                statements += metric(&metrics, "db_statements_total{source=\"cycle\"}");
                refreshed += metric(
                    &metrics,
                    "scheduler_token_refreshes_total{kind=\"user\",outcome=\"ok\"}",
                );
            }
            figures.statements = Some(statements);
            figures.refreshed = Some(refreshed);
        }
        Strategy::Naive => {}
    }
    figures.peak_rss_mb = workers.procs.iter().map(Proc::peak_rss_mb).reduce(f64::max);
    for proc in &mut workers.procs {
        proc.stop(Duration::from_secs(20)).await?;
    }
    if workers.strategy == Strategy::Naive {
        let report = workers
            .procs
            .iter()
            .flat_map(Proc::lines)
            .find_map(|line| serde_json::from_str::<super::naive::NaiveReport>(&line).ok())
            .ok_or_else(|| anyhow::anyhow!("the naive cycle said nothing as it stopped"))?;
        figures.statements = Some(report.statements);
        figures.refreshed = Some(report.refreshed);
    }
    Ok(figures)
}

/// A counter's value in Prometheus' text format (0 when absent).
fn metric(text: &str, name: &str) -> u64 {
    text.lines()
        .find_map(|line| line.strip_prefix(name)?.trim().parse::<f64>().ok())
        .map_or(0, |v| v as u64)
}

#[cfg(test)]
mod tests {
    #[test]
    fn counters_are_read_by_name_and_labels() {
        let text = "# TYPE db_statements_total counter\n\
                    db_statements_total{source=\"cycle\"} 42\n\
                    db_statements_total{source=\"requests\"} 7\n";
        assert_eq!(
            super::metric(text, "db_statements_total{source=\"cycle\"}"),
            42
        );
        assert_eq!(super::metric(text, "absent_total"), 0);
    }
}
