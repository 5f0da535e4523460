//! Blocks and views, each field with the kind and limit Slack's reference
//! gives it.
//!
//! Sources (docs.slack.dev/reference/…):
//! - `block-kit/blocks/{section,context,actions,divider,header,image,input,markdown}-block`
//! - `views/modal-views`, `views/home-tab-views` (the view objects' fields)

use serde_json::{Map, Value};

use super::elements::{ACCESSORIES, ACTION_ELEMENTS, CONTEXT_ELEMENTS, INPUT_ELEMENTS};
use super::rich_text::RICH_TEXT;
use super::table::{any_text, block, field, plain, required, string};
use super::{Checker, Field, Kind, Schema};

// Blocks.

const BLOCK_ID: Field = field("block_id", Kind::BlockId);

const SECTION: Schema = block(
    "section",
    &[
        field("text", any_text(3000)),
        field(
            "fields",
            Kind::Array {
                of: &any_text(2000),
                min: 1,
                max: 10,
            },
        ),
        field("accessory", Kind::Typed(ACCESSORIES)),
        BLOCK_ID,
        field("expand", Kind::Bool),
    ],
    Some(text_or_fields),
);

const CONTEXT: Schema = block(
    "context",
    &[
        required(
            "elements",
            Kind::Array {
                of: &Kind::Typed(CONTEXT_ELEMENTS),
                min: 1,
                max: 10,
            },
        ),
        BLOCK_ID,
    ],
    None,
);

const ACTIONS: Schema = block(
    "actions",
    &[
        required(
            "elements",
            Kind::Array {
                of: &Kind::Typed(ACTION_ELEMENTS),
                min: 1,
                max: 25,
            },
        ),
        BLOCK_ID,
    ],
    None,
);

const DIVIDER: Schema = block("divider", &[BLOCK_ID], None);

const HEADER: Schema = block("header", &[required("text", plain(150)), BLOCK_ID], None);

const IMAGE: Schema = block(
    "image",
    &[
        required("image_url", Kind::Url { max: 3000 }),
        required("alt_text", string(2000)),
        field("title", plain(2000)),
        BLOCK_ID,
    ],
    None,
);

const INPUT: Schema = Schema {
    name: "input",
    fields: &[
        required("label", plain(2000)),
        required("element", Kind::Typed(INPUT_ELEMENTS)),
        field("dispatch_action", Kind::Bool),
        BLOCK_ID,
        field("hint", plain(2000)),
        field("optional", Kind::Bool),
    ],
    rule: None,
    is_block: true,
    is_input: true,
};

/// The `markdown` block: messages only, 12,000 characters.
const MARKDOWN: Schema = block(
    "markdown",
    &[required("text", string(12_000)), BLOCK_ID],
    None,
);

pub(super) const MESSAGE_BLOCKS: &[&Schema] = &[
    &SECTION, &CONTEXT, &ACTIONS, &DIVIDER, &HEADER, &IMAGE, &INPUT, &RICH_TEXT, &MARKDOWN,
];

pub(super) const VIEW_BLOCKS: &[&Schema] = &[
    &SECTION, &CONTEXT, &ACTIONS, &DIVIDER, &HEADER, &IMAGE, &INPUT, &RICH_TEXT,
];

// Views.

const PRIVATE_METADATA: Field = field("private_metadata", Kind::Str { min: 0, max: 3000 });
const CALLBACK_ID: Field = field("callback_id", Kind::Str { min: 0, max: 255 });
const EXTERNAL_ID: Field = field("external_id", string(255));

pub(super) const MODAL: Schema = Schema {
    name: "modal",
    fields: &[
        required("title", plain(24)),
        required("blocks", Kind::Blocks),
        field("close", plain(24)),
        field("submit", plain(24)),
        PRIVATE_METADATA,
        CALLBACK_ID,
        field("clear_on_close", Kind::Bool),
        field("notify_on_close", Kind::Bool),
        EXTERNAL_ID,
        field("submit_disabled", Kind::Bool),
    ],
    rule: Some(modal_rules),
    is_block: false,
    is_input: false,
};

pub(super) const HOME: Schema = Schema {
    name: "home",
    fields: &[
        required("blocks", Kind::Blocks),
        PRIVATE_METADATA,
        CALLBACK_ID,
        EXTERNAL_ID,
    ],
    rule: None,
    is_block: false,
    is_input: false,
};

// Rules no single field states.

/// A section needs `text` or `fields`.
fn text_or_fields(checker: &mut Checker, object: &Map<String, Value>, path: &str) {
    if !object.contains_key("text") && !object.contains_key("fields") {
        checker.report("missing required field: text or fields", path);
    }
}

/// A modal's `submit` button is required when it has input blocks.
fn modal_rules(checker: &mut Checker, object: &Map<String, Value>, path: &str) {
    let has_input = object
        .get("blocks")
        .and_then(Value::as_array)
        .is_some_and(|blocks| {
            blocks
                .iter()
                .any(|b| b.get("type") == Some(&"input".into()))
        });
    if has_input && !object.contains_key("submit") {
        checker.report(
            "missing required field: submit (a modal with input blocks needs one)",
            path,
        );
    }
}
