//! Recurring messages (SPEC §7): what a series repeats on, when it ends,
//! its occurrences in the author's zone, and the rule in words.
//!
//! - [`Recurrence`]: the rule, as the author chose it (stored as JSON).
//! - [`occurrences`]: the instants it names, computed with the `rrule` crate
//!   on the author's wall clock and then placed in their zone, so 9:00 stays
//!   9:00 across daylight-saving changes.
//! - [`phrase`]: `every weekday at 9am …` and its kin in the quick form.

mod occurrences;
pub mod phrase;
mod words;

use chrono::{NaiveDate, NaiveTime, Weekday};
use serde::{Deserialize, Serialize};

pub use occurrences::Schedule;
pub use words::day_name;

/// The most occurrences a series may be given with `for N times`.
pub const MAX_TIMES: u32 = 1_000;
/// The most hours between two occurrences of an hourly series.
pub const MAX_HOURS: u8 = 24;

/// How often a series repeats. Calendar patterns post at a wall-clock
/// time of day in the author's zone; an hourly series every so many hours
/// of elapsed time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "every", rename_all = "snake_case")]
pub enum Repeat {
    Day {
        at: NaiveTime,
    },
    /// Monday to Friday.
    Weekday {
        at: NaiveTime,
    },
    /// On the chosen days of the week (at least one).
    Week {
        days: Vec<Weekday>,
        at: NaiveTime,
    },
    /// On a day of the month, 1 to 31; months too short for it post on
    /// their last day.
    MonthDay {
        day: u8,
        at: NaiveTime,
    },
    /// On the first, second, third, fourth or last given weekday of the month.
    MonthWeekday {
        nth: Nth,
        weekday: Weekday,
        at: NaiveTime,
    },
    /// Every `hours` hours of elapsed time, 1 to [`MAX_HOURS`].
    Hours {
        hours: u8,
    },
}

/// Which of a month's weekdays.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Nth {
    First,
    Second,
    Third,
    Fourth,
    Last,
}

impl Nth {
    /// RFC 5545's ordinal: 1 to 4, or -1 for the last.
    fn ordinal(self) -> i16 {
        match self {
            Self::First => 1,
            Self::Second => 2,
            Self::Third => 3,
            Self::Fourth => 4,
            Self::Last => -1,
        }
    }

    pub fn all() -> [Self; 5] {
        [
            Self::First,
            Self::Second,
            Self::Third,
            Self::Fourth,
            Self::Last,
        ]
    }

    /// Which weekday of its month `date` is (the fifth counts as the last).
    pub fn of(date: NaiveDate) -> Self {
        use chrono::Datelike;
        match (date.day() - 1) / 7 {
            0 => Self::First,
            1 => Self::Second,
            2 => Self::Third,
            3 => Self::Fourth,
            _ => Self::Last,
        }
    }

    pub fn word(self) -> &'static str {
        match self {
            Self::First => "first",
            Self::Second => "second",
            Self::Third => "third",
            Self::Fourth => "fourth",
            Self::Last => "last",
        }
    }
}

/// When a series stops.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "ends", rename_all = "snake_case")]
pub enum Ends {
    Never,
    /// After the last occurrence on this date (in the author's zone), inclusive.
    On {
        date: NaiveDate,
    },
    /// After this many occurrences (skipped ones count).
    After {
        times: u32,
    },
}

/// A series' rule: how it repeats and when it ends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recurrence {
    pub repeat: Repeat,
    pub ends: Ends,
}

/// Why a rule cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecurrenceError {
    #[error("Pick at least one day of the week.")]
    NoDays,
    #[error("A day of the month is 1 to 31.")]
    BadMonthDay,
    #[error("Repeat every 1 to 24 hours.")]
    BadHours,
    #[error("A series can repeat 1 to 1,000 times.")]
    BadTimes,
    #[error("That end date has already passed.")]
    EndsInPast,
    #[error("That rule has no occurrence before it ends.")]
    NoOccurrence,
    #[error("The first message would be more than 366 days away.")]
    TooFarAhead,
}

impl Recurrence {
    /// Checks the parts a person could get wrong, before anything is computed.
    pub fn check(&self) -> Result<(), RecurrenceError> {
        match &self.repeat {
            Repeat::Week { days, .. } if days.is_empty() => return Err(RecurrenceError::NoDays),
            Repeat::MonthDay { day, .. } if !(1..=31).contains(day) => {
                return Err(RecurrenceError::BadMonthDay);
            }
            Repeat::Hours { hours } if !(1..=MAX_HOURS).contains(hours) => {
                return Err(RecurrenceError::BadHours);
            }
            _ => {}
        }
        if let Ends::After { times } = self.ends
            && !(1..=MAX_TIMES).contains(&times)
        {
            return Err(RecurrenceError::BadTimes);
        }
        Ok(())
    }

    /// The rule in words, as the confirmation and the lists show it:
    /// "every weekday at 9:00 AM, until Mar 1, 2027".
    pub fn describe(&self) -> String {
        words::describe(self)
    }
}

#[cfg(test)]
mod tests;
