//! The delivery cycle (SPEC §3): on every tick, and early for anything due
//! between ticks, claim what is due a batch at a time, post it, record it.
//!
//! - [`run`]: the loop: when to wake, and shutdown.
//! - [`cycle`]: one cycle: claim → deliver → record, until nothing is due.
//! - [`deliver`]: one batch: verify in-doubt posts, pace, post in parallel.
//! - [`tokens`]: each author's usable token for a batch, refreshed once.

mod cycle;
mod deliver;
mod pacing;
mod run;
mod tokens;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::Notify;

use crate::slack::{SlackApi, SlackOAuth};
use crate::store::Store;

pub use cycle::{BatchReport, CycleReport};

/// How the cycle behaves. The first four come from the environment; the
/// rest are product decisions with sensible defaults.
#[derive(Debug, Clone)]
pub struct Settings {
    pub tick: Duration,
    pub batch_size: u32,
    pub concurrency: usize,
    pub max_attempts: u32,
    /// How long a claim holds its rows before another runner may take them.
    pub lease: Duration,
    /// Tokens with less than this left are refreshed before use (Slack's
    /// SDKs use two hours).
    pub refresh_margin: Duration,
    /// How long one runner's right to refresh a token lasts.
    pub refresh_lock: Duration,
    /// Posts per second into one channel, after a burst of `channel_burst`.
    pub channel_rate_per_sec: u32,
    pub channel_burst: u32,
    /// The longest a message waits inside a cycle for pacing or a rate limit;
    /// beyond it, it goes back to `pending` for the moment it may go.
    pub pacing_budget: Duration,
    /// First retry delay after a transient failure; doubles up to `retry_cap`.
    pub retry_base: Duration,
    pub retry_cap: Duration,
    /// Timeout of each Slack call made by the cycle.
    pub slack_timeout: Duration,
    /// Pages of `conversations.history` read when looking for an in-doubt post.
    pub history_pages: usize,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            tick: Duration::from_secs(60),
            batch_size: 1000,
            concurrency: 256,
            max_attempts: 5,
            lease: Duration::from_secs(300),
            refresh_margin: Duration::from_secs(2 * 3600),
            refresh_lock: Duration::from_secs(30),
            channel_rate_per_sec: 1,
            channel_burst: 2,
            pacing_budget: Duration::from_secs(20),
            retry_base: Duration::from_secs(20),
            retry_cap: Duration::from_secs(600),
            slack_timeout: Duration::from_secs(15),
            history_pages: 3,
        }
    }
}

/// What the HTTP surface can see of the scheduler: the last cycle's figures.
#[derive(Debug, Default)]
pub struct SchedulerStatus {
    last_cycle: Mutex<Option<CycleReport>>,
}

impl SchedulerStatus {
    pub fn last_cycle(&self) -> Option<CycleReport> {
        self.last_cycle
            .lock()
            .map(|c| c.clone())
            .unwrap_or_default()
    }

    fn set_last_cycle(&self, report: CycleReport) {
        if let Ok(mut last) = self.last_cycle.lock() {
            *last = Some(report);
        }
    }
}

/// Lets request handlers move the next wake-up earlier when they store a
/// message due before it.
#[derive(Debug, Default)]
pub struct WakeSignal {
    earliest: Mutex<Option<DateTime<Utc>>>,
    notify: Notify,
}

impl WakeSignal {
    /// A message is now due at `at`.
    pub fn due_at(&self, at: DateTime<Utc>) {
        if let Ok(mut earliest) = self.earliest.lock() {
            *earliest = Some(earliest.map_or(at, |e| e.min(at)));
        }
        self.notify.notify_one();
    }

    fn take(&self) -> Option<DateTime<Utc>> {
        self.earliest.lock().ok().and_then(|mut e| e.take())
    }
}

/// The delivery cycle and everything it needs. Cheap to share.
pub struct Scheduler {
    store: Store,
    slack: SlackApi,
    oauth: SlackOAuth,
    settings: Settings,
    pacer: pacing::Pacer,
    status: Arc<SchedulerStatus>,
    wake: Arc<WakeSignal>,
    /// Where finished cycles are announced (the bot follows them).
    reports: Option<tokio::sync::mpsc::Sender<CycleReport>>,
}

impl std::fmt::Debug for Scheduler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scheduler")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl Scheduler {
    /// `store` gets its own statement count, so cycle figures are exact.
    pub fn new(store: &Store, slack: SlackApi, oauth: SlackOAuth, settings: Settings) -> Self {
        let pacer = pacing::Pacer::new(settings.channel_rate_per_sec, settings.channel_burst);
        Self {
            store: store.counted(),
            slack,
            oauth,
            settings,
            pacer,
            status: Arc::default(),
            wake: Arc::default(),
            reports: None,
        }
    }

    /// Announces each cycle that did something on `reports`.
    pub fn with_reports(mut self, reports: tokio::sync::mpsc::Sender<CycleReport>) -> Self {
        self.reports = Some(reports);
        self
    }

    pub fn status(&self) -> Arc<SchedulerStatus> {
        self.status.clone()
    }

    pub fn wake_signal(&self) -> Arc<WakeSignal> {
        self.wake.clone()
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }
}
