//! Rich text: the `rich_text` block (also the value of a `rich_text_input`),
//! its four containers and the inline elements inside them.
//!
//! Source: docs.slack.dev/reference/block-kit/blocks/rich-text-block —
//! `rich_text_section`, `rich_text_list` (`style` bullet or ordered,
//! `indent`, `offset`, `border`), `rich_text_preformatted` and
//! `rich_text_quote` (`border`); inline elements `text`, `link`, `user`,
//! `channel`, `usergroup`, `emoji`, `broadcast`, `date` and `color`, with
//! the style flags each one takes: the element pages under
//! docs.slack.dev/reference/block-kit/block-elements/ (`text-element`,
//! `channel-element`, `usergroup-element`: "bold, italic, strike,
//! highlight, client_highlight, underline, and unlink"; `code` on text and
//! links), and Slack's Node SDK types for the rest
//! (docs.slack.dev/tools/node-slack-sdk/reference/types: `RichTextStyleable`
//! on broadcasts, dates, emoji and colors; `RichTextPreformatted`'s
//! elements "RichTextLink | RichTextText").

use super::table::{field, required};
use super::{Field, Kind, Schema};

const fn part(name: &'static str, fields: &'static [Field]) -> Schema {
    Schema {
        name,
        fields,
        rule: None,
        is_block: false,
        is_input: false,
    }
}

const fn style(fields: &'static [Field]) -> Schema {
    part("", fields)
}

/// `text` and `link`: "bold, italic, strike, highlight, client_highlight,
/// underline, and unlink", and `code`.
const TEXT_STYLE: Schema = style(&[
    field("bold", Kind::Bool),
    field("italic", Kind::Bool),
    field("strike", Kind::Bool),
    field("code", Kind::Bool),
    field("underline", Kind::Bool),
    field("highlight", Kind::Bool),
    field("client_highlight", Kind::Bool),
    field("unlink", Kind::Bool),
]);

/// Mentions (`user`, `channel`, `usergroup`): the flags of text but `code`.
const MENTION_STYLE: Schema = style(&[
    field("bold", Kind::Bool),
    field("italic", Kind::Bool),
    field("strike", Kind::Bool),
    field("underline", Kind::Bool),
    field("highlight", Kind::Bool),
    field("client_highlight", Kind::Bool),
    field("unlink", Kind::Bool),
]);

/// Broadcasts, dates, emoji and colors: the "limited style object" of
/// `RichTextStyleable`.
const BASIC_STYLE: Schema = style(&[
    field("bold", Kind::Bool),
    field("italic", Kind::Bool),
    field("strike", Kind::Bool),
    field("code", Kind::Bool),
    field("underline", Kind::Bool),
]);

const ID: Kind = Kind::Str { min: 1, max: 255 };

const TEXT: Schema = part(
    "text",
    &[
        required(
            "text",
            Kind::Str {
                min: 1,
                max: 40_000,
            },
        ),
        field("style", Kind::Object(&TEXT_STYLE)),
    ],
);

const LINK: Schema = part(
    "link",
    &[
        required("url", Kind::Url { max: 3000 }),
        field("text", Kind::Str { min: 1, max: 3000 }),
        field("unsafe", Kind::Bool),
        field("style", Kind::Object(&TEXT_STYLE)),
    ],
);

const USER: Schema = part(
    "user",
    &[
        required("user_id", ID),
        field("style", Kind::Object(&MENTION_STYLE)),
    ],
);

const CHANNEL: Schema = part(
    "channel",
    &[
        required("channel_id", ID),
        field("tab_id", ID),
        field("style", Kind::Object(&MENTION_STYLE)),
    ],
);

const USERGROUP: Schema = part(
    "usergroup",
    &[
        required("usergroup_id", ID),
        field("style", Kind::Object(&MENTION_STYLE)),
    ],
);

const EMOJI: Schema = part(
    "emoji",
    &[
        required("name", ID),
        field("unicode", Kind::Str { min: 1, max: 64 }),
        field("skin_tone", Kind::Int { min: 1, max: 6 }),
        field("style", Kind::Object(&BASIC_STYLE)),
    ],
);

const BROADCAST: Schema = part(
    "broadcast",
    &[
        required("range", Kind::Enum(&["here", "channel", "everyone"])),
        field("style", Kind::Object(&BASIC_STYLE)),
    ],
);

const COLOR: Schema = part(
    "color",
    &[
        required("value", Kind::Str { min: 1, max: 255 }),
        field("style", Kind::Object(&BASIC_STYLE)),
    ],
);

const DATE: Schema = part(
    "date",
    &[
        required(
            "timestamp",
            Kind::Int {
                min: 0,
                max: i64::MAX,
            },
        ),
        required("format", Kind::Str { min: 1, max: 3000 }),
        field("url", Kind::Url { max: 3000 }),
        field("fallback", Kind::Str { min: 1, max: 3000 }),
        field("style", Kind::Object(&BASIC_STYLE)),
    ],
);

const INLINE: &[&Schema] = &[
    &TEXT, &LINK, &USER, &CHANNEL, &USERGROUP, &EMOJI, &BROADCAST, &DATE, &COLOR,
];

/// A code block holds words and links only.
const CODE_ELEMENTS: Kind = Kind::Array {
    of: &Kind::Typed(&[&TEXT, &LINK]),
    min: 0,
    max: usize::MAX,
};

const INLINE_ELEMENTS: Kind = Kind::Array {
    of: &Kind::Typed(INLINE),
    min: 0,
    max: usize::MAX,
};

const BORDER: Field = field("border", Kind::Int { min: 0, max: 1 });

const SECTION: Schema = part(
    "rich_text_section",
    &[required("elements", INLINE_ELEMENTS)],
);

const LIST: Schema = part(
    "rich_text_list",
    &[
        required("style", Kind::Enum(&["bullet", "ordered"])),
        required(
            "elements",
            Kind::Array {
                of: &Kind::Typed(&[&SECTION]),
                min: 1,
                max: usize::MAX,
            },
        ),
        field(
            "indent",
            Kind::Int {
                min: 0,
                max: i64::MAX,
            },
        ),
        field(
            "offset",
            Kind::Int {
                min: 0,
                max: i64::MAX,
            },
        ),
        BORDER,
    ],
);

const PREFORMATTED: Schema = part(
    "rich_text_preformatted",
    &[required("elements", CODE_ELEMENTS), BORDER],
);

const QUOTE: Schema = part(
    "rich_text_quote",
    &[required("elements", INLINE_ELEMENTS), BORDER],
);

/// The `rich_text` block.
pub(super) const RICH_TEXT: Schema = Schema {
    name: "rich_text",
    fields: &[
        required(
            "elements",
            Kind::Array {
                of: &Kind::Typed(&[&SECTION, &LIST, &PREFORMATTED, &QUOTE]),
                min: 1,
                max: usize::MAX,
            },
        ),
        field("block_id", Kind::BlockId),
    ],
    rule: None,
    is_block: true,
    is_input: false,
};
