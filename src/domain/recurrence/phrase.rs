//! Recurring messages in the quick form:
//!
//! ```text
//! every weekday at 9am Standup in 5
//! every monday 10:00 Plan the week
//! every monday and thursday at 9:30 am …
//! every day at 17:30 …
//! every 2 hours …            every hour …
//! every month on the 1st at 9am …
//! every month on the first monday at 9am …
//! ```
//!
//! with an optional end right after the time phrase: `until 2027-03-01`
//! (or any date the one-off form reads: `until march 1`) or `for 10 times`.
//! A day named without a time means 9:00, as in the one-off form.

use chrono::{DateTime, NaiveTime, Utc, Weekday};
use chrono_tz::Tz;

use super::{Ends, Nth, Recurrence, Repeat};
use crate::domain::when::{parse_when, time_of_day};

/// The hour meant when a recurring phrase names no time.
const DEFAULT_HOUR: u32 = 9;
/// Words an end date may take (`until dec 24 2027`).
const MAX_DATE_WORDS: usize = 3;

/// A recurring phrase read off the start of the quick form, and the message after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecurringPhrase {
    pub recurrence: Recurrence,
    pub text: String,
}

/// Why a text that starts with `every` is not a recurring message we can read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PhraseError {
    #[error(
        "I couldn't tell how often to repeat. Try `every weekday at 9am …`, `every monday 10:00 …`, `every 2 hours …` or `every month on the 1st at 9am …`."
    )]
    Pattern,
    #[error("I couldn't read the time after “at”. Try `at 9am` or `at 17:30`.")]
    Time,
    #[error("I couldn't read the date after “until”. Try `until 2027-03-01`.")]
    Until,
    #[error("Write the message after the time, for example `every weekday at 9am Standup in 5`.")]
    NoText,
}

/// A word of the input and the byte offset just past it.
#[derive(Debug, Clone, Copy)]
struct Word<'a> {
    text: &'a str,
    end: usize,
}

/// `None` when `input` does not start with `every`; otherwise the phrase
/// read, or why it cannot be.
pub fn parse_recurring(
    input: &str,
    now: DateTime<Utc>,
    tz: Tz,
) -> Option<Result<RecurringPhrase, PhraseError>> {
    let words = words(input);
    let first = words.first()?;
    if !first.text.eq_ignore_ascii_case("every") {
        return None;
    }
    Some(read(input, &words, now, tz))
}

fn read(
    input: &str,
    words: &[Word<'_>],
    now: DateTime<Utc>,
    tz: Tz,
) -> Result<RecurringPhrase, PhraseError> {
    let mut reader = Reader { words, at: 1 };
    let pattern = reader.pattern().ok_or(PhraseError::Pattern)?;
    let repeat = match pattern {
        Pattern::Hours(hours) => Repeat::Hours { hours },
        Pattern::Calendar(calendar) => {
            let at = reader.time(now, tz)?;
            calendar.at(at)
        }
    };
    let ends = reader.ends(now, tz)?;
    let rest = match reader.at.checked_sub(1).and_then(|i| words.get(i)) {
        Some(last) => input.get(last.end..).unwrap_or_default(),
        None => input,
    };
    let text = rest.trim();
    if text.is_empty() {
        return Err(PhraseError::NoText);
    }
    Ok(RecurringPhrase {
        recurrence: Recurrence { repeat, ends },
        text: text.to_owned(),
    })
}

/// A calendar pattern waiting for its time of day.
enum Calendar {
    Day,
    Weekday,
    Week(Vec<Weekday>),
    MonthDay(u8),
    MonthWeekday(Nth, Weekday),
}

impl Calendar {
    fn at(self, at: NaiveTime) -> Repeat {
        match self {
            Self::Day => Repeat::Day { at },
            Self::Weekday => Repeat::Weekday { at },
            Self::Week(days) => Repeat::Week { days, at },
            Self::MonthDay(day) => Repeat::MonthDay { day, at },
            Self::MonthWeekday(nth, weekday) => Repeat::MonthWeekday { nth, weekday, at },
        }
    }
}

enum Pattern {
    Calendar(Calendar),
    Hours(u8),
}

struct Reader<'w, 'a> {
    words: &'w [Word<'a>],
    /// The next word to read.
    at: usize,
}

impl Reader<'_, '_> {
    fn peek(&self) -> Option<String> {
        self.peek_at(0)
    }

    fn peek_at(&self, ahead: usize) -> Option<String> {
        self.words
            .get(self.at + ahead)
            .map(|w| w.text.trim_end_matches(',').to_ascii_lowercase())
    }

    fn eat(&mut self, word: &str) -> bool {
        if self.peek().as_deref() == Some(word) {
            self.at += 1;
            return true;
        }
        false
    }

    fn pattern(&mut self) -> Option<Pattern> {
        let word = self.peek()?;
        if let Some(hours) = self.hours() {
            return Some(Pattern::Hours(hours));
        }
        let calendar = match word.as_str() {
            "weekday" | "weekdays" => {
                self.at += 1;
                Calendar::Weekday
            }
            "day" => {
                self.at += 1;
                Calendar::Day
            }
            "week" => {
                self.at += 1;
                self.eat("on");
                Calendar::Week(self.days()?)
            }
            "month" => {
                self.at += 1;
                self.eat("on");
                self.eat("the");
                self.month_day()?
            }
            _ => Calendar::Week(self.days()?),
        };
        Some(Pattern::Calendar(calendar))
    }

