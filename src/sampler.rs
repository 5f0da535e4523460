//! Samples the message counts every five minutes for the status page's
//! 24-hour chart. Each sample is a read of `message_counts` (constant time
//! at any size) and one insert; every process runs a sampler, and the slot's
//! primary key keeps one sample per five minutes however many there are.

use std::time::Duration;

use chrono::{DateTime, DurationRound, Utc};
use tokio_util::sync::CancellationToken;

use crate::store::{StatusSample, Store, StoreError};

/// One sample per slot of this length.
pub const SLOT: Duration = Duration::from_secs(300);
/// How long samples are kept (the page shows one day).
const KEEP: chrono::Duration = chrono::Duration::hours(48);

/// The slot `now` falls in.
pub fn slot_of(now: DateTime<Utc>) -> DateTime<Utc> {
    let slot = chrono::Duration::from_std(SLOT).unwrap_or(chrono::Duration::minutes(5));
    now.duration_trunc(slot).unwrap_or(now)
}

/// Takes the sample of `now`'s slot (if nobody has) and prunes old ones.
pub async fn take_sample(store: &Store, now: DateTime<Utc>) -> Result<bool, StoreError> {
    let stats = store.message_stats(None).await?;
    let stored = store
        .record_status_sample(&StatusSample::of(slot_of(now), &stats))
        .await?;
    store.prune_status_samples(now - KEEP).await?;
    Ok(stored)
}

/// Samples at start and at the start of every slot, until `stop`.
pub async fn run(store: Store, stop: CancellationToken) {
    loop {
        let now = Utc::now();
        if let Err(err) = take_sample(&store, now).await {
            tracing::warn!(error = %err, "cannot sample the message counts for the status page");
        }
        let next = slot_of(now) + chrono::Duration::from_std(SLOT).unwrap_or_default();
        let wait = (next - Utc::now()).to_std().unwrap_or(SLOT);
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(wait) => {}
        }
    }
}
