use chrono::{DateTime, NaiveDate, NaiveTime, TimeZone, Utc, Weekday};
use chrono_tz::Tz;

use super::phrase::{PhraseError, parse_recurring};
use super::{Ends, Nth, Recurrence, RecurrenceError, Repeat, Schedule};

const NEW_YORK: Tz = chrono_tz::America::New_York;
const BERLIN: Tz = chrono_tz::Europe::Berlin;
const SYDNEY: Tz = chrono_tz::Australia::Sydney;

fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap()
}

fn time(h: u32, m: u32) -> NaiveTime {
    NaiveTime::from_hms_opt(h, m, 0).unwrap()
}

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

fn rule(repeat: Repeat) -> Recurrence {
    Recurrence {
        repeat,
        ends: Ends::Never,
    }
}

/// `n` occurrences after `now` of a series started at `now`, as local times.
fn local(recurrence: &Recurrence, tz: Tz, now: DateTime<Utc>, n: usize) -> Vec<String> {
    let (schedule, _) = Schedule::start(recurrence, tz, now).expect("a valid series");
    schedule
        .after(now, n)
        .into_iter()
        .map(|at| {
            at.with_timezone(&tz)
                .format("%a %Y-%m-%d %H:%M %Z")
                .to_string()
        })
        .collect()
}

#[test]
fn nine_stays_nine_across_new_yorks_spring_forward() {
    let now = utc(2027, 3, 12, 20, 0);
    let daily = rule(Repeat::Day { at: time(9, 0) });
    assert_eq!(
        local(&daily, NEW_YORK, now, 3),
        [
            "Sat 2027-03-13 09:00 EST",
            "Sun 2027-03-14 09:00 EDT",
            "Mon 2027-03-15 09:00 EDT"
        ]
    );
}

#[test]
fn a_time_the_spring_forward_skips_goes_out_at_the_first_minute_after_the_gap() {
    let now = utc(2027, 3, 12, 20, 0);
    let daily = rule(Repeat::Day { at: time(2, 30) });
    let (schedule, _) = Schedule::start(&daily, NEW_YORK, now).unwrap();
    let at = schedule.after(now, 3);
    // 2:30 does not exist on March 14: clocks go from 2:00 to 3:00.
    assert_eq!(
        at,
        [
            utc(2027, 3, 13, 7, 30),
            utc(2027, 3, 14, 7, 0),
            utc(2027, 3, 15, 6, 30)
        ]
    );
    assert_eq!(
        at[1]
            .with_timezone(&NEW_YORK)
            .format("%H:%M %Z")
            .to_string(),
        "03:00 EDT"
    );
}

#[test]
fn a_time_new_yorks_fall_back_shows_twice_goes_out_once() {
    let now = utc(2027, 11, 5, 20, 0);
    let daily = rule(Repeat::Day { at: time(1, 30) });
    let (schedule, _) = Schedule::start(&daily, NEW_YORK, now).unwrap();
    let at = schedule.after(now, 3);
    // 1:30 happens at 05:30 and again at 06:30 UTC on November 7: once, the first.
    assert_eq!(
        at,
        [
            utc(2027, 11, 6, 5, 30),
            utc(2027, 11, 7, 5, 30),
            utc(2027, 11, 8, 6, 30)
        ]
    );
    let nine = rule(Repeat::Day { at: time(9, 0) });
    assert_eq!(
        local(&nine, NEW_YORK, now, 3),
        [
            "Sat 2027-11-06 09:00 EDT",
            "Sun 2027-11-07 09:00 EST",
            "Mon 2027-11-08 09:00 EST"
        ]
    );
}

#[test]
fn berlin_keeps_its_monday_nine_across_both_changes() {
    let monday = rule(Repeat::Week {
        days: vec![Weekday::Mon],
        at: time(9, 0),
    });
    let spring = utc(2027, 3, 20, 12, 0);
    let (schedule, _) = Schedule::start(&monday, BERLIN, spring).unwrap();
    // March 28 is the change: 9:00 CET is 08:00 UTC, 9:00 CEST 07:00.
    assert_eq!(
        schedule.after(spring, 2),
        [utc(2027, 3, 22, 8, 0), utc(2027, 3, 29, 7, 0)]
    );
    let autumn = utc(2027, 10, 26, 12, 0);
    let (schedule, _) = Schedule::start(&monday, BERLIN, autumn).unwrap();
    assert_eq!(schedule.after(autumn, 1), [utc(2027, 11, 1, 8, 0)]);
}

