//! Markup read, made, shortened and compared as Slack keeps it.

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

#[test]
fn markup_reads_tokens_entities_and_characters() {
    assert_eq!(
        pieces("<@U1> &amp;<b>"),
        [
            Piece::Token(Token::User {
                id: "U1",
                label: None
            }),
            Piece::Char(' '),
            Piece::Entity('&'),
            Piece::Char('<'),
            Piece::Char('b'),
            Piece::Char('>'),
        ]
    );
    assert_eq!(
        token("!date^1798000000^{date_short}^https://x.test|Dec 24"),
        Some(Token::Date {
            timestamp: 1_798_000_000,
            format: "{date_short}",
            link: Some("https://x.test"),
            fallback: "Dec 24"
        })
    );
    for not_a_token in [
        "@alice",
        "#general",
        "!nobody",
        "!date^1^{date}",
        "ftp://x",
        "https://a b",
    ] {
        assert_eq!(token(not_a_token), None, "{not_a_token}");
    }
}

#[test]
fn any_text_becomes_markup_and_markup_stays_as_it_is() {
    let cases = [
        ("a <b> & c", "a &lt;b&gt; &amp; c"),
        ("a &lt;b&gt; &amp; c", "a &lt;b&gt; &amp; c"),
        ("AT&T &copy;", "AT&amp;T &amp;copy;"),
        (
            "hi <@U0001> in <#C0001|general>, <!here>",
            "hi <@U0001> in <#C0001|general>, <!here>",
        ),
        (
            "<https://x.test/?a=1&b=2|x & y>",
            "<https://x.test/?a=1&amp;b=2|x &amp; y>",
        ),
        ("<@alice> 1 > 0", "&lt;@alice&gt; 1 &gt; 0"),
        ("שלום <@U0001> & עולם", "שלום <@U0001> &amp; עולם"),
    ];
    for (text, expected) in cases {
        assert_eq!(markup(text), expected, "{text}");
        assert_eq!(markup(expected), expected, "{expected} is kept");
    }
}

#[test]
fn previews_never_cut_a_token_or_an_entity() {
    assert_eq!(preview("a  <b>\n&amp; c", 150), "a &lt;b&gt; &amp; c");
    assert_eq!(preview("ab &amp;&amp; cd", 4), "ab &amp;…");
    assert_eq!(
        preview("see <https://example.com/a/very/long/path|the doc> now", 11),
        "see <https://example.com/a/very/long/path|the doc>…"
    );
    assert_eq!(preview("<https://example.com/long> x", 5), "…");
    assert_eq!(
        preview("see <https://example.com/x|the doc> now", 8),
        "see…"
    );
    assert_eq!(preview("short", 5), "short");
}
