//! Block Kit as Slack checks it: every view (`views.open`, `views.publish`,
//! `views.update`) and every message carrying `blocks` (`chat.postMessage`,
//! `chat.postEphemeral`, `response_url` posts, answers to slash commands) is
//! held against Slack's documented limits before it is accepted.
//!
//! The rules live in tables ([`blocks`], [`elements`], [`rich_text`]): one [`Schema`] per
//! block, element and composition object, each field with its kind and
//! limit. This module walks a payload against them and collects every
//! problem, worded the way Slack words them:
//! `[ERROR] must be less than 3001 characters [json-pointer:/blocks/0/text/text]`.
//!
//! The rules are written here from Slack's reference pages, never derived
//! from the app's own builders, so that the simulator catches the app's
//! mistakes:
//! - docs.slack.dev/reference/block-kit/blocks (the blocks, "up to 50 blocks
//!   in each message, 100 blocks in modals or Home tabs", `block_id`)
//! - docs.slack.dev/reference/block-kit/block-elements (the elements, `action_id`)
//! - docs.slack.dev/reference/block-kit/composition-objects (text, confirmation
//!   dialog, option, conversation filter, dispatch action configuration)
//! - docs.slack.dev/reference/views (modal and Home tab fields)
//! - docs.slack.dev/reference/block-kit/blocks/rich-text-block (rich text)

mod blocks;
mod elements;
mod inputs;
mod rich_text;
mod table;
#[cfg(test)]
mod tests;

use std::collections::HashSet;

use serde_json::{Map, Value};

/// Where blocks are shown: each surface has its own block count and its
/// own set of block types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Surface {
    Message,
    Modal,
    Home,
}

impl Surface {
    /// "Up to 50 blocks in each message, 100 blocks in modals or Home tabs."
    fn max_blocks(self) -> usize {
        match self {
            Self::Message => 50,
            Self::Modal | Self::Home => 100,
        }
    }
}

/// What a field holds, and its limits.
#[derive(Debug)]
pub(crate) enum Kind {
    /// A text object; `plain_only` where Slack's reference says `plain_text`.
    Text {
        plain_only: bool,
        max: usize,
    },
    /// A string of `min..=max` characters.
    Str {
        min: usize,
        max: usize,
    },
    Bool,
    Int {
        min: i64,
        max: i64,
    },
    /// An absolute http(s) (or mailto) URL of at most `max` characters.
    Url {
        max: usize,
    },
    Enum(&'static [&'static str]),
    /// At most 255 characters, unique within the message or view.
    BlockId,
    /// At most 255 characters, unique within its block.
    ActionId,
    /// An object without a `type` of its own (a confirmation dialog, an option).
    Object(&'static Schema),
    /// An object whose `type` picks one of these schemas.
    Typed(&'static [&'static Schema]),
    Array {
        of: &'static Kind,
        min: usize,
        max: usize,
    },
    /// The `blocks` of a view, counted and typed for its surface.
    Blocks,
}

#[derive(Debug)]
pub(crate) struct Field {
    pub name: &'static str,
    pub kind: Kind,
    pub required: bool,
}

/// A rule no single field can state (one field or another is required,
/// a minimum below a maximum, a field allowed only on some surfaces).
pub(crate) type Rule = fn(&mut Checker, &Map<String, Value>, &str);

#[derive(Debug)]
pub(crate) struct Schema {
    /// The `type` value, for typed objects.
    pub name: &'static str,
    pub fields: &'static [Field],
    pub rule: Option<Rule>,
    /// Blocks hold `action_id`s; each block starts a fresh set of them.
    pub is_block: bool,
    /// Input blocks: their element may use input-only fields.
    pub is_input: bool,
}

/// Walks one payload, collecting problems.
pub(crate) struct Checker {
    surface: Surface,
    problems: Vec<String>,
    block_ids: HashSet<String>,
    action_ids: HashSet<String>,
    in_input: bool,
}

/// The reasons Slack gives for refusing `blocks` of a message (empty when
/// they are valid), for `{"ok":false,"error":"invalid_blocks",…}`.
pub fn check_message_blocks(blocks: &Value) -> Vec<String> {
    let mut checker = Checker::new(Surface::Message);
    checker.blocks(blocks, "/blocks");
    checker.problems
}

