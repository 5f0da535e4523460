//! The delivery cycle (SPEC §3), as a pipeline rather than a series of
//! batches: nothing waits for the slowest message of a batch.
//!
//! ```text
//!   claimer ──► lanes, one per conversation ──► recorder
//!      │            ▲                              ▲
//!      ├──► verifier (in-doubt messages, per workspace's history budget)
//!      └──► conditions (conditional messages, the same budget)
//! ```
//!
//! - [`run`]: the loop: when to wake (the tick, the earliest due row), and shutdown.
//! - [`drain`]: one drain: wires the stages until nothing more is due.
//! - [`claimer`]: keeps the window of claimed messages full, a batch per statement.
//! - [`lanes`]: one task per conversation with work, posting in due order at
//!   the conversation's pace; a waiting message blocks only its own lane.
//! - [`post`]: one message's attempt: token, lease, metadata, Slack's answer.
//! - [`conditions`]: checks a conditional message's thread or conversation
//!   at its due time, within the same budget, and skips it or posts it.
//! - [`verifier`]: looks for in-doubt messages in their conversation's
//!   history within the workspace's budget, or posts them again after
//!   `SCHEDULER_VERIFY_WAIT_SECS`.
//! - [`recorder`]: writes outcomes in bulk as they complete, by size or interval.
//! - [`authors`]: each author's usable token for the drain, refreshed once.
//! - [`pacing`]: about one post a second per conversation, short bursts, 429s.
//! - [`report`]: the drain's figures, bounded whatever it drains.

mod authors;
mod claimer;
mod conditions;
mod drain;
mod lanes;
mod pacing;
mod post;
mod recorder;
mod report;
mod run;
mod verifier;

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::Notify;

use crate::clock::Clock;
use crate::slack::SlackApi;
use crate::store::{Store, StoreError};
use crate::tokens::Refresher;

pub use drain::CycleClock;
pub use report::CycleReport;

/// How the cycle behaves. The first seven come from the environment; the
/// rest are product decisions with sensible defaults (tests shrink them).
#[derive(Debug, Clone)]
pub struct Settings {
    pub tick: Duration,
    pub batch_size: u32,
    pub concurrency: usize,
    pub max_attempts: u32,
    /// How long an in-doubt message may wait for its history look-up before
    /// it is posted again.
    pub verify_wait: Duration,
    /// Slack's `conversations.history` budget per workspace: calls per
    /// `history_window`, and messages a page.
    pub history_per_window: u32,
    pub history_page: u32,
    pub history_window: Duration,
    /// How long a claim holds its rows before another runner may take them.
    pub lease: Duration,
    /// Tokens with less than this left are refreshed before use (Slack's
    /// SDKs use two hours).
    pub refresh_margin: Duration,
    /// How long a refresh right lasts without renewal.
    pub refresh_lock: Duration,
    /// Posts per second into one channel, after a burst of `channel_burst`.
    pub channel_rate_per_sec: u32,
    pub channel_burst: u32,
    /// The longest a message waits in its lane for pacing or a rate limit;
    /// beyond it, it goes back to `pending` for the moment it may go.
    pub pacing_budget: Duration,
    /// First retry delay after a transient failure; doubles up to `retry_cap`.
    pub retry_base: Duration,
    pub retry_cap: Duration,
    /// Timeout of each Slack call made by the cycle.
    pub slack_timeout: Duration,
    /// Outcomes are written when this many are waiting, or after `flush_interval`.
    pub flush_interval: Duration,
    /// While a drain has work in hand but the last claim came back short,
    /// it claims again this often (new work may have come due).
    pub claim_poll: Duration,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            tick: Duration::from_secs(60),
            batch_size: 1000,
            concurrency: 256,
            max_attempts: 5,
            verify_wait: Duration::from_secs(900),
            history_per_window: 1,
            history_page: 15,
            history_window: Duration::from_secs(60),
            lease: Duration::from_secs(300),
            refresh_margin: Duration::from_secs(2 * 3600),
            refresh_lock: Duration::from_secs(30),
            channel_rate_per_sec: 1,
            channel_burst: 2,
            pacing_budget: Duration::from_secs(20),
            retry_base: Duration::from_secs(20),
            retry_cap: Duration::from_secs(600),
            slack_timeout: Duration::from_secs(15),
            flush_interval: Duration::from_millis(100),
            claim_poll: Duration::from_secs(1),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error(
        "SCHEDULER_LEASE_SECS ({lease}) must be more than twice SLACK_TIMEOUT_SECS ({timeout}): \
         a message is posted only while its lease outlasts the call"
    )]
    LeaseTooShort { lease: u64, timeout: u64 },
}

impl Settings {
    /// Settings that cannot work together are refused at start-up.
    pub fn check(&self) -> Result<(), SettingsError> {
        if self.lease <= self.slack_timeout * 2 {
            return Err(SettingsError::LeaseTooShort {
                lease: self.lease.as_secs(),
                timeout: self.slack_timeout.as_secs(),
            });
        }
        Ok(())
    }
}

/// Recent cycles kept for the status page.
const RECENT_CYCLES: usize = 50;

