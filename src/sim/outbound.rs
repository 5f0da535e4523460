//! The requests Slack sends to the app (slash commands, interactions,
//! events), built and signed exactly as Slack signs them.

use hmac::{Hmac, KeyInit, Mac};
use serde_json::Value;
use sha2::Sha256;

use super::state::SimTrigger;
use super::{SimInner, Simulator};

/// Slack shows a 200 JSON answer as a message (a slash command's reply) or
/// acts on its `response_action`; either must be valid Block Kit.
fn answer_problems(status: u16, body: &str) -> Vec<String> {
    if status != 200 {
        return Vec::new();
    }
    let Ok(Value::Object(answer)) = serde_json::from_str::<Value>(body) else {
        return Vec::new();
    };
    let mut problems = Vec::new();
    if let Some(blocks) = answer.get("blocks").filter(|b| !b.is_null()) {
        problems.extend(super::block_kit::check_message_blocks(blocks));
    }
    if let Some(view) = answer.get("view").filter(|v| !v.is_null()) {
        problems.extend(super::block_kit::check_view(view));
    }
    problems
}

/// `v0=` + hex(HMAC-SHA256(secret, "v0:{timestamp}:{body}")).
pub fn sign(signing_secret: &str, timestamp: i64, body: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(signing_secret.as_bytes())
        .expect("HMAC takes keys of any length");
    mac.update(format!("v0:{timestamp}:{body}").as_bytes());
    format!("v0={}", hex::encode(mac.finalize().into_bytes()))
}

/// What the app answered.
#[derive(Debug, Clone)]
pub struct AppAnswer {
    pub status: u16,
    pub body: String,
    /// Why Slack would not show this answer: the reasons its blocks (a
    /// slash command's reply) or its view (a modal's `response_action`)
    /// are not valid Block Kit. Empty when Slack would show it.
    pub invalid_blocks: Vec<String>,
}

impl AppAnswer {
    pub fn json(&self) -> Option<Value> {
        serde_json::from_str(&self.body).ok()
    }
}

/// A slash command as typed by a user.
#[derive(Debug, Clone)]
pub struct Command<'a> {
    pub team_id: &'a str,
    pub user_id: &'a str,
    pub channel_id: &'a str,
    /// What the user typed after `/schedule`: `@alice`, `#general`, links,
    /// `&`, `<` and `>` as they are. Slack sends it as the app registered
    /// the command to receive it ([`super::typing::command_text`]).
    pub text: &'a str,
}

impl SimInner {
    /// Sends a signed slash command to `{app_url}/slack/commands`, with a
    /// fresh `trigger_id` and `response_url`.
    pub(crate) async fn send_command(
        &self,
        app_url: &str,
        command: Command<'_>,
    ) -> Result<AppAnswer, reqwest::Error> {
        let trigger_id = self.issue_trigger(command.team_id, command.user_id);
        let response_url =
            self.issue_response_url(command.team_id, command.channel_id, command.user_id);
        let team_domain = command.team_id.to_lowercase();
        let channel_name = self
            .channel_name(command.channel_id)
            .unwrap_or_else(|| "directmessage".into());
        let user_name = self.user_name(command.user_id).unwrap_or_default();
        let escape = self
            .state
            .lock()
            .map(|s| s.settings.escape_commands)
            .unwrap_or(true);
        let text =
            super::typing::command_text(command.text, escape, &self.directory(command.team_id));
        let body = serde_urlencoded::to_string([
            ("token", "deprecated-verification-token"),
            ("team_id", command.team_id),
            ("team_domain", &team_domain),
            ("channel_id", command.channel_id),
            ("channel_name", &channel_name),
            ("user_id", command.user_id),
            ("user_name", &user_name),
            ("command", "/schedule"),
            ("text", &text),
            ("api_app_id", "A0SIMAPP"),
            ("response_url", &response_url),
            ("trigger_id", &trigger_id),
        ])
        .unwrap_or_default();
        self.send_signed(
            app_url,
            "/slack/commands",
            "application/x-www-form-urlencoded",
            body,
        )
        .await
    }

