//! Rich text rendered as Slack's markup, the post's `text`: what
//! notifications, search and clients without Block Kit show, and what
//! Slack's history returns for the message (so what in-doubt matching
//! compares).

use slack_morphism::prelude::*;

use crate::slack::mrkdwn::{Token, escape, push_token, token};

/// The marks of nested lists, by depth, as Slack's own clients draw them.
const BULLETS: [&str; 3] = ["•", "◦", "▪"];
/// How far one level of a list is indented.
const INDENT: &str = "    ";
/// Deeper levels are drawn at this one.
const MAX_INDENT: usize = 8;

pub(super) fn markup(block: &SlackRichTextBlock) -> String {
    let mut out = String::new();
    for element in &block.elements {
        match element {
            SlackRichTextElement::Section(section) => {
                inline(&mut out, &section.elements, Mode::Styled);
            }
            SlackRichTextElement::List(list) => {
                start_line(&mut out);
                list_items(&mut out, list);
            }
            SlackRichTextElement::Preformatted(pre) => {
                start_line(&mut out);
                out.push_str("```");
                inline(&mut out, &pre.elements, Mode::Code);
                out.push_str("```\n");
            }
            SlackRichTextElement::Quote(quote) => {
                start_line(&mut out);
                let mut inner = String::new();
                inline(&mut inner, &quote.elements, Mode::Styled);
                for line in inner.trim_end_matches('\n').split('\n') {
                    // `>` at the start of a line quotes it; escaped, as
                    // Slack keeps it.
                    out.push_str("&gt; ");
                    out.push_str(line);
                    out.push('\n');
                }
            }
        }
    }
    out.trim_end().to_owned()
}

/// Lists, quotes and code blocks begin on a line of their own.
fn start_line(out: &mut String) {
    if !out.is_empty() && !out.ends_with('\n') {
        out.push('\n');
    }
}

fn list_items(out: &mut String, list: &SlackRichTextList) {
    let depth = usize::try_from(list.indent.unwrap_or(0))
        .unwrap_or(MAX_INDENT)
        .min(MAX_INDENT);
    let pad = INDENT.repeat(depth);
    let offset = list.offset.unwrap_or(0);
    for (i, SlackRichTextListElement::Section(item)) in list.elements.iter().enumerate() {
        out.push_str(&pad);
        match list.style {
            SlackRichTextListStyle::Bullet => out.push_str(BULLETS[depth % BULLETS.len()]),
            SlackRichTextListStyle::Ordered => {
                out.push_str(&format!("{}.", offset.saturating_add(i as u64 + 1)));
            }
        }
        out.push(' ');
        let mut line = String::new();
        inline(&mut line, &item.elements, Mode::Styled);
        out.push_str(
            &line
                .trim_end_matches('\n')
                .replace('\n', &format!("\n{pad}  ")),
        );
        out.push('\n');
    }
}

/// In a code block nothing is styled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Styled,
    Code,
}

/// The elements as markup, each run of elements of one style marked once
/// (`*bold <@U1>*`, not `*bold* *<@U1>*`).
fn inline(out: &mut String, elements: &[SlackRichTextInlineElement], mode: Mode) {
    let mut run = String::new();
    let mut run_marks = Marks::default();
    for element in elements {
        let (shown, style) = element_markup(element);
        let marks = match mode {
            Mode::Styled => Marks::of(style),
            Mode::Code => Marks::default(),
        };
        if marks != run_marks {
            styled(out, &run, run_marks);
            run.clear();
            run_marks = marks;
        }
        run.push_str(&shown);
    }
    styled(out, &run, run_marks);
}

/// One element as markup, and its style.
fn element_markup(element: &SlackRichTextInlineElement) -> (String, Option<&SlackRichTextStyle>) {
    match element {
        SlackRichTextInlineElement::Text(text) => (escape(&text.text), text.style.as_ref()),
        SlackRichTextInlineElement::Link(link) => (
            link_markup(link.url.value(), link.text.as_deref()),
            link.style.as_ref(),
        ),
        SlackRichTextInlineElement::User(user) => (
            mention(
                Token::User {
                    id: user.user_id.value(),
                    label: None,
                },
                &format!("@{}", user.user_id.value()),
            ),
            user.style.as_ref(),
        ),
        SlackRichTextInlineElement::Channel(channel) => (
            mention(
                Token::Channel {
                    id: channel.channel_id.value(),
                    label: None,
                },
                &format!("#{}", channel.channel_id.value()),
            ),
            channel.style.as_ref(),
        ),
        SlackRichTextInlineElement::UserGroup(group) => (
            mention(
                Token::Usergroup {
                    id: group.usergroup_id.value(),
                    label: None,
                },
                &format!("@{}", group.usergroup_id.value()),
            ),
            group.style.as_ref(),
        ),
        SlackRichTextInlineElement::Broadcast(broadcast) => {
            let range = match broadcast.range {
                SlackRichTextBroadcastRange::Here => "here",
                SlackRichTextBroadcastRange::Channel => "channel",
                SlackRichTextBroadcastRange::Everyone => "everyone",
            };
            (
                mention(Token::Broadcast { range }, &format!("@{range}")),
                broadcast.style.as_ref(),
            )
        }
        SlackRichTextInlineElement::Emoji(emoji) => (format!(":{}:", escape(&emoji.name.0)), None),
        SlackRichTextInlineElement::Date(date) => (date_markup(date), date.style.as_ref()),
        SlackRichTextInlineElement::Color(color) => (escape(&color.value), None),
        SlackRichTextInlineElement::MessageMention(mention) => (
            link_markup(mention.url.value(), mention.text.as_deref()),
            mention.style.as_ref(),
        ),
        SlackRichTextInlineElement::Unknown(value) => (unknown(value), None),
    }
}