/// The reasons Slack gives for refusing a view (empty when it is valid),
/// for `{"ok":false,"error":"invalid_arguments",…}`.
pub fn check_view(view: &Value) -> Vec<String> {
    let path = "/view";
    let schema = match view.get("type").and_then(Value::as_str) {
        Some("modal") => &blocks::MODAL,
        Some("home") => &blocks::HOME,
        Some(_) => {
            return vec![problem(
                "must be a valid enum value: modal, home",
                "/view/type",
            )];
        }
        None if view.is_object() => {
            return vec![problem("missing required field: type", path)];
        }
        None => return vec![problem("must provide an object", path)],
    };
    let surface = if schema.name == "modal" {
        Surface::Modal
    } else {
        Surface::Home
    };
    let mut checker = Checker::new(surface);
    if let Some(object) = view.as_object() {
        checker.object(object, path, schema);
    }
    checker.problems
}

fn problem(what: &str, path: &str) -> String {
    format!("[ERROR] {what} [json-pointer:{path}]")
}

impl Checker {
    fn new(surface: Surface) -> Self {
        Self {
            surface,
            problems: Vec::new(),
            block_ids: HashSet::new(),
            action_ids: HashSet::new(),
            in_input: false,
        }
    }

    pub(crate) fn surface(&self) -> Surface {
        self.surface
    }

    pub(crate) fn in_input(&self) -> bool {
        self.in_input
    }

    pub(crate) fn report(&mut self, what: &str, path: &str) {
        self.problems.push(problem(what, path));
    }

    /// The `blocks` array of a message or a view.
    pub(crate) fn blocks(&mut self, blocks: &Value, path: &str) {
        let allowed = match self.surface {
            Surface::Message => blocks::MESSAGE_BLOCKS,
            Surface::Modal | Surface::Home => blocks::VIEW_BLOCKS,
        };
        let Some(items) = blocks.as_array() else {
            self.report("must provide an array", path);
            return;
        };
        let max = self.surface.max_blocks();
        if items.len() > max {
            self.report(&format!("no more than {max} items allowed"), path);
        }
        for (i, block) in items.iter().enumerate() {
            self.typed(block, &format!("{path}/{i}"), allowed);
        }
    }