    /// Sends a signed interaction (`payload=<json>`) to `{app_url}/slack/interactivity`.
    /// A `trigger_id` is added to the payload as Slack does.
    pub(crate) async fn send_interaction(
        &self,
        app_url: &str,
        mut payload: Value,
    ) -> Result<AppAnswer, reqwest::Error> {
        let team = payload
            .pointer("/team/id")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let user = payload
            .pointer("/user/id")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        if payload.get("trigger_id").is_none() {
            payload["trigger_id"] = Value::String(self.issue_trigger(&team, &user));
        }
        let body =
            serde_urlencoded::to_string([("payload", payload.to_string())]).unwrap_or_default();
        self.send_signed(
            app_url,
            "/slack/interactivity",
            "application/x-www-form-urlencoded",
            body,
        )
        .await
    }

    /// Sends a signed Events API envelope to `{app_url}/slack/events`.
    pub(crate) async fn send_event(
        &self,
        app_url: &str,
        envelope: Value,
    ) -> Result<AppAnswer, reqwest::Error> {
        self.send_signed(
            app_url,
            "/slack/events",
            "application/json",
            envelope.to_string(),
        )
        .await
    }

    async fn send_signed(
        &self,
        app_url: &str,
        path: &str,
        content_type: &str,
        body: String,
    ) -> Result<AppAnswer, reqwest::Error> {
        let timestamp = chrono::Utc::now().timestamp();
        let signature = sign(&self.signing_secret(), timestamp, &body);
        let response = self
            .http
            .post(format!("{}{path}", app_url.trim_end_matches('/')))
            .header("content-type", content_type)
            .header("x-slack-request-timestamp", timestamp.to_string())
            .header("x-slack-signature", signature)
            .body(body)
            .send()
            .await?;
        let status = response.status().as_u16();
        let body = response.text().await?;
        let invalid_blocks = answer_problems(status, &body);
        Ok(AppAnswer {
            status,
            body,
            invalid_blocks,
        })
    }

    /// A single-use `trigger_id`, valid for the configured few seconds.
    pub(crate) fn issue_trigger(&self, team_id: &str, user_id: &str) -> String {
        let id = format!(
            "{}.{}.{}",
            rand::random_range(1_000_000u64..9_999_999),
            rand::random_range(1000u32..9999),
            super::state::random_id(16).to_lowercase()
        );
        if let Ok(mut state) = self.state.lock() {
            state.triggers.insert(
                id.clone(),
                SimTrigger {
                    issued: tokio::time::Instant::now(),
                    used: false,
                    team_id: team_id.to_owned(),
                    user_id: user_id.to_owned(),
                },
            );
        }
        id
    }

    /// A `response_url` pointing back at the simulator.
    pub(crate) fn issue_response_url(
        &self,
        team_id: &str,
        channel_id: &str,
        user_id: &str,
    ) -> String {
        let id = super::state::random_id(20);
        if let Ok(mut state) = self.state.lock() {
            state.response_urls.insert(
                id.clone(),
                (
                    team_id.to_owned(),
                    channel_id.to_owned(),
                    user_id.to_owned(),
                ),
            );
        }
        format!("{}/_sim/response/{id}", self.base_url)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_match_slacks_published_vector() {
        let body = "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
        assert_eq!(
            sign("8f742231b10e8888abcd99yyyzzz85a5", 1_531_420_618, body),
            "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"
        );
    }
}

impl SimInner {
    fn signing_secret(&self) -> String {
        self.state
            .lock()
            .map(|s| s.settings.signing_secret.clone())
            .unwrap_or_default()
    }

    fn channel_name(&self, id: &str) -> Option<String> {
        self.state
            .lock()
            .ok()?
            .channels
            .get(id)
            .map(|c| c.name.clone())
    }

    fn user_name(&self, id: &str) -> Option<String> {
        self.state
            .lock()
            .ok()?
            .users
            .get(id)
            .map(|u| u.name.clone())
    }
}

impl Simulator {
    /// Sends a signed slash command to `{app_url}/slack/commands`.
    pub async fn send_command(
        &self,
        app_url: &str,
        command: Command<'_>,
    ) -> Result<AppAnswer, reqwest::Error> {
        self.inner.send_command(app_url, command).await
    }

    /// Sends a signed interaction payload to `{app_url}/slack/interactivity`.
    pub async fn send_interaction(
        &self,
        app_url: &str,
        payload: Value,
    ) -> Result<AppAnswer, reqwest::Error> {
        self.inner.send_interaction(app_url, payload).await
    }