/// An element of a kind this version does not know: its words if it has
/// any, its link if it has one.
fn unknown(value: &serde_json::Value) -> String {
    let text = value.get("text").and_then(|t| t.as_str());
    match value.get("url").and_then(|u| u.as_str()) {
        Some(url) => link_markup(url, text),
        None => escape(text.unwrap_or_default()),
    }
}

/// The token, if Slack would read it as one; else the words it stands for.
fn mention(token_value: Token<'_>, words: &str) -> String {
    let mut shown = String::new();
    push_token(&mut shown, token_value);
    let inner = &shown[1..shown.len() - 1];
    if token(inner).is_some() {
        shown
    } else {
        escape(words)
    }
}

/// `<url|label>`, or `<url>` when the label is the address itself. The
/// characters Slack's token syntax reserves are percent-encoded in the
/// address; a `|` in a label (which would end it) becomes `¦`.
fn link_markup(url: &str, label: Option<&str>) -> String {
    let mut address = String::with_capacity(url.len());
    for c in url.trim().chars() {
        match c {
            '<' => address.push_str("%3C"),
            '>' => address.push_str("%3E"),
            '|' => address.push_str("%7C"),
            c if c.is_whitespace() => address.push_str("%20"),
            c => address.push(c),
        }
    }
    let label = label
        .map(|l| l.replace('|', "¦").replace('\n', " "))
        .filter(|l| !l.trim().is_empty() && l.as_str() != url);
    let escaped_address = escape(&address);
    let escaped_label = label.as_deref().map(escape);
    let mut shown = String::new();
    push_token(
        &mut shown,
        Token::Link {
            url: &escaped_address,
            label: escaped_label.as_deref(),
        },
    );
    if token(&shown[1..shown.len() - 1]).is_some() {
        shown
    } else {
        // Not a link Slack would make (another scheme): its words.
        escape(label.as_deref().unwrap_or(url))
    }
}

/// `<!date^timestamp^format^link|fallback>`; without a fallback of its
/// own, the date in UTC.
fn date_markup(date: &SlackRichTextDate) -> String {
    let seconds = date.timestamp.0.as_second();
    let fallback = date.fallback.clone().unwrap_or_else(|| {
        chrono::DateTime::from_timestamp(seconds, 0)
            .map(|at| at.format("%Y-%m-%d %H:%M UTC").to_string())
            .unwrap_or_else(|| seconds.to_string())
    });
    let (format, fallback) = (escape(&date.format), escape(&fallback.replace('|', "¦")));
    let mut shown = String::new();
    push_token(
        &mut shown,
        Token::Date {
            timestamp: seconds,
            format: &format,
            link: None,
            fallback: &fallback,
        },
    );
    if token(&shown[1..shown.len() - 1]).is_some() {
        shown
    } else {
        fallback
    }
}

/// The mrkdwn marks of a style, outermost first.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Marks([bool; 4]);

impl Marks {
    const CHARS: [char; 4] = ['*', '_', '~', '`'];

    fn of(style: Option<&SlackRichTextStyle>) -> Self {
        let on = |flag: Option<bool>| flag == Some(true);
        match style {
            Some(s) => Self([on(s.bold), on(s.italic), on(s.strike), on(s.code)]),
            None => Self::default(),
        }
    }

    fn chars(self) -> impl DoubleEndedIterator<Item = char> {
        Self::CHARS
            .into_iter()
            .zip(self.0)
            .filter_map(|(mark, on)| on.then_some(mark))
    }
}

/// `body` (already markup) with `marks`, line by line, the marks hugging
/// the words (mrkdwn ignores a mark next to a space).
fn styled(out: &mut String, body: &str, marks: Marks) {
    if marks == Marks::default() {
        out.push_str(body);
        return;
    }
    for (i, line) in body.split('\n').enumerate() {
        if i > 0 {
            out.push('\n');
        }
        let words = line.trim();
        if words.is_empty() {
            out.push_str(line);
            continue;
        }
        let start = line.len() - line.trim_start().len();
        let end = start + words.len();
        out.push_str(&line[..start]);
        out.extend(marks.chars());
        out.push_str(words);
        out.extend(marks.chars().rev());
        out.push_str(&line[end..]);
    }
}