#[test]
fn sydney_goes_out_once_in_aprils_repeat_and_after_octobers_gap() {
    let daily = rule(Repeat::Day { at: time(2, 30) });
    // April 4, 2027: 3:00 AEDT becomes 2:00 AEST; 2:30 happens twice.
    let april = utc(2027, 4, 2, 0, 0);
    let (schedule, _) = Schedule::start(&daily, SYDNEY, april).unwrap();
    let at = schedule.after(april, 3);
    assert_eq!(
        at,
        [
            utc(2027, 4, 2, 15, 30),
            utc(2027, 4, 3, 15, 30),
            utc(2027, 4, 4, 16, 30)
        ]
    );
    // October 3, 2027: 2:00 AEST becomes 3:00 AEDT; 2:30 does not happen.
    let october = utc(2027, 10, 1, 0, 0);
    let (schedule, _) = Schedule::start(&daily, SYDNEY, october).unwrap();
    let gap = schedule.after(october, 3)[1];
    assert_eq!(
        gap.with_timezone(&SYDNEY).format("%d %H:%M %Z").to_string(),
        "03 03:00 AEDT"
    );
}

#[test]
fn an_hourly_series_counts_elapsed_hours_across_a_change() {
    let every_two = rule(Repeat::Hours { hours: 2 });
    let now = utc(2027, 3, 14, 4, 20);
    let (schedule, first) = Schedule::start(&every_two, NEW_YORK, now).unwrap();
    assert_eq!(first, utc(2027, 3, 14, 6, 20));
    let at = schedule.after(now, 3);
    assert_eq!(
        at,
        [
            utc(2027, 3, 14, 6, 20),
            utc(2027, 3, 14, 8, 20),
            utc(2027, 3, 14, 10, 20)
        ]
    );
}

#[test]
fn weekdays_skip_the_weekend() {
    let weekdays = rule(Repeat::Weekday { at: time(9, 0) });
    // Friday 2027-01-08 at noon UTC.
    let now = utc(2027, 1, 8, 12, 0);
    assert_eq!(
        local(&weekdays, Tz::UTC, now, 3),
        [
            "Mon 2027-01-11 09:00 UTC",
            "Tue 2027-01-12 09:00 UTC",
            "Wed 2027-01-13 09:00 UTC"
        ]
    );
}

#[test]
fn a_late_day_of_the_month_falls_on_the_last_day_of_shorter_months() {
    let thirty_first = rule(Repeat::MonthDay {
        day: 31,
        at: time(9, 0),
    });
    let now = utc(2027, 1, 1, 0, 0);
    assert_eq!(
        local(&thirty_first, Tz::UTC, now, 4),
        [
            "Sun 2027-01-31 09:00 UTC",
            "Sun 2027-02-28 09:00 UTC",
            "Wed 2027-03-31 09:00 UTC",
            "Fri 2027-04-30 09:00 UTC"
        ]
    );
}

#[test]
fn the_first_monday_and_the_last_friday_of_each_month() {
    let now = utc(2027, 1, 1, 0, 0);
    let first_monday = rule(Repeat::MonthWeekday {
        nth: Nth::First,
        weekday: Weekday::Mon,
        at: time(9, 0),
    });
    assert_eq!(
        local(&first_monday, Tz::UTC, now, 2),
        ["Mon 2027-01-04 09:00 UTC", "Mon 2027-02-01 09:00 UTC"]
    );
    let last_friday = rule(Repeat::MonthWeekday {
        nth: Nth::Last,
        weekday: Weekday::Fri,
        at: time(17, 0),
    });
    assert_eq!(
        local(&last_friday, Tz::UTC, now, 2),
        ["Fri 2027-01-29 17:00 UTC", "Fri 2027-02-26 17:00 UTC"]
    );
}

