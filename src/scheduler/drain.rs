//! One drain: the stages wired together until nothing more is due and every
//! message claimed has its outcome written.
//!
//! Back-pressure is a window: a semaphore with room for the calls in flight
//! and two batches. The claimer takes a batch's worth of room before each
//! claim, and the recorder gives room back as it writes outcomes, so claims
//! keep the window full without ever claiming more than can be worked on.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use tokio::sync::{Notify, Semaphore};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::Instrument;

use super::authors::AuthorTokens;
use super::lanes::Lanes;
use super::recorder::{self, Recorder};
use super::report::{CycleReport, Lateness};
use super::{Scheduler, Shared, claimer};
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

/// How many claimed messages have their outcome written.
#[derive(Debug, Default)]
pub(super) struct Progress {
    claimed: AtomicUsize,
    settled: AtomicUsize,
    changed: Notify,
}

impl Progress {
    pub(super) fn claimed(&self, n: usize) {
        self.claimed.fetch_add(n, Ordering::AcqRel);
    }

    pub(super) fn settled(&self, n: usize) {
        self.settled.fetch_add(n, Ordering::AcqRel);
        self.changed.notify_waiters();
    }

    pub(super) fn all_settled(&self) -> bool {
        self.settled.load(Ordering::Acquire) >= self.claimed.load(Ordering::Acquire)
    }

    pub(super) fn claimed_total(&self) -> usize {
        self.claimed.load(Ordering::Acquire)
    }

    /// Claimed messages whose outcome is not written yet.
    pub(super) fn unsettled(&self) -> usize {
        self.claimed
            .load(Ordering::Acquire)
            .saturating_sub(self.settled.load(Ordering::Acquire))
    }

    pub(super) async fn wait_all_settled(&self) {
        loop {
            let changed = self.changed.notified();
            if self.all_settled() {
                return;
            }
            changed.await;
        }
    }
}

/// Counters the stages bump as they go.
#[derive(Debug, Default)]
pub(super) struct Counters {
    pub(super) claims: AtomicUsize,
    pub(super) refreshed: AtomicUsize,
    pub(super) found_posted: AtomicUsize,
    pub(super) reposted_unverified: AtomicUsize,
    pub(super) in_flight: AtomicUsize,
}

/// Everything the stages of one drain share.
pub(super) struct Drain {
    pub(super) shared: Arc<Shared>,
    pub(super) clock: CycleClock,
    pub(super) cancel: CancellationToken,
    /// Slack calls in flight, at most `SCHEDULER_CONCURRENCY`.
    pub(super) calls: Semaphore,
    /// Room for claimed messages whose outcome is not written yet.
    pub(super) window: Arc<Semaphore>,
    pub(super) recorder: Recorder,
    pub(super) authors: AuthorTokens,
    pub(super) lanes: Lanes,
    pub(super) progress: Arc<Progress>,
    /// Lanes and look-ups running.
    pub(super) tasks: TaskTracker,
    pub(super) lateness: Arc<Lateness>,
    pub(super) counters: Counters,
}

impl Drain {
    pub(super) fn claim_request(&self) -> ClaimRequest {
        let settings = &self.shared.settings;
        let span = |d: Duration| chrono::Duration::from_std(d).unwrap_or_default();
        let now = self.clock.now();
        ClaimRequest {
            now,
            limit: settings.batch_size,
            lease_until: now + span(settings.lease),
            claim_token: hex::encode(rand::random::<[u8; 12]>()),
            refresh_before: now + span(settings.refresh_margin),
            refresh_lock_until: now + span(settings.refresh_lock),
            pace_interval: span(self.shared.pacer.interval()),
            pace_tolerance: span(self.shared.pacer.tolerance()),
            pace_budget: span(settings.pacing_budget),
        }
    }
}

static CYCLE_IDS: AtomicUsize = AtomicUsize::new(1);

