//! Rich text to markup and back, and what Slack makes of the markup.

use serde_json::json;

use super::RichText;
use crate::sim::block_kit::check_message_blocks;
use crate::sim::text::stored_text;
use crate::slack::mrkdwn::same_text;

fn rich(elements: serde_json::Value) -> RichText {
    RichText::from_value(&json!({"type": "rich_text", "block_id": "x1", "elements": elements}))
        .expect("rich text")
}

fn section(elements: serde_json::Value) -> serde_json::Value {
    json!({"type": "rich_text_section", "elements": elements})
}

/// Everything a person can put in the composer, as Slack's
/// `rich_text_value` gives it.
fn everything() -> RichText {
    rich(json!([
        section(json!([
            {"type": "text", "text": "Hi "},
            {"type": "user", "user_id": "U0001"},
            {"type": "text", "text": ", see "},
            {"type": "channel", "channel_id": "C0001"},
            {"type": "text", "text": " and "},
            {"type": "link", "url": "https://example.com/a?b=1&c=2"},
            {"type": "text", "text": " or "},
            {"type": "link", "url": "https://example.com/doc", "text": "the doc"},
            {"type": "text", "text": " "},
            {"type": "emoji", "name": "tada", "unicode": "1f389"},
            {"type": "text", "text": " "},
            {"type": "broadcast", "range": "here"},
            {"type": "text", "text": "\n<b> & > "},
            {"type": "text", "text": "bold", "style": {"bold": true}},
            {"type": "text", "text": " "},
            {"type": "text", "text": "code", "style": {"code": true}},
            {"type": "text", "text": " "},
            {"type": "usergroup", "usergroup_id": "S0001"},
            {"type": "text", "text": " שלום עולם\n"},
        ])),
        {"type": "rich_text_list", "style": "bullet", "elements": [
            section(json!([{"type": "text", "text": "one"}])),
            section(json!([{"type": "text", "text": "two", "style": {"italic": true}}])),
        ]},
        {"type": "rich_text_list", "style": "ordered", "indent": 1, "elements": [
            section(json!([{"type": "text", "text": "first"}])),
        ]},
        {"type": "rich_text_quote", "elements": [{"type": "text", "text": "quoted\nlines"}]},
        {"type": "rich_text_preformatted", "elements": [{"type": "text", "text": "let x = a < b && c;"}]},
        section(json!([{"type": "text", "text": "after"}])),
    ]))
}

const EVERYTHING: &str = "Hi <@U0001>, see <#C0001> and <https://example.com/a?b=1&amp;c=2> or <https://example.com/doc|the doc> :tada: <!here>\n\
&lt;b&gt; &amp; &gt; *bold* `code` <!subteam^S0001> שלום עולם\n\
• one\n\
• _two_\n    1. first\n\
&gt; quoted\n&gt; lines\n\
```let x = a &lt; b &amp;&amp; c;```\n\
after";

#[test]
fn rich_text_renders_as_the_markup_slack_keeps() {
    assert_eq!(everything().markup(), EVERYTHING);
}

#[test]
fn the_rendering_is_what_slack_stores_and_matches_it_in_doubt() {
    let markup = everything().markup();
    assert_eq!(stored_text(&markup), markup, "Slack stores it unchanged");
    // A link in plain words is wrapped by Slack; the match still holds.
    let bare = rich(json!([section(
        json!([{"type": "text", "text": "go to https://x.test & www.y.test"}])
    )]));
    let written = bare.markup();
    assert_eq!(written, "go to https://x.test &amp; www.y.test");
    assert_ne!(stored_text(&written), written);
    assert!(same_text(&stored_text(&written), &written));
}

#[test]
fn the_block_id_is_dropped_and_the_json_round_trips() {
    let text = everything();
    let json = text.to_json();
    assert!(!json.contains("x1"), "{json}");
    assert!(
        json.starts_with("{") && json.contains("\"type\":\"rich_text\""),
        "{json}"
    );
    assert_eq!(RichText::from_json(&json).expect("reads back"), text);
}

#[test]
fn what_is_posted_is_valid_block_kit() {
    for text in [
        everything(),
        RichText::from_markup(EVERYTHING),
        RichText::from_markup(""),
    ] {
        let blocks = json!([text.to_value()]);
        assert_eq!(
            check_message_blocks(&blocks),
            Vec::<String>::new(),
            "{blocks}"
        );
    }
}