#[test]
fn a_series_ends_after_its_times_or_on_its_date_and_skips_count() {
    let now = utc(2027, 1, 1, 12, 0);
    let three = Recurrence {
        repeat: Repeat::Day { at: time(9, 0) },
        ends: Ends::After { times: 3 },
    };
    let (schedule, first) = Schedule::start(&three, Tz::UTC, now).unwrap();
    assert_eq!(first, utc(2027, 1, 2, 9, 0));
    assert_eq!(
        schedule.after(now, 10).len(),
        3,
        "three times, then no more"
    );
    let skipped = [utc(2027, 1, 3, 9, 0)];
    let with_skip = Schedule {
        skipped: &skipped,
        ..schedule
    };
    assert_eq!(
        with_skip.after(now, 10),
        [utc(2027, 1, 2, 9, 0), utc(2027, 1, 4, 9, 0)],
        "a skipped occurrence still counts"
    );
    let until = Recurrence {
        repeat: Repeat::Day { at: time(9, 0) },
        ends: Ends::On {
            date: date(2027, 1, 4),
        },
    };
    let (schedule, _) = Schedule::start(&until, Tz::UTC, now).unwrap();
    assert_eq!(schedule.after(now, 10).len(), 3, "the end date is included");
    assert_eq!(schedule.next_after(utc(2027, 1, 4, 9, 0)), None);
}

#[test]
fn a_series_that_ends_in_the_past_or_never_happens_is_refused() {
    let now = utc(2027, 1, 10, 12, 0);
    let past = Recurrence {
        repeat: Repeat::Day { at: time(9, 0) },
        ends: Ends::On {
            date: date(2027, 1, 9),
        },
    };
    assert_eq!(
        Schedule::start(&past, Tz::UTC, now).unwrap_err(),
        RecurrenceError::EndsInPast
    );
    let today_gone = Recurrence {
        repeat: Repeat::Day { at: time(9, 0) },
        ends: Ends::On {
            date: date(2027, 1, 10),
        },
    };
    assert_eq!(
        Schedule::start(&today_gone, Tz::UTC, now).unwrap_err(),
        RecurrenceError::NoOccurrence
    );
    let no_days = rule(Repeat::Week {
        days: vec![],
        at: time(9, 0),
    });
    assert_eq!(
        Schedule::start(&no_days, Tz::UTC, now).unwrap_err(),
        RecurrenceError::NoDays
    );
    let zero = Recurrence {
        repeat: Repeat::Hours { hours: 1 },
        ends: Ends::After { times: 0 },
    };
    assert_eq!(
        Schedule::start(&zero, Tz::UTC, now).unwrap_err(),
        RecurrenceError::BadTimes
    );
}

#[test]
fn rules_read_as_words() {
    let cases = [
        (
            rule(Repeat::Weekday { at: time(9, 0) }),
            "every weekday at 9:00 AM",
        ),
        (
            rule(Repeat::Week {
                days: vec![Weekday::Mon, Weekday::Thu],
                at: time(10, 0),
            }),
            "every Monday and Thursday at 10:00 AM",
        ),
        (
            rule(Repeat::Day { at: time(17, 30) }),
            "every day at 5:30 PM",
        ),
        (rule(Repeat::Hours { hours: 2 }), "every 2 hours"),
        (rule(Repeat::Hours { hours: 1 }), "every hour"),
        (
            rule(Repeat::MonthDay {
                day: 1,
                at: time(9, 0),
            }),
            "every month on the 1st at 9:00 AM",
        ),
        (
            rule(Repeat::MonthWeekday {
                nth: Nth::First,
                weekday: Weekday::Mon,
                at: time(9, 0),
            }),
            "every month on the first Monday at 9:00 AM",
        ),
        (
            Recurrence {
                repeat: Repeat::Day { at: time(9, 0) },
                ends: Ends::On {
                    date: date(2027, 3, 1),
                },
            },
            "every day at 9:00 AM, until Mar 1, 2027",
        ),
        (
            Recurrence {
                repeat: Repeat::Day { at: time(9, 0) },
                ends: Ends::After { times: 10 },
            },
            "every day at 9:00 AM, 10 times",
        ),
    ];
    for (recurrence, words) in cases {
        assert_eq!(recurrence.describe(), words);
    }
}

