//! The delivery cycle wired to a real database and the simulator over HTTP.

use std::time::Duration;

use chrono::{DateTime, Utc};
use secrecy::SecretString;
use slack_scheduler::crypto::TokenCipher;
use slack_scheduler::domain::{DueTime, MessageText};
use slack_scheduler::scheduler::{CycleReport, Scheduler, Settings};
use slack_scheduler::sim::{SimSettings, Simulator};
use slack_scheduler::slack::{SlackApi, SlackOAuth};
use slack_scheduler::store::{Author, MessageRecord, NewMessage, Store, TokenGrant};
use slack_scheduler::tokens::Refresher;
use tokio_util::sync::CancellationToken;

use super::TestDb;

pub const TEAM: &str = "T0001";
pub const ALICE: &str = "U0001";
pub const BOB: &str = "U0002";
/// alice and bob are members.
pub const GENERAL: &str = "C0001";
/// alice only.
pub const RANDOM: &str = "C0002";
/// Archived.
pub const OLD: &str = "C0003";

pub struct Harness {
    pub sim: Simulator,
    /// The token key, shared by every "process" on the database.
    pub cipher: TokenCipher,
    pub store: Store,
    pub slack: SlackApi,
    pub oauth: SlackOAuth,
    pub scheduler: Scheduler,
    pub settings: Settings,
}

/// How long one of Slack's seconds lasts in the tests' simulator: a tenth
/// of a real one, so its "minute" is six seconds. Every Slack window the
/// app paces itself by is scaled by the same factor in [`test_settings`].
pub const TIME_SCALE: f64 = 0.1;

/// The simulator as strict as Slack, at the tests' [`TIME_SCALE`].
///
/// Whether Slack keeps message metadata on user-token posts is unverified
/// (SLACK-NOTES §6): the simulator refuses it by default, and the suites in
/// general run with it kept, so that they can count posts by the scheduled
/// message they name. `metadata.rs` runs the app against refusal and dropping.
pub fn test_sim_settings() -> SimSettings {
    SimSettings::default()
        .with_time_scale(TIME_SCALE)
        .accepting_metadata()
}

/// Cycle settings for tests: Slack's pace at [`TIME_SCALE`].
pub fn test_settings() -> Settings {
    settings_at(TIME_SCALE)
}

/// Cycle settings for a simulator whose second lasts `scale` of a real one:
/// Slack's pace (one post a second per channel becomes ten a real second
/// at a tenth), the pacing budget and the history window shrink alike;
/// short backoffs.
pub fn settings_at(scale: f64) -> Settings {
    let slack = Settings::default();
    Settings {
        tick: Duration::from_secs(60),
        batch_size: 1000,
        concurrency: 64,
        max_attempts: 3,
        channel_rate_per_sec: (f64::from(slack.channel_rate_per_sec) / scale).round() as u32,
        // With Slack's time shrunk, the app's own fixed delays (a claim, a
        // database round trip) weigh that much more against Slack's
        // interval; posting without a burst keeps the slack against Slack's
        // burst that its real second gives.
        channel_burst: 1,
        pacing_budget: slack.pacing_budget.mul_f64(scale),
        retry_base: Duration::from_secs(5),
        retry_cap: Duration::from_secs(30),
        slack_timeout: Duration::from_secs(2),
        // Slack's history budget is per (scaled) minute. (The verify wait is
        // measured on the cycle's clock, which tests move by hand.)
        history_window: slack.history_window.mul_f64(scale),
        // Drains in tests are small: every outcome is in hand long before
        // this, so each drain writes in as few statements as it can.
        flush_interval: Duration::from_secs(2),
        ..slack
    }
}

impl Harness {
    pub async fn start(db: &TestDb) -> Self {
        Self::with_settings(db, test_settings()).await
    }

    pub async fn with_settings(db: &TestDb, settings: Settings) -> Self {
        Self::with_settings_at(db, TIME_SCALE, settings).await
    }

    /// The simulator's second lasting `scale` of a real one; `settings`
    /// should be [`settings_at`] the same scale.
    pub async fn with_settings_at(db: &TestDb, scale: f64, settings: Settings) -> Self {
        // Metadata kept: see [`test_sim_settings`].
        let sim = Simulator::start(
            SimSettings::default()
                .with_time_scale(scale)
                .accepting_metadata(),
        )
        .await
        .expect("simulator starts");
        sim.seed_demo_workspace();
        let cipher = TokenCipher::random();
        let store = db.store_with(cipher.clone()).await;
        Self::around(sim, cipher, store, settings)
    }

    /// Another runner on the same simulator and database (a second process).
    pub fn runner(&self, store: Store, settings: Settings) -> Scheduler {
        let refresher = Refresher::new(store.clone(), self.oauth.clone(), settings.refresh_lock);
        Scheduler::new(&store, self.slack.clone(), refresher, settings)
    }

