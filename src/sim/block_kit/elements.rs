//! Composition objects and block elements, each field with the kind and
//! limit Slack's reference gives it.
//!
//! Sources (docs.slack.dev/reference/block-kit/…):
//! - `composition-objects/{text,confirmation-dialog,option,conversation-filter,
//!   dispatch-action-configuration}-object`
//! - `block-elements/{button,select-menu-element,date-picker-element,
//!   time-picker-element,datetime-picker-element,plain-text-input-element,
//!   rich-text-input-element,checkboxes-element,radio-button-group-element,
//!   overflow-menu-element,image-element}`

use serde_json::{Map, Value};

use super::inputs::{MULTI_CONVERSATIONS_SELECT, NUMBER_INPUT};
use super::rich_text::RICH_TEXT;
use super::table::{any_text, field, plain, required, string, typed, untyped};
use super::{Checker, Field, Kind, Schema, Surface};

// Composition objects.

/// Confirmation dialog: every text in it is `plain_text` (title ≤ 100,
/// text ≤ 300, confirm and deny ≤ 30).
pub(super) const CONFIRM: Schema = untyped(
    &[
        required("title", plain(100)),
        required("text", plain(300)),
        required("confirm", plain(30)),
        required("deny", plain(30)),
        field("style", Kind::Enum(&["primary", "danger"])),
    ],
    None,
);

/// An option of a select menu or overflow menu: `plain_text` only.
const PLAIN_OPTION: Schema = untyped(
    &[
        required("text", plain(75)),
        required("value", string(150)),
        field("description", plain(75)),
        field("url", Kind::Url { max: 3000 }),
    ],
    None,
);

/// An option of checkboxes and radio buttons: `mrkdwn` allowed.
const RICH_OPTION: Schema = untyped(
    &[
        required("text", any_text(75)),
        required("value", string(150)),
        field("description", any_text(75)),
    ],
    None,
);

const OPTION_GROUP: Schema = untyped(
    &[
        required("label", plain(75)),
        required(
            "options",
            Kind::Array {
                of: &Kind::Object(&PLAIN_OPTION),
                min: 1,
                max: 100,
            },
        ),
    ],
    None,
);

const FILTER: Schema = untyped(
    &[
        field(
            "include",
            Kind::Array {
                of: &Kind::Enum(&["im", "mpim", "private", "public"]),
                min: 1,
                max: 4,
            },
        ),
        field("exclude_external_shared_channels", Kind::Bool),
        field("exclude_bot_users", Kind::Bool),
    ],
    None,
);

const DISPATCH_ACTION_CONFIG: Schema = untyped(
    &[field(
        "trigger_actions_on",
        Kind::Array {
            of: &Kind::Enum(&["on_enter_pressed", "on_character_entered"]),
            min: 1,
            max: 2,
        },
    )],
    None,
);

// Elements.

const CONFIRM_FIELD: Field = field("confirm", Kind::Object(&CONFIRM));
const ACTION_ID: Field = field("action_id", Kind::ActionId);
const FOCUS: Field = field("focus_on_load", Kind::Bool);
const PLACEHOLDER: Field = field("placeholder", plain(150));

pub(super) const BUTTON: Schema = typed(
    "button",
    &[
        required("text", plain(75)),
        ACTION_ID,
        field("url", Kind::Url { max: 3000 }),
        field("value", string(2000)),
        field("style", Kind::Enum(&["primary", "danger"])),
        CONFIRM_FIELD,
        field("accessibility_label", string(75)),
    ],
    None,
);

const CONVERSATIONS_SELECT: Schema = typed(
    "conversations_select",
    &[
        ACTION_ID,
        PLACEHOLDER,
        field("initial_conversation", string(255)),
        field("default_to_current_conversation", Kind::Bool),
        CONFIRM_FIELD,
        field("response_url_enabled", Kind::Bool),
        field("filter", Kind::Object(&FILTER)),
        FOCUS,
    ],
    Some(response_url_only_in_modal_inputs),
);

const CHANNELS_SELECT: Schema = typed(
    "channels_select",
    &[
        ACTION_ID,
        PLACEHOLDER,
        field("initial_channel", string(255)),
        CONFIRM_FIELD,
        field("response_url_enabled", Kind::Bool),
        FOCUS,
    ],
    Some(response_url_only_in_modal_inputs),
);

