//! The simulated Slack's memory: workspaces, users, conversations, tokens,
//! posted messages, views, injected faults and the record of every call.

pub use super::settings::{MetadataMode, RecordMode, SimSettings};
pub use super::tally::{PostCount, Tally, TallySummary, parse_posts};

use std::collections::{HashMap, HashSet, VecDeque};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;

/// Calls kept in the record; older ones are dropped (a long `sim` run).
const MAX_RECORDED_CALLS: usize = 200_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenKind {
    Bot,
    User,
}

#[derive(Debug, Clone)]
pub struct SimTeam {
    pub id: String,
    pub name: String,
    pub bot_user_id: String,
}

#[derive(Debug, Clone)]
pub struct SimUser {
    pub id: String,
    pub team_id: String,
    pub name: String,
    pub tz: String,
}

#[derive(Debug, Clone)]
pub struct SimChannel {
    pub id: String,
    pub team_id: String,
    pub name: String,
    pub members: HashSet<String>,
    /// Every member of the workspace is in it, as in a workspace's
    /// #general: the benchmark's conversations, so that a hundred thousand
    /// of them need no member lists.
    pub everyone: bool,
    pub archived: bool,
}

impl SimChannel {
    pub fn has_member(&self, user_id: &str) -> bool {
        self.everyone || self.members.contains(user_id)
    }
}

#[derive(Debug, Clone)]
pub struct SimToken {
    pub kind: TokenKind,
    pub team_id: String,
    /// The installing user for user tokens, the bot user for bot tokens.
    pub user_id: String,
    pub expires_at: Option<DateTime<Utc>>,
    pub revoked: bool,
}

#[derive(Debug, Clone)]
pub struct SimRefreshToken {
    pub kind: TokenKind,
    pub team_id: String,
    pub user_id: String,
    pub used: bool,
}

#[derive(Debug, Clone)]
pub struct AuthCode {
    pub team_id: String,
    pub user_id: String,
    /// Whether the authorization asked for bot scopes (`scope`): without
    /// them Slack grants the user's token only.
    pub bot_scopes: bool,
    pub redirect_uri: Option<String>,
    pub expires_at: DateTime<Utc>,
    pub used: bool,
}

/// A message as it sits in a conversation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PostedMessage {
    pub channel: String,
    pub ts: String,
    pub user: String,
    pub text: String,
    pub metadata: Option<Value>,
    pub blocks: Option<Value>,
    pub as_bot: bool,
    /// A reply: its thread's parent `ts`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub thread_ts: Option<String>,
    /// A reply also sent to the channel.
    pub reply_broadcast: bool,
}

/// One Web API call as Slack received it.
#[derive(Debug, Clone, Serialize)]
pub struct RecordedCall {
    pub seq: u64,
    pub at: DateTime<Utc>,
    pub method: String,
    /// The bearer token presented (the simulator's own fake tokens).
    pub token: Option<String>,
    pub params: Value,
    /// `ok`, a Slack error code, or `http_<status>`.
    pub outcome: String,
}

/// A view the app opened or published.
#[derive(Debug, Clone, Serialize)]
pub struct SimView {
    pub id: String,
    pub team_id: String,
    /// The user whose Home tab it is, or who opened the modal.
    pub user_id: Option<String>,
    pub view: Value,
}

/// A `trigger_id` handed to the app with a command or an interaction.
#[derive(Debug, Clone)]
pub struct SimTrigger {
    pub issued: tokio::time::Instant,
    pub used: bool,
    pub team_id: String,
    pub user_id: String,
}

/// Something posted to a `response_url`, or a `chat.postEphemeral`.
#[derive(Debug, Clone, Serialize)]
pub struct EphemeralMessage {
    pub channel: Option<String>,
    pub user: Option<String>,
    pub body: Value,
}

/// What a fault does to the calls it matches.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FaultKind {
    /// `{"ok": false, "error": code}` with HTTP 200.
    SlackError { code: String },
    /// A bare HTTP status (500, 503, …).
    Http { status: u16 },
    /// HTTP 429 with `Retry-After`.
    RateLimited { retry_after_secs: u64 },
    /// No answer for this long (longer than the client's timeout).
    Hang { millis: u64 },
    /// Extra latency, then the normal answer.
    Latency { millis: u64 },
    /// Exactly this answer: for shapes Slack (or a proxy in front of it)
    /// might send that the typed models do not expect.
    Raw {
        status: u16,
        content_type: String,
        body: String,
    },
}

/// A rule that makes matching calls fail.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct Fault {
    /// The Web API method, or `*`.
    pub method: String,
    /// Only calls naming this channel (chat.postMessage, conversations.history).
    #[serde(default)]
    pub channel: Option<String>,
    /// Only calls whose text contains this.
    #[serde(default)]
    pub text_contains: Option<String>,
    pub kind: FaultKind,
    /// How many calls it hits; `None` for all of them.
    #[serde(default)]
    pub times: Option<u32>,
    /// Do the call's work (post the message) before failing: the client sees
    /// an error, yet the message is in the channel. For in-doubt tests.
    #[serde(default)]
    pub after_effect: bool,
}

