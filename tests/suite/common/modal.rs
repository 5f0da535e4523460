//! The scheduling modal as a person fills it in: its fields' state, as
//! Slack sends it in a `view_submission` (or a `block_actions` from a
//! choice that updates the view).

use serde_json::{Value, json};
use slack_scheduler::sim::AppAnswer;
use slack_scheduler::slack::blocks;

use super::TestApp;
use super::harness::TEAM;

/// A modal's fields, filled in one by one.
#[derive(Debug, Clone)]
pub struct Filled {
    values: Value,
}

impl Filled {
    /// The three fields every modal has: where (none for a reply), what, when.
    pub fn new(app: &TestApp, channel: Option<&str>, text: &str, when: i64) -> Self {
        let rich_text = app.sim.composed(TEAM, text);
        let mut values = json!({
            blocks::TEXT_BLOCK: {blocks::TEXT_ACTION: {"type": "rich_text_input", "rich_text_value": rich_text}},
            blocks::WHEN_BLOCK: {blocks::WHEN_ACTION: {"type": "datetimepicker", "selected_date_time": when}},
        });
        if let Some(channel) = channel {
            values[blocks::CHANNEL_BLOCK] = json!({blocks::CHANNEL_ACTION:
                {"type": "conversations_select", "selected_conversation": channel}});
        }
        Self { values }
    }

    pub fn also(mut self, channels: &[&str]) -> Self {
        self.values[blocks::ALSO_BLOCK] = json!({blocks::ALSO_ACTION:
            {"type": "multi_conversations_select", "selected_conversations": channels}});
        self
    }

    fn select(mut self, block: &str, action: &str, value: &str) -> Self {
        self.values[block] = json!({action:
            {"type": "static_select", "selected_option": {"value": value, "text": {"type": "plain_text", "text": value}}}});
        self
    }

    /// The Repeat choice: `never`, `daily`, `weekdays`, `weekly`,
    /// `monthly_day`, `monthly_weekday`, `hourly`.
    pub fn repeat(self, choice: &str) -> Self {
        self.select(blocks::REPEAT_BLOCK, blocks::REPEAT_ACTION, choice)
    }

    pub fn every_hours(self, hours: u8) -> Self {
        self.select(
            blocks::HOURS_BLOCK,
            blocks::HOURS_ACTION,
            &hours.to_string(),
        )
    }

    pub fn on_days(mut self, days: &[&str]) -> Self {
        let options: Vec<Value> = days.iter().map(|d| json!({"value": d})).collect();
        self.values[blocks::DAYS_BLOCK] = json!({blocks::DAYS_ACTION:
            {"type": "checkboxes", "selected_options": options}});
        self
    }

    /// The Ends choice: `never`, `on`, `after`.
    pub fn ends(self, choice: &str) -> Self {
        self.select(blocks::ENDS_BLOCK, blocks::ENDS_ACTION, choice)
    }

    pub fn times(mut self, times: u32) -> Self {
        self.values[blocks::TIMES_BLOCK] = json!({blocks::TIMES_ACTION:
            {"type": "number_input", "value": times.to_string()}});
        self
    }

    pub fn until(mut self, date: &str) -> Self {
        self.values[blocks::UNTIL_BLOCK] = json!({blocks::UNTIL_ACTION:
            {"type": "datepicker", "selected_date": date}});
        self
    }

    /// Ticks the Options checkboxes: `unless_replied`, `unless_posted`, `broadcast`.
    pub fn options(mut self, ticked: &[&str]) -> Self {
        let options: Vec<Value> = ticked.iter().map(|o| json!({"value": o})).collect();
        self.values[blocks::OPTIONS_BLOCK] = json!({blocks::OPTIONS_ACTION:
            {"type": "checkboxes", "selected_options": options}});
        self
    }
}

impl TestApp {
    /// Submits a modal of `callback_id` with `private_metadata` as Slack
    /// would; with a response URL for `answer_in` when given (the
    /// conversation select asks Slack for one).
    pub async fn submit_modal(
        &self,
        user: &str,
        callback_id: &str,
        private_metadata: &str,
        filled: &Filled,
        answer_in: Option<&str>,
    ) -> AppAnswer {
        let mut payload = json!({
            "type": "view_submission", "team": {"id": TEAM}, "user": {"id": user, "team_id": TEAM},
            "api_app_id": "A0SIMAPP",
            "view": {"id": "V0", "type": "modal", "callback_id": callback_id,
                     "private_metadata": private_metadata, "hash": "h0",
                     "state": {"values": filled.values}},
        });
        if let Some(channel) = answer_in {
            let response_url = self.sim.issue_response_url(TEAM, channel, user);
            payload["response_urls"] = json!([{"block_id": blocks::CHANNEL_BLOCK, "action_id": blocks::CHANNEL_ACTION,
                                                "channel_id": channel, "response_url": response_url}]);
        }
        self.sim
            .send_interaction(&self.url, payload)
            .await
            .map(super::app::shown_by_slack)
            .expect("interaction delivered")
    }

    /// A choice made inside `view`, a modal open in the simulator (Repeat,
    /// Ends): Slack sends a `block_actions` with the view's state so far.
    pub async fn choose_in_modal(
        &self,
        user: &str,
        view: &Value,
        filled: &Filled,
        action_id: &str,
        value: &str,
    ) -> AppAnswer {
        let payload = json!({
            "type": "block_actions", "team": {"id": TEAM}, "user": {"id": user, "team_id": TEAM},
            "api_app_id": "A0SIMAPP", "trigger_id": self.sim.issue_trigger(TEAM, user),
            "container": {"type": "view", "view_id": view["id"]},
            "view": {"id": view["id"], "type": "modal", "callback_id": view["callback_id"],
                     "hash": view["hash"], "private_metadata": view["private_metadata"],
                     "state": {"values": filled.values}},
            "actions": [{"action_id": action_id, "block_id": "b", "type": "static_select",
                         "selected_option": {"value": value, "text": {"type": "plain_text", "text": value}}}],
        });
        self.sim
            .send_interaction(&self.url, payload)
            .await
            .map(super::app::shown_by_slack)
            .expect("interaction delivered")
    }

    /// Chooses an option of an overflow menu (a series' "Skip…").
    pub async fn choose(&self, user: &str, action_id: &str, value: &str) -> AppAnswer {
        let payload = json!({
            "type": "block_actions", "team": {"id": TEAM}, "user": {"id": user, "team_id": TEAM},
            "api_app_id": "A0SIMAPP", "trigger_id": self.sim.issue_trigger(TEAM, user),
            "view": {"id": "VHOME", "type": "home", "callback_id": "", "private_metadata": ""},
            "actions": [{"action_id": action_id, "block_id": "b", "type": "overflow",
                         "selected_option": {"value": value, "text": {"type": "plain_text", "text": value}}}],
        });
        self.sim
            .send_interaction(&self.url, payload)
            .await
            .map(super::app::shown_by_slack)
            .expect("interaction delivered")
    }
}