const USERS_SELECT: Schema = typed(
    "users_select",
    &[
        ACTION_ID,
        PLACEHOLDER,
        field("initial_user", string(255)),
        CONFIRM_FIELD,
        FOCUS,
    ],
    None,
);

const STATIC_SELECT: Schema = typed(
    "static_select",
    &[
        ACTION_ID,
        PLACEHOLDER,
        field(
            "options",
            Kind::Array {
                of: &Kind::Object(&PLAIN_OPTION),
                min: 1,
                max: 100,
            },
        ),
        field(
            "option_groups",
            Kind::Array {
                of: &Kind::Object(&OPTION_GROUP),
                min: 1,
                max: 100,
            },
        ),
        field("initial_option", Kind::Object(&PLAIN_OPTION)),
        CONFIRM_FIELD,
        FOCUS,
    ],
    Some(options_or_groups),
);

const DATEPICKER: Schema = typed(
    "datepicker",
    &[
        ACTION_ID,
        field("initial_date", Kind::Str { min: 10, max: 10 }),
        CONFIRM_FIELD,
        FOCUS,
        PLACEHOLDER,
    ],
    None,
);

const TIMEPICKER: Schema = typed(
    "timepicker",
    &[
        ACTION_ID,
        field("initial_time", Kind::Str { min: 5, max: 5 }),
        CONFIRM_FIELD,
        FOCUS,
        PLACEHOLDER,
        field("timezone", string(255)),
    ],
    None,
);

const DATETIMEPICKER: Schema = typed(
    "datetimepicker",
    &[
        ACTION_ID,
        field(
            "initial_date_time",
            Kind::Int {
                min: 0,
                max: i64::MAX,
            },
        ),
        CONFIRM_FIELD,
        FOCUS,
    ],
    None,
);

const PLAIN_TEXT_INPUT: Schema = typed(
    "plain_text_input",
    &[
        ACTION_ID,
        field("initial_value", Kind::Str { min: 0, max: 3000 }),
        field("multiline", Kind::Bool),
        field("min_length", Kind::Int { min: 0, max: 3000 }),
        field("max_length", Kind::Int { min: 1, max: 3000 }),
        field(
            "dispatch_action_config",
            Kind::Object(&DISPATCH_ACTION_CONFIG),
        ),
        FOCUS,
        PLACEHOLDER,
    ],
    Some(lengths_agree),
);

const RICH_TEXT_INPUT: Schema = typed(
    "rich_text_input",
    &[
        ACTION_ID,
        field("initial_value", Kind::Typed(&[&RICH_TEXT])),
        field(
            "dispatch_action_config",
            Kind::Object(&DISPATCH_ACTION_CONFIG),
        ),
        FOCUS,
        PLACEHOLDER,
    ],
    None,
);

const CHECKBOXES: Schema = typed(
    "checkboxes",
    &[
        ACTION_ID,
        required(
            "options",
            Kind::Array {
                of: &Kind::Object(&RICH_OPTION),
                min: 1,
                max: 10,
            },
        ),
        field(
            "initial_options",
            Kind::Array {
                of: &Kind::Object(&RICH_OPTION),
                min: 1,
                max: 10,
            },
        ),
        CONFIRM_FIELD,
        FOCUS,
    ],
    None,
);

const RADIO_BUTTONS: Schema = typed(
    "radio_buttons",
    &[
        ACTION_ID,
        required(
            "options",
            Kind::Array {
                of: &Kind::Object(&RICH_OPTION),
                min: 1,
                max: 10,
            },
        ),
        field("initial_option", Kind::Object(&RICH_OPTION)),
        CONFIRM_FIELD,
        FOCUS,
    ],
    None,
);

const OVERFLOW: Schema = typed(
    "overflow",
    &[
        ACTION_ID,
        required(
            "options",
            Kind::Array {
                of: &Kind::Object(&PLAIN_OPTION),
                min: 1,
                max: 5,
            },
        ),
        CONFIRM_FIELD,
    ],
    None,
);