impl Fault {
    pub fn new(method: &str, kind: FaultKind) -> Self {
        Self {
            method: method.into(),
            channel: None,
            text_contains: None,
            kind,
            times: None,
            after_effect: false,
        }
    }
    pub fn times(mut self, n: u32) -> Self {
        self.times = Some(n);
        self
    }
    pub fn in_channel(mut self, channel: &str) -> Self {
        self.channel = Some(channel.into());
        self
    }
    pub fn for_text(mut self, text: &str) -> Self {
        self.text_contains = Some(text.into());
        self
    }
    pub fn after_effect(mut self) -> Self {
        self.after_effect = true;
        self
    }
}

#[derive(Debug)]
pub struct SimState {
    pub settings: SimSettings,
    pub teams: HashMap<String, SimTeam>,
    pub users: HashMap<String, SimUser>,
    pub channels: HashMap<String, SimChannel>,
    pub tokens: HashMap<String, SimToken>,
    pub refresh_tokens: HashMap<String, SimRefreshToken>,
    pub codes: HashMap<String, AuthCode>,
    pub messages: Vec<PostedMessage>,
    pub calls: VecDeque<RecordedCall>,
    pub views: Vec<SimView>,
    pub ephemerals: Vec<EphemeralMessage>,
    pub triggers: HashMap<String, SimTrigger>,
    /// `response_url` ids → where the command came from.
    pub response_urls: HashMap<String, (String, String, String)>,
    pub faults: Vec<Fault>,
    /// The user a browser is signed in as, for the authorize page.
    pub browser_user: Option<(String, String)>,
    pub next_seq: u64,
    pub last_ts_micros: i64,
    /// The record in [`RecordMode::Tally`].
    pub tally: Tally,
}

impl SimState {
    pub fn new(settings: SimSettings) -> Self {
        Self {
            settings,
            teams: HashMap::new(),
            users: HashMap::new(),
            channels: HashMap::new(),
            tokens: HashMap::new(),
            refresh_tokens: HashMap::new(),
            codes: HashMap::new(),
            messages: Vec::new(),
            calls: VecDeque::new(),
            views: Vec::new(),
            ephemerals: Vec::new(),
            triggers: HashMap::new(),
            response_urls: HashMap::new(),
            faults: Vec::new(),
            browser_user: None,
            next_seq: 0,
            last_ts_micros: 0,
            tally: Tally::default(),
        }
    }

    pub fn record(&mut self, method: &str, token: Option<String>, params: Value, outcome: String) {
        if self.settings.record == RecordMode::Tally {
            self.tally.count_call(method, &outcome);
            return;
        }
        self.next_seq += 1;
        self.calls.push_back(RecordedCall {
            seq: self.next_seq,
            at: Utc::now(),
            method: method.to_owned(),
            token,
            params,
            outcome,
        });
        while self.calls.len() > MAX_RECORDED_CALLS {
            self.calls.pop_front();
        }
    }

    /// A Slack `ts`: seconds and microseconds, strictly increasing.
    pub fn next_ts(&mut self) -> String {
        let now = Utc::now().timestamp_micros();
        let micros = now.max(self.last_ts_micros + 1);
        self.last_ts_micros = micros;
        format!(
            "{}.{:06}",
            micros.div_euclid(1_000_000),
            micros.rem_euclid(1_000_000)
        )
    }

    /// The first fault matching the call, consuming one of its `times`.
    pub fn take_fault(
        &mut self,
        method: &str,
        channel: Option<&str>,
        text: Option<&str>,
    ) -> Option<Fault> {
        let index = self.faults.iter().position(|f| {
            (f.method == "*" || f.method == method)
                && f.channel.as_deref().is_none_or(|c| Some(c) == channel)
                && f.text_contains
                    .as_deref()
                    .is_none_or(|t| text.is_some_and(|x| x.contains(t)))
                && f.times != Some(0)
        })?;
        let fault = self.faults[index].clone();
        if let Some(times) = self.faults[index].times.as_mut() {
            *times -= 1;
            if *times == 0 {
                self.faults.remove(index);
            }
        }
        Some(fault)
    }

    pub fn mint_token(
        &mut self,
        kind: TokenKind,
        team_id: &str,
        user_id: &str,
        ttl: Duration,
    ) -> (String, String) {
        let prefix = match kind {
            TokenKind::Bot => "xoxe.xoxb",
            TokenKind::User => "xoxe.xoxp",
        };
        let access = format!("{prefix}-{}", random_id(24));
        let refresh = format!("xoxe-1-{}", random_id(32));
        self.tokens.insert(
            access.clone(),
            SimToken {
                kind,
                team_id: team_id.to_owned(),
                user_id: user_id.to_owned(),
                expires_at: Some(Utc::now() + chrono::Duration::from_std(ttl).unwrap_or_default()),
                revoked: false,
            },
        );
        self.refresh_tokens.insert(
            refresh.clone(),
            SimRefreshToken {
                kind,
                team_id: team_id.to_owned(),
                user_id: user_id.to_owned(),
                used: false,
            },
        );
        (access, refresh)
    }
}

/// Random letters and digits, for ids and tokens.
pub fn random_id(len: usize) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    (0..len)
        .map(|_| ALPHABET[rand::random_range(0..ALPHABET.len())] as char)
        .collect()
}