    /// A member of `team_id` chooses the app's message shortcut
    /// (`callback_id`, "Schedule a reply" for this app) on the message `ts`
    /// of `channel_id`: the signed `message_action` Slack sends, with a
    /// fresh trigger.
    pub async fn send_message_shortcut(
        &self,
        app_url: &str,
        team_id: &str,
        user_id: &str,
        channel_id: &str,
        ts: &str,
        callback_id: &str,
    ) -> Result<AppAnswer, reqwest::Error> {
        let (message, trigger, response_url) = {
            let message = self.with_state(|s| {
                s.messages
                    .iter()
                    .find(|m| m.channel == channel_id && m.ts == ts)
                    .cloned()
            });
            (
                message,
                self.issue_trigger(team_id, user_id),
                self.issue_response_url(team_id, channel_id, user_id),
            )
        };
        let mut shown = serde_json::json!({"type": "message", "ts": ts});
        if let Some(message) = message {
            shown["user"] = Value::String(message.user);
            shown["text"] = Value::String(message.text);
            if let Some(parent) = message.thread_ts {
                shown["thread_ts"] = Value::String(parent);
            }
        }
        let payload = serde_json::json!({
            "type": "message_action", "callback_id": callback_id, "trigger_id": trigger,
            "team": {"id": team_id}, "user": {"id": user_id, "team_id": team_id},
            "channel": {"id": channel_id}, "message": shown, "message_ts": ts,
            "response_url": response_url, "api_app_id": "A0SIMAPP",
        });
        self.inner.send_interaction(app_url, payload).await
    }

    /// Sends a signed Events API envelope to `{app_url}/slack/events`.
    pub async fn send_event(
        &self,
        app_url: &str,
        envelope: Value,
    ) -> Result<AppAnswer, reqwest::Error> {
        self.inner.send_event(app_url, envelope).await
    }

    /// A single-use `trigger_id`, valid for the configured few seconds.
    pub fn issue_trigger(&self, team_id: &str, user_id: &str) -> String {
        self.inner.issue_trigger(team_id, user_id)
    }

    /// A `response_url` pointing back at the simulator.
    pub fn issue_response_url(&self, team_id: &str, channel_id: &str, user_id: &str) -> String {
        self.inner.issue_response_url(team_id, channel_id, user_id)
    }
}

/// A browser: follows the install flow by hand, carrying the state cookie.
#[derive(Debug, Clone)]
pub struct BrowserInstall {
    /// The app's answer to the OAuth callback.
    pub status: u16,
    pub body: String,
}

impl Simulator {
    /// Clicks "Add to Slack" on the app at `app_url` as `user_id` (or the
    /// signed-in browser user), approves on the simulated Slack page, and
    /// returns the app's callback page.
    pub async fn browser_install(
        &self,
        app_url: &str,
        user_id: Option<&str>,
    ) -> Result<BrowserInstall, String> {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| e.to_string())?;
        let start = client
            .get(format!("{}/slack/install", app_url.trim_end_matches('/')))
            .send()
            .await
            .map_err(|e| e.to_string())?;
        let cookie = start
            .headers()
            .get(reqwest::header::SET_COOKIE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .map(str::to_owned)
            .ok_or("the install page set no state cookie")?;
        let mut authorize = location(&start)?;
        if let Some(user) = user_id {
            authorize.query_pairs_mut().append_pair("sim_user", user);
        }
        let approved = client
            .get(authorize)
            .send()
            .await
            .map_err(|e| e.to_string())?;
        let callback = location(&approved)?;
        let done = client
            .get(callback)
            .header(reqwest::header::COOKIE, cookie)
            .send()
            .await
            .map_err(|e| e.to_string())?;
        let status = done.status().as_u16();
        let body = done.text().await.map_err(|e| e.to_string())?;
        Ok(BrowserInstall { status, body })
    }
}

fn location(response: &reqwest::Response) -> Result<reqwest::Url, String> {
    let target = response
        .headers()
        .get(reqwest::header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| format!("expected a redirect, got {}", response.status()))?;
    response.url().join(target).map_err(|e| e.to_string())
}
