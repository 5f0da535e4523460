//! Posting at Slack's pace: about one message a second per channel with
//! short bursts, and nothing into a workspace that just answered 429 until
//! its `Retry-After` has passed. A burst into one channel is spread out
//! instead of being rejected.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::Mutex;
use std::time::Duration;

use governor::clock::Clock;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use tokio::time::Instant;

pub(super) struct Pacer {
    channels: DefaultKeyedRateLimiter<String>,
    cooldowns: Mutex<HashMap<String, Instant>>,
}

impl Pacer {
    pub(super) fn new(per_second: u32, burst: u32) -> Self {
        let per_second = NonZeroU32::new(per_second).unwrap_or(NonZeroU32::MIN);
        let burst = NonZeroU32::new(burst).unwrap_or(NonZeroU32::MIN);
        let quota = Quota::per_second(per_second).allow_burst(burst);
        Self {
            channels: RateLimiter::keyed(quota),
            cooldowns: Mutex::default(),
        }
    }

    /// Takes a posting slot for `channel` if one is free now (returns zero),
    /// or says how long until one will be. A workspace in cooldown takes no
    /// slot.
    pub(super) fn reserve(&self, team_id: &str, channel_id: &str) -> Duration {
        if let Some(wait) = self.cooldown_left(team_id) {
            return wait;
        }
        match self.channels.check_key(&format!("{team_id}/{channel_id}")) {
            Ok(()) => Duration::ZERO,
            Err(not_until) => not_until
                .wait_time_from(self.channels.clock().now())
                .max(Duration::from_millis(1)),
        }
    }

    /// Slack said 429 for this workspace: hold all its posts for `wait`.
    pub(super) fn cool_down(&self, team_id: &str, wait: Duration) {
        if let Ok(mut cooldowns) = self.cooldowns.lock() {
            let until = Instant::now() + wait;
            let entry = cooldowns.entry(team_id.to_owned()).or_insert(until);
            *entry = (*entry).max(until);
        }
    }

    fn cooldown_left(&self, team_id: &str) -> Option<Duration> {
        let cooldowns = self.cooldowns.lock().ok()?;
        let until = *cooldowns.get(team_id)?;
        let now = Instant::now();
        (until > now).then(|| until - now)
    }

    /// Drops state for channels and workspaces that are idle again, so the
    /// maps do not grow with every channel ever posted to.
    pub(super) fn forget_idle(&self) {
        self.channels.retain_recent();
        if let Ok(mut cooldowns) = self.cooldowns.lock() {
            let now = Instant::now();
            cooldowns.retain(|_, until| *until > now);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_into_one_channel_is_spread_out_but_other_channels_go_at_once() {
        let pacer = Pacer::new(1, 2);
        assert_eq!(pacer.reserve("T1", "C1"), Duration::ZERO);
        assert_eq!(pacer.reserve("T1", "C1"), Duration::ZERO);
        let wait = pacer.reserve("T1", "C1");
        assert!(
            wait > Duration::ZERO && wait <= Duration::from_secs(1),
            "{wait:?}"
        );
        assert_eq!(pacer.reserve("T1", "C2"), Duration::ZERO);
    }

    #[test]
    fn a_cooling_workspace_waits_without_using_up_slots() {
        let pacer = Pacer::new(1, 1);
        pacer.cool_down("T1", Duration::from_secs(30));
        assert!(pacer.reserve("T1", "C1") > Duration::from_secs(29));
        assert_eq!(pacer.reserve("T2", "C1"), Duration::ZERO);
    }
}
