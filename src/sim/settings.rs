//! What the simulator enforces: Slack's limits and lifetimes by default,
//! and the few leniencies a test may turn on, each a field it sets with
//! its reason.

use std::time::Duration;

use serde::Serialize;

/// What Slack does with message metadata on a post made with a user token.
///
/// Slack documents `metadata_must_be_sent_from_app` ("Message metadata can
/// only be posted or updated using an app-level token") for
/// `chat.postMessage`; whether it applies to user tokens is unverified, so
/// tests run the app against each possibility. Bot-token posts keep their
/// metadata in every mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MetadataMode {
    /// Kept, and returned by `conversations.history` with `include_all_metadata`.
    Accepted,
    /// `{"ok":false,"error":"metadata_must_be_sent_from_app"}`; nothing is
    /// posted. The default: Slack documents the error for `chat.postMessage`,
    /// and it is the answer that costs the app most.
    #[default]
    Refused,
    /// Posted, without the metadata.
    Dropped,
}

/// What the simulator keeps of the calls it answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RecordMode {
    /// Every call with its parameters (the last 200,000) and every message
    /// posted, which `conversations.history` reads and tests assert on.
    #[default]
    Full,
    /// Counts alone: calls by method and outcome, and for each scheduled
    /// message (named by its post's metadata) how often it was posted and
    /// when first. Memory grows with the messages, not with the calls, and
    /// no message is kept for `conversations.history` to find. For the
    /// benchmark, which posts millions.
    Tally,
}

/// Limits and lifetimes the simulator enforces: Slack's own, by default.
/// Every leniency is a field a test sets, saying why.
#[derive(Debug, Clone)]
pub struct SimSettings {
    pub client_id: String,
    pub client_secret: String,
    pub signing_secret: String,
    /// Lifetime of rotated access tokens (Slack: 12 hours).
    pub access_token_ttl: Duration,
    /// Latency added to every Web API call.
    pub latency: Duration,
    /// How long one of Slack's seconds lasts here, as a fraction of a real
    /// one: `0.1` makes the simulator's "second" 100 ms and its "minute"
    /// 6 s. Every rate-limit window below is scaled by it (token and trigger
    /// lifetimes are not), so that suites stay fast; a test that scales the
    /// simulator scales the app's matching settings by the same factor.
    pub time_scale: f64,
    /// `chat.postMessage` per channel: posts per second, and the burst
    /// tolerated ("1 per second, short bursts >1 allowed":
    /// docs.slack.dev/apis/web-api/rate-limits). `None` = no limit.
    pub channel_rate: Option<(u32, u32)>,
    /// `chat.postMessage` per workspace, per minute. Slack keeps "a
    /// workspace-wide limit" of "several hundred messages per minute"
    /// (docs.slack.dev/reference/methods/chat.postMessage, "Rate limiting";
    /// docs.slack.dev/apis/web-api/rate-limits): 300, the low end of that.
    /// `None` = no limit.
    pub workspace_posts_per_minute: Option<u32>,
    /// `conversations.history` calls per minute per workspace: 1 for apps
    /// outside the Marketplace (docs.slack.dev/changelog/2025/05/29/
    /// rate-limit-changes-for-non-marketplace-apps), Tier 3 (50) inside it.
    /// `conversations.replies` has a limit of its own, as high.
    /// `None` = no limit.
    pub history_per_minute: Option<u32>,
    /// The most messages one `conversations.history` page holds (a larger
    /// `limit` is capped to it): 15 outside the Marketplace (same changelog),
    /// 999 inside it (docs.slack.dev/reference/methods/conversations.history).
    pub history_page_max: usize,
    /// `conversations.info` calls per minute per workspace: Tier 3, 50+
    /// (docs.slack.dev/reference/methods/conversations.info). `None` = no limit.
    pub conversation_info_per_minute: Option<u32>,
    /// `views.publish` per minute per workspace: Tier 4, 100+
    /// (docs.slack.dev/reference/methods/views.publish). `None` = no limit.
    pub views_publish_per_minute: Option<u32>,
    /// `oauth.v2.access` per minute per app and workspace: 600
    /// (docs.slack.dev/reference/methods/oauth.v2.access). `None` = no limit.
    pub oauth_access_per_minute: Option<u32>,
    /// The app's configured Redirect URLs (its manifest's
    /// `oauth_config.redirect_urls`). The authorize page refuses any other
    /// `redirect_uri`, as Slack does ("redirect_uri did not match any
    /// configured URIs").
    pub redirect_urls: Vec<String>,
    /// What happens to metadata on user-token posts: refused by default
    /// (see [`MetadataMode::Refused`]); a test that needs Slack to keep it
    /// says why.
    pub user_token_metadata: MetadataMode,
    /// Lifetime of a `trigger_id` (Slack: 3 seconds).
    pub trigger_ttl: Duration,
    /// The app's slash command has "Escape channels, users, and links sent
    /// to your app" on, as its manifest registers it (`should_escape:
    /// true`): Slack sends mentions, channels and links as tokens and
    /// escapes `&`, `<` and `>` (docs.slack.dev/interactivity/
    /// implementing-slash-commands). Off, the text arrives as typed.
    pub escape_commands: bool,
    /// What is kept of the calls: everything, by default.
    pub record: RecordMode,
}

