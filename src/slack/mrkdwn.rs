//! Message text as Slack keeps it.
//!
//! Slack stores and returns text in its own markup: `&`, `<` and `>` that
//! are not part of a token come back as `&amp;`, `&lt;` and `&gt;`, and a
//! bare link comes back wrapped, `<https://example.com>` ("Formatting text
//! for app surfaces", docs.slack.dev/messaging/formatting-message-text).
//! So a message read back from history is compared with what was written
//! through one canonical form of both.

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
mod tests {
    use super::*;

    #[test]
    fn escaped_entities_compare_equal_to_what_was_written() {
        assert!(same_text("a &lt;b&gt; &amp; c", "a <b> & c"));
        assert!(same_text("a &lt;b&gt; &amp; c", "a &lt;b&gt; &amp; c"));
        assert!(!same_text("a &lt;b&gt;", "a <c>"));
    }

    #[test]
    fn wrapped_links_compare_equal_to_bare_ones() {
        assert!(same_text(
            "see <https://example.com/a?b=1&amp;c=2> now",
            "see https://example.com/a?b=1&c=2 now"
        ));
        assert!(same_text("<mailto:a@b.test>", "mailto:a@b.test"));
        assert!(same_text(
            "go to <http://www.x.test|www.x.test>",
            "go to www.x.test"
        ));
    }

    #[test]
    fn tokens_with_labels_and_mentions_stay_as_they_are() {
        assert!(same_text(
            "hi <@U123> in <#C1|general>",
            "hi <@U123> in <#C1|general>"
        ));
        assert!(!same_text("hi <@U123>", "hi @alice"));
        assert!(same_text(
            "<https://x.test|label>",
            "<https://x.test|label>"
        ));
    }
}
