//! Slack's rate limits, as the simulator enforces them. Slack counts "per
//! API method per workspace per app" (docs.slack.dev/apis/web-api/rate-limits);
//! `chat.postMessage` also per channel. Beyond a limit the answer is HTTP
//! 429 with `Retry-After`.
//!
//! Two shapes of limit:
//! - per-minute tiers ("Tier 1: 1+ per minute", "Tier 4: 100+ per minute")
//!   as a sliding window: at most N calls in any minute;
//! - the posting pace ("1 per second, short bursts >1 allowed") as a
//!   token bucket (GCRA): a burst, then one slot a second.
//!
//! Every window is in Slack's time, shrunk by [`SimSettings::time_scale`]
//! when a test asks for a faster Slack.

use std::collections::{HashMap, VecDeque};
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use super::state::SimSettings;

/// The methods (and scopes) Slack limits that the simulator enforces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Limit {
    /// `chat.postMessage` into one channel; keyed `team/channel`.
    ChannelPosts,
    /// `chat.postMessage` in one workspace; keyed by team.
    WorkspacePosts,
    /// `conversations.history` in one workspace; keyed by team.
    History,
    /// `conversations.replies` in one workspace (its own limit, as high as
    /// history's); keyed by team.
    Replies,
    /// `conversations.info` in one workspace (Tier 3); keyed by team.
    ConversationInfo,
    /// `views.publish` in one workspace; keyed by team.
    ViewsPublish,
    /// `oauth.v2.access` for one app in one workspace; keyed `client/team`.
    OAuthAccess,
}

/// The settings the limiters are built from: when these change, the
/// limiters are rebuilt (and their counts start afresh).
#[derive(Debug, Clone, PartialEq)]
struct Spec {
    time_scale: f64,
    channel_rate: Option<(u32, u32)>,
    workspace_posts: Option<u32>,
    history: Option<u32>,
    conversation_info: Option<u32>,
    views_publish: Option<u32>,
    oauth_access: Option<u32>,
}

impl Spec {
    fn of(settings: &SimSettings) -> Self {
        Self {
            time_scale: settings.time_scale,
            channel_rate: settings.channel_rate,
            workspace_posts: settings.workspace_posts_per_minute,
            history: settings.history_per_minute,
            conversation_info: settings.conversation_info_per_minute,
            views_publish: settings.views_publish_per_minute,
            oauth_access: settings.oauth_access_per_minute,
        }
    }
}

type Keyed = Arc<DefaultKeyedRateLimiter<String>>;

/// At most `count` calls per key in any `window`.
struct Window {
    window: Duration,
    count: usize,
    calls: Mutex<HashMap<String, VecDeque<Instant>>>,
}

impl Window {
    fn new(window: Duration, count: u32) -> Option<Self> {
        (count > 0).then(|| Self {
            window,
            count: count as usize,
            calls: Mutex::default(),
        })
    }

    fn take(&self, key: &str) -> Result<(), Duration> {
        let now = Instant::now();
        let mut calls = self.calls.lock().unwrap_or_else(|p| p.into_inner());
        let log = calls.entry(key.to_owned()).or_default();
        while log
            .front()
            .is_some_and(|at| now.duration_since(*at) >= self.window)
        {
            log.pop_front();
        }
        if log.len() >= self.count {
            let oldest = log.front().copied().unwrap_or(now);
            return Err(self.window.saturating_sub(now.duration_since(oldest)));
        }
        log.push_back(now);
        Ok(())
    }
}

pub(super) struct Limits {
    spec: Spec,
    channel_posts: Option<Keyed>,
    workspace_posts: Option<Window>,
    history: Option<Window>,
    replies: Option<Window>,
    conversation_info: Option<Window>,
    views_publish: Option<Window>,
    oauth_access: Option<Window>,
}

impl Limits {
    pub(super) fn new(settings: &SimSettings) -> Self {
        let second = settings.slack_time(Duration::from_secs(1));
        let minute = settings.slack_time(Duration::from_secs(60));
        let per_minute = |n: Option<u32>| n.and_then(|n| Window::new(minute, n));
        Self {
            spec: Spec::of(settings),
            channel_posts: settings
                .channel_rate
                .and_then(|(rate, burst)| limiter(second, rate, burst)),
            workspace_posts: per_minute(settings.workspace_posts_per_minute),
            history: per_minute(settings.history_per_minute),
            replies: per_minute(settings.history_per_minute),
            conversation_info: per_minute(settings.conversation_info_per_minute),
            views_publish: per_minute(settings.views_publish_per_minute),
            oauth_access: per_minute(settings.oauth_access_per_minute),
        }
    }