/// What the HTTP surface can see of the scheduler: the recent cycles' figures.
#[derive(Debug, Default)]
pub struct SchedulerStatus {
    cycles: Mutex<std::collections::VecDeque<CycleReport>>,
}

impl SchedulerStatus {
    pub fn last_cycle(&self) -> Option<CycleReport> {
        self.cycles.lock().ok()?.back().cloned()
    }

    /// The last cycles, oldest first (at most 50).
    pub fn recent_cycles(&self) -> Vec<CycleReport> {
        self.cycles
            .lock()
            .map(|c| c.iter().cloned().collect())
            .unwrap_or_default()
    }

    fn push_cycle(&self, report: CycleReport) {
        if let Ok(mut cycles) = self.cycles.lock() {
            if cycles.len() == RECENT_CYCLES {
                cycles.pop_front();
            }
            cycles.push_back(report);
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

/// Authors whose messages changed in a drain, for whoever keeps their Home
/// tabs current. Marked as outcomes are written; nothing waits on it.
pub trait AuthorChanges: Send + Sync {
    fn changed(&self, team_id: &str, user_id: &str, important: bool);
}

/// The delivery cycle and everything it needs. Cheap to share.
pub struct Scheduler {
    shared: Arc<Shared>,
}

/// What every stage of every drain shares.
pub(crate) struct Shared {
    store: Store,
    slack: SlackApi,
    refresher: Refresher,
    settings: Settings,
    pacer: pacing::Pacer,
    verifier: verifier::Scans,
    conditions: conditions::Reads,
    /// Workspaces whose user-token posts cannot carry metadata (Slack
    /// refused or dropped it): posted without, matched by author and text.
    no_metadata: Mutex<HashSet<String>>,
    status: Arc<SchedulerStatus>,
    wake: Arc<WakeSignal>,
    changes: Option<Arc<dyn AuthorChanges>>,
    /// The database's time, in which every lease is reckoned.
    clock: Arc<Clock>,
}

impl std::fmt::Debug for Scheduler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scheduler")
            .field("settings", &self.shared.settings)
            .finish_non_exhaustive()
    }
}

impl Scheduler {
    /// `store` gets its own statement count, so cycle figures are exact.
    pub fn new(store: &Store, slack: SlackApi, refresher: Refresher, settings: Settings) -> Self {
        let pacer = pacing::Pacer::new(
            settings.channel_rate_per_sec,
            settings.channel_burst,
            settings.pacing_budget,
        );
        let store = store.counted();
        Self {
            shared: Arc::new(Shared {
                refresher: refresher.through(&store),
                store,
                slack,
                settings,
                pacer,
                verifier: verifier::Scans::default(),
                conditions: conditions::Reads::default(),
                no_metadata: Mutex::default(),
                status: Arc::default(),
                wake: Arc::default(),
                changes: None,
                clock: refresher.clock(),
            }),
        }
    }

    /// Tells `changes` about every author whose messages a drain settled.
    pub fn with_changes(mut self, changes: Arc<dyn AuthorChanges>) -> Self {
        if let Some(shared) = Arc::get_mut(&mut self.shared) {
            shared.changes = Some(changes);
        }
        self
    }

    pub fn status(&self) -> Arc<SchedulerStatus> {
        self.shared.status.clone()
    }

    pub fn wake_signal(&self) -> Arc<WakeSignal> {
        self.shared.wake.clone()
    }

    pub fn settings(&self) -> &Settings {
        &self.shared.settings
    }

    /// The statements the cycle has run (its refreshes included).
    pub fn statement_count(&self) -> crate::store::StatementCount {
        self.shared.store.statement_count()
    }
}

impl Shared {
    fn metadata_allowed(&self, team_id: &str) -> bool {
        self.no_metadata
            .lock()
            .map(|teams| !teams.contains(team_id))
            .unwrap_or(true)
    }

    /// Slack refused or dropped our metadata on a user-token post here:
    /// remembered in this process at once, and in the database for the
    /// others (and for after a restart).
    fn forget_metadata(self: &Arc<Self>, team_id: &str, why: &str) {
        if let Ok(mut teams) = self.no_metadata.lock()
            && teams.insert(team_id.to_owned())
        {
            tracing::warn!(
                team_id,
                why,
                "this workspace's posts cannot carry message metadata; posting without it \
                 and matching in-doubt messages by author and text"
            );
            let (shared, team) = (self.clone(), team_id.to_owned());
            tokio::spawn(async move {
                let now = shared.clock.now();
                if let Err(err) = shared.store.mark_without_metadata(&team, now).await {
                    tracing::warn!(error = %err, "cannot remember a workspace without metadata");
                }
            });
        }
    }
}

impl Scheduler {
    /// Reads which workspaces' posts cannot carry metadata, as other
    /// processes (or this one, before a restart) found out.
    pub async fn load_workspace_memory(&self) -> Result<(), StoreError> {
        let teams = self.shared.store.workspaces_without_metadata().await?;
        if let Ok(mut known) = self.shared.no_metadata.lock() {
            known.extend(teams);
        }
        Ok(())
    }
}
