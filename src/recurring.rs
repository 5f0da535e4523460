//! The series keeper: creates each recurring series' next occurrence once
//! the one before it has settled (sent, failed, skipped or cancelled), so
//! that exactly one occurrence of a series waits at a time and none are
//! made ahead by the million. A held occurrence holds its series: nothing
//! more is created until its author reconnects and it settles.
//!
//! Any number of processes may run a keeper on one database: an
//! occurrence is unique per series and number, so whichever creates it
//! first wins and the others create nothing.

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::clock::Clock;
use crate::scheduler::{AuthorChanges, WakeSignal};
use crate::store::{Store, StoreError};

/// Series looked at per statement.
const BATCH: i64 = 100;
/// How often the keeper looks for series wanting their next occurrence.
const LOOK_EVERY: Duration = Duration::from_secs(2);
/// Batches per look, at most: the rest waits for the next look.
const BATCHES_PER_LOOK: usize = 20;

pub struct Keeper {
    store: Store,
    clock: Arc<Clock>,
    wake: Arc<WakeSignal>,
    changes: Option<Arc<dyn AuthorChanges>>,
}

impl std::fmt::Debug for Keeper {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keeper").finish_non_exhaustive()
    }
}

impl Keeper {
    pub fn new(store: Store, clock: Arc<Clock>, wake: Arc<WakeSignal>) -> Self {
        Self {
            store,
            clock,
            wake,
            changes: None,
        }
    }

    /// Tells `changes` about authors whose series got a new occurrence.
    pub fn with_changes(mut self, changes: Arc<dyn AuthorChanges>) -> Self {
        self.changes = Some(changes);
        self
    }

    /// Creates the next occurrence of every series that wants one; returns
    /// how many this keeper created.
    pub async fn step(&self) -> Result<usize, StoreError> {
        let mut created = 0;
        for _ in 0..BATCHES_PER_LOOK {
            let wanting = self.store.series_wanting_next(BATCH).await?;
            let full = wanting.len() as i64 == BATCH;
            for series in &wanting {
                let now = self.clock.now();
                // Occurrences missed while paused or held are not made up
                // for: the next is the first still ahead.
                let after = series.last_due_at.map_or(now, |last| last.max(now));
                match series.schedule().next_after(after) {
                    Some(due) => {
                        if self.store.add_occurrence(series, due, now).await? {
                            created += 1;
                            tracing::info!(series_id = series.id, occurrence = series.occurrences + 1,
                                due_at = %due, "next occurrence of a series created");
                            self.wake.due_at(due);
                            if let Some(changes) = &self.changes {
                                changes.changed(&series.team_id, &series.user_id, false);
                            }
                        }
                    }
                    None => {
                        self.store.end_series(series.id, now).await?;
                        tracing::info!(
                            series_id = series.id,
                            "series ended: its rule has no more occurrences"
                        );
                    }
                }
            }
            if !full {
                break;
            }
        }
        Ok(created)
    }

    /// Looks every two seconds until `stop`.
    pub async fn run(self, stop: CancellationToken) {
        loop {
            if let Err(err) = self.step().await {
                tracing::warn!(error = %err, "cannot create the next occurrences of series; trying again shortly");
            }
            tokio::select! {
                () = stop.cancelled() => return,
                () = tokio::time::sleep(LOOK_EVERY) => {}
            }
        }
    }
}
