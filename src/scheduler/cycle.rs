//! One delivery cycle: claim → deliver → record, a batch at a time, until
//! nothing more is due.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde::Serialize;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use super::Scheduler;
use crate::domain::{MessageStatus, Outcome};
use crate::store::{ClaimRequest, StoreError};
use crate::telemetry;

/// The cycle's notion of "now": the wall clock read once when the cycle
/// starts, advanced by the monotonic clock. Tests start a cycle in the future
/// to let leases run out without waiting.
#[derive(Debug, Clone, Copy)]
pub struct CycleClock {
    start: DateTime<Utc>,
    started: Instant,
}

impl CycleClock {
    pub fn starting_at(start: DateTime<Utc>) -> Self {
        Self {
            start,
            started: Instant::now(),
        }
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.start + chrono::Duration::from_std(self.started.elapsed()).unwrap_or_default()
    }

    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }
}

/// The figures of one batch.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchReport {
    pub claimed: usize,
    pub sent: usize,
    /// Not sent in this batch: `retrying + held + failed_permanently`.
    pub failed: usize,
    pub retrying: usize,
    pub held: usize,
    pub failed_permanently: usize,
    pub db_statements: u64,
    pub fallback_rows: usize,
    pub unwritten_rows: usize,
}

/// The figures of one cycle, as the stats API and metrics show them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CycleReport {
    pub cycle_id: u64,
    pub started_at: DateTime<Utc>,
    pub duration_ms: u64,
    pub batches: usize,
    pub claimed: usize,
    pub sent: usize,
    pub failed: usize,
    pub retrying: usize,
    pub held: usize,
    pub failed_permanently: usize,
    pub db_statements: u64,
    /// Every batch, in order (for tests and the debug log).
    #[serde(skip)]
    pub batch_reports: Vec<BatchReport>,
    /// (team, user) of every author whose messages this cycle touched.
    #[serde(skip)]
    pub authors: Vec<(String, String)>,
}

impl BatchReport {
    fn tally(outcomes: &[Outcome]) -> Self {
        let mut report = Self {
            claimed: outcomes.len(),
            ..Self::default()
        };
        for outcome in outcomes {
            match outcome.status() {
                MessageStatus::Sent => report.sent += 1,
                MessageStatus::Pending => report.retrying += 1,
                MessageStatus::Held => report.held += 1,
                _ => report.failed_permanently += 1,
            }
            telemetry::record_message_outcome(outcome.status().as_str(), outcome.reason());
        }
        report.failed = report.claimed - report.sent;
        report
    }
}

static CYCLE_IDS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

impl Scheduler {
    /// Runs one cycle as of `now`: drains everything due, a batch at a time.
    /// Stops early (after recording the batch in hand) when `cancel` fires.
    pub async fn run_cycle(
        &self,
        now: DateTime<Utc>,
        cancel: &CancellationToken,
    ) -> Result<CycleReport, StoreError> {
        let cycle_id = CYCLE_IDS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.run_cycle_with_id(cycle_id, now, cancel)
            .instrument(tracing::info_span!("cycle", cycle_id))
            .await
    }

    async fn run_cycle_with_id(
        &self,
        cycle_id: u64,
        now: DateTime<Utc>,
        cancel: &CancellationToken,
    ) -> Result<CycleReport, StoreError> {
        let clock = CycleClock::starting_at(now);
        let statements_before = self.store.statements();
        let mut report = CycleReport {
            cycle_id,
            started_at: now,
            duration_ms: 0,
            batches: 0,
            claimed: 0,
            sent: 0,
            failed: 0,
            retrying: 0,
            held: 0,
            failed_permanently: 0,
            db_statements: 0,
            batch_reports: Vec::new(),
            authors: Vec::new(),
        };
        let result = self.drain(&clock, cancel, &mut report).await;
        report.duration_ms = u64::try_from(clock.elapsed().as_millis()).unwrap_or(u64::MAX);
        report.db_statements = self.store.statements() - statements_before;
        telemetry::record_cycle(clock.elapsed());
        self.pacer.forget_idle();
        if report.claimed > 0 {
            tracing::info!(
                cycle_id,
                claimed = report.claimed,
                sent = report.sent,
                failed = report.failed,
                retrying = report.retrying,
                held = report.held,
                batches = report.batches,
                duration_ms = report.duration_ms,
                db_statements = report.db_statements,
                "Processing complete: {} sent, {} failed",
                report.sent,
                report.failed
            );
        } else {
            tracing::debug!(
                cycle_id,
                duration_ms = report.duration_ms,
                db_statements = report.db_statements,
                "Processing complete: nothing due"
            );
        }
        self.status.set_last_cycle(report.clone());
        report.authors.sort_unstable();
        report.authors.dedup();
        if report.claimed > 0
            && let Some(reports) = &self.reports
        {
            // The follower catches up from the database if it misses one.
            let _ = reports.try_send(report.clone());
        }
        result.map(|()| report)
    }

    async fn drain(
        &self,
        clock: &CycleClock,
        cancel: &CancellationToken,
        report: &mut CycleReport,
    ) -> Result<(), StoreError> {
        loop {
            if cancel.is_cancelled() {
                return Ok(());
            }
            let before = self.store.statements();
            let now = clock.now();
            let request = self.claim_request(now);
            let batch = self.store.claim_due(&request).await?;
            if batch.is_empty() {
                return Ok(());
            }
            let full = batch.len() >= self.settings.batch_size as usize;
            report.authors.extend(
                batch
                    .iter()
                    .map(|m| (m.author.team_id.clone(), m.author.user_id.clone())),
            );
            telemetry::record_batch(batch.len());
            tracing::debug!(
                batch = report.batches + 1,
                "Processing {} scheduled messages",
                batch.len()
            );

            let outcomes = self.deliver(batch, clock, cancel).await;
            let recorded = self
                .store
                .record_outcomes(&outcomes, &request.claim_token, clock.now())
                .await;

            let mut batch_report = BatchReport::tally(&outcomes);
            batch_report.db_statements = self.store.statements() - before;
            batch_report.fallback_rows = recorded.fallback_rows;
            batch_report.unwritten_rows = recorded.unwritten.len();
            report.batches += 1;
            report.claimed += batch_report.claimed;
            report.sent += batch_report.sent;
            report.failed += batch_report.failed;
            report.retrying += batch_report.retrying;
            report.held += batch_report.held;
            report.failed_permanently += batch_report.failed_permanently;
            tracing::info!(
                batch = report.batches,
                claimed = batch_report.claimed,
                sent = batch_report.sent,
                failed = batch_report.failed,
                db_statements = batch_report.db_statements,
                fallback_rows = batch_report.fallback_rows,
                "Processing {} scheduled messages: bulk updated {} successful, {} unsent",
                batch_report.claimed,
                batch_report.sent,
                batch_report.failed
            );
            report.batch_reports.push(batch_report);
            if !full {
                return Ok(());
            }
        }
    }

    fn claim_request(&self, now: DateTime<Utc>) -> ClaimRequest {
        let span = |d: Duration| chrono::Duration::from_std(d).unwrap_or_default();
        ClaimRequest {
            now,
            limit: self.settings.batch_size,
            lease_until: now + span(self.settings.lease),
            claim_token: hex::encode(rand::random::<[u8; 12]>()),
            refresh_before: now + span(self.settings.refresh_margin),
            refresh_lock_until: now + span(self.settings.refresh_lock),
        }
    }
}
