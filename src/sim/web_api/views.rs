//! `views.open`, `views.publish` and `views.update`: every view is checked
//! as Block Kit first, and refused with `invalid_arguments` and Slack's
//! reasons in `response_metadata.messages`
//! (docs.slack.dev/reference/methods/views.open, `views.publish`,
//! `views.update`: "invalid_arguments — The method was called with
//! invalid arguments").

use serde_json::{Map, Value, json};

use super::super::block_kit;
use super::super::limits::{Limit, Limits};
use super::super::state::{SimState, SimToken, SimView, random_id};
use super::{Refusal, refuse, str_param};

fn stateful_view(view: &Value, id: &str, team_id: &str) -> Value {
    let mut view = view.clone();
    if let Value::Object(object) = &mut view {
        object.insert("id".into(), Value::String(id.to_owned()));
        object.insert("team_id".into(), Value::String(team_id.to_owned()));
        object.insert("hash".into(), Value::String(random_id(12)));
        object.insert("app_id".into(), Value::String("A0SIMAPP".into()));
        object.insert("state".into(), json!({"values": {}}));
    }
    view
}

/// The `view` argument, valid Block Kit.
fn valid_view(params: &Map<String, Value>) -> Result<&Value, Refusal> {
    let view = params
        .get("view")
        .filter(|v| v.is_object())
        .ok_or_else(|| Refusal::Error("invalid_arguments".into()))?;
    let problems = block_kit::check_view(view);
    if problems.is_empty() {
        Ok(view)
    } else {
        Err(Refusal::Invalid {
            code: "invalid_arguments",
            messages: problems,
        })
    }
}

pub(super) fn views_open(
    state: &mut SimState,
    caller: &SimToken,
    params: &Map<String, Value>,
) -> Result<Value, Refusal> {
    let trigger_id = str_param(params, "trigger_id")
        .ok_or_else(|| Refusal::Error("invalid_trigger_id".into()))?;
    let ttl = state.settings.trigger_ttl;
    let trigger = state
        .triggers
        .get_mut(trigger_id)
        .ok_or_else(|| Refusal::Error("invalid_trigger_id".into()))?;
    if trigger.used {
        return refuse("exchanged_trigger_id");
    }
    if trigger.issued.elapsed() > ttl {
        return refuse("expired_trigger_id");
    }
    trigger.used = true;
    let user_id = trigger.user_id.clone();
    let view = valid_view(params)?;
    let id = format!("V{}", random_id(10));
    let shown = stateful_view(view, &id, &caller.team_id);
    state.views.push(SimView {
        id,
        team_id: caller.team_id.clone(),
        user_id: Some(user_id),
        view: shown.clone(),
    });
    Ok(json!({"view": shown}))
}

pub(super) fn views_publish(
    state: &mut SimState,
    limits: &Limits,
    caller: &SimToken,
    params: &Map<String, Value>,
) -> Result<Value, Refusal> {
    let user_id =
        str_param(params, "user_id").ok_or_else(|| Refusal::Error("user_not_found".into()))?;
    if state
        .users
        .get(user_id)
        .is_none_or(|u| u.team_id != caller.team_id)
    {
        return refuse("user_not_found");
    }
    let view = valid_view(params)?;
    limits
        .take(Limit::ViewsPublish, &caller.team_id)
        .map_err(Refusal::RateLimited)?;
    let id = state
        .views
        .iter()
        .find(|v| {
            v.user_id.as_deref() == Some(user_id) && v.view.get("type") == Some(&json!("home"))
        })
        .map(|v| v.id.clone())
        .unwrap_or_else(|| format!("V{}", random_id(10)));
    let shown = stateful_view(view, &id, &caller.team_id);
    state.views.retain(|v| v.id != id);
    state.views.push(SimView {
        id,
        team_id: caller.team_id.clone(),
        user_id: Some(user_id.to_owned()),
        view: shown.clone(),
    });
    Ok(json!({"view": shown}))
}

pub(super) fn views_update(
    state: &mut SimState,
    caller: &SimToken,
    params: &Map<String, Value>,
) -> Result<Value, Refusal> {
    let view_id = str_param(params, "view_id").ok_or_else(|| Refusal::Error("not_found".into()))?;
    let view = valid_view(params)?;
    let existing = state
        .views
        .iter_mut()
        .find(|v| v.id == view_id)
        .ok_or_else(|| Refusal::Error("not_found".into()))?;
    // "hash_conflict: The provided hash doesn't match the current hash of
    // the view" (docs.slack.dev/reference/methods/views.update).
    if let Some(hash) = str_param(params, "hash")
        && existing.view.get("hash").and_then(Value::as_str) != Some(hash)
    {
        return refuse("hash_conflict");
    }
    let shown = stateful_view(view, view_id, &caller.team_id);
    existing.view = shown.clone();
    Ok(json!({"view": shown}))
}
