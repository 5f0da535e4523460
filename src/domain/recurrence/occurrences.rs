//! A series' occurrences as instants.
//!
//! Calendar patterns are expanded by the `rrule` crate on the author's wall
//! clock (a "floating" time, with no zone), and each wall-clock occurrence
//! is then placed in the author's zone: 9:00 is 9:00 in winter and summer.
//! Where clocks spring forward and the time never happens, the occurrence
//! goes out at the first minute after the gap; where they fall back and it
//! happens twice, it goes out once, at the first. (Expanded in the zone
//! itself, `rrule` would move a skipped 2:30 by the full gap, to 3:30.)
//! Hourly series count elapsed time, so they are expanded in UTC.

use chrono::{DateTime, DurationRound, NaiveDateTime, TimeDelta, TimeZone, Timelike, Utc};
use chrono_tz::Tz;
use rrule::{Frequency, NWeekday, RRule, RRuleSet};

use super::{Ends, Recurrence, RecurrenceError, Repeat};
use crate::domain::message::MAX_LEAD_DAYS;
use crate::domain::when::local_instant;

/// Occurrences looked at, at most, for one question: a bound on hostile or
/// degenerate rules, far beyond any real series' life (hourly for a century).
const MAX_SCANNED: usize = 1_000_000;

/// A series' rule placed in time.
#[derive(Debug, Clone, Copy)]
pub struct Schedule<'a> {
    pub recurrence: &'a Recurrence,
    /// The zone its wall-clock times are read in: the author's.
    pub tz: Tz,
    /// Where the series starts: occurrences come after it (an hourly
    /// series' anchor is its first occurrence). See [`Schedule::anchor_for`].
    pub anchor: DateTime<Utc>,
    /// Occurrences the author chose to skip. They still count towards
    /// `for N times`.
    pub skipped: &'a [DateTime<Utc>],
}

impl<'a> Schedule<'a> {
    /// The anchor of a series whose first occurrence is `first` or the
    /// rule's first after it (a time picked in the modal): just before it
    /// for a calendar pattern, `first` itself for an hourly one.
    pub fn anchor_at(recurrence: &Recurrence, first: DateTime<Utc>) -> DateTime<Utc> {
        match recurrence.repeat {
            Repeat::Hours { .. } => first,
            _ => first - TimeDelta::seconds(1),
        }
    }

    /// The anchor of a series that starts now: the next whole minute for a
    /// calendar pattern (so that no occurrence lies in the past and `for N
    /// times` counts only those to come), the first occurrence itself,
    /// `hours` from now, for an hourly one.
    pub fn anchor_for(recurrence: &Recurrence, now: DateTime<Utc>) -> DateTime<Utc> {
        let minute = now.duration_trunc(TimeDelta::minutes(1)).unwrap_or(now);
        match recurrence.repeat {
            Repeat::Hours { hours } => minute + TimeDelta::hours(i64::from(hours)),
            _ => minute + TimeDelta::minutes(1),
        }
    }

    /// A new series' schedule from `now`, checked: its rule is sound, it
    /// has an occurrence, and the first is at most 366 days away.
    pub fn start(
        recurrence: &'a Recurrence,
        tz: Tz,
        now: DateTime<Utc>,
    ) -> Result<(Self, DateTime<Utc>), RecurrenceError> {
        recurrence.check()?;
        if let Ends::On { date } = recurrence.ends
            && date < now.with_timezone(&tz).date_naive()
        {
            return Err(RecurrenceError::EndsInPast);
        }
        let schedule = Self {
            recurrence,
            tz,
            anchor: Self::anchor_for(recurrence, now),
            skipped: &[],
        };
        let first = schedule
            .next_after(now)
            .ok_or(RecurrenceError::NoOccurrence)?;
        if first > now + TimeDelta::days(MAX_LEAD_DAYS) {
            return Err(RecurrenceError::TooFarAhead);
        }
        Ok((schedule, first))
    }