    /// Whether these limiters still match `settings`.
    pub(super) fn matches(&self, settings: &SimSettings) -> bool {
        self.spec == Spec::of(settings)
    }

    /// Takes one call's worth of `limit` for `key`, or says how many whole
    /// seconds to wait (the `Retry-After`).
    pub(super) fn take(&self, limit: Limit, key: &str) -> Result<(), u64> {
        let window = match limit {
            Limit::ChannelPosts => {
                let Some(pace) = &self.channel_posts else {
                    return Ok(());
                };
                return pace.check_key(&key.to_owned()).map_err(|not_until| {
                    retry_after(not_until.wait_time_from(DefaultClock::default().now()))
                });
            }
            Limit::WorkspacePosts => &self.workspace_posts,
            Limit::History => &self.history,
            Limit::Replies => &self.replies,
            Limit::ConversationInfo => &self.conversation_info,
            Limit::ViewsPublish => &self.views_publish,
            Limit::OAuthAccess => &self.oauth_access,
        };
        match window {
            Some(window) => window.take(key).map_err(retry_after),
            None => Ok(()),
        }
    }
}

/// `count` calls per `window` on average, `burst` of them at once.
fn limiter(window: Duration, count: u32, burst: u32) -> Option<Keyed> {
    let count = NonZeroU32::new(count)?;
    let period = window.checked_div(count.get())?;
    let burst = NonZeroU32::new(burst).unwrap_or(NonZeroU32::MIN);
    let quota = Quota::with_period(period)?.allow_burst(burst);
    Some(Arc::new(RateLimiter::keyed(quota)))
}

/// `Retry-After` is whole seconds in HTTP, so a wait is rounded up, and is
/// at least 1: with a scaled simulator a client may wait longer than the
/// window lasts, which only slows a test down, never lets a call through
/// early.
pub(super) fn retry_after(wait: Duration) -> u64 {
    let secs = wait.as_secs_f64().ceil();
    if secs.is_finite() && secs >= 1.0 {
        secs as u64
    } else {
        1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_is_rounded_up_to_whole_seconds_and_at_least_one() {
        assert_eq!(retry_after(Duration::ZERO), 1);
        assert_eq!(retry_after(Duration::from_millis(50)), 1);
        assert_eq!(retry_after(Duration::from_millis(1_001)), 2);
        assert_eq!(retry_after(Duration::from_secs(60)), 60);
    }

    #[test]
    fn a_scaled_minute_holds_as_many_calls_as_a_real_one() {
        let settings = SimSettings {
            history_per_minute: Some(1),
            ..SimSettings::default().with_time_scale(0.01)
        };
        let limits = Limits::new(&settings);
        assert_eq!(limits.take(Limit::History, "T1"), Ok(()));
        assert_eq!(
            limits.take(Limit::History, "T1"),
            Err(1),
            "0.6 s left, said as 1"
        );
        assert_eq!(
            limits.take(Limit::History, "T2"),
            Ok(()),
            "each workspace has its own"
        );
    }

    #[test]
    fn a_per_minute_tier_counts_every_call_of_the_last_minute() {
        let settings = SimSettings {
            views_publish_per_minute: Some(3),
            ..SimSettings::default()
        };
        let limits = Limits::new(&settings);
        for _ in 0..3 {
            assert_eq!(limits.take(Limit::ViewsPublish, "T1"), Ok(()));
        }
        assert_eq!(limits.take(Limit::ViewsPublish, "T1"), Err(60));
    }

    #[test]
    fn a_limit_turned_off_never_refuses() {
        let settings = SimSettings {
            channel_rate: None,
            ..SimSettings::default()
        };
        let limits = Limits::new(&settings);
        for _ in 0..100 {
            assert_eq!(limits.take(Limit::ChannelPosts, "T1/C1"), Ok(()));
        }
    }
}
