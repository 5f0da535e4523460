//! The scheduler's loop: cycles start on wall-clock multiples of the tick
//! (10:00:00, 10:01:00, … by default), and also at the exact due time of a
//! message that falls between two ticks.

use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio_util::sync::CancellationToken;

use super::Scheduler;

/// After a cycle fails (the database is away), wait this long before the next.
const FAILURE_PAUSE: Duration = Duration::from_secs(2);
/// After a cycle that found nothing to claim, the shortest wait before the next.
const IDLE_PAUSE: Duration = Duration::from_millis(250);
/// How often the offset to the database's clock is measured again.
const CLOCK_SYNC: Duration = Duration::from_secs(60);

impl Scheduler {
    /// Runs cycles until `cancel` fires. A cycle in progress finishes its
    /// calls in flight and records them before this returns.
    pub async fn run(&self, cancel: CancellationToken) {
        tracing::info!(
            tick_secs = self.shared.settings.tick.as_secs(),
            batch_size = self.shared.settings.batch_size,
            concurrency = self.shared.settings.concurrency,
            "scheduler started"
        );
        if let Err(err) = self.load_workspace_memory().await {
            tracing::warn!(error = %err, "cannot read which workspaces refuse metadata; finding out again");
        }
        let mut synced: Option<std::time::Instant> = None;
        loop {
            if synced.is_none_or(|at| at.elapsed() >= CLOCK_SYNC) {
                match self.shared.clock.sync(&self.shared.store).await {
                    Ok(_) => synced = Some(std::time::Instant::now()),
                    Err(err) => {
                        tracing::warn!(error = %err, "cannot read the database's clock")
                    }
                }
            }
            let Some(()) = self.sleep_until_next_wake(&cancel).await else {
                break;
            };
            match self.run_cycle(self.shared.clock.now(), &cancel).await {
                // Something looked due yet nothing could be claimed (another
                // runner holds it for a moment): do not spin on it.
                Ok(report) if report.claimed == 0 => {
                    tokio::select! {
                        () = tokio::time::sleep(IDLE_PAUSE) => {}
                        () = cancel.cancelled() => break,
                    }
                }
                Ok(_) => {}
                Err(err) => {
                    tracing::error!(error = %err, "delivery cycle failed; retrying shortly");
                    tokio::select! {
                        () = tokio::time::sleep(FAILURE_PAUSE) => {}
                        () = cancel.cancelled() => break,
                    }
                }
            }
        }
        tracing::info!("scheduler stopped");
    }

    /// Sleeps until the next tick or the earliest due row, whichever comes
    /// first; a message stored meanwhile for an earlier time moves the wake-up
    /// earlier. `None` when cancelled.
    async fn sleep_until_next_wake(&self, cancel: &CancellationToken) -> Option<()> {
        let clock = &self.shared.clock;
        let now = clock.now();
        let mut wake_at = next_tick(now, self.shared.settings.tick);
        match self.shared.store.next_wake_at().await {
            Ok(Some(due)) => wake_at = wake_at.min(due.max(now)),
            Ok(None) => {}
            Err(err) => {
                tracing::warn!(error = %err, "cannot read the next due time; waiting for the tick")
            }
        }
        if let Some(hint) = self.shared.wake.take() {
            wake_at = wake_at.min(hint.max(now));
        }
        loop {
            let wait = (wake_at - clock.now()).to_std().unwrap_or_default();
            tokio::select! {
                () = tokio::time::sleep(wait) => {
                    // The timer is monotonic and the due time wall-clock: if
                    // the wall clock lags, sleep the difference too.
                    if clock.now() >= wake_at {
                        return Some(());
                    }
                }
                () = self.shared.wake.notify.notified() => {
                    if let Some(hint) = self.shared.wake.take() {
                        wake_at = wake_at.min(hint.max(clock.now()));
                    }
                }
                () = cancel.cancelled() => return None,
            }
        }
    }
}

/// The first multiple of `tick` (counted from the Unix epoch) after `now`.
pub fn next_tick(now: DateTime<Utc>, tick: Duration) -> DateTime<Utc> {
    let tick_ms = i64::try_from(tick.as_millis()).unwrap_or(i64::MAX).max(1);
    let now_ms = now.timestamp_millis();
    let next = (now_ms.div_euclid(tick_ms) + 1) * tick_ms;
    DateTime::from_timestamp_millis(next).unwrap_or(now)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn ticks_fall_on_wall_clock_multiples() {
        let at = Utc
            .with_ymd_and_hms(2026, 11, 28, 10, 0, 17)
            .single()
            .expect("valid");
        assert_eq!(
            next_tick(at, Duration::from_secs(60)),
            Utc.with_ymd_and_hms(2026, 11, 28, 10, 1, 0).unwrap()
        );
        assert_eq!(
            next_tick(at, Duration::from_secs(5)),
            Utc.with_ymd_and_hms(2026, 11, 28, 10, 0, 20).unwrap()
        );
        let on_tick = Utc
            .with_ymd_and_hms(2026, 11, 28, 10, 1, 0)
            .single()
            .expect("valid");
        assert_eq!(
            next_tick(on_tick, Duration::from_secs(60)),
            Utc.with_ymd_and_hms(2026, 11, 28, 10, 2, 0).unwrap()
        );
    }
}