    fn typed(&mut self, value: &Value, path: &str, schemas: &[&'static Schema]) {
        let Some(object) = value.as_object() else {
            self.report("must provide an object", path);
            return;
        };
        let Some(kind) = object.get("type").and_then(Value::as_str) else {
            self.report("missing required field: type", path);
            return;
        };
        match schemas.iter().find(|s| s.name == kind) {
            Some(schema) => self.object(object, path, schema),
            None => {
                let names: Vec<&str> = schemas.iter().map(|s| s.name).collect();
                self.report(
                    &format!(
                        "unsupported type: {kind} (expected one of: {})",
                        names.join(", ")
                    ),
                    &format!("{path}/type"),
                );
            }
        }
    }

    fn object(&mut self, object: &Map<String, Value>, path: &str, schema: &'static Schema) {
        let outer_actions = schema
            .is_block
            .then(|| std::mem::take(&mut self.action_ids));
        let outer_input = self.in_input;
        if schema.is_input {
            self.in_input = true;
        }
        for key in object.keys() {
            let known = key == "type" && !schema.name.is_empty()
                || schema.fields.iter().any(|f| f.name == key);
            if !known {
                self.report(&format!("invalid additional property: {key}"), path);
            }
        }
        for field in schema.fields {
            let at = format!("{path}/{}", field.name);
            match object.get(field.name) {
                None | Some(Value::Null) if field.required => {
                    self.report(&format!("missing required field: {}", field.name), path);
                }
                None | Some(Value::Null) => {}
                Some(value) => self.value(value, &at, &field.kind),
            }
        }
        if let Some(rule) = schema.rule {
            rule(self, object, path);
        }
        self.in_input = outer_input;
        if let Some(outer) = outer_actions {
            self.action_ids = outer;
        }
    }

    fn value(&mut self, value: &Value, path: &str, kind: &'static Kind) {
        match kind {
            Kind::Text { plain_only, max } => self.text(value, path, *plain_only, *max),
            Kind::Str { min, max } => {
                self.string(value, path, *min, *max);
            }
            Kind::Bool => {
                if !value.is_boolean() {
                    self.report("must provide a boolean", path);
                }
            }
            Kind::Int { min, max } => match value.as_i64() {
                Some(n) if n < *min => self.report(&format!("must be at least {min}"), path),
                Some(n) if n > *max => self.report(&format!("must be at most {max}"), path),
                Some(_) => {}
                None => self.report("must provide an integer", path),
            },
            Kind::Url { max } => {
                if let Some(url) = self.string(value, path, 1, *max) {
                    let valid = reqwest::Url::parse(url)
                        .is_ok_and(|u| matches!(u.scheme(), "http" | "https" | "mailto"));
                    if !valid {
                        self.report("must be a valid URL", path);
                    }
                }
            }
            Kind::Enum(allowed) => match value.as_str() {
                Some(v) if allowed.contains(&v) => {}
                Some(_) => self.report(
                    &format!("must be a valid enum value: {}", allowed.join(", ")),
                    path,
                ),
                None => self.report("must provide a string", path),
            },
            Kind::BlockId => {
                if let Some(id) = self.string(value, path, 1, 255)
                    && !self.block_ids.insert(id.to_owned())
                {
                    self.report(&format!("duplicate block_id: {id}"), path);
                }
            }
            Kind::ActionId => {
                if let Some(id) = self.string(value, path, 1, 255)
                    && !self.action_ids.insert(id.to_owned())
                {
                    self.report(&format!("duplicate action_id in this block: {id}"), path);
                }
            }
            Kind::Object(schema) => match value.as_object() {
                Some(object) => self.object(object, path, schema),
                None => self.report("must provide an object", path),
            },
            Kind::Typed(schemas) => self.typed(value, path, schemas),
            Kind::Blocks => self.blocks(value, path),
            Kind::Array { of, min, max } => {
                let Some(items) = value.as_array() else {
                    self.report("must provide an array", path);
                    return;
                };
                if items.len() < *min {
                    let noun = if *min == 1 { "item" } else { "items" };
                    self.report(&format!("must provide at least {min} {noun}"), path);
                }
                if items.len() > *max {
                    self.report(&format!("no more than {max} items allowed"), path);
                }
                for (i, item) in items.iter().enumerate() {
                    self.value(item, &format!("{path}/{i}"), of);
                }
            }
        }
    }

    /// A string of `min..=max` characters (Slack counts characters).
    fn string<'v>(
        &mut self,
        value: &'v Value,
        path: &str,
        min: usize,
        max: usize,
    ) -> Option<&'v str> {
        let Some(s) = value.as_str() else {
            self.report("must provide a string", path);
            return None;
        };
        let len = s.chars().count();
        if len < min {
            self.report(&format!("must be more than {} characters", min - 1), path);
        } else if len > max {
            self.report(&format!("must be less than {} characters", max + 1), path);
        }
        Some(s)
    }

    /// A text object: `{"type": "plain_text"|"mrkdwn", "text": …}`, with
    /// `emoji` only on plain text and `verbatim` only on mrkdwn.
    fn text(&mut self, value: &Value, path: &str, plain_only: bool, max: usize) {
        let Some(object) = value.as_object() else {
            self.report("must provide an object", path);
            return;
        };
        let kind = object.get("type").and_then(Value::as_str);
        let extra = match kind {
            Some("plain_text") => "emoji",
            Some("mrkdwn") if !plain_only => "verbatim",
            Some("mrkdwn") => {
                self.report("must be plain_text, not mrkdwn", &format!("{path}/type"));
                "verbatim"
            }
            Some(_) => {
                let allowed = if plain_only {
                    "plain_text"
                } else {
                    "plain_text, mrkdwn"
                };
                self.report(
                    &format!("must be a valid enum value: {allowed}"),
                    &format!("{path}/type"),
                );
                return;
            }
            None => {
                self.report("missing required field: type", path);
                return;
            }
        };
        for key in object.keys() {
            if !matches!(key.as_str(), "type" | "text") && key != extra {
                self.report(&format!("invalid additional property: {key}"), path);
            }
        }
        match object.get("text") {
            Some(text) => {
                self.string(text, &format!("{path}/text"), 1, max);
            }
            None => self.report("missing required field: text", path),
        }
        if let Some(flag) = object.get(extra)
            && !flag.is_boolean()
        {
            self.report("must provide a boolean", &format!("{path}/{extra}"));
        }
    }
}
