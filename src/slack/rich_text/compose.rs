//! Rich text made from Slack's markup (a message written in the slash
//! command, opened for editing in the modal): its tokens become mention,
//! link and date elements, `:name:` emoji, `*bold*`, `_italic_`,
//! `~strike~` and `` `code` `` styled text, `>` lines a quote and
//! ```` ``` ```` fences a code block, following mrkdwn's rules
//! (docs.slack.dev/messaging/formatting-message-text): a mark opens before
//! a word and closes after one, within a line. Rendering the result
//! ([`super::render`]) gives back the markup it was made from.

use slack_morphism::prelude::*;

use crate::slack::mrkdwn::{Piece, Token, pieces};

/// The marks mrkdwn styles text with.
const MARKS: [char; 4] = ['*', '_', '~', '`'];
/// What a code fence is.
const FENCE: &str = "```";

/// The containers of a message, in order, each with its markup.
#[derive(Debug)]
enum Part {
    Section(String),
    Quote(String),
    Code(String),
}

pub(super) fn rich_text(markup: &str) -> SlackRichTextBlock {
    let mut elements: Vec<SlackRichTextElement> = split(markup)
        .into_iter()
        .map(|part| match part {
            Part::Section(text) => SlackRichTextSection::new(inline(&text)).into(),
            Part::Quote(text) => SlackRichTextQuote::new(inline(&text)).into(),
            Part::Code(text) => SlackRichTextPreformatted::new(literal(&text)).into(),
        })
        .collect();
    if elements.is_empty() {
        elements.push(SlackRichTextSection::new(Vec::new()).into());
    }
    SlackRichTextBlock::new(elements)
}

/// Lines into sections, quotes (lines starting with `>`) and code blocks
/// (from a line starting with a fence to the next fence). A section keeps
/// the line break that ends it, as Slack's composer does before a quote.
fn split(markup: &str) -> Vec<Part> {
    let mut parts: Vec<Part> = Vec::new();
    let mut rest = markup;
    while !rest.is_empty() {
        let (line, after) = match rest.find('\n') {
            Some(end) => (&rest[..=end], &rest[end + 1..]),
            None => (rest, ""),
        };
        if let Some(body) = line.strip_prefix(FENCE).map(|_| &rest[FENCE.len()..])
            && let Some(close) = body.find(FENCE)
        {
            let code = &body[..close];
            let code = code.strip_prefix('\n').unwrap_or(code);
            let code = code.strip_suffix('\n').unwrap_or(code);
            parts.push(Part::Code(code.to_owned()));
            let tail = &body[close + FENCE.len()..];
            rest = tail.strip_prefix('\n').unwrap_or(tail);
            continue;
        }
        let quoted = line.strip_prefix("&gt;").or_else(|| line.strip_prefix('>'));
        match (quoted, parts.last_mut()) {
            (Some(quoted), last) => {
                let quoted = quoted.strip_prefix(' ').unwrap_or(quoted);
                let quoted = quoted.strip_suffix('\n').unwrap_or(quoted);
                match last {
                    Some(Part::Quote(quote)) => {
                        quote.push('\n');
                        quote.push_str(quoted);
                    }
                    _ => parts.push(Part::Quote(quoted.to_owned())),
                }
            }
            (None, Some(Part::Section(section))) => section.push_str(line),
            (None, _) => parts.push(Part::Section(line.to_owned())),
        }
        rest = after;
    }
    parts
}

/// A piece of markup: a token, or a character (`true` when it was written
/// as an entity, so it marks nothing).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Atom<'a> {
    Token(Token<'a>),
    Char(char, bool),
}

impl Atom<'_> {
    fn is_word(&self) -> bool {
        matches!(self, Self::Char(c, _) if c.is_alphanumeric())
    }

    fn is_space(&self) -> bool {
        matches!(self, Self::Char(c, _) if c.is_whitespace())
    }

    fn is_mark(&self, mark: char) -> bool {
        *self == Self::Char(mark, false)
    }
}

fn atoms(markup: &str) -> Vec<Atom<'_>> {
    pieces(markup)
        .into_iter()
        .map(|piece| match piece {
            Piece::Token(token) => Atom::Token(token),
            Piece::Entity(c) => Atom::Char(c, true),
            Piece::Char(c) => Atom::Char(c, false),
        })
        .collect()
}