    /// `hour`, `2 hours`, `3 hrs`.
    fn hours(&mut self) -> Option<u8> {
        let word = self.peek()?;
        if matches!(word.as_str(), "hour" | "hr") {
            self.at += 1;
            return Some(1);
        }
        let unit = self.peek_at(1)?;
        if !matches!(unit.as_str(), "hours" | "hour" | "hrs" | "hr") {
            return None;
        }
        let hours: u8 = word.parse().ok()?;
        self.at += 2;
        Some(hours)
    }

    /// `monday`, `mon and thu`, `monday, wednesday and friday`.
    fn days(&mut self) -> Option<Vec<Weekday>> {
        let mut days = vec![weekday(&self.peek()?)?];
        self.at += 1;
        loop {
            let joined = self.peek_at(0).as_deref() == Some("and");
            let next = if joined { self.peek_at(1) } else { self.peek() };
            match next.as_deref().and_then(weekday) {
                Some(day) => {
                    self.at += if joined { 2 } else { 1 };
                    if !days.contains(&day) {
                        days.push(day);
                    }
                }
                None => break,
            }
        }
        days.sort_by_key(Weekday::num_days_from_monday);
        Some(days)
    }

    /// `1st`, `15th`, `15`, or `first monday`, `last friday`.
    fn month_day(&mut self) -> Option<Calendar> {
        let word = self.peek()?;
        if let Some(nth) = nth(&word)
            && let Some(day) = self.peek_at(1).as_deref().and_then(weekday)
        {
            self.at += 2;
            return Some(Calendar::MonthWeekday(nth, day));
        }
        let digits = word.trim_end_matches(|c: char| c.is_ascii_alphabetic());
        let suffix = &word[digits.len()..];
        if !matches!(suffix, "" | "st" | "nd" | "rd" | "th") {
            return None;
        }
        let day: u8 = digits.parse().ok().filter(|d| (1..=31).contains(d))?;
        self.at += 1;
        Some(Calendar::MonthDay(day))
    }

    /// `at 9am`, `9:30 pm`, `17:30`, or nothing (9:00).
    fn time(&mut self, now: DateTime<Utc>, tz: Tz) -> Result<NaiveTime, PhraseError> {
        let said_at = self.eat("at");
        for count in [2, 1] {
            let Some(words) = self.words.get(self.at..self.at + count) else {
                continue;
            };
            let phrase = words.iter().map(|w| w.text).collect::<Vec<_>>().join(" ");
            if let Some(time) = time_of_day(&phrase, now, tz) {
                self.at += count;
                return Ok(time);
            }
        }
        if said_at {
            return Err(PhraseError::Time);
        }
        NaiveTime::from_hms_opt(DEFAULT_HOUR, 0, 0).ok_or(PhraseError::Time)
    }

    /// `until <date>` or `for N times`, or nothing.
    fn ends(&mut self, now: DateTime<Utc>, tz: Tz) -> Result<Ends, PhraseError> {
        if self.peek().as_deref() == Some("for")
            && let Some(times) = self.peek_at(1).and_then(|n| n.parse::<u32>().ok())
            && matches!(self.peek_at(2).as_deref(), Some("times" | "time" | "x"))
        {
            self.at += 3;
            return Ok(Ends::After { times });
        }
        if !self.eat("until") {
            return Ok(Ends::Never);
        }
        for count in (1..=MAX_DATE_WORDS).rev() {
            let Some(words) = self.words.get(self.at..self.at + count) else {
                continue;
            };
            let phrase = words.iter().map(|w| w.text).collect::<Vec<_>>().join(" ");
            if let Some(at) = parse_when(&phrase, now, tz) {
                self.at += count;
                let date = at.with_timezone(&tz).date_naive();
                return Ok(Ends::On { date });
            }
        }
        Err(PhraseError::Until)
    }
}

fn weekday(word: &str) -> Option<Weekday> {
    Some(match word {
        "monday" | "mon" | "mondays" => Weekday::Mon,
        "tuesday" | "tue" | "tues" | "tuesdays" => Weekday::Tue,
        "wednesday" | "wed" | "wednesdays" => Weekday::Wed,
        "thursday" | "thu" | "thur" | "thurs" | "thursdays" => Weekday::Thu,
        "friday" | "fri" | "fridays" => Weekday::Fri,
        "saturday" | "sat" | "saturdays" => Weekday::Sat,
        "sunday" | "sun" | "sundays" => Weekday::Sun,
        _ => return None,
    })
}

fn nth(word: &str) -> Option<Nth> {
    Some(match word {
        "first" | "1st" => Nth::First,
        "second" | "2nd" => Nth::Second,
        "third" | "3rd" => Nth::Third,
        "fourth" | "4th" => Nth::Fourth,
        "last" => Nth::Last,
        _ => return None,
    })
}

fn words(input: &str) -> Vec<Word<'_>> {
    let mut words = Vec::new();
    let mut start = None;
    for (i, c) in input.char_indices() {
        match (c.is_whitespace(), start) {
            (false, None) => start = Some(i),
            (true, Some(s)) => {
                words.push(Word {
                    text: &input[s..i],
                    end: i,
                });
                start = None;
            }
            _ => {}
        }
    }
    if let Some(s) = start {
        words.push(Word {
            text: &input[s..],
            end: input.len(),
        });
    }
    words
}
