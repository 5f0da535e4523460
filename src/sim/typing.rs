//! What Slack's client makes of what a person types.
//!
//! - A slash command's text. With "Escape channels, users, and links sent
//!   to your app" on (the manifest's `should_escape: true`), Slack sends
//!   mentions as `<@U…>`, channels as `<#C…|name>`, special mentions as
//!   `<!here>`, links wrapped (`<https://…>`), and every other `&`, `<`
//!   and `>` escaped as `&amp;`, `&lt;` and `&gt;`
//!   (docs.slack.dev/interactivity/implementing-slash-commands;
//!   docs.slack.dev/messaging/formatting-message-text, "Escaping text").
//!   With it off, the text arrives as typed.
//! - What the composer of a `rich_text_input` submits: a `rich_text`
//!   block (`rich_text_value`) whose mentions, links and emoji are elements
//!   of their own and whose words are plain text, unescaped
//!   (docs.slack.dev/reference/block-kit/blocks/rich-text-block).
//!
//! `@name` and `#name` become mentions only for a member or conversation of
//! that name in the workspace, as the client's autocomplete offers them.

use std::collections::HashMap;

use serde_json::{Value, json};

use super::text::bare_link;

/// The names a workspace's people and conversations go by.
#[derive(Debug, Clone, Default)]
pub struct Directory {
    /// Name → user id.
    pub users: HashMap<String, String>,
    /// Name → conversation id.
    pub channels: HashMap<String, String>,
}

