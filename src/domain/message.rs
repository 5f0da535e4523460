//! A scheduled message's text, due time and status, with the input rules of
//! SPEC §4.

use chrono::{DateTime, Duration, DurationRound, Utc};

/// Slack renders up to 4,000 characters of a message's `text` well.
pub const MAX_TEXT_CHARS: usize = 4_000;
/// How far ahead a message may be scheduled.
pub const MAX_LEAD_DAYS: i64 = 366;
/// Pending messages one user may have at a time.
pub const MAX_PENDING_PER_USER: i64 = 1_000;
/// How long before its due time a message is checked again, so that its
/// author hears of a problem (left the channel, archived, disconnected)
/// while there is time to fix it.
pub const CHECK_AHEAD: Duration = Duration::hours(1);
/// The most conversations one message may be scheduled into at once.
pub const MAX_DESTINATIONS: usize = 10;

/// Conditions checked at the due time: a message whose condition holds is
/// not posted but `skipped`, which its author sees.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Conditions {
    /// Skipped if anybody but its author replied in its thread since it
    /// was scheduled (the follow-up nudge: "only if nobody answered").
    pub unless_replied: bool,
    /// Skipped if its author posted in its conversation since it was scheduled.
    pub unless_posted: bool,
}

impl Conditions {
    pub fn any(self) -> bool {
        self.unless_replied || self.unless_posted
    }
}

/// Text that is safe to schedule: not blank, at most [`MAX_TEXT_CHARS`]
/// characters.
///
/// The text is kept as Slack keeps it, in its markup, where `&amp;`,
/// `&lt;` and `&gt;` stand for `&`, `<` and `>`: each counts as the one
/// character its reader sees, so a message's length does not depend on
/// how many of them it holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageText(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MessageTextError {
    #[error("Write a message to schedule.")]
    Empty,
    #[error("That message is {chars} characters long; the limit is 4,000.")]
    TooLong { chars: usize },
    /// A NUL is not text: Slack would not show it, PostgreSQL cannot keep
    /// it, and SQLite's text functions stop at it.
    #[error("That message contains a character Slack cannot show (NUL). Remove it and try again.")]
    Nul,
}

impl MessageText {
    pub fn parse(text: &str) -> Result<Self, MessageTextError> {
        // Keep the author's own formatting (leading spaces, blank lines) but
        // never store a message that would post as blank.
        let text = text.trim_end();
        if text.trim().is_empty() {
            return Err(MessageTextError::Empty);
        }
        let chars = shown_chars(text);
        if chars > MAX_TEXT_CHARS {
            return Err(MessageTextError::TooLong { chars });
        }
        if text.contains('\0') {
            return Err(MessageTextError::Nul);
        }
        Ok(Self(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_inner(self) -> String {
        self.0
    }
}

/// Characters, with each of the three entities counted once.
fn shown_chars(text: &str) -> usize {
    let entity_extra: usize = [("&amp;", 4), ("&lt;", 3), ("&gt;", 3)]
        .iter()
        .map(|(entity, extra)| text.matches(entity).count() * extra)
        .sum();
    text.chars().count() - entity_extra
}

/// A due time that is in the future and at most [`MAX_LEAD_DAYS`] ahead,
/// rounded up to the whole second (never early).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct DueTime(DateTime<Utc>);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DueTimeError {
    #[error("That time has already passed. Pick a time in the future.")]
    InPast,
    #[error("Messages can be scheduled at most 366 days ahead.")]
    TooFarAhead,
}

impl DueTime {
    pub fn parse(at: DateTime<Utc>, now: DateTime<Utc>) -> Result<Self, DueTimeError> {
        let at = ceil_to_second(at);
        if at <= now {
            return Err(DueTimeError::InPast);
        }
        if at > now + Duration::days(MAX_LEAD_DAYS) {
            return Err(DueTimeError::TooFarAhead);
        }
        Ok(Self(at))
    }

    pub fn at(&self) -> DateTime<Utc> {
        self.0
    }
}

fn ceil_to_second(at: DateTime<Utc>) -> DateTime<Utc> {
    let floor = at.duration_trunc(Duration::seconds(1)).unwrap_or(at);
    if floor == at {
        at
    } else {
        floor + Duration::seconds(1)
    }
}

/// Where a message is in its life: `pending → sending → sent | failed`,
/// `pending → cancelled`, and `held` while its author cannot post.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MessageStatus {
    Pending,
    Sending,
    Sent,
    Failed,
    Cancelled,
    Held,
    /// Not posted because its condition said so at the due time, or its
    /// author skipped this occurrence of a series.
    Skipped,
}

impl MessageStatus {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Sending => "sending",
            Self::Sent => "sent",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
            Self::Held => "held",
            Self::Skipped => "skipped",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "pending" => Self::Pending,
            "sending" => Self::Sending,
            "sent" => Self::Sent,
            "failed" => Self::Failed,
            "cancelled" => Self::Cancelled,
            "held" => Self::Held,
            "skipped" => Self::Skipped,
            _ => return None,
        })
    }
}