impl Scheduler {
    /// Runs one cycle as of `now`: drains everything due. Stops claiming
    /// when `cancel` fires, lets the calls in flight finish, records them
    /// and releases the rest.
    pub async fn run_cycle(
        &self,
        now: DateTime<Utc>,
        cancel: &CancellationToken,
    ) -> Result<CycleReport, StoreError> {
        let cycle_id = CYCLE_IDS.fetch_add(1, Ordering::Relaxed) as u64;
        self.drain(cycle_id, now, cancel)
            .instrument(tracing::info_span!("cycle", cycle_id))
            .await
    }

    async fn drain(
        &self,
        cycle_id: u64,
        now: DateTime<Utc>,
        cancel: &CancellationToken,
    ) -> Result<CycleReport, StoreError> {
        let shared = self.shared.clone();
        let settings = &shared.settings;
        let clock = CycleClock::starting_at(now);
        let statements_before = shared.store.statements();
        let batch = settings.batch_size as usize;
        let window = Arc::new(Semaphore::new(settings.concurrency + 2 * batch));
        let progress = Arc::new(Progress::default());
        let lateness = Arc::new(Lateness::default());
        let (recorder, recording) = recorder::start(
            shared.clone(),
            clock,
            window.clone(),
            progress.clone(),
            cancel.clone(),
        );
        let drain = Arc::new(Drain {
            shared: shared.clone(),
            clock,
            cancel: cancel.clone(),
            calls: Semaphore::new(settings.concurrency.max(1)),
            window,
            recorder,
            authors: AuthorTokens::default(),
            lanes: Lanes::default(),
            progress,
            tasks: TaskTracker::new(),
            lateness,
            counters: Counters::default(),
        });
        let claimed = claimer::run(&drain).await;
        drain.tasks.close();
        drain.tasks.wait().await;
        drain.recorder.close();
        let written = recording.await.unwrap_or_default();
        telemetry::set_in_flight(0);
        shared.pacer.forget_idle(tokio::time::Instant::now());
        shared
            .verifier
            .forget_stale(Instant::now(), settings.verify_wait);
        shared
            .conditions
            .forget_stale(Instant::now(), settings.verify_wait);

        let counters = &drain.counters;
        let mut report = written.report;
        report.cycle_id = cycle_id;
        report.started_at = now;
        report.duration_ms = u64::try_from(clock.elapsed().as_millis()).unwrap_or(u64::MAX);
        report.claims = counters.claims.load(Ordering::Relaxed);
        report.claimed = drain.progress.claimed_total();
        report.refreshed = counters.refreshed.load(Ordering::Relaxed);
        report.found_posted = counters.found_posted.load(Ordering::Relaxed);
        report.reposted_unverified = counters.reposted_unverified.load(Ordering::Relaxed);
        report.lateness_p50_ms = drain.lateness.quantile_ms(0.5);
        report.lateness_p99_ms = drain.lateness.quantile_ms(0.99);
        report.lateness_max_ms = drain.lateness.max_ms();
        report.db_statements = shared.store.statements() - statements_before;
        telemetry::record_cycle(clock.elapsed());
        log_summary(&report);
        shared.status.push_cycle(report.clone());
        claimed.map(|()| report)
    }
}

fn log_summary(report: &CycleReport) {
    if report.claimed > 0 {
        tracing::info!(
            cycle_id = report.cycle_id,
            claimed = report.claimed,
            sent = report.sent,
            failed = report.failed,
            retrying = report.retrying,
            held = report.held,
            claims = report.claims,
            flushes = report.flushes,
            duration_ms = report.duration_ms,
            db_statements = report.db_statements,
            lateness_p99_ms = report.lateness_p99_ms,
            "Processing complete: {} sent, {} failed",
            report.sent,
            report.failed
        );
    } else {
        tracing::debug!(
            cycle_id = report.cycle_id,
            duration_ms = report.duration_ms,
            db_statements = report.db_statements,
            "Processing complete: nothing due"
        );
    }
}
