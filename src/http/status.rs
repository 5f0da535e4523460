//! `GET /status`: the operator's page for teams without Prometheus, with the
//! same access rule as the stats API. Everything on it is cheap at any size:
//! the counts, up to 288 samples, the held-authors index, and the cycles
//! the scheduler keeps in memory.

use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use chrono::{DateTime, Utc};

use super::SharedState;
use super::chart::{self, Charts};
use super::operator::Operator;
use super::pages::render;
use crate::scheduler::CycleReport;
use crate::store::StatusSample;

pub fn router() -> Router<SharedState> {
    Router::new().route("/status", get(status))
}

/// One row of the recent-cycles table.
pub struct CycleRow {
    pub started: String,
    pub duration_ms: u64,
    pub claimed: usize,
    pub sent: usize,
    pub failed: usize,
    pub held: usize,
    pub db_statements: u64,
    pub lateness_p50: String,
    pub lateness_p99: String,
}

#[derive(Template)]
#[template(path = "status.html")]
pub struct StatusPage {
    pub ready: bool,
    pub problem: String,
    pub pending: i64,
    pub sending: i64,
    pub sent_24h: i64,
    pub failed_24h: i64,
    pub held_messages: i64,
    pub held_users: i64,
    pub lateness_p50: String,
    pub lateness_p99: String,
    pub charts: Charts,
    pub width: f64,
    pub height: f64,
    pub cycles: Vec<CycleRow>,
    pub generated: String,
}

/// Milliseconds as a person reads them; "—" when not measured.
fn millis(value: Option<u64>) -> String {
    match value {
        None => "—".to_owned(),
        Some(ms) if ms < 1_000 => format!("{ms} ms"),
        Some(ms) => format!("{:.1} s", ms as f64 / 1_000.0),
    }
}

fn cycle_row(report: &CycleReport) -> CycleRow {
    CycleRow {
        started: report.started_at.format("%H:%M:%S").to_string(),
        duration_ms: report.duration_ms,
        claimed: report.claimed,
        sent: report.sent,
        failed: report.failed,
        held: report.held,
        db_statements: report.db_statements,
        lateness_p50: millis(report.lateness_p50_ms),
        lateness_p99: millis(report.lateness_p99_ms),
    }
}

/// Lateness of recent cycles: the newest measured median, the worst p99.
fn lateness(cycles: &[CycleReport]) -> (String, String) {
    let p50 = cycles.iter().find_map(|c| c.lateness_p50_ms);
    let p99 = cycles.iter().filter_map(|c| c.lateness_p99_ms).max();
    (millis(p50), millis(p99))
}

/// Builds the page as of `now`.
pub async fn page(
    app: &SharedState,
    now: DateTime<Utc>,
) -> Result<StatusPage, crate::store::StoreError> {
    let ready = app.store.ping().await;
    let stats = app.store.message_stats(None).await?;
    let mut samples = app
        .store
        .status_samples(now - chrono::Duration::hours(chart::HOURS as i64))
        .await?;
    // The counts right now close the current hour.
    samples.push(StatusSample::of(now, &stats));
    let buckets = chart::hourly(&samples, now);
    let held_users = app.store.held_users().await?;
    // Newest first.
    let mut recent = app.scheduler.recent_cycles();
    recent.reverse();
    let (lateness_p50, lateness_p99) = lateness(&recent);
    Ok(StatusPage {
        ready: ready.is_ok(),
        problem: ready.err().map(|e| e.to_string()).unwrap_or_default(),
        pending: stats.pending,
        sending: stats.sending,
        sent_24h: buckets.iter().map(|b| b.sent).sum(),
        failed_24h: buckets.iter().map(|b| b.failed).sum(),
        held_messages: stats.held,
        held_users,
        lateness_p50,
        lateness_p99,
        charts: chart::draw(&buckets),
        width: chart::WIDTH,
        height: chart::HEIGHT,
        cycles: recent.iter().take(10).map(cycle_row).collect(),
        generated: now.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
    })
}

async fn status(_: Operator, State(app): State<SharedState>) -> Response {
    match page(&app, Utc::now()).await {
        Ok(page) => render(StatusCode::OK, &page),
        Err(err) => {
            tracing::error!(error = %err, "cannot build the status page");
            super::pages::error_page(
                StatusCode::SERVICE_UNAVAILABLE,
                "Not ready",
                "The database did not answer. The process is up; check the database and its logs.",
                None,
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cycle(p50: Option<u64>, p99: Option<u64>) -> CycleReport {
        CycleReport {
            lateness_p50_ms: p50,
            lateness_p99_ms: p99,
            ..CycleReport::default()
        }
    }

    #[test]
    fn lateness_not_measured_shows_a_dash() {
        assert_eq!(lateness(&[]), ("—".to_owned(), "—".to_owned()));
        assert_eq!(lateness(&[cycle(None, None)]).1, "—");
        assert_eq!(cycle_row(&cycle(None, None)).lateness_p99, "—");
    }

    #[test]
    fn lateness_is_the_newest_median_and_the_worst_p99() {
        let recent = [
            cycle(None, None),
            cycle(Some(40), Some(900)),
            cycle(Some(10), Some(2_500)),
        ];
        assert_eq!(lateness(&recent), ("40 ms".to_owned(), "2.5 s".to_owned()));
    }
}