    /// The first occurrence strictly after `after`, if the series has one.
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.after(after, 1).into_iter().next()
    }

    /// Up to `n` occurrences strictly after `after`, soonest first, skipped
    /// ones left out.
    pub fn after(&self, after: DateTime<Utc>, n: usize) -> Vec<DateTime<Utc>> {
        let Some(set) = self.rule_set() else {
            return Vec::new();
        };
        let hourly = matches!(self.recurrence.repeat, Repeat::Hours { .. });
        let mut found: Vec<DateTime<Utc>> = Vec::with_capacity(n.min(64));
        for occurrence in set.into_iter().take(MAX_SCANNED) {
            if found.len() >= n {
                break;
            }
            let at = if hourly {
                occurrence.with_timezone(&Utc)
            } else {
                match local_instant(occurrence.naive_local(), self.tz) {
                    Some(at) => at.with_timezone(&Utc),
                    None => continue,
                }
            };
            // A wall-clock time that falls in a gap moves to the gap's end,
            // where it could meet the next occurrence: keep each instant once.
            if at <= after || self.skipped.contains(&at) || found.last() == Some(&at) {
                continue;
            }
            found.push(at);
        }
        found
    }

    /// The rule as `rrule` expands it: on the floating wall clock for a
    /// calendar pattern, in UTC for an hourly one.
    fn rule_set(&self) -> Option<RRuleSet> {
        let repeat = &self.recurrence.repeat;
        let rule = match repeat {
            Repeat::Hours { hours } => RRule::new(Frequency::Hourly).interval(u16::from(*hours)),
            Repeat::Day { .. } => RRule::new(Frequency::Daily),
            Repeat::Weekday { .. } => RRule::new(Frequency::Weekly).by_weekday(
                [
                    chrono::Weekday::Mon,
                    chrono::Weekday::Tue,
                    chrono::Weekday::Wed,
                    chrono::Weekday::Thu,
                    chrono::Weekday::Fri,
                ]
                .map(NWeekday::Every)
                .to_vec(),
            ),
            Repeat::Week { days, .. } => RRule::new(Frequency::Weekly)
                .by_weekday(days.iter().copied().map(NWeekday::Every).collect()),
            // The day, or the month's last day when it has no such day:
            // the last of the days from the 28th up to it that the month has.
            Repeat::MonthDay { day, .. } if *day > 28 => RRule::new(Frequency::Monthly)
                .by_month_day((28..=*day).map(|d| d as i8).collect())
                .by_set_pos(vec![-1]),
            Repeat::MonthDay { day, .. } => {
                RRule::new(Frequency::Monthly).by_month_day(vec![*day as i8])
            }
            Repeat::MonthWeekday { nth, weekday, .. } => RRule::new(Frequency::Monthly)
                .by_weekday(vec![NWeekday::Nth(nth.ordinal(), *weekday)]),
        };
        let rule = match repeat {
            Repeat::Hours { .. } => rule,
            Repeat::Day { at }
            | Repeat::Weekday { at }
            | Repeat::Week { at, .. }
            | Repeat::MonthDay { at, .. }
            | Repeat::MonthWeekday { at, .. } => rule
                .by_hour(vec![at.hour() as u8])
                .by_minute(vec![at.minute() as u8])
                .by_second(vec![at.second() as u8]),
        };
        let hourly = matches!(repeat, Repeat::Hours { .. });
        let start = if hourly {
            floating(self.anchor.naive_utc())?
        } else {
            floating(self.anchor.with_timezone(&self.tz).naive_local())?
        };
        let rule = match self.recurrence.ends {
            Ends::Never => rule,
            Ends::After { times } => rule.count(times),
            Ends::On { date } => {
                let last = date.and_hms_opt(23, 59, 59)?;
                let until = if hourly {
                    // The end of that day where the author lives, in UTC.
                    let end = self.tz.from_local_datetime(&last).latest()?;
                    floating(end.naive_utc())?
                } else {
                    floating(last)?
                };
                if until < start {
                    return None;
                }
                rule.until(until)
            }
        };
        rule.build(start).ok()
    }
}

/// A wall-clock time for `rrule`, which has no zone-less type: UTC stands
/// in for "no zone" (it has no gaps and no repeats). Whole seconds.
fn floating(at: NaiveDateTime) -> Option<DateTime<rrule::Tz>> {
    let at = at.with_nanosecond(0)?;
    rrule::Tz::UTC.from_local_datetime(&at).single()
}
