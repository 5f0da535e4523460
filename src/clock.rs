//! The time leases, claims and refresh rights are reckoned in: the
//! database's, not this process's. Several processes share one database;
//! one whose clock runs ahead would otherwise post early and take over
//! leases that are still live. So each process measures how far its clock
//! is from the database's now and then, and corrects by it.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use chrono::{DateTime, Utc};

use crate::store::{Store, StoreError};

type LocalClock = dyn Fn() -> DateTime<Utc> + Send + Sync;

/// Readings of the database's clock per sync.
const SYNC_READINGS: usize = 3;

pub struct Clock {
    local: Box<LocalClock>,
    /// The database's clock minus ours, in microseconds.
    offset_micros: AtomicI64,
}

impl std::fmt::Debug for Clock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Clock")
            .field("offset_micros", &self.offset_micros.load(Ordering::Relaxed))
            .finish()
    }
}

impl Clock {
    /// This machine's clock, corrected once synced.
    pub fn system() -> Arc<Self> {
        Self::with_local(Utc::now)
    }

    /// A clock read from `local` (a process whose clock is off, in tests).
    pub fn with_local(local: impl Fn() -> DateTime<Utc> + Send + Sync + 'static) -> Arc<Self> {
        Arc::new(Self {
            local: Box::new(local),
            offset_micros: AtomicI64::new(0),
        })
    }

    /// Now, as the database reckons it (as far as the last sync knows).
    pub fn now(&self) -> DateTime<Utc> {
        (self.local)() + chrono::Duration::microseconds(self.offset_micros.load(Ordering::Relaxed))
    }

    /// Measures the offset to the database's clock and corrects by it from
    /// now on. Returns the offset.
    ///
    /// The database read its clock somewhere within the round trip; taking
    /// the end of the round trip as that moment errs on the late side, so
    /// this process's "now" is never ahead of the database's, and a message
    /// is never posted early (at worst one round trip late). Of a few
    /// readings, the one with the shortest round trip is kept.
    pub async fn sync(&self, store: &Store) -> Result<chrono::Duration, StoreError> {
        let mut best: Option<(chrono::Duration, chrono::Duration)> = None;
        for _ in 0..SYNC_READINGS {
            let before = (self.local)();
            let database = store.database_now().await?;
            let after = (self.local)();
            let round_trip = after - before;
            if best.is_none_or(|(rtt, _)| round_trip < rtt) {
                best = Some((round_trip, database - after));
            }
        }
        let offset = best.map(|(_, offset)| offset).unwrap_or_default();
        let micros = offset.num_microseconds().unwrap_or(0);
        let previous = self.offset_micros.swap(micros, Ordering::Relaxed);
        if (micros - previous).abs() > 1_000_000 {
            tracing::warn!(
                offset_ms = micros / 1_000,
                "this machine's clock is off from the database's; reckoning leases in the database's time"
            );
        }
        Ok(offset)
    }
}