/// What a piece of typed text is.
enum Typed<'a> {
    User(&'a str),
    Channel(&'a str, &'a str),
    Broadcast(&'a str),
    Link(&'a str),
    Emoji(&'a str),
    Char(char),
}

/// Characters a user name or a channel name is made of.
fn is_name_char(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '.' | '-' | '_')
}

/// The name right after a `@` or `#` at the start of `text`, without a
/// trailing full stop.
fn name_after_sigil(text: &str) -> &str {
    let rest = &text[1..];
    let end = rest.find(|c: char| !is_name_char(c)).unwrap_or(rest.len());
    rest[..end].trim_end_matches('.')
}

/// An emoji code `:name:` at the start of `text`: its length and name.
fn emoji_code(text: &str) -> Option<(usize, &str)> {
    let rest = text.strip_prefix(':')?;
    let end = rest.find(':')?;
    let name = &rest[..end];
    let valid = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "_+-'".contains(c));
    valid.then_some((end + 2, name))
}

/// `typed` read as the client reads it, piece by piece.
fn read<'a>(typed: &'a str, directory: &'a Directory) -> Vec<Typed<'a>> {
    let mut out = Vec::new();
    let mut rest = typed;
    let mut word_start = true;
    while let Some(c) = rest.chars().next() {
        let mut taken = None;
        if word_start {
            let name = if matches!(c, '@' | '#') {
                name_after_sigil(rest)
            } else {
                ""
            };
            taken = match c {
                '@' if matches!(name, "here" | "channel" | "everyone") => {
                    Some((1 + name.len(), Typed::Broadcast(name)))
                }
                '@' => directory
                    .users
                    .get(name)
                    .map(|id| (1 + name.len(), Typed::User(id))),
                '#' => directory
                    .channels
                    .get_key_value(name)
                    .map(|(name, id)| (1 + name.len(), Typed::Channel(id, name))),
                ':' => emoji_code(rest).map(|(len, name)| (len, Typed::Emoji(name))),
                _ => bare_link(rest).map(|len| (len, Typed::Link(&rest[..len]))),
            };
        }
        match taken {
            Some((len, piece)) => {
                out.push(piece);
                rest = &rest[len..];
                word_start = false;
            }
            None => {
                out.push(Typed::Char(c));
                rest = &rest[c.len_utf8()..];
                word_start = c.is_whitespace() || matches!(c, '(' | '[' | '"' | '\'');
            }
        }
    }
    out
}

/// `&` escaped, for a link inside a token.
fn escape_amp(text: &str) -> String {
    text.replace('&', "&amp;")
}

/// What Slack sends as a slash command's `text` for `typed`.
pub fn command_text(typed: &str, escape: bool, directory: &Directory) -> String {
    if !escape {
        return typed.to_owned();
    }
    let mut out = String::with_capacity(typed.len() + 16);
    for piece in read(typed, directory) {
        match piece {
            Typed::User(id) => out.push_str(&format!("<@{id}>")),
            Typed::Channel(id, name) => out.push_str(&format!("<#{id}|{name}>")),
            Typed::Broadcast(range) => out.push_str(&format!("<!{range}>")),
            Typed::Link(link) if link.to_ascii_lowercase().starts_with("www.") => {
                out.push_str(&format!("<http://{0}|{0}>", escape_amp(link)));
            }
            Typed::Link(link) => out.push_str(&format!("<{}>", escape_amp(link))),
            Typed::Emoji(name) => out.push_str(&format!(":{name}:")),
            Typed::Char('&') => out.push_str("&amp;"),
            Typed::Char('<') => out.push_str("&lt;"),
            Typed::Char('>') => out.push_str("&gt;"),
            Typed::Char(c) => out.push(c),
        }
    }
    out
}

/// What a `rich_text_input` holding `typed` submits as its `rich_text_value`.
pub fn composed(typed: &str, directory: &Directory) -> Value {
    let mut elements: Vec<Value> = Vec::new();
    let mut words = String::new();
    let flush = |words: &mut String, elements: &mut Vec<Value>| {
        if !words.is_empty() {
            elements.push(json!({"type": "text", "text": std::mem::take(words)}));
        }
    };
    for piece in read(typed, directory) {
        let element = match piece {
            Typed::Char(c) => {
                words.push(c);
                continue;
            }
            Typed::User(id) => json!({"type": "user", "user_id": id}),
            Typed::Channel(id, _) => json!({"type": "channel", "channel_id": id}),
            Typed::Broadcast(range) => json!({"type": "broadcast", "range": range}),
            Typed::Link(link) if link.to_ascii_lowercase().starts_with("www.") => {
                json!({"type": "link", "url": format!("http://{link}"), "text": link})
            }
            Typed::Link(link) => json!({"type": "link", "url": link}),
            Typed::Emoji(name) => json!({"type": "emoji", "name": name}),
        };
        flush(&mut words, &mut elements);
        elements.push(element);
    }
    flush(&mut words, &mut elements);
    json!({
        "type": "rich_text",
        "block_id": super::state::random_id(5),
        "elements": [{"type": "rich_text_section", "elements": elements}],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn acme() -> Directory {
        Directory {
            users: [("alice", "U0001"), ("bob", "U0002")]
                .map(|(n, id)| (n.to_owned(), id.to_owned()))
                .into(),
            channels: [("general", "C0001")]
                .map(|(n, id)| (n.to_owned(), id.to_owned()))
                .into(),
        }
    }

    #[test]
    fn an_escaping_command_sends_tokens_and_escapes_the_rest() {
        let cases = [
            (
                "hi @alice see #general & <b>",
                "hi <@U0001> see <#C0001|general> &amp; &lt;b&gt;",
            ),
            (
                "@here, @bob. @nobody #nowhere",
                "<!here>, <@U0002>. @nobody #nowhere",
            ),
            (
                "see https://x.test/?a=1&b=2 or www.y.test.",
                "see <https://x.test/?a=1&amp;b=2> or <http://www.y.test|www.y.test>.",
            ),
            (
                "typed <@U0002> &amp; :tada:",
                "typed &lt;@U0002&gt; &amp;amp; :tada:",
            ),
            ("mail@alice.test x#general", "mail@alice.test x#general"),
            ("שלום @alice & עולם", "שלום <@U0001> &amp; עולם"),
        ];
        for (typed, sent) in cases {
            assert_eq!(command_text(typed, true, &acme()), sent, "{typed}");
        }
        assert_eq!(
            command_text("hi @alice & <b>", false, &acme()),
            "hi @alice & <b>"
        );
    }

    #[test]
    fn the_composer_makes_elements_of_mentions_links_and_emoji() {
        let value = composed("hi @alice in #general :tada: https://x.test & <b>", &acme());
        assert_eq!(value["type"], "rich_text");
        assert!(value["block_id"].is_string());
        assert_eq!(
            value["elements"][0]["elements"],
            json!([
                {"type": "text", "text": "hi "},
                {"type": "user", "user_id": "U0001"},
                {"type": "text", "text": " in "},
                {"type": "channel", "channel_id": "C0001"},
                {"type": "text", "text": " "},
                {"type": "emoji", "name": "tada"},
                {"type": "text", "text": " "},
                {"type": "link", "url": "https://x.test"},
                {"type": "text", "text": " & <b>"},
            ])
        );
        assert_eq!(composed("", &acme())["elements"][0]["elements"], json!([]));
    }
}
