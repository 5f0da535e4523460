//! What Slack sends the app: slash commands, interaction payloads and Events
//! API envelopes, read into our own types. slack-morphism's event models miss
//! fields we rely on (`response_urls`, `tokens_revoked`, org installs), so
//! only the parts we use are modelled, leniently.

use std::collections::HashMap;

use serde::Deserialize;

/// `POST /slack/commands` (form-encoded).
#[derive(Debug, Clone, Deserialize)]
pub struct SlashCommand {
    #[serde(default)]
    pub team_id: String,
    #[serde(default)]
    pub user_id: String,
    #[serde(default)]
    pub channel_id: String,
    #[serde(default)]
    pub command: String,
    #[serde(default)]
    pub text: String,
    pub trigger_id: Option<String>,
    pub response_url: Option<String>,
    /// Slack's periodic certificate check: answer 200 and do nothing.
    pub ssl_check: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct IdRef {
    pub id: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct UserRef {
    pub id: String,
    pub team_id: Option<String>,
}

/// `POST /slack/interactivity`: the JSON in the `payload` form field.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Interaction {
    ViewSubmission(ViewSubmission),
    BlockActions(BlockActions),
    /// A message shortcut ("Schedule a reply").
    MessageAction(MessageAction),
    #[serde(other)]
    Other,
}

/// A message shortcut chosen on a message: which one, and where it is.
#[derive(Debug, Clone, Deserialize)]
pub struct MessageAction {
    #[serde(default)]
    pub callback_id: String,
    pub team: Option<IdRef>,
    pub user: UserRef,
    pub trigger_id: Option<String>,
    pub channel: Option<IdRef>,
    pub message: Option<ShortcutMessage>,
    pub response_url: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ShortcutMessage {
    pub ts: String,
    /// Set when the message is itself in a thread (its parent's `ts`).
    pub thread_ts: Option<String>,
    pub user: Option<String>,
    #[serde(default)]
    pub text: String,
}

impl MessageAction {
    pub fn team_id(&self) -> Option<&str> {
        self.team
            .as_ref()
            .map(|t| t.id.as_str())
            .or(self.user.team_id.as_deref())
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct ViewSubmission {
    pub team: Option<IdRef>,
    pub user: UserRef,
    /// Unique per submission: a replay of the same request carries it again.
    pub trigger_id: Option<String>,
    pub view: SubmittedView,
    #[serde(default)]
    pub response_urls: Vec<ResponseUrl>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ResponseUrl {
    pub channel_id: Option<String>,
    pub response_url: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct SubmittedView {
    #[serde(default, deserialize_with = "null_as_empty")]
    pub id: String,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub callback_id: String,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub private_metadata: String,
    /// Guards `views.update` against a view changed meanwhile.
    #[serde(default, deserialize_with = "null_as_empty")]
    pub hash: String,
    #[serde(default)]
    pub state: ViewState,
}

/// A string Slack may send as `null` (a view without private metadata).
fn null_as_empty<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    Ok(Option::<String>::deserialize(deserializer)?.unwrap_or_default())
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct ViewState {
    #[serde(default)]
    pub values: HashMap<String, HashMap<String, StateValue>>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct StateValue {
    pub value: Option<String>,
    /// A `rich_text_input`'s value: a `rich_text` block.
    pub rich_text_value: Option<serde_json::Value>,
    pub selected_conversation: Option<String>,
    pub selected_channel: Option<String>,
    pub selected_date_time: Option<i64>,
    /// `multi_conversations_select`.
    #[serde(default)]
    pub selected_conversations: Vec<String>,
    /// `static_select`, `radio_buttons`.
    pub selected_option: Option<OptionValue>,
    /// `checkboxes`.
    #[serde(default)]
    pub selected_options: Vec<OptionValue>,
    /// `datepicker`: `YYYY-MM-DD`.
    pub selected_date: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct OptionValue {
    #[serde(default)]
    pub value: String,
}

impl StateValue {
    /// Whether the checkbox whose value is `value` is ticked.
    pub fn ticked(&self, value: &str) -> bool {
        self.selected_options.iter().any(|o| o.value == value)
    }
}

impl SubmittedView {
    /// The value of `action_id` inside input block `block_id`.
    pub fn value(&self, block_id: &str, action_id: &str) -> Option<&StateValue> {
        self.state.values.get(block_id)?.get(action_id)
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct BlockActions {
    pub team: Option<IdRef>,
    pub user: UserRef,
    pub trigger_id: Option<String>,
    pub response_url: Option<String>,
    #[serde(default)]
    pub actions: Vec<Action>,
    /// Present when the button sits in a view (App Home or a modal).
    pub view: Option<SubmittedView>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Action {
    pub action_id: String,
    pub value: Option<String>,
    /// What a select or overflow menu chose.
    pub selected_option: Option<OptionValue>,
}

impl Action {
    /// The button's value, or the chosen option's.
    pub fn chosen(&self) -> Option<&str> {
        self.value
            .as_deref()
            .or(self.selected_option.as_ref().map(|o| o.value.as_str()))
    }
}

impl ViewSubmission {
    pub fn team_id(&self) -> Option<&str> {
        self.team
            .as_ref()
            .map(|t| t.id.as_str())
            .or(self.user.team_id.as_deref())
    }
}

impl BlockActions {
    pub fn team_id(&self) -> Option<&str> {
        self.team
            .as_ref()
            .map(|t| t.id.as_str())
            .or(self.user.team_id.as_deref())
    }
}

/// `POST /slack/events`.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum EventEnvelope {
    UrlVerification {
        challenge: String,
    },
    EventCallback {
        team_id: String,
        event_id: String,
        /// When Slack sent the event (Unix seconds; 0 if absent).
        #[serde(default)]
        event_time: i64,
        event: Event,
    },
    #[serde(other)]
    Other,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    AppHomeOpened {
        user: String,
        #[serde(default)]
        tab: String,
    },
    TokensRevoked {
        #[serde(default)]
        tokens: RevokedTokens,
    },
    AppUninstalled,
    #[serde(other)]
    Other,
}

/// `tokens_revoked` names users, not tokens.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct RevokedTokens {
    #[serde(default)]
    pub oauth: Vec<String>,
    #[serde(default)]
    pub bot: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_view_submission_reads_its_state_values() {
        let payload = serde_json::json!({
            "type": "view_submission", "team": {"id": "T1"}, "user": {"id": "U1", "team_id": "T1"},
            "api_app_id": "A1", "trigger_id": "1.2.3",
            "view": {"id": "V1", "callback_id": "schedule_new", "private_metadata": "",
                     "state": {"values": {
                        "channel_block": {"channel": {"type": "conversations_select", "selected_conversation": "C1"}},
                        "text_block": {"text": {"type": "rich_text_input", "rich_text_value": {"type": "rich_text",
                            "elements": [{"type": "rich_text_section", "elements": [{"type": "text", "text": "hi"}]}]}}},
                        "when_block": {"when": {"type": "datetimepicker", "selected_date_time": 1767225600}}}}},
            "response_urls": [{"block_id": "channel_block", "action_id": "channel", "channel_id": "C1",
                               "response_url": "https://hooks.slack.com/x"}]
        });
        let Interaction::ViewSubmission(vs) = serde_json::from_value(payload).expect("parses")
        else {
            panic!("not a view submission");
        };
        assert_eq!(vs.team_id(), Some("T1"));
        assert_eq!(
            vs.view
                .value("when_block", "when")
                .and_then(|v| v.selected_date_time),
            Some(1_767_225_600)
        );
        assert_eq!(vs.response_urls.len(), 1);
        assert_eq!(
            vs.view
                .value("text_block", "text")
                .and_then(|v| v.rich_text_value.as_ref())
                .map(|v| v["elements"][0]["elements"][0]["text"].clone()),
            Some(serde_json::json!("hi"))
        );
    }

    #[test]
    fn org_installs_and_unknown_kinds_still_parse() {
        let payload = serde_json::json!({"type": "block_actions", "team": null,
            "user": {"id": "U1", "team_id": "T9"}, "actions": [{"action_id": "cancel_message", "value": "7"}]});
        let Interaction::BlockActions(actions) = serde_json::from_value(payload).expect("parses")
        else {
            panic!("not block actions");
        };
        assert_eq!(actions.team_id(), Some("T9"));
        assert!(matches!(
            serde_json::from_value(serde_json::json!({"type": "shortcut"})),
            Ok(Interaction::Other)
        ));
        let revoked: EventEnvelope = serde_json::from_value(serde_json::json!({
            "type": "event_callback", "team_id": "T1", "event_id": "Ev1",
            "event": {"type": "tokens_revoked", "tokens": {"oauth": ["U1"], "bot": ["UB"]}}}))
        .expect("parses");
        assert!(matches!(
            revoked,
            EventEnvelope::EventCallback {
                event: Event::TokensRevoked { .. },
                ..
            }
        ));
    }
}
