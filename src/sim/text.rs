//! Message text as Slack stores it, and so returns it from
//! `chat.postMessage` (`message.text`) and `conversations.history`.
//!
//! Slack's "Formatting text for app surfaces"
//! (docs.slack.dev/messaging/formatting-message-text, "Escaping text"):
//! `&`, `<` and `>` are control characters; where they are not used for
//! Slack's own syntax they are stored as `&amp;`, `&lt;` and `&gt;`. Text
//! sent already escaped stays as it is (the entities are what the docs ask
//! apps to send). What Slack's syntax is: the same page's mentions
//! (`<@U…>`, `<#C…|name>`, `<!subteam^S…>`), special mentions (`<!here>`,
//! `<!channel>`, `<!everyone>`), dates (`<!date^…^…|fallback>`) and links
//! (`<https://…|label>`, `<mailto:…>`).
//!
//! Bare links are linked automatically: `https://example.com` is stored as
//! `<https://example.com>`, and `www.example.com` as
//! `<http://www.example.com|www.example.com>` (the form Slack returns for
//! such links in `conversations.history`). Bare e-mail addresses are left
//! alone: how Slack stores them for API posts is not documented.

/// The entities Slack decodes; any other `&` is escaped.
const ENTITIES: [&str; 3] = ["&amp;", "&lt;", "&gt;"];

/// Characters that end a bare link when they close it.
const TRAILING: &[char] = &['.', ',', ';', ':', '!', '?', '\'', '"', ')'];

/// `text` as Slack stores it.
pub fn stored_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 16);
    let mut rest = text;
    let mut after_space = true;
    while let Some(c) = rest.chars().next() {
        if c == '<'
            && let Some(end) = rest.find('>')
            && is_token(&rest[1..end])
        {
            out.push('<');
            out.push_str(&escape_amp(&rest[1..end]));
            out.push('>');
            rest = &rest[end + 1..];
            after_space = false;
            continue;
        }
        if after_space && let Some(len) = bare_link(rest) {
            let link = &rest[..len];
            if link.starts_with("www.") {
                out.push_str(&format!("<http://{0}|{0}>", escape_amp(link)));
            } else {
                out.push_str(&format!("<{}>", escape_amp(link)));
            }
            rest = &rest[len..];
            after_space = false;
            continue;
        }
        match c {
            '&' => match ENTITIES.iter().find(|e| rest.starts_with(*e)) {
                Some(entity) => {
                    out.push_str(entity);
                    rest = &rest[entity.len()..];
                    after_space = false;
                    continue;
                }
                None => out.push_str("&amp;"),
            },
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            other => out.push(other),
        }
        after_space = c.is_whitespace() || matches!(c, '(' | '[' | '"' | '\'');
        rest = &rest[c.len_utf8()..];
    }
    out
}

/// `&` escaped unless it starts one of Slack's entities.
fn escape_amp(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for (i, c) in text.char_indices() {
        if c == '&' && !ENTITIES.iter().any(|e| text[i..].starts_with(e)) {
            out.push_str("&amp;");
        } else {
            out.push(c);
        }
    }
    out
}

/// The length of a bare link at the start of `text`, if there is one.
pub(super) fn bare_link(text: &str) -> Option<usize> {
    let lower = text.get(..8).unwrap_or(text).to_ascii_lowercase();
    let scheme = ["https://", "http://"]
        .into_iter()
        .find(|s| lower.starts_with(s))
        .map(str::len);
    let www = lower.starts_with("www.");
    if scheme.is_none() && !www {
        return None;
    }
    let end = text
        .find(|c: char| c.is_whitespace() || c == '<' || c == '>')
        .unwrap_or(text.len());
    let mut link = &text[..end];
    while let Some(stripped) = link.strip_suffix(TRAILING) {
        // A closing parenthesis belongs to the link if it opened one.
        if link.ends_with(')') && link.matches('(').count() >= link.matches(')').count() {
            break;
        }
        link = stripped;
    }
    let host = &link[scheme.unwrap_or(0)..];
    let host = host.split(['/', '?', '#']).next().unwrap_or_default();
    let plausible = if www {
        host.len() > 4 && host[4..].contains('.') && !host.ends_with('.')
    } else {
        !host.is_empty()
    };
    plausible.then_some(link.len())
}