impl std::fmt::Display for MessageStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 28, 10, 0, 0)
            .single()
            .expect("valid")
    }

    #[test]
    fn text_is_kept_as_written_but_never_blank() {
        assert_eq!(
            MessageText::parse("  hi\n\nthere \n").expect("ok").as_str(),
            "  hi\n\nthere"
        );
        assert_eq!(MessageText::parse(" \n\t"), Err(MessageTextError::Empty));
        assert_eq!(MessageText::parse(""), Err(MessageTextError::Empty));
    }

    #[test]
    fn a_nul_is_refused_but_other_characters_are_kept_as_written() {
        assert_eq!(MessageText::parse("a\u{0}b"), Err(MessageTextError::Nul));
        assert!(MessageText::parse("bell\u{7} one\ttwo\r\nthree").is_ok());
    }

    #[test]
    fn text_limit_counts_characters_not_bytes() {
        assert!(MessageText::parse(&"é".repeat(4_000)).is_ok());
        assert_eq!(
            MessageText::parse(&"a".repeat(4_001)),
            Err(MessageTextError::TooLong { chars: 4_001 })
        );
    }

    #[test]
    fn an_escaped_character_counts_once() {
        assert!(MessageText::parse(&"&amp;".repeat(4_000)).is_ok());
        assert!(MessageText::parse(&"&lt;b&gt;".repeat(1_333)).is_ok());
        assert_eq!(
            MessageText::parse(&format!("{}&gt;", "x".repeat(4_000))),
            Err(MessageTextError::TooLong { chars: 4_001 })
        );
        // An `&` that starts no entity is one character as written.
        assert!(MessageText::parse(&"&amp".repeat(1_000)).is_ok());
    }

    #[test]
    fn due_time_must_be_ahead_and_within_a_year() {
        assert_eq!(DueTime::parse(now(), now()), Err(DueTimeError::InPast));
        assert_eq!(
            DueTime::parse(now() - Duration::minutes(1), now()),
            Err(DueTimeError::InPast)
        );
        assert!(DueTime::parse(now() + Duration::days(366), now()).is_ok());
        assert_eq!(
            DueTime::parse(now() + Duration::days(366) + Duration::seconds(1), now()),
            Err(DueTimeError::TooFarAhead)
        );
    }

    #[test]
    fn due_time_rounds_up_to_the_second() {
        let at = now() + Duration::milliseconds(60_250);
        assert_eq!(
            DueTime::parse(at, now()).expect("ok").at(),
            now() + Duration::seconds(61)
        );
    }

    #[test]
    fn status_round_trips() {
        for s in [
            "pending",
            "sending",
            "sent",
            "failed",
            "cancelled",
            "held",
            "skipped",
        ] {
            assert_eq!(MessageStatus::parse(s).expect("known").as_str(), s);
        }
        assert_eq!(MessageStatus::parse("lost"), None);
    }
}
