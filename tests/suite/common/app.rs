//! The whole app on a random port, the simulator playing Slack (and the
//! browser), a fresh database.

use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use serde_json::{Value, json};
use slack_scheduler::app::{AppState, Application};
use slack_scheduler::config::{Cli, Config, SlackCredentials};
use slack_scheduler::crypto::TokenCipher;
use slack_scheduler::scheduler::Settings;
use slack_scheduler::sim::outbound::BrowserInstall;
use slack_scheduler::sim::{AppAnswer, Command, SimSettings, Simulator};
use slack_scheduler::slack::blocks;
use slack_scheduler::store::{MessageRecord, Store};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::TestDb;
use super::harness::{TEAM, test_settings, test_sim_settings};

pub struct TestApp {
    pub sim: Simulator,
    pub store: Store,
    pub url: String,
    pub state: Arc<AppState>,
    pub http: reqwest::Client,
    stop: CancellationToken,
    task: Option<JoinHandle<std::io::Result<()>>>,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// An answer Slack would show: whatever the app answers through these
/// helpers must be valid Block Kit (a slash command's reply, a modal's
/// `response_action` view), as every view and message must be (SPEC §4).
pub fn shown_by_slack(answer: AppAnswer) -> AppAnswer {
    assert!(
        answer.invalid_blocks.is_empty(),
        "Slack would refuse this answer: {:?}\n{}",
        answer.invalid_blocks,
        answer.body
    );
    answer
}

/// The configuration `serve` would read from an empty environment.
pub fn base_config() -> Config {
    Cli::try_parse_from(["slack-scheduler"])
        .expect("defaults parse")
        .config
}

impl TestApp {
    pub async fn start(db: &TestDb) -> Self {
        Self::start_with(db, test_sim_settings(), test_settings(), |_| {}).await
    }

    pub async fn start_with(
        db: &TestDb,
        sim_settings: SimSettings,
        settings: Settings,
        configure: impl FnOnce(&mut Config),
    ) -> Self {
        let sim = Simulator::start(sim_settings).await.expect("simulator");
        sim.seed_demo_workspace();
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("port");
        let url = format!("http://{}", listener.local_addr().expect("address"));
        // The app's Redirect URL, as its manifest registers it.
        sim.allow_redirect_url(&format!("{url}/slack/oauth/callback"));
        let mut config = base_config();
        config.database_url = db.url.clone();
        config.public_url = url.clone();
        config.slack_api_url = sim.api_url();
        config.slack_authorize_url = sim.authorize_url();
        configure(&mut config);
        let s = sim.settings();
        let credentials = SlackCredentials {
            client_id: s.client_id.clone(),
            client_secret: s.client_secret.clone().into(),
            signing_secret: s.signing_secret.clone().into(),
        };
        let store = db.store_with(TokenCipher::random()).await;
        let app = Application::assemble(&config, credentials, store.clone(), settings, listener)
            .expect("app builds");
        let state = app.state();
        let stop = CancellationToken::new();
        let task = Some(tokio::spawn(app.run_until(stop.clone())));
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client");
        Self {
            sim,
            store,
            url,
            state,
            http,
            stop,
            task,
        }
    }

    /// Stops the app and waits for it to finish its cycle.
    pub async fn stop(mut self) {
        self.stop.cancel();
        if let Some(task) = self.task.take() {
            let _ = tokio::time::timeout(Duration::from_secs(30), task).await;
        }
    }

    pub async fn install(&self, user: &str) -> BrowserInstall {
        self.sim
            .browser_install(&self.url, Some(user))
            .await
            .expect("install flow")
    }

    pub async fn command(&self, user: &str, channel: &str, text: &str) -> AppAnswer {
        self.sim
            .send_command(
                &self.url,
                Command {
                    team_id: TEAM,
                    user_id: user,
                    channel_id: channel,
                    text,
                },
            )
            .await
            .map(shown_by_slack)
            .expect("command delivered")
    }

    /// Submits the scheduling modal as Slack would, `text` typed into its
    /// message field (see [`Simulator::composed`]).
    pub async fn submit(
        &self,
        user: &str,
        editing: Option<i64>,
        channel: Option<&str>,
        text: &str,
        when: Option<i64>,
    ) -> AppAnswer {
        let rich_text = self.sim.composed(TEAM, text);
        self.submit_rich(user, editing, channel, rich_text, when)
            .await
    }

