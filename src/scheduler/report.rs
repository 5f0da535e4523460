//! A drain's figures, as the stats API, metrics and logs show them. Every
//! figure is a counter or a fixed-size histogram: nothing here grows with
//! the number of messages drained.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::domain::{MessageStatus, Outcome};

/// The figures of one cycle (one drain).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CycleReport {
    pub cycle_id: u64,
    pub started_at: DateTime<Utc>,
    pub duration_ms: u64,
    /// Claim statements run (each takes up to `SCHEDULER_BATCH_SIZE`).
    pub claims: usize,
    pub claimed: usize,
    pub sent: usize,
    /// Not sent in this cycle: `retrying + held + failed_permanently`.
    pub failed: usize,
    pub retrying: usize,
    pub held: usize,
    pub failed_permanently: usize,
    /// Not posted because their condition held (not counted in `failed`).
    pub skipped: usize,
    pub db_statements: u64,
    /// Bulk writes of outcomes (each at most two statements).
    pub flushes: usize,
    /// Rows written one by one after a bulk write failed because of a row.
    pub fallback_rows: usize,
    /// Rows that could not be written at all; verified once their lease ends.
    pub unwritten_rows: usize,
    /// Token pairs refreshed.
    pub refreshed: usize,
    /// In-doubt messages found already posted in their conversation.
    pub found_posted: usize,
    /// In-doubt messages posted again without a look-up (none was possible,
    /// or `SCHEDULER_VERIFY_WAIT_SECS` ran out).
    pub reposted_unverified: usize,
    /// How long after their due time messages were posted.
    pub lateness_p50_ms: Option<u64>,
    pub lateness_p99_ms: Option<u64>,
    pub lateness_max_ms: Option<u64>,
}

impl CycleReport {
    /// Counts one written outcome.
    pub(super) fn tally(&mut self, outcome: &Outcome) {
        match outcome.status() {
            MessageStatus::Sent => self.sent += 1,
            MessageStatus::Pending => self.retrying += 1,
            MessageStatus::Held => self.held += 1,
            MessageStatus::Skipped => self.skipped += 1,
            _ => self.failed_permanently += 1,
        }
        self.failed = self.retrying + self.held + self.failed_permanently;
    }
}

/// Upper bounds of the lateness buckets, in milliseconds.
const BUCKETS_MS: [u64; 20] = [
    10, 25, 50, 100, 250, 500, 1_000, 2_000, 3_000, 5_000, 10_000, 20_000, 30_000, 60_000, 120_000,
    300_000, 600_000, 1_800_000, 3_600_000, 86_400_000,
];

/// Lateness of posts, by bucket: quantiles to a bucket's precision, and
/// the exact maximum.
#[derive(Debug, Default)]
pub(super) struct Lateness {
    counts: [AtomicU64; BUCKETS_MS.len() + 1],
    max_ms: AtomicU64,
}

impl Lateness {
    pub(super) fn record(&self, late: Duration) {
        let ms = u64::try_from(late.as_millis()).unwrap_or(u64::MAX);
        let bucket = BUCKETS_MS
            .iter()
            .position(|bound| ms <= *bound)
            .unwrap_or(BUCKETS_MS.len());
        self.counts[bucket].fetch_add(1, Ordering::Relaxed);
        self.max_ms.fetch_max(ms, Ordering::Relaxed);
    }

    /// The bucket bound under which `q` of the posts fall.
    pub(super) fn quantile_ms(&self, q: f64) -> Option<u64> {
        let counts: Vec<u64> = self
            .counts
            .iter()
            .map(|c| c.load(Ordering::Relaxed))
            .collect();
        let total: u64 = counts.iter().sum();
        if total == 0 {
            return None;
        }
        let rank = ((total as f64) * q).ceil().max(1.0) as u64;
        let mut seen = 0;
        for (i, n) in counts.iter().enumerate() {
            seen += n;
            if seen >= rank {
                let bound = BUCKETS_MS.get(i).copied().unwrap_or(u64::MAX);
                return Some(bound.min(self.max_ms()?));
            }
        }
        self.max_ms()
    }

    pub(super) fn max_ms(&self) -> Option<u64> {
        let total: u64 = self.counts.iter().map(|c| c.load(Ordering::Relaxed)).sum();
        (total > 0).then(|| self.max_ms.load(Ordering::Relaxed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lateness_quantiles_come_from_buckets_and_never_exceed_the_maximum() {
        let lateness = Lateness::default();
        assert_eq!(lateness.quantile_ms(0.5), None);
        for ms in [5, 7, 8, 40, 400] {
            lateness.record(Duration::from_millis(ms));
        }
        assert_eq!(lateness.quantile_ms(0.5), Some(10));
        assert_eq!(lateness.quantile_ms(0.99), Some(400));
        assert_eq!(lateness.max_ms(), Some(400));
    }
}
