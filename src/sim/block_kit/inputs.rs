//! The input elements that only take a value in a form: a number, and a
//! choice of several conversations, each field with the kind and limit
//! Slack's reference gives it.
//!
//! Sources (docs.slack.dev/reference/block-kit/block-elements/…):
//! `number-input-element`, `multi-select-menu-element` (conversations).

use serde_json::{Map, Value};

use super::table::{field, plain, required, string, typed};
use super::{Checker, Kind, Schema};

/// `number_input`: `is_decimal_allowed` is required; the initial, least
/// and greatest values are strings of a number.
pub(super) const NUMBER_INPUT: Schema = typed(
    "number_input",
    &[
        required("is_decimal_allowed", Kind::Bool),
        field("action_id", Kind::ActionId),
        field("initial_value", string(255)),
        field("min_value", string(255)),
        field("max_value", string(255)),
        field("focus_on_load", Kind::Bool),
        field("placeholder", plain(150)),
    ],
    Some(numbers_read),
);

/// `multi_conversations_select`: at least one item may be chosen.
pub(super) const MULTI_CONVERSATIONS_SELECT: Schema = typed(
    "multi_conversations_select",
    &[
        field("action_id", Kind::ActionId),
        field("placeholder", plain(150)),
        field(
            "initial_conversations",
            Kind::Array {
                of: &Kind::Str { min: 1, max: 255 },
                min: 1,
                max: 100,
            },
        ),
        field("default_to_current_conversation", Kind::Bool),
        field("max_selected_items", Kind::Int { min: 1, max: 100 }),
        field("focus_on_load", Kind::Bool),
    ],
    None,
);

/// A number input's values must read as numbers (whole ones unless
/// decimals are allowed), and the initial one lie between the bounds.
fn numbers_read(checker: &mut Checker, object: &Map<String, Value>, path: &str) {
    let decimal = object.get("is_decimal_allowed") == Some(&Value::Bool(true));
    let read = |name: &str| -> Option<Result<f64, ()>> {
        let text = object.get(name)?.as_str()?;
        let ok = if decimal {
            text.parse::<f64>().ok()
        } else {
            text.parse::<i64>().ok().map(|n| n as f64)
        };
        Some(ok.ok_or(()))
    };
    let mut values = [None, None, None];
    for (i, name) in ["initial_value", "min_value", "max_value"]
        .iter()
        .enumerate()
    {
        match read(name) {
            Some(Ok(value)) => values[i] = Some(value),
            Some(Err(())) => checker.report("must be a number", &format!("{path}/{name}")),
            None => {}
        }
    }
    let [initial, min, max] = values;
    if let (Some(min), Some(max)) = (min, max)
        && min > max
    {
        checker.report(
            "min_value must not be greater than max_value",
            &format!("{path}/min_value"),
        );
    }
    if let Some(initial) = initial
        && (min.is_some_and(|m| initial < m) || max.is_some_and(|m| initial > m))
    {
        checker.report(
            "initial_value must lie between min_value and max_value",
            &format!("{path}/initial_value"),
        );
    }
}
