//! The claimer keeps the window full: whenever a batch's worth of room is
//! free, one statement claims up to `SCHEDULER_BATCH_SIZE` due messages and
//! hands them to their lanes (or, in doubt, to the verifier). A short claim
//! means nothing more is due right now: the drain ends once everything in
//! hand is settled, and until then claims again now and then, for work that
//! comes due meanwhile.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use super::drain::Drain;
use super::lanes;
use crate::store::StoreError;
use crate::telemetry;

/// Claims until nothing is due and everything claimed is settled, or until
/// the drain is cancelled (then waits for what was claimed to settle).
pub(super) async fn run(drain: &Arc<Drain>) -> Result<(), StoreError> {
    let batch = drain.shared.settings.batch_size;
    let poll = drain.shared.settings.claim_poll;
    let mut result = Ok(());
    loop {
        if drain.cancel.is_cancelled() {
            break;
        }
        let room = tokio::select! {
            room = drain.window.clone().acquire_many_owned(batch) => room,
            () = drain.cancel.cancelled() => break,
        };
        let Ok(room) = room else { break };
        let request = drain.claim_request();
        let claimed = match drain.shared.store.claim_due(&request).await {
            Ok(claimed) => claimed,
            Err(err) => {
                result = Err(err);
                break;
            }
        };
        drain.counters.claims.fetch_add(1, Ordering::Relaxed);
        let count = claimed.len();
        // Each claimed message keeps its room until its outcome is written.
        room.forget();
        drain.window.add_permits(batch as usize - count);
        drain.progress.claimed(count);
        if count > 0 {
            telemetry::record_batch(count);
            tracing::debug!(claimed = count, "Processing {count} scheduled messages");
            lanes::route(drain, claimed);
        }
        if count == batch as usize {
            continue;
        }
        // Nothing more is due now. Once everything in hand is settled the
        // drain is over (the loop wakes for what comes due later); until
        // then, look again now and then.
        tokio::select! {
            () = drain.progress.wait_all_settled() => break,
            () = tokio::time::sleep(poll) => {}
            () = drain.cancel.cancelled() => break,
        }
    }
    drain.progress.wait_all_settled().await;
    result
}