/// The styles in force.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Marks {
    bold: bool,
    italic: bool,
    strike: bool,
    code: bool,
}

impl Marks {
    fn has(self, mark: char) -> bool {
        match mark {
            '*' => self.bold,
            '_' => self.italic,
            '~' => self.strike,
            _ => self.code,
        }
    }

    fn with(mut self, mark: char) -> Self {
        match mark {
            '*' => self.bold = true,
            '_' => self.italic = true,
            '~' => self.strike = true,
            _ => self.code = true,
        }
        self
    }

    fn style(self, code_allowed: bool) -> Option<SlackRichTextStyle> {
        let code = self.code && code_allowed;
        let on = |flag: bool| flag.then_some(true);
        (self.bold || self.italic || self.strike || code).then(|| SlackRichTextStyle {
            bold: on(self.bold),
            italic: on(self.italic),
            strike: on(self.strike),
            code: on(code),
            underline: None,
            highlight: None,
            client_highlight: None,
            unlink: None,
        })
    }
}

/// Elements being gathered: runs of text of one style, and the rest.
#[derive(Default)]
struct Elements {
    done: Vec<SlackRichTextInlineElement>,
    text: String,
    marks: Marks,
}

impl Elements {
    fn push_char(&mut self, c: char, marks: Marks) {
        if marks != self.marks {
            self.flush();
            self.marks = marks;
        }
        self.text.push(c);
    }

    fn push(&mut self, element: SlackRichTextInlineElement) {
        self.flush();
        self.done.push(element);
    }

    fn flush(&mut self) {
        if !self.text.is_empty() {
            let text = std::mem::take(&mut self.text);
            self.done.push(
                SlackRichTextText {
                    text,
                    style: self.marks.style(true),
                }
                .into(),
            );
        }
    }

    fn finish(mut self) -> Vec<SlackRichTextInlineElement> {
        self.flush();
        self.done
    }
}

fn inline(markup: &str) -> Vec<SlackRichTextInlineElement> {
    let mut elements = Elements::default();
    styled(&atoms(markup), Marks::default(), &mut elements);
    elements.finish()
}

/// A code block's markup: its words as they are, its links still links.
fn literal(markup: &str) -> Vec<SlackRichTextInlineElement> {
    let mut elements = Elements::default();
    for atom in atoms(markup) {
        match atom {
            Atom::Token(token) => elements.push(element(token, Marks::default())),
            Atom::Char(c, _) => elements.push_char(c, Marks::default()),
        }
    }
    elements.finish()
}