/// Whether `inner` (what sits between `<` and `>`) is one of Slack's tokens.
fn is_token(inner: &str) -> bool {
    if inner.is_empty() || inner.contains('<') || inner.contains('\n') {
        return false;
    }
    let (target, label) = match inner.split_once('|') {
        Some((target, label)) => (target, Some(label)),
        None => (inner, None),
    };
    if label.is_some_and(|l| l.contains('|')) && !target.starts_with("!date^") {
        return false;
    }
    if let Some(user) = target.strip_prefix('@') {
        return is_id(user, &['U', 'W']);
    }
    if let Some(channel) = target.strip_prefix('#') {
        return is_id(channel, &['C', 'G', 'D']);
    }
    if let Some(special) = target.strip_prefix('!') {
        if matches!(special, "here" | "channel" | "everyone") {
            return true;
        }
        if let Some(group) = special.strip_prefix("subteam^") {
            return is_id(group, &['S']);
        }
        if let Some(date) = special.strip_prefix("date^") {
            // `<!date^timestamp^format^optional_link|fallback>`: the
            // fallback is required.
            let mut parts = date.splitn(3, '^');
            let timestamp = parts.next().unwrap_or_default();
            let format = parts.next().unwrap_or_default();
            return !timestamp.is_empty()
                && timestamp.bytes().all(|b| b.is_ascii_digit())
                && !format.is_empty()
                && label.is_some_and(|l| !l.is_empty());
        }
        return false;
    }
    let lower = target.to_ascii_lowercase();
    if lower.starts_with("http://") || lower.starts_with("https://") {
        return !target.contains(char::is_whitespace) && target.len() > "http://".len();
    }
    if let Some(address) = lower.strip_prefix("mailto:") {
        return address.contains('@') && !target.contains(char::is_whitespace);
    }
    false
}

/// A Slack id: a prefix letter, then upper-case letters and digits.
fn is_id(id: &str, prefixes: &[char]) -> bool {
    let mut chars = id.chars();
    chars.next().is_some_and(|c| prefixes.contains(&c))
        && id.len() > 1
        && chars.all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::stored_text;

    #[test]
    fn text_is_stored_as_slack_stores_it() {
        let cases = [
            ("plain words", "plain words"),
            ("a <b> & c", "a &lt;b&gt; &amp; c"),
            ("1 < 2 > 0", "1 &lt; 2 &gt; 0"),
            (
                "already &amp; escaped &lt;ok&gt;",
                "already &amp; escaped &lt;ok&gt;",
            ),
            ("AT&T &copy;", "AT&amp;T &amp;copy;"),
            ("hi <@U0001>!", "hi <@U0001>!"),
            ("hi <@W0001|alice>", "hi <@W0001|alice>"),
            (
                "in <#C0001|general> and <#C0002>",
                "in <#C0001|general> and <#C0002>",
            ),
            (
                "<!here> <!channel> <!everyone>",
                "<!here> <!channel> <!everyone>",
            ),
            ("<!subteam^S0001|@team> ping", "<!subteam^S0001|@team> ping"),
            (
                "<!date^1798000000^{date_short}|Dec 24>",
                "<!date^1798000000^{date_short}|Dec 24>",
            ),
            (
                "<!date^1798000000^{date_short}>",
                "&lt;!date^1798000000^{date_short}&gt;",
            ),
            (
                "see <https://example.com|the site>",
                "see <https://example.com|the site>",
            ),
            ("<https://x.test/?a=1&b=2>", "<https://x.test/?a=1&amp;b=2>"),
            ("<mailto:a@b.test|mail me>", "<mailto:a@b.test|mail me>"),
            (
                "<@alice> is not a mention",
                "&lt;@alice&gt; is not a mention",
            ),
            ("<#general>", "&lt;#general&gt;"),
            ("<!nobody>", "&lt;!nobody&gt;"),
            ("<b>bold</b>", "&lt;b&gt;bold&lt;/b&gt;"),
            (
                "go to https://example.com now",
                "go to <https://example.com> now",
            ),
            (
                "https://example.com/path?q=1&r=2.",
                "<https://example.com/path?q=1&amp;r=2>.",
            ),
            ("(http://example.com)", "(<http://example.com>)"),
            (
                "https://en.wikipedia.org/wiki/Rust_(language)",
                "<https://en.wikipedia.org/wiki/Rust_(language)>",
            ),
            (
                "visit www.example.com, please",
                "visit <http://www.example.com|www.example.com>, please",
            ),
            ("www. is not a link", "www. is not a link"),
            ("nohttps://example.com", "nohttps://example.com"),
            ("mail a@b.test", "mail a@b.test"),
            ("שלום <@U0001> & עולם", "שלום <@U0001> &amp; עולם"),
            ("emoji :tada: stays", "emoji :tada: stays"),
        ];
        for (sent, stored) in cases {
            assert_eq!(stored_text(sent), stored, "{sent:?}");
        }
    }

    #[test]
    fn storing_twice_changes_nothing() {
        for text in ["a <b> & c https://x.test www.y.test", "<@U1> &lt; &amp;"] {
            let once = stored_text(text);
            assert_eq!(stored_text(&once), once);
        }
    }
}