const IMAGE_ELEMENT: Schema = typed(
    "image",
    &[
        required("image_url", Kind::Url { max: 3000 }),
        required("alt_text", string(2000)),
    ],
    None,
);

/// Elements of an actions block.
pub(super) const ACTION_ELEMENTS: &[&Schema] = &[
    &BUTTON,
    &CHECKBOXES,
    &DATEPICKER,
    &DATETIMEPICKER,
    &OVERFLOW,
    &RADIO_BUTTONS,
    &STATIC_SELECT,
    &CONVERSATIONS_SELECT,
    &CHANNELS_SELECT,
    &USERS_SELECT,
    &TIMEPICKER,
];

/// Elements a section may show beside its text.
pub(super) const ACCESSORIES: &[&Schema] = &[
    &BUTTON,
    &MULTI_CONVERSATIONS_SELECT,
    &CHECKBOXES,
    &DATEPICKER,
    &IMAGE_ELEMENT,
    &OVERFLOW,
    &RADIO_BUTTONS,
    &STATIC_SELECT,
    &CONVERSATIONS_SELECT,
    &CHANNELS_SELECT,
    &USERS_SELECT,
    &TIMEPICKER,
];

/// Elements of an input block.
pub(super) const INPUT_ELEMENTS: &[&Schema] = &[
    &PLAIN_TEXT_INPUT,
    &NUMBER_INPUT,
    &MULTI_CONVERSATIONS_SELECT,
    &RICH_TEXT_INPUT,
    &CHECKBOXES,
    &RADIO_BUTTONS,
    &STATIC_SELECT,
    &CONVERSATIONS_SELECT,
    &CHANNELS_SELECT,
    &USERS_SELECT,
    &DATEPICKER,
    &TIMEPICKER,
    &DATETIMEPICKER,
];

/// Elements of a context block: images and text objects.
pub(super) const CONTEXT_ELEMENTS: &[&Schema] = &[&IMAGE_ELEMENT, &CONTEXT_PLAIN, &CONTEXT_MRKDWN];

/// Text objects inside a context block are checked as objects with a
/// `type`; their limit is the text object's 3,000 characters.
const CONTEXT_PLAIN: Schema = typed(
    "plain_text",
    &[required("text", string(3000)), field("emoji", Kind::Bool)],
    None,
);

const CONTEXT_MRKDWN: Schema = typed(
    "mrkdwn",
    &[
        required("text", string(3000)),
        field("verbatim", Kind::Bool),
    ],
    None,
);

// Rules no single field states.

/// A static select has `options` or `option_groups`, not both.
fn options_or_groups(checker: &mut Checker, object: &Map<String, Value>, path: &str) {
    match (
        object.contains_key("options"),
        object.contains_key("option_groups"),
    ) {
        (true, true) => checker.report("must provide options or option_groups, not both", path),
        (false, false) => checker.report("missing required field: options", path),
        _ => {}
    }
}

/// `min_length` may not exceed `max_length`, nor the initial value it.
fn lengths_agree(checker: &mut Checker, object: &Map<String, Value>, path: &str) {
    let min = object.get("min_length").and_then(Value::as_i64);
    let max = object.get("max_length").and_then(Value::as_i64);
    if let (Some(min), Some(max)) = (min, max)
        && min > max
    {
        checker.report(
            "min_length must not be greater than max_length",
            &format!("{path}/min_length"),
        );
    }
    let initial = object
        .get("initial_value")
        .and_then(Value::as_str)
        .map(|v| v.chars().count());
    if let (Some(initial), Some(max)) = (initial, max)
        && i64::try_from(initial).unwrap_or(i64::MAX) > max
    {
        checker.report(
            &format!("must be less than {} characters", max + 1),
            &format!("{path}/initial_value"),
        );
    }
}

/// `response_url_enabled` "is only available in input blocks in modals".
fn response_url_only_in_modal_inputs(
    checker: &mut Checker,
    object: &Map<String, Value>,
    path: &str,
) {
    let enabled = object.get("response_url_enabled") == Some(&Value::Bool(true));
    if enabled && !(checker.in_input() && checker.surface() == Surface::Modal) {
        checker.report(
            "response_url_enabled is only available in input blocks in modals",
            &format!("{path}/response_url_enabled"),
        );
    }
}
