//! A rule in plain words, for people: "every Monday and Thursday at
//! 10:00 AM, 10 times".

use chrono::{NaiveTime, Weekday};

use super::{Ends, Recurrence, Repeat};

pub(super) fn describe(recurrence: &Recurrence) -> String {
    let mut out = match &recurrence.repeat {
        Repeat::Day { at } => format!("every day at {}", clock(*at)),
        Repeat::Weekday { at } => format!("every weekday at {}", clock(*at)),
        Repeat::Week { days, at } => format!("every {} at {}", day_list(days), clock(*at)),
        Repeat::MonthDay { day, at } => {
            let shorter = if *day > 28 {
                " (the last day in shorter months)"
            } else {
                ""
            };
            format!(
                "every month on the {}{shorter} at {}",
                ordinal(u32::from(*day)),
                clock(*at)
            )
        }
        Repeat::MonthWeekday { nth, weekday, at } => format!(
            "every month on the {} {} at {}",
            nth.word(),
            day_name(*weekday),
            clock(*at)
        ),
        Repeat::Hours { hours: 1 } => "every hour".to_owned(),
        Repeat::Hours { hours } => format!("every {hours} hours"),
    };
    match recurrence.ends {
        Ends::Never => {}
        Ends::On { date } => out.push_str(&format!(", until {}", date.format("%b %-d, %Y"))),
        Ends::After { times: 1 } => out.push_str(", once"),
        Ends::After { times } => out.push_str(&format!(", {times} times")),
    }
    out
}

/// "9:00 AM".
pub(super) fn clock(at: NaiveTime) -> String {
    at.format("%-I:%M %p").to_string()
}

pub fn day_name(day: Weekday) -> &'static str {
    match day {
        Weekday::Mon => "Monday",
        Weekday::Tue => "Tuesday",
        Weekday::Wed => "Wednesday",
        Weekday::Thu => "Thursday",
        Weekday::Fri => "Friday",
        Weekday::Sat => "Saturday",
        Weekday::Sun => "Sunday",
    }
}

/// "Monday", "Monday and Thursday", "Monday, Wednesday and Friday".
fn day_list(days: &[Weekday]) -> String {
    let names: Vec<&str> = days.iter().map(|d| day_name(*d)).collect();
    match names.as_slice() {
        [] => String::new(),
        [one] => (*one).to_owned(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

/// "1st", "2nd", "3rd", "4th", "11th", "21st".
pub(super) fn ordinal(n: u32) -> String {
    let suffix = match (n % 10, n % 100) {
        (_, 11..=13) => "th",
        (1, _) => "st",
        (2, _) => "nd",
        (3, _) => "rd",
        _ => "th",
    };
    format!("{n}{suffix}")
}
