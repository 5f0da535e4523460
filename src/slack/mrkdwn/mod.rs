//! Message text as Slack keeps it: its markup.
//!
//! Slack stores and returns text in its own markup ("Formatting text for app
//! surfaces", docs.slack.dev/messaging/formatting-message-text): `&`, `<`
//! and `>` are control characters; written as themselves they stand for
//! Slack's tokens (mentions `<@U…>`, `<#C…|name>`, `<!subteam^S…>`, special
//! mentions `<!here>`, dates `<!date^…|fallback>`, links `<https://…|label>`);
//! everywhere else they are escaped as `&amp;`, `&lt;` and `&gt;`. A bare
//! link comes back wrapped, `<https://example.com>`.
//!
//! The app keeps every message's text in this markup: the slash command
//! receives it so (`should_escape: true`), the modal's rich text is rendered
//! into it ([`super::rich_text`]). This module reads it ([`pieces`]), makes
//! any text valid markup ([`markup`]), shortens it for lists ([`preview`]),
//! and compares a message read back from history with what was written
//! ([`same_text`]).

/// One piece of markup.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Piece<'a> {
    /// One of Slack's tokens, `<…>`.
    Token(Token<'a>),
    /// `&amp;`, `&lt;` or `&gt;`: the character it stands for.
    Entity(char),
    /// Any other character, as written.
    Char(char),
}

/// What a token between `<` and `>` says. Its parts are as written: an `&`
/// in a link is still `&amp;`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Token<'a> {
    User {
        id: &'a str,
        label: Option<&'a str>,
    },
    Channel {
        id: &'a str,
        label: Option<&'a str>,
    },
    Usergroup {
        id: &'a str,
        label: Option<&'a str>,
    },
    /// `here`, `channel` or `everyone`.
    Broadcast {
        range: &'a str,
    },
    Date {
        timestamp: i64,
        format: &'a str,
        link: Option<&'a str>,
        fallback: &'a str,
    },
    Link {
        url: &'a str,
        label: Option<&'a str>,
    },
}

/// The entities Slack decodes, and the characters they stand for.
const ENTITIES: [(&str, char); 3] = [("&amp;", '&'), ("&lt;", '<'), ("&gt;", '>')];

/// `text` read as markup: tokens, entities and characters, in order. A `<`
/// that opens no token, or an `&` that starts no entity, is a character.
pub fn pieces(text: &str) -> Vec<Piece<'_>> {
    let mut out = Vec::with_capacity(text.len());
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        if c == '<'
            && let Some(end) = rest.find('>')
            && let Some(token) = token(&rest[1..end])
        {
            out.push(Piece::Token(token));
            rest = &rest[end + 1..];
            continue;
        }
        if c == '&'
            && let Some((entity, stands_for)) = ENTITIES.iter().find(|(e, _)| rest.starts_with(e))
        {
            out.push(Piece::Entity(*stands_for));
            rest = &rest[entity.len()..];
            continue;
        }
        out.push(Piece::Char(c));
        rest = &rest[c.len_utf8()..];
    }
    out
}

/// What `inner` (the text between `<` and `>`) says, if it is a token.
pub fn token(inner: &str) -> Option<Token<'_>> {
    if inner.is_empty() || inner.contains(['<', '\n']) {
        return None;
    }
    if let Some(date) = inner.strip_prefix("!date^") {
        return date_token(date);
    }
    let (target, label) = match inner.split_once('|') {
        Some((target, label)) => (target, Some(label)),
        None => (inner, None),
    };
    if label.is_some_and(|l| l.contains('|')) {
        return None;
    }
    if let Some(id) = target.strip_prefix('@') {
        return is_id(id, &['U', 'W']).then_some(Token::User { id, label });
    }
    if let Some(id) = target.strip_prefix('#') {
        return is_id(id, &['C', 'G', 'D']).then_some(Token::Channel { id, label });
    }
    if let Some(special) = target.strip_prefix('!') {
        if let Some(id) = special.strip_prefix("subteam^") {
            return is_id(id, &['S']).then_some(Token::Usergroup { id, label });
        }
        return matches!(special, "here" | "channel" | "everyone")
            .then_some(Token::Broadcast { range: special });
    }
    let lower = target.get(..8).unwrap_or(target).to_ascii_lowercase();
    let linked = (lower.starts_with("http://") && target.len() > "http://".len())
        || (lower.starts_with("https://") && target.len() > "https://".len())
        || (lower.starts_with("mailto:") && target.contains('@'));
    (linked && !target.contains(char::is_whitespace)).then_some(Token::Link { url: target, label })
}

/// `timestamp^format^optional_link|fallback`: the fallback is required.
fn date_token(date: &str) -> Option<Token<'_>> {
    let (spec, fallback) = date.split_once('|')?;
    let mut parts = spec.splitn(3, '^');
    let timestamp = parts.next()?;
    let format = parts.next().filter(|f| !f.is_empty())?;
    let link = parts.next();
    let all_digits = !timestamp.is_empty() && timestamp.bytes().all(|b| b.is_ascii_digit());
    if !all_digits || fallback.is_empty() {
        return None;
    }
    Some(Token::Date {
        timestamp: timestamp.parse().ok()?,
        format,
        link,
        fallback,
    })
}