fn styled(atoms: &[Atom<'_>], marks: Marks, out: &mut Elements) {
    let mut i = 0;
    while i < atoms.len() {
        match atoms[i] {
            Atom::Token(token) => {
                out.push(element(token, marks));
                i += 1;
            }
            Atom::Char(mark, false) if MARKS.contains(&mark) && !marks.has(mark) => {
                let Some(close) = closing(atoms, i, mark) else {
                    out.push_char(mark, marks);
                    i += 1;
                    continue;
                };
                let inner = &atoms[i + 1..close];
                if mark == '`' {
                    // Inside code nothing else is a mark.
                    for atom in inner {
                        match atom {
                            Atom::Token(token) => out.push(element(*token, marks.with(mark))),
                            Atom::Char(c, _) => out.push_char(*c, marks.with(mark)),
                        }
                    }
                } else {
                    styled(inner, marks.with(mark), out);
                }
                i = close + 1;
            }
            Atom::Char(':', false) => match emoji(atoms, i) {
                Some((name, next)) => {
                    out.push(SlackRichTextEmoji::new(SlackEmojiName::new(name)).into());
                    i = next;
                }
                None => {
                    out.push_char(':', marks);
                    i += 1;
                }
            },
            Atom::Char(c, _) => {
                out.push_char(c, marks);
                i += 1;
            }
        }
    }
}

/// Where the mark opened at `open` closes: a mark that follows a
/// non-space and is not followed by a word, on the same line. The opening
/// one must not follow a word, and must be followed by a non-space. A
/// doubled mark (```` ``` ````) marks nothing.
fn closing(atoms: &[Atom<'_>], open: usize, mark: char) -> Option<usize> {
    let before = open.checked_sub(1).map(|b| atoms[b]);
    if before.is_some_and(|b| b.is_word() || b.is_mark(mark)) {
        return None;
    }
    let first = atoms.get(open + 1)?;
    if first.is_space() || first.is_mark(mark) {
        return None;
    }
    for close in open + 2..atoms.len() {
        let atom = atoms[close];
        if atom == Atom::Char('\n', false) || atom == Atom::Char('\n', true) {
            return None;
        }
        if atom.is_mark(mark)
            && !atoms[close - 1].is_space()
            && atoms
                .get(close + 1)
                .is_none_or(|after| !after.is_word() && !after.is_mark(mark))
        {
            return Some(close);
        }
    }
    None
}

/// `:name:` (or `:name::skin-tone-2:`) at `open`, not inside a word: the
/// name, and where the text goes on.
fn emoji(atoms: &[Atom<'_>], open: usize) -> Option<(String, usize)> {
    if open.checked_sub(1).is_some_and(|b| atoms[b].is_word()) {
        return None;
    }
    let (mut name, mut next) = emoji_name(atoms, open + 1)?;
    if atoms.get(next).is_some_and(|a| a.is_mark(':'))
        && let Some((tone, after)) = emoji_name(atoms, next + 1)
        && tone.starts_with("skin-tone-")
    {
        name = format!("{name}::{tone}");
        next = after;
    }
    if atoms.get(next).is_some_and(Atom::is_word) {
        return None;
    }
    Some((name, next))
}

/// Emoji name characters from `start` up to a closing `:`.
fn emoji_name(atoms: &[Atom<'_>], start: usize) -> Option<(String, usize)> {
    let mut name = String::new();
    for (i, atom) in atoms.iter().enumerate().skip(start) {
        match *atom {
            Atom::Char(':', false) if !name.is_empty() => return Some((name, i + 1)),
            Atom::Char(c, false)
                if c.is_ascii_lowercase() || c.is_ascii_digit() || "_+-'".contains(c) =>
            {
                name.push(c);
            }
            _ => return None,
        }
    }
    None
}

/// The characters a part of a token stands for.
fn decoded(part: &str) -> String {
    pieces(part)
        .into_iter()
        .filter_map(|piece| match piece {
            Piece::Entity(c) | Piece::Char(c) => Some(c),
            Piece::Token(_) => None,
        })
        .collect()
}

/// A token as its rich text element. Mentions take no code style.
fn element(token: Token<'_>, marks: Marks) -> SlackRichTextInlineElement {
    match token {
        Token::User { id, .. } => SlackRichTextUser {
            user_id: SlackUserId::new(id.to_owned()),
            style: marks.style(false),
        }
        .into(),
        Token::Channel { id, .. } => SlackRichTextChannel {
            channel_id: SlackChannelId::new(id.to_owned()),
            style: marks.style(false),
        }
        .into(),
        Token::Usergroup { id, .. } => SlackRichTextUserGroup {
            usergroup_id: SlackUserGroupId::new(id.to_owned()),
            style: marks.style(false),
        }
        .into(),
        Token::Broadcast { range } => SlackRichTextBroadcast {
            range: match range {
                "here" => SlackRichTextBroadcastRange::Here,
                "channel" => SlackRichTextBroadcastRange::Channel,
                _ => SlackRichTextBroadcastRange::Everyone,
            },
            style: marks.style(false),
        }
        .into(),
        Token::Date {
            timestamp,
            format,
            fallback,
            ..
        } => match jiff::Timestamp::from_second(timestamp) {
            Ok(at) => SlackRichTextDate {
                timestamp: SlackDateTime(at),
                format: decoded(format),
                fallback: Some(decoded(fallback)),
                style: marks.style(false),
            }
            .into(),
            Err(_) => SlackRichTextText {
                text: decoded(fallback),
                style: marks.style(true),
            }
            .into(),
        },
        Token::Link { url, label } => SlackRichTextLink {
            url: SlackRelaxedUrl::new(decoded(url)),
            text: label.map(decoded),
            unsafe_: None,
            style: marks.style(true),
        }
        .into(),
    }
}