    /// Submits the scheduling modal with `rich_text` as its message
    /// field's `rich_text_value`.
    pub async fn submit_rich(
        &self,
        user: &str,
        editing: Option<i64>,
        channel: Option<&str>,
        rich_text: Value,
        when: Option<i64>,
    ) -> AppAnswer {
        let field = json!({"type": "rich_text_input", "rich_text_value": rich_text});
        self.submit_field(user, editing, channel, field, when).await
    }

    /// Submits the scheduling modal with `field` as its message field's state.
    pub async fn submit_field(
        &self,
        user: &str,
        editing: Option<i64>,
        channel: Option<&str>,
        field: Value,
        when: Option<i64>,
    ) -> AppAnswer {
        let (callback, metadata) = match editing {
            Some(id) => (blocks::EDIT_CALLBACK, id.to_string()),
            None => (blocks::NEW_CALLBACK, String::new()),
        };
        let mut values = json!({
            blocks::TEXT_BLOCK: {blocks::TEXT_ACTION: field},
            blocks::CHANNEL_BLOCK: {blocks::CHANNEL_ACTION: {"type": "conversations_select", "selected_conversation": channel}},
            blocks::WHEN_BLOCK: {blocks::WHEN_ACTION: {"type": "datetimepicker", "selected_date_time": when}},
        });
        if channel.is_none() {
            values[blocks::CHANNEL_BLOCK][blocks::CHANNEL_ACTION] =
                json!({"type": "conversations_select"});
        }
        let mut payload = json!({
            "type": "view_submission", "team": {"id": TEAM}, "user": {"id": user, "team_id": TEAM},
            "api_app_id": "A0SIMAPP",
            "view": {"id": "V0", "type": "modal", "callback_id": callback, "private_metadata": metadata,
                     "state": {"values": values}},
        });
        if let Some(channel) = channel {
            let response_url = self.sim.issue_response_url(TEAM, channel, user);
            payload["response_urls"] = json!([{"block_id": blocks::CHANNEL_BLOCK, "action_id": blocks::CHANNEL_ACTION,
                                                "channel_id": channel, "response_url": response_url}]);
        }
        self.sim
            .send_interaction(&self.url, payload)
            .await
            .map(shown_by_slack)
            .expect("interaction delivered")
    }

    /// Presses a button: in a message (with a response_url) or in the Home tab.
    pub async fn press(
        &self,
        team: &str,
        user: &str,
        action_id: &str,
        value: &str,
        in_message: bool,
    ) -> AppAnswer {
        let mut payload = json!({
            "type": "block_actions", "team": {"id": team}, "user": {"id": user, "team_id": team},
            "api_app_id": "A0SIMAPP",
            "actions": [{"action_id": action_id, "value": value, "block_id": "b", "type": "button"}],
        });
        if in_message {
            payload["response_url"] =
                Value::String(self.sim.issue_response_url(team, "C0001", user));
            payload["container"] = json!({"type": "message"});
        } else {
            payload["view"] =
                json!({"id": "VHOME", "type": "home", "callback_id": "", "private_metadata": ""});
        }
        self.sim
            .send_interaction(&self.url, payload)
            .await
            .map(shown_by_slack)
            .expect("interaction delivered")
    }

    pub async fn event(&self, event_id: &str, event: Value) -> AppAnswer {
        let envelope = json!({"token": "x", "team_id": TEAM, "api_app_id": "A0SIMAPP", "type": "event_callback",
                              "event_id": event_id, "event_time": chrono::Utc::now().timestamp(), "event": event});
        self.sim
            .send_event(&self.url, envelope)
            .await
            .map(shown_by_slack)
            .expect("event delivered")
    }

    /// Stores `count` messages of `user` in `channel`, due an hour apart
    /// from an hour from now; returns nothing (read them back with
    /// [`TestApp::messages`]).
    pub async fn store_many(&self, user: &str, channel: &str, count: usize) {
        let now = chrono::Utc::now();
        let author = self
            .store
            .ensure_user(TEAM, user, now)
            .await
            .expect("author");
        let messages: Vec<_> = (0..count)
            .map(|i| {
                let due = now + chrono::Duration::hours(1 + i as i64);
                super::harness::new_message(&author, channel, &format!("stored {i} <&>"), due)
            })
            .collect();
        self.store
            .insert_messages(&messages, now)
            .await
            .expect("messages stored");
    }

    pub async fn messages(&self) -> Vec<MessageRecord> {
        self.store.all_messages().await.expect("read")
    }

    /// The text of the last ephemeral answer or response_url post.
    pub fn last_ephemeral_text(&self) -> Option<String> {
        self.sim.ephemerals().last().and_then(|e| {
            e.body
                .get("text")
                .and_then(|t| t.as_str())
                .map(str::to_owned)
        })
    }
}
