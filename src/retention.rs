//! The background eraser (`MESSAGE_RETENTION_DAYS`): message text is personal
//! data, kept only as long as it is needed. Every minute it erases the text
//! of messages settled longer ago than the retention period, a bounded batch
//! per statement, with a pause between batches so a large backlog (the
//! first run on an old database) never crowds out the delivery cycle.
//! Each sweep also forgets the trigger ids kept against replayed requests
//! once they are older than any replay could be, and the pace of
//! conversations idle for an hour.

use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio_util::sync::CancellationToken;

use crate::store::{Store, StoreError};

/// Rows erased per statement.
pub const BATCH: i64 = 500;
/// Between sweeps.
const SWEEP_EVERY: Duration = Duration::from_secs(60);
/// Between two full batches of one sweep.
const BATCH_PAUSE: Duration = Duration::from_millis(100);

#[derive(Debug, Clone)]
pub struct Retention {
    store: Store,
    keep: chrono::Duration,
    batch: i64,
}

impl Retention {
    pub fn new(store: Store, days: u32) -> Self {
        Self {
            store,
            keep: chrono::Duration::days(i64::from(days)),
            batch: BATCH,
        }
    }

    /// Rows per statement (tests use small batches to see them bounded).
    pub fn with_batch(mut self, batch: i64) -> Self {
        self.batch = batch.max(1);
        self
    }

    /// Erases everything due for erasure at `now`, a batch at a time;
    /// returns how many texts were erased.
    pub async fn sweep(
        &self,
        now: DateTime<Utc>,
        stop: &CancellationToken,
    ) -> Result<u64, StoreError> {
        let settled_before = now - self.keep;
        let mut total = 0;
        loop {
            let erased = self
                .store
                .erase_settled_text(settled_before, now, self.batch)
                .await?;
            total += erased;
            crate::telemetry::record_texts_erased(erased);
            if erased < self.batch as u64 || stop.is_cancelled() {
                break;
            }
            tokio::select! {
                () = stop.cancelled() => break,
                () = tokio::time::sleep(BATCH_PAUSE) => {}
            }
        }
        // Series that are over keep their text as long as their occurrences.
        loop {
            let erased = self
                .store
                .erase_settled_series_text(settled_before, now, self.batch)
                .await?;
            total += erased;
            if erased < self.batch as u64 || stop.is_cancelled() {
                break;
            }
        }
        Ok(total)
    }

    /// Sweeps every minute until `stop`; each sweep also forgets the
    /// trigger ids kept against replays once no replay can come (the slash
    /// command's path then stays at its three statements).
    pub async fn run(self, stop: CancellationToken) {
        loop {
            if let Err(err) = self.store.forget_old_triggers(Utc::now()).await {
                tracing::warn!(error = %err, "cannot forget old trigger ids; trying again later");
            }
            if let Err(err) = self.store.forget_idle_paces(Utc::now()).await {
                tracing::warn!(error = %err, "cannot forget idle conversations' pace; trying again later");
            }
            match self.sweep(Utc::now(), &stop).await {
                Ok(0) => {}
                Ok(erased) => {
                    tracing::info!(erased, "erased the text of settled messages past retention")
                }
                Err(err) => {
                    tracing::warn!(error = %err, "retention sweep failed; trying again later")
                }
            }
            tokio::select! {
                () = stop.cancelled() => return,
                () = tokio::time::sleep(SWEEP_EVERY) => {}
            }
        }
    }
}