    fn around(sim: Simulator, cipher: TokenCipher, store: Store, settings: Settings) -> Self {
        let slack = SlackApi::new(&sim.api_url(), settings.slack_timeout).expect("client");
        let sim_settings = sim.settings();
        let oauth = SlackOAuth::new(
            &sim_settings.client_id,
            &SecretString::from(sim_settings.client_secret.clone()),
            &sim.authorize_url(),
            &sim.api_url(),
            "http://127.0.0.1:9/slack/oauth/callback",
        )
        .expect("oauth client");
        let refresher = Refresher::new(store.clone(), oauth.clone(), settings.refresh_lock);
        let scheduler = Scheduler::new(&store, slack.clone(), refresher, settings.clone());
        Self {
            sim,
            cipher,
            store,
            slack,
            oauth,
            scheduler,
            settings,
        }
    }

    /// Installs `user` in the simulator and stores their token pair, as the
    /// OAuth callback would. Returns the author and the tokens.
    pub async fn connect(&self, user: &str) -> (Author, slack_scheduler::sim::IssuedTokens) {
        let tokens = self.sim.install(TEAM, user);
        let grant = TokenGrant {
            access_token: SecretString::from(tokens.user_access.clone()),
            refresh_token: Some(SecretString::from(tokens.user_refresh.clone())),
            expires_at: Some(
                Utc::now() + chrono::Duration::from_std(tokens.expires_in).expect("ttl"),
            ),
        };
        let author = self
            .store
            .connect_user(TEAM, user, &grant, Utc::now())
            .await
            .expect("user stored");
        (author, tokens)
    }

    /// Stores `user`'s pair from `tokens` as expiring at `expires_at`, as if
    /// it had been granted that long ago.
    pub async fn store_tokens_expiring(
        &self,
        user: &str,
        tokens: &slack_scheduler::sim::IssuedTokens,
        expires_at: DateTime<Utc>,
    ) {
        let grant = TokenGrant {
            access_token: SecretString::from(tokens.user_access.clone()),
            refresh_token: Some(SecretString::from(tokens.user_refresh.clone())),
            expires_at: Some(expires_at),
        };
        self.store
            .connect_user(TEAM, user, &grant, Utc::now())
            .await
            .expect("tokens stored");
    }

    pub async fn schedule(
        &self,
        author: &Author,
        channel: &str,
        text: &str,
        due: DateTime<Utc>,
    ) -> i64 {
        let message = new_message(author, channel, text, due);
        self.store
            .insert_message(&message, due - chrono::Duration::seconds(1))
            .await
            .expect("message stored")
    }

    /// Stores `count` messages `"{prefix} {i}"` in one statement; returns nothing
    /// (ids are read back with [`Store::all_messages`]).
    pub async fn schedule_many(
        &self,
        author: &Author,
        channel: &str,
        prefix: &str,
        count: usize,
        due: DateTime<Utc>,
    ) {
        let messages: Vec<NewMessage> = (0..count)
            .map(|i| new_message(author, channel, &format!("{prefix} {i}"), due))
            .collect();
        self.store
            .insert_messages(&messages, Utc::now())
            .await
            .expect("messages stored");
    }

    /// `count` more conversations in the workspace, with `members`: for
    /// tests whose many messages are not about one channel's pace.
    pub fn add_channels(&self, prefix: &str, count: usize, members: &[&str]) -> Vec<String> {
        (0..count)
            .map(|i| {
                let id = format!("{prefix}{i:03}");
                self.sim
                    .add_channel(TEAM, &id, &format!("room-{id}"), members);
                id
            })
            .collect()
    }

    pub async fn cycle_at(&self, now: DateTime<Utc>) -> CycleReport {
        self.scheduler
            .run_cycle(now, &CancellationToken::new())
            .await
            .expect("cycle runs")
    }

    pub async fn message(&self, id: i64) -> MessageRecord {
        self.store
            .message(id)
            .await
            .expect("read")
            .expect("message exists")
    }

    /// Posts (chat.postMessage calls) the simulator accepted or refused whose text is `text`.
    pub fn post_calls_for(&self, text: &str) -> usize {
        self.sim
            .calls(Some("chat.postMessage"))
            .iter()
            .filter(|c| c.params.get("text").and_then(|t| t.as_str()) == Some(text))
            .count()
    }
}

pub fn new_message(author: &Author, channel: &str, text: &str, due: DateTime<Utc>) -> NewMessage {
    NewMessage {
        author_id: author.id,
        team_id: author.team_id.clone(),
        user_id: author.user_id.clone(),
        channel_id: channel.to_owned(),
        text: MessageText::parse(text).expect("valid text"),
        rich_text: None,
        due: DueTime::parse(due, due - chrono::Duration::seconds(1)).expect("valid due time"),
        options: Default::default(),
    }
}
