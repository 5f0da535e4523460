//! The recorder writes outcomes as they complete, in bulk: when a batch's
//! worth is waiting, or every outcome still expected is, or `flush_interval`
//! after the first of them, whichever comes first (at most two statements a
//! flush). Writing gives the window its room back.
//!
//! When the database cannot be reached, outcomes are kept and written again
//! with a growing pause, not row by row; a drain that is stopping gives up
//! on them after a few tries, leaving the rows `sending` for their lease to
//! run out and the verifier to look for them.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Semaphore, mpsc};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use super::Shared;
use super::drain::{CycleClock, Progress};
use super::report::CycleReport;
use crate::domain::{Outcome, OutcomeKind};
use crate::store::{ClaimedMessage, OutcomeRecord};
use crate::telemetry;

/// Tries a stopping drain gives an unreachable database.
const TRIES_WHEN_STOPPING: u32 = 3;
const FIRST_PAUSE: Duration = Duration::from_millis(250);
const LONGEST_PAUSE: Duration = Duration::from_secs(10);

/// An outcome on its way to the database, with whom it concerns.
struct Entry {
    record: OutcomeRecord,
    team_id: String,
    user_id: String,
}

/// Where stages send outcomes.
pub(super) struct Recorder {
    tx: std::sync::Mutex<Option<mpsc::UnboundedSender<Entry>>>,
}

/// What the recorder wrote.
#[derive(Debug, Default)]
pub(super) struct Written {
    pub(super) report: CycleReport,
}

impl Recorder {
    pub(super) fn send(&self, message: &ClaimedMessage, outcome: Outcome) {
        let entry = Entry {
            record: OutcomeRecord {
                outcome,
                claim_token: message.claim_token.clone(),
            },
            team_id: message.author.team_id.clone(),
            user_id: message.author.user_id.clone(),
        };
        let sent = self
            .tx
            .lock()
            .ok()
            .and_then(|tx| tx.as_ref().map(|tx| tx.send(entry).is_ok()));
        if sent != Some(true) {
            tracing::error!(
                message_id = message.id,
                "an outcome arrived after its drain ended; its lease will run out and it will be looked for"
            );
        }
    }

    /// No more outcomes: the recorder writes what it has and stops.
    pub(super) fn close(&self) {
        if let Ok(mut tx) = self.tx.lock() {
            tx.take();
        }
    }
}

pub(super) fn start(
    shared: Arc<Shared>,
    clock: CycleClock,
    window: Arc<Semaphore>,
    progress: Arc<Progress>,
    cancel: CancellationToken,
) -> (Recorder, JoinHandle<Written>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let task = Task {
        shared,
        clock,
        window,
        progress,
        cancel,
        written: Written::default(),
        buffer: Vec::new(),
        failures: 0,
    };
    let handle = tokio::spawn(task.run(rx).in_current_span());
    (
        Recorder {
            tx: std::sync::Mutex::new(Some(tx)),
        },
        handle,
    )
}

struct Task {
    shared: Arc<Shared>,
    clock: CycleClock,
    window: Arc<Semaphore>,
    progress: Arc<Progress>,
    cancel: CancellationToken,
    written: Written,
    buffer: Vec<Entry>,
    /// Flushes in a row that could not reach the database.
    failures: u32,
}

impl Task {
    async fn run(mut self, mut rx: mpsc::UnboundedReceiver<Entry>) -> Written {
        let flush_size = self.shared.settings.batch_size as usize;
        let interval = self.shared.settings.flush_interval;
        let mut due: Option<Instant> = None;
        let mut open = true;
        let mut stopping = false;
        while open || !self.buffer.is_empty() {
            let entry = tokio::select! {
                biased;
                entry = rx.recv(), if open => entry,
                // A stopping drain does not sit out a long pause.
                () = self.cancel.cancelled(), if !stopping && self.failures > 0 => {
                    stopping = true;
                    due = Some(Instant::now());
                    continue;
                }
                () = sleep_until(due) => {
                    due = self.flush().await;
                    continue;
                }
            };
            match entry {
                Some(entry) => {
                    self.buffer.push(entry);
                    // Everything in hand is here: nobody gains by waiting.
                    let all_in = self.buffer.len() >= self.progress.unsettled();
                    if (self.buffer.len() >= flush_size || all_in) && self.failures == 0 {
                        due = self.flush().await;
                    } else if due.is_none() {
                        due = Some(Instant::now() + interval);
                    }
                }
                None => {
                    open = false;
                    due = Some(due.map_or(Instant::now(), |d| d.min(Instant::now())));
                }
            }
        }
        self.written
    }

    /// Writes what is buffered; returns when to try again, if anything is left.
    async fn flush(&mut self) -> Option<Instant> {
        if self.buffer.is_empty() {
            return None;
        }
        let records: Vec<OutcomeRecord> = self.buffer.iter().map(|e| e.record.clone()).collect();
        let report = self
            .shared
            .store
            .record_outcomes(&records, self.clock.now())
            .await;
        self.written.report.flushes += 1;
        self.written.report.fallback_rows += report.fallback_rows;
        let sent = records.iter().filter(|r| r.outcome.is_sent()).count();
        let written = records.len() - report.unreachable.len();
        tracing::info!(
            written,
            sent,
            statements = report.statements,
            fallback_rows = report.fallback_rows,
            "Processing {} scheduled messages: bulk updated {} successful, {} unsent",
            records.len(),
            sent,
            records.len() - sent
        );
        self.written.report.unwritten_rows += report.unwritten.len();
        let mut kept = Vec::with_capacity(report.unreachable.len());
        let mut done = 0;
        let mut unreachable = report.unreachable.iter().peekable();
        for (index, entry) in std::mem::take(&mut self.buffer).into_iter().enumerate() {
            if unreachable.peek() == Some(&&index) {
                unreachable.next();
                kept.push(entry);
                continue;
            }
            self.settle(&entry);
            done += 1;
        }
        self.release(done);
        if kept.is_empty() {
            self.failures = 0;
            return None;
        }
        self.failures += 1;
        if self.cancel.is_cancelled() && self.failures >= TRIES_WHEN_STOPPING {
            tracing::error!(
                rows = kept.len(),
                "stopping without recording these outcomes: the database cannot be reached; \
                 their rows stay sending and are looked for when their lease runs out"
            );
            self.written.report.unwritten_rows += kept.len();
            let given_up = kept.len();
            self.release(given_up);
            return None;
        }
        self.buffer = kept;
        let pause = FIRST_PAUSE
            .saturating_mul(2u32.saturating_pow(self.failures - 1))
            .min(LONGEST_PAUSE);
        Some(Instant::now() + pause)
    }

    fn settle(&mut self, entry: &Entry) {
        let outcome = &entry.record.outcome;
        self.written.report.tally(outcome);
        telemetry::record_message_outcome(outcome.status().as_str(), outcome.reason());
        if let Some(changes) = &self.shared.changes {
            // Held and failed messages are news the author must see.
            let important = matches!(
                outcome.kind,
                OutcomeKind::Held { .. } | OutcomeKind::Failed { .. }
            );
            if !matches!(outcome.kind, OutcomeKind::Retry { .. }) {
                changes.changed(&entry.team_id, &entry.user_id, important);
            }
        }
    }

    /// Gives the window back the room of `n` settled messages.
    fn release(&self, n: usize) {
        self.window.add_permits(n);
        self.progress.settled(n);
    }
}

async fn sleep_until(due: Option<Instant>) {
    match due {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}