#[test]
fn anything_but_rich_text_is_refused() {
    for value in [
        json!("hi"),
        json!({"type": "section", "elements": []}),
        json!({"type": "rich_text"}),
        json!({"type": "rich_text", "elements": [{"type": "rich_text_list", "style": "dashed", "elements": []}]}),
    ] {
        assert!(RichText::from_value(&value).is_err(), "{value}");
    }
    assert!(RichText::from_json("{not json").is_err());
}

#[test]
fn styles_hug_the_words_and_each_line() {
    let text = rich(json!([section(json!([
        {"type": "text", "text": "a"},
        {"type": "text", "text": " bold words ", "style": {"bold": true, "italic": true}},
        {"type": "text", "text": "b "},
        {"type": "text", "text": "two\nlines", "style": {"strike": true}},
        {"type": "link", "url": "https://x.test", "text": "x|y", "style": {"bold": true}},
    ]))]));
    assert_eq!(
        text.markup(),
        "a *_bold words_* b ~two~\n~lines~*<https://x.test|x¦y>*"
    );
}

#[test]
fn odd_elements_render_as_their_words() {
    let text = rich(json!([section(json!([
        {"type": "link", "url": "ftp://x.test/file", "text": "a file"},
        {"type": "user", "user_id": "alice"},
        {"type": "color", "value": "#F405B3"},
        {"type": "date", "timestamp": 1_798_000_000, "format": "{date_short}"},
        {"type": "canvas", "text": "a <canvas>"},
        {"type": "file", "url": "https://files.test/f"},
    ]))]));
    assert_eq!(
        text.markup(),
        "a file@alice#F405B3<!date^1798000000^{date_short}|2026-12-23 04:26 UTC>a &lt;canvas&gt;<https://files.test/f>"
    );
}

#[test]
fn markup_read_as_rich_text_renders_back_the_same() {
    let cases = [
        "plain words",
        "hi <@U0001>, <#C0001> and <!here> &amp; <!subteam^S0001>",
        "a &lt;b&gt; &amp; c &gt; d",
        "see <https://x.test/?a=1&amp;b=2|the x> or <https://y.test>",
        "*bold* _italic_ ~strike~ `code` *_both_*",
        "*bold <@U0001>* and `code <https://x.test>`",
        "snake_case_name and 2*3*4 and a*b* stay",
        ":tada: :wave::skin-tone-2: at 10:30:45 and :+1:",
        "a line\n&gt; quoted\n&gt; twice\nafter",
        "before\n```code &lt;here&gt;\nmore```\nafter",
        "```only code```",
        "מה שלום <@U0001>? \u{200f}mixed \u{202e}RTL",
        "<!date^1798000000^{date_short} at {time}|Dec 24>",
        "trailing `` ` `` ticks and ```inline``` fences",
        "1. not a list\n- nor this",
        "  leading spaces\n\n\nand blank lines",
    ];
    for markup in cases {
        let text = RichText::from_markup(markup);
        assert_eq!(text.markup(), markup, "{markup:?} → {}", text.to_json());
    }
}

#[test]
fn markup_becomes_the_elements_it_shows() {
    let text = RichText::from_markup("hi <@U0001> *now* :tada: <https://x.test|x>\n&gt; q");
    let json: serde_json::Value = serde_json::from_str(&text.to_json()).expect("json");
    assert_eq!(
        json,
        json!({"type": "rich_text", "elements": [
            {"type": "rich_text_section", "elements": [
                {"type": "text", "text": "hi "},
                {"type": "user", "user_id": "U0001"},
                {"type": "text", "text": " "},
                {"type": "text", "text": "now", "style": {"bold": true}},
                {"type": "text", "text": " "},
                {"type": "emoji", "name": "tada"},
                {"type": "text", "text": " "},
                {"type": "link", "url": "https://x.test", "text": "x"},
                {"type": "text", "text": "\n"},
            ]},
            {"type": "rich_text_quote", "elements": [{"type": "text", "text": "q"}]},
        ]})
    );
}

#[test]
fn a_code_fence_written_equivalently_comes_back_in_one_form() {
    assert_eq!(
        RichText::from_markup("a\n```\nx\n```").markup(),
        "a\n```x```"
    );
    assert_eq!(
        RichText::from_markup("&gt;no space").markup(),
        "&gt; no space"
    );
    // A mention's label is the name when it was written: Slack shows the current one.
    assert_eq!(
        RichText::from_markup("<#C0001|general> <@U0001|alice>").markup(),
        "<#C0001> <@U0001>"
    );
}