/// A Slack id: a prefix letter, then upper-case letters and digits.
fn is_id(id: &str, prefixes: &[char]) -> bool {
    let mut chars = id.chars();
    chars.next().is_some_and(|c| prefixes.contains(&c))
        && id.len() > 1
        && chars.all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
}

/// `&`, `<` and `>` escaped: for text that holds no markup (a rich text's
/// words, a reason, a name).
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        push_escaped(&mut out, c);
    }
    out
}

fn push_escaped(out: &mut String, c: char) {
    match c {
        '&' => out.push_str("&amp;"),
        '<' => out.push_str("&lt;"),
        '>' => out.push_str("&gt;"),
        other => out.push(other),
    }
}

/// `text` as valid markup: its tokens and entities kept, every other `&`,
/// `<` and `>` escaped. Markup comes back unchanged, so text that arrived
/// escaped (a slash command) and text that did not (one stored before the
/// command escaped, or a plain-text field) both come out as Slack keeps it.
pub fn markup(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for piece in pieces(text) {
        push_piece(&mut out, piece);
    }
    out
}

fn push_piece(out: &mut String, piece: Piece<'_>) {
    match piece {
        Piece::Token(token) => push_token(out, token),
        Piece::Entity(c) | Piece::Char(c) => push_escaped(out, c),
    }
}

/// A token as markup; an `&` in it is escaped unless it starts an entity.
pub fn push_token(out: &mut String, token: Token<'_>) {
    out.push('<');
    match token {
        Token::User { id, label } => push_target(out, "@", id, label),
        Token::Channel { id, label } => push_target(out, "#", id, label),
        Token::Usergroup { id, label } => push_target(out, "!subteam^", id, label),
        Token::Broadcast { range } => push_target(out, "!", range, None),
        Token::Date {
            timestamp,
            format,
            link,
            fallback,
        } => {
            out.push_str(&format!("!date^{timestamp}^"));
            push_part(out, format);
            if let Some(link) = link {
                out.push('^');
                push_part(out, link);
            }
            out.push('|');
            push_part(out, fallback);
        }
        Token::Link { url, label } => push_target(out, "", url, label),
    }
    out.push('>');
}

fn push_target(out: &mut String, prefix: &str, target: &str, label: Option<&str>) {
    out.push_str(prefix);
    push_part(out, target);
    if let Some(label) = label {
        out.push('|');
        push_part(out, label);
    }
}

/// Part of a token (it holds no `<` or `>`): an `&` is escaped unless it
/// starts an entity.
fn push_part(out: &mut String, part: &str) {
    for piece in pieces(part) {
        match piece {
            Piece::Char('&') => out.push_str("&amp;"),
            Piece::Char(c) => out.push(c),
            other => push_piece(out, other),
        }
    }
}

/// How many characters a reader sees of a piece: an entity is one, a
/// token its label (or its target).
fn shown_len(piece: &Piece<'_>) -> usize {
    let Piece::Token(token) = piece else {
        return 1;
    };
    let shown = match token {
        Token::User { id, label }
        | Token::Channel { id, label }
        | Token::Usergroup { id, label } => label.unwrap_or(id),
        Token::Broadcast { range } => range,
        Token::Date { fallback, .. } => fallback,
        Token::Link { url, label } => label.unwrap_or(url),
    };
    shown.chars().count().max(1)
}

/// A one-line preview of `text` of at most `max` shown characters (and an
/// ellipsis if it was longer), as valid markup: runs of white space become
/// one space, and tokens and entities are never cut in half.
pub fn preview(text: &str, max: usize) -> String {
    let mut out = String::new();
    let mut shown = 0;
    let mut space = false;
    for piece in pieces(text.trim()) {
        if let Piece::Char(c) = piece
            && c.is_whitespace()
        {
            space = true;
            continue;
        }
        let len = shown_len(&piece) + usize::from(space);
        if shown + len > max {
            out.push('…');
            return out;
        }
        if space {
            out.push(' ');
            space = false;
        }
        push_piece(&mut out, piece);
        shown += len;
    }
    out
}

/// Whether `stored` (as `conversations.history` returns it) is the message
/// `written` (as the app posted it).
pub fn same_text(stored: &str, written: &str) -> bool {
    canonical(stored) == canonical(written)
}

/// The text with link tokens unwrapped and the three entities decoded, so
/// that Slack's escaping and link wrapping compare equal to the original.
fn canonical(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(open) = rest.find('<') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        match after.find('>') {
            Some(close) if is_bare_link(&after[..close]) => {
                out.push_str(&after[..close]);
                rest = &after[close + 1..];
            }
            Some(close) if wrapped_www(&after[..close]).is_some() => {
                out.push_str(wrapped_www(&after[..close]).unwrap_or_default());
                rest = &after[close + 1..];
            }
            _ => {
                out.push('<');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// `http://www.x|www.x`: what Slack makes of a bare `www.x`; gives `www.x`.
fn wrapped_www(token: &str) -> Option<&str> {
    let (url, label) = token.split_once('|')?;
    (label.starts_with("www.") && url.strip_prefix("http://") == Some(label)).then_some(label)
}

/// `https://…` or `mailto:…` without a `|label`: what Slack wraps a bare link into.
fn is_bare_link(token: &str) -> bool {
    !token.contains('|')
        && (token.starts_with("http://")
            || token.starts_with("https://")
            || token.starts_with("mailto:"))
}

#[cfg(test)]
mod tests;