impl Default for SimSettings {
    fn default() -> Self {
        Self {
            client_id: "1000000001.2000000002".into(),
            client_secret: "sim-client-secret".into(),
            signing_secret: "sim-signing-secret".into(),
            access_token_ttl: Duration::from_secs(12 * 3600),
            latency: Duration::ZERO,
            time_scale: 1.0,
            channel_rate: Some((1, 3)),
            workspace_posts_per_minute: Some(300),
            history_per_minute: Some(1),
            history_page_max: 15,
            conversation_info_per_minute: Some(50),
            views_publish_per_minute: Some(100),
            oauth_access_per_minute: Some(600),
            redirect_urls: Vec::new(),
            user_token_metadata: MetadataMode::Refused,
            trigger_ttl: Duration::from_secs(3),
            escape_commands: true,
            record: RecordMode::Full,
        }
    }
}

impl SimSettings {
    /// An app approved for the Slack Marketplace: `conversations.history` at
    /// Tier 3 (50 a minute) and pages of up to 999 messages.
    pub fn marketplace(mut self) -> Self {
        self.history_per_minute = Some(50);
        self.history_page_max = 999;
        self
    }

    /// Slack keeping metadata on user-token posts (one of its possible
    /// answers, see [`MetadataMode`]).
    pub fn accepting_metadata(mut self) -> Self {
        self.user_token_metadata = MetadataMode::Accepted;
        self
    }

    /// The benchmark's Slack (`slack-scheduler sim --bench`): as strict as
    /// Slack per channel (its pace and burst), per token (expiry, rotation)
    /// and for refreshes, with three leniencies, each because the benchmark
    /// measures the app and not Slack:
    /// - no workspace-wide post limit: Slack's "several hundred a minute"
    ///   would make any burst of a million a test of that limit alone (the
    ///   app waits out the 429s; `tests/suite/simulator` covers them);
    /// - metadata kept on user-token posts, so that every post names its
    ///   scheduled message and duplicates and early posts can be counted
    ///   (the app's answer to refusal has its own tests, `metadata.rs`);
    /// - counts kept instead of every call ([`RecordMode::Tally`]), so
    ///   that the simulator's memory and time do not grow with the calls.
    pub fn bench(mut self) -> Self {
        self.workspace_posts_per_minute = None;
        self.user_token_metadata = MetadataMode::Accepted;
        self.record = RecordMode::Tally;
        self
    }

    /// The simulator's "second" lasting `scale` of a real one (see
    /// [`SimSettings::time_scale`]).
    pub fn with_time_scale(mut self, scale: f64) -> Self {
        self.time_scale = scale;
        self
    }

    /// `duration` of Slack's time, in real time here.
    pub fn slack_time(&self, duration: Duration) -> Duration {
        let scale = if self.time_scale.is_finite() && self.time_scale > 0.0 {
            self.time_scale
        } else {
            1.0
        };
        duration.mul_f64(scale)
    }

    /// How many messages a `conversations.history` page holds when the call
    /// names no `limit`: 100, or the cap if lower (15 outside the Marketplace).
    pub fn history_page_default(&self) -> usize {
        self.history_page_max.min(100)
    }
}