fn phrase(input: &str) -> Result<(Recurrence, String), PhraseError> {
    let now = utc(2027, 1, 8, 12, 0);
    parse_recurring(input, now, BERLIN)
        .expect("starts with every")
        .map(|p| (p.recurrence, p.text))
}

#[test]
fn every_quick_form_the_spec_names_is_read() {
    let cases = [
        (
            "every weekday at 9am Standup in 5",
            Repeat::Weekday { at: time(9, 0) },
            "Standup in 5",
        ),
        (
            "every monday 10:00 Plan the week",
            Repeat::Week {
                days: vec![Weekday::Mon],
                at: time(10, 0),
            },
            "Plan the week",
        ),
        (
            "every day at 17:30 Go home",
            Repeat::Day { at: time(17, 30) },
            "Go home",
        ),
        (
            "every 2 hours Stretch",
            Repeat::Hours { hours: 2 },
            "Stretch",
        ),
        (
            "every hour Drink water",
            Repeat::Hours { hours: 1 },
            "Drink water",
        ),
        (
            "every month on the 1st at 9am Invoices",
            Repeat::MonthDay {
                day: 1,
                at: time(9, 0),
            },
            "Invoices",
        ),
        (
            "every month on the first monday at 9am Town hall",
            Repeat::MonthWeekday {
                nth: Nth::First,
                weekday: Weekday::Mon,
                at: time(9, 0),
            },
            "Town hall",
        ),
        (
            "Every Monday, Wednesday and Friday at 9:30 am Gym <@U0002>",
            Repeat::Week {
                days: vec![Weekday::Mon, Weekday::Wed, Weekday::Fri],
                at: time(9, 30),
            },
            "Gym <@U0002>",
        ),
        (
            "every friday Demo day",
            Repeat::Week {
                days: vec![Weekday::Fri],
                at: time(9, 0),
            },
            "Demo day",
        ),
    ];
    for (input, repeat, text) in cases {
        let (recurrence, rest) = phrase(input).unwrap_or_else(|e| panic!("{input}: {e}"));
        assert_eq!(recurrence.repeat, repeat, "{input}");
        assert_eq!(recurrence.ends, Ends::Never, "{input}");
        assert_eq!(rest, text, "{input}");
    }
}

#[test]
fn an_end_right_after_the_time_phrase_is_read() {
    let (until, text) = phrase("every weekday at 9am until 2027-03-01 Standup").unwrap();
    assert_eq!(
        until.ends,
        Ends::On {
            date: date(2027, 3, 1)
        }
    );
    assert_eq!(text, "Standup");
    let (times, text) = phrase("every 2 hours for 10 times Stretch").unwrap();
    assert_eq!(times.ends, Ends::After { times: 10 });
    assert_eq!(text, "Stretch");
    let (named, _) = phrase("every day at 8am until march 1 Water the plants").unwrap();
    assert_eq!(
        named.ends,
        Ends::On {
            date: date(2027, 3, 1)
        }
    );
    let (kept, text) = phrase("every day at 8am for the team: standup").unwrap();
    assert_eq!(
        kept.ends,
        Ends::Never,
        "“for” without a count is the message"
    );
    assert_eq!(text, "for the team: standup");
}

#[test]
fn what_cannot_be_read_is_said() {
    assert_eq!(phrase("every blue moon Howl"), Err(PhraseError::Pattern));
    assert_eq!(phrase("every day at teatime Tea"), Err(PhraseError::Time));
    assert_eq!(
        phrase("every day at 9am until someday Tea"),
        Err(PhraseError::Until)
    );
    assert_eq!(phrase("every weekday at 9am"), Err(PhraseError::NoText));
    assert!(parse_recurring("everyone look", utc(2027, 1, 1, 0, 0), BERLIN).is_none());
    assert!(parse_recurring("tomorrow 9am hi", utc(2027, 1, 1, 0, 0), BERLIN).is_none());
}
