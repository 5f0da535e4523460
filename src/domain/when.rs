//! Natural-language due times for `/schedule <when> <message>`, read in the
//! user's own time zone.
//!
//! The date and time grammar is interim's. This module owns what interim
//! leaves open: where the time phrase ends and the message begins, `in …`
//! durations that must be exact instants, 09:00 when a phrase names a day but
//! no clock time, rolling a weekday, a month and day or a bare clock time
//! forward to its next occurrence, and which instant a local time means when
//! clocks skip it or show it twice.

use chrono::{DateTime, Days, FixedOffset, NaiveTime, TimeDelta, TimeZone, Timelike, Utc};
use chrono_tz::Tz;
use interim::{Dialect, Interval};

/// How many leading words of `/schedule` text may form the time phrase.
const MAX_PHRASE_WORDS: usize = 6;
/// Real phrases are far shorter; the cap keeps hostile input cheap to reject.
const MAX_PHRASE_BYTES: usize = 80;
/// Days kept clear of the ends of chrono's range around `now`.
const MARGIN_DAYS: i64 = 2;
/// The hour meant by a phrase that names a day but no time.
const DEFAULT_HOUR: u32 = 9;
/// The only words interim reads as a distance from now that name a day here.
const RELATIVE_DAYS: [&str; 2] = ["today", "tomorrow"];
/// US English: "next friday" is the coming Friday and "12/24" is December 24.
const DIALECT: Dialect = Dialect::Us;
/// The longest stretch of local time a zone has ever skipped (Samoa, 2011).
const MAX_GAP_MINUTES: i64 = 24 * 60;
/// interim 0.2.2 panics on a word of this many letters after an hour.
const MAX_WORD_LETTERS: usize = 16;
/// Punctuation that may separate the phrase from the message, as in
/// `tomorrow 5pm, ship it`.
const SEPARATORS: &[char] = &[',', ';', ':', '.', '!', '?'];

/// A time phrase found at the start of the command text, and the rest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuickSchedule {
    pub due: DateTime<Utc>,
    /// The message: everything after the time phrase, trimmed of surrounding whitespace.
    pub text: String,
}

/// Reads the longest leading run of words that is a time phrase (try at most the first 6 words,
/// longest first). Returns None when no leading phrase parses, or when nothing is left for the
/// message. `now` is the current instant; `tz` the user's zone.
pub fn parse_quick(input: &str, now: DateTime<Utc>, tz: Tz) -> Option<QuickSchedule> {
    let words = leading_words(input, MAX_PHRASE_WORDS);
    let (due, phrase_end) = (1..=words.len()).rev().find_map(|count| {
        let phrase: Vec<&str> = words.iter().take(count).map(|&(word, _)| word).collect();
        let (_, end) = words.get(count - 1)?;
        Some((due_time(&phrase, now, tz)?, *end))
    })?;
    let text = input.get(phrase_end..)?.trim();
    if text.is_empty() {
        return None;
    }
    Some(QuickSchedule {
        due,
        text: text.to_owned(),
    })
}

/// A clock time of day alone ("9am", "17:30", "9:30 pm"), as the quick
/// form reads one: for recurring messages, which name a time but no date.
pub(crate) fn time_of_day(text: &str, now: DateTime<Utc>, tz: Tz) -> Option<NaiveTime> {
    if text.len() > MAX_PHRASE_BYTES {
        return None;
    }
    clock_time(text, &now.with_timezone(&tz))
}

/// Parses a whole string as a time phrase (no message part). Used for edits. None if it does not parse.
pub fn parse_when(phrase: &str, now: DateTime<Utc>, tz: Tz) -> Option<DateTime<Utc>> {
    let words: Vec<&str> = phrase.split_whitespace().collect();
    if words.len() > MAX_PHRASE_WORDS {
        return None;
    }
    due_time(&words, now, tz)
}

/// The first `limit` whitespace-separated words of `input`, each with the byte
/// offset just past it, so the message can be cut from the original text with
/// its own formatting intact.
fn leading_words(input: &str, limit: usize) -> Vec<(&str, usize)> {
    let mut words = Vec::with_capacity(limit);
    let mut start = None;
    for (at, c) in input.char_indices() {
        if words.len() == limit {
            return words;
        }
        match (c.is_whitespace(), start) {
            (true, Some(from)) => {
                words.extend(input.get(from..at).map(|word| (word, at)));
                start = None;
            }
            (false, None) => start = Some(at),
            _ => {}
        }
    }
    if let Some(from) = start
        && words.len() < limit
    {
        words.extend(input.get(from..).map(|word| (word, input.len())));
    }
    words
}

/// The instant a phrase (already split into words) names, for a user in `tz`.
/// The words are tried as typed, then without the commas and colons between
/// them: "dec 24, 2026" needs its comma, "Friday, 5pm" reads only without.
fn due_time(words: &[&str], now: DateTime<Utc>, tz: Tz) -> Option<DateTime<Utc>> {
    let words = normalise(words)?;
    if words.iter().map(|word| word.len() + 1).sum::<usize>() > MAX_PHRASE_BYTES {
        return None;
    }
    if !has_room_around(now) {
        return None;
    }
    let as_typed: Vec<&str> = words.iter().map(String::as_str).collect();
    let loose: Vec<&str> = as_typed
        .iter()
        .map(|word| word.trim_end_matches(SEPARATORS))
        .filter(|word| !word.is_empty())
        .collect();
    let now = now.with_timezone(&tz);
    let due = due_in_zone(&as_typed, &now).or_else(|| {
        (loose != as_typed)
            .then(|| due_in_zone(&loose, &now))
            .flatten()
    })?;
    Some(due.with_timezone(&Utc))
}

/// chrono panics when asked for the local time of an instant at the very
/// edge of its range; no real clock is there, so such a `now` is refused.
fn has_room_around(now: DateTime<Utc>) -> bool {
    let margin = TimeDelta::days(MARGIN_DAYS);
    now.checked_add_signed(margin).is_some() && now.checked_sub_signed(margin).is_some()
}

fn due_in_zone(words: &[&str], now: &DateTime<Tz>) -> Option<DateTime<Tz>> {
    match words.split_first() {
        Some((&"in", amount)) => after_duration(&amount.join(" "), now),
        _ => at_day_and_time(words, now),
    }
}

/// Drops the words people put around a time that interim does not read: a
/// leading `on`, any `at`, and separator punctuation after the last word. A
/// phrase that ends in `at`, `on` or `in` is rejected, so that in
/// `5pm at the office` the `at` stays with the message.
///
/// The words come back in lower case, and a phrase with a run of 16 or more
/// letters is refused: interim 0.2.2 asserts that a word after an hour is
/// short and lower case, and would otherwise panic on input like `9AM`.
fn normalise(words: &[&str]) -> Option<Vec<String>> {
    let (last, init) = words.split_last()?;
    let last = last.trim_end_matches(SEPARATORS);
    if last.is_empty() || is_connective(last) {
        return None;
    }
    let mut words: Vec<&str> = init.iter().copied().chain([last]).collect();
    if words.first().is_some_and(|w| w.eq_ignore_ascii_case("on")) {
        words.remove(0);
    }
    words.retain(|w| !w.eq_ignore_ascii_case("at"));
    let longest_letter_run = words
        .iter()
        .flat_map(|w| w.split(|c: char| !c.is_ascii_alphabetic()))
        .map(str::len)
        .max()
        .unwrap_or(0);
    (longest_letter_run < MAX_WORD_LETTERS)
        .then(|| words.iter().map(|w| w.to_ascii_lowercase()).collect())
}

fn is_connective(word: &str) -> bool {
    ["at", "on", "in"]
        .iter()
        .any(|c| word.eq_ignore_ascii_case(c))
}

/// `in <n> <unit>`. Seconds, minutes and hours are exact: "in 2 hours" is
/// 7,200 seconds even across a clock change. Days and longer move the
/// calendar date and keep the wall-clock time, as people mean by "in 2 days"
/// (interim would put months at midnight).
fn after_duration(amount: &str, now: &DateTime<Tz>) -> Option<DateTime<Tz>> {
    if !starts_with_digit(amount) || !reads_to_end(amount, now) {
        return None;
    }
    match interim::parse_duration(amount).ok()? {
        Interval::Seconds(seconds) if seconds > 0 => {
            now.checked_add_signed(TimeDelta::seconds(seconds.into()))
        }
        Interval::Days(count) | Interval::Months(count) if count > 0 => {
            let date = read(amount, now)?.date_naive();
            local_instant(date.and_time(now.time()), now.timezone())
        }
        _ => None,
    }
}

/// A day, a clock time, or both. The clock time is the longest run of
/// trailing words that reads as a time of day; whatever precedes it names
/// the day.
fn at_day_and_time(words: &[&str], now: &DateTime<Tz>) -> Option<DateTime<Tz>> {
    let clock = (0..words.len()).find_map(|at| {
        let (day, time) = words.split_at(at);
        Some((day, clock_time(&time.join(" "), now)?))
    });
    let (day, time) = match clock {
        Some((day, time)) => (day, Some(time)),
        None => (words, None),
    };
    if day.is_empty() {
        return next_at_clock_time(time?, now);
    }
    let day = day_phrase(day, now)?;
    let time = time.or(NaiveTime::from_hms_opt(DEFAULT_HOUR, 0, 0))?;
    on_day(&day, time, now)
}

/// A clock time ("5pm", "17:30", "12 am") read on its own. interim gets 12am
/// and 12pm right only there (after a date it reads "12pm" as the following
/// midnight), so the time is read alone and handed on in 24-hour form. It
/// must start with its hour, land on the anchor's own date, and read the
/// same from another date, time of day and UTC offset; that rules out
/// dates, durations, hours past 24 ("13pm") and times with their own offset.
fn clock_time(text: &str, now: &DateTime<Tz>) -> Option<NaiveTime> {
    if !starts_with_digit(text) || !reads_to_end(text, now) {
        return None;
    }
    let here = wall_clock(now).fixed_offset();
    let elsewhere = FixedOffset::east_opt(3_600)?;
    let there = (here
        .naive_local()
        .checked_add_signed(TimeDelta::hours(25))?)
    .and_local_timezone(elsewhere)
    .single()?;
    let at_here = interim::parse_date_string(text, here, DIALECT).ok()?;
    let at_there = interim::parse_date_string(text, there, DIALECT).ok()?;
    let is_clock_time = at_here.date_naive() == here.date_naive()
        && at_there.date_naive() == there.date_naive()
        && at_here.time() == at_there.time();
    is_clock_time.then(|| at_here.time())
}

/// A clock time alone means its next occurrence: today if still ahead, else tomorrow.
fn next_at_clock_time(time: NaiveTime, now: &DateTime<Tz>) -> Option<DateTime<Tz>> {
    let today = now.date_naive();
    let due = local_instant(today.and_time(time), now.timezone())?;
    if due > *now {
        return Some(due);
    }
    let tomorrow = today.checked_add_days(Days::new(1))?;
    local_instant(tomorrow.and_time(time), now.timezone())
}

/// Checks and tidies the words that name a day. interim reads "now", "3 days",
/// "next week" and any word that starts like a unit ("we", "second", "hope")
/// as a distance from now; of those only today and tomorrow name a day here,
/// so "we ship friday" and "3 days until launch" stay messages (a distance
/// needs `in`). A month name needs a day number after it (see
/// [`month_lacks_day`]). A closing "24 dec" becomes "dec 24", the order
/// interim accepts before a clock time.
fn day_phrase(words: &[&str], now: &DateTime<Tz>) -> Option<String> {
    let joined = words.join(" ");
    let is_distance = interim::parse_duration(&joined).is_ok();
    if is_distance && !RELATIVE_DAYS.contains(&joined.as_str()) {
        return None;
    }
    let day = match words {
        [before @ .., number, month] if is_number(number) && is_word(month) => {
            let reordered: Vec<&str> = before.iter().copied().chain([*month, *number]).collect();
            reordered.join(" ")
        }
        _ => joined,
    };
    (!month_lacks_day(&day, now)).then_some(day)
}

/// interim reads a month name with no day as the 1st, and takes the single
/// token after a month name as part of the date whatever it is: "May I…"
/// would read as May 1 and "24 dec party" as December 24. A month name (as
/// interim knows them: any that reads with a day after it) therefore counts
/// only when a day or year number follows it.
fn month_lacks_day(day: &str, now: &DateTime<Tz>) -> bool {
    let mut rest = day;
    while let Some(start) = rest.find(|c: char| c.is_ascii_alphabetic()) {
        let tail = rest.get(start..).unwrap_or_default();
        let length = tail
            .find(|c: char| !c.is_ascii_alphabetic())
            .unwrap_or(tail.len());
        let Some((letters, after)) = tail.split_at_checked(length) else {
            return true;
        };
        let is_month = read(&format!("{letters} 2 12:00"), now).is_some();
        if is_month && !starts_with_digit(after.trim_start()) {
            return true;
        }
        rest = after;
    }
    false
}

/// A day and a clock time. A weekday or a month and day without a year means
/// its next occurrence: interim's `next` picks the coming date, and when the
/// time on that date has already passed, reading again from tomorrow finds
/// the one after. Other days (today, tomorrow, a full date) are taken as
/// written, even when past, so the caller can say so.
fn on_day(day: &str, time: NaiveTime, now: &DateTime<Tz>) -> Option<DateTime<Tz>> {
    let time = time.format("%H:%M:%S%.f");
    let coming = format!("next {day} {time}");
    match read(&coming, now) {
        Some(due) if due > *now => Some(due),
        Some(_) => read(&coming, &start_of_tomorrow(now)?),
        None => read(&format!("{day} {time}"), now),
    }
}

fn start_of_tomorrow(now: &DateTime<Tz>) -> Option<DateTime<Tz>> {
    let tomorrow = now.date_naive().checked_add_days(Days::new(1))?;
    local_instant(tomorrow.and_time(NaiveTime::MIN), now.timezone())
}

/// interim's reading of `text` relative to `anchor`, in the anchor's zone,
/// when interim reads all of it.
fn read(text: &str, anchor: &DateTime<Tz>) -> Option<DateTime<Tz>> {
    if !reads_to_end(text, anchor) {
        return None;
    }
    match interim::parse_date_string(text, *anchor, DIALECT) {
        Ok(due) => Some(due),
        // interim refuses a local time that the clocks skip. Read the text on
        // the plain wall clock instead and move past the gap.
        Err(_) => {
            let wall = interim::parse_date_string(text, wall_clock(anchor), DIALECT).ok()?;
            local_instant(wall.naive_utc(), anchor.timezone())
        }
    }
}

/// The anchor's local date and time, with no zone rules attached.
fn wall_clock(anchor: &DateTime<Tz>) -> DateTime<Utc> {
    anchor.naive_local().and_utc()
}

/// interim stops reading after "am", "pm", "Z" or a UTC offset and ignores
/// whatever follows, so on its own it would read "5pm standup" as "5pm" and
/// the message would vanish into the time. A text is accepted only when no
/// shorter prefix of it is such a stopping point. Two commas can never
/// continue a date or time, so interim accepts a prefix followed by them only
/// when it stopped before reaching them.
fn reads_to_end(text: &str, anchor: &DateTime<Tz>) -> bool {
    let wall = wall_clock(anchor);
    token_ends(text).all(|end| {
        text.get(..end).is_none_or(|prefix| {
            interim::parse_date_string(&format!("{prefix} , ,"), wall, DIALECT).is_err()
        })
    })
}

/// Byte offsets inside `text` where a run of letters or of digits ends: the
/// places interim could stop reading.
fn token_ends(text: &str) -> impl Iterator<Item = usize> + '_ {
    text.char_indices()
        .zip(text.chars().skip(1))
        .filter(|&((_, this), next)| this.is_ascii_alphanumeric() && !same_run(this, next))
        .map(|((at, this), _)| at + this.len_utf8())
}

fn same_run(a: char, b: char) -> bool {
    (a.is_ascii_alphabetic() && b.is_ascii_alphabetic())
        || (a.is_ascii_digit() && b.is_ascii_digit())
}

fn starts_with_digit(text: &str) -> bool {
    text.starts_with(|c: char| c.is_ascii_digit())
}

fn is_number(word: &str) -> bool {
    !word.is_empty() && word.bytes().all(|b| b.is_ascii_digit())
}

fn is_word(word: &str) -> bool {
    !word.is_empty() && word.bytes().all(|b| b.is_ascii_alphabetic())
}

/// The instant a local date and time names in `tz`. When clocks fall back
/// and the time occurs twice, the earlier one. When clocks spring forward
/// and the time never occurs, the first instant after the gap.
pub(crate) fn local_instant(local: chrono::NaiveDateTime, tz: Tz) -> Option<DateTime<Tz>> {
    if let Some(instant) = tz.from_local_datetime(&local).earliest() {
        return Some(instant);
    }
    let minute = local.with_second(0)?.with_nanosecond(0)?;
    (1..=MAX_GAP_MINUTES).find_map(|minutes| {
        let later = minute.checked_add_signed(TimeDelta::minutes(minutes))?;
        tz.from_local_datetime(&later).earliest()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const BERLIN: Tz = chrono_tz::Europe::Berlin;
    const LOS_ANGELES: Tz = chrono_tz::America::Los_Angeles;

    fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, s).unwrap()
    }

    /// Wednesday 2026-03-25, 11:15:30 in Berlin (CET, UTC+1) and 03:15:30 in
    /// Los Angeles (PDT, UTC-7). Berlin moves to summer time on Sunday the 29th.
    fn wednesday() -> DateTime<Utc> {
        utc(2026, 3, 25, 10, 15, 30)
    }

    fn when(phrase: &str, now: DateTime<Utc>, tz: Tz) -> Option<DateTime<Utc>> {
        parse_when(phrase, now, tz)
    }

    #[test]
    fn an_escaped_message_after_the_time_is_kept_as_slack_sent_it() {
        // With `should_escape`, Slack sends mentions, channels and links as
        // tokens and `&`, `<`, `>` as entities, right after the time phrase.
        let cases = [
            (
                "in 2 hours",
                "<@U0002> &amp; &lt;b&gt; see <#C0001|general>",
            ),
            (
                "tomorrow 9am",
                "&amp; then <https://x.test/?a=1&amp;b=2|the doc>",
            ),
            ("2026-12-24 17:00", "&lt;3 <!here> :tada:"),
            ("monday 14:30", "&gt; quoted, &amp;"),
            ("dec 24 5pm", "&amp;"),
        ];
        for (phrase, message) in cases {
            let quick = parse_quick(&format!("{phrase} {message}"), wednesday(), BERLIN)
                .unwrap_or_else(|| panic!("{phrase} {message}"));
            assert_eq!(quick.text, message, "{phrase}");
            assert_eq!(
                Some(quick.due),
                when(phrase, wednesday(), BERLIN),
                "{phrase}"
            );
        }
        assert_eq!(
            parse_quick("<@U0002> in 2 hours", wednesday(), BERLIN),
            None
        );
    }

    #[test]
    fn relative_minutes_keep_the_seconds() {
        let now = wednesday();
        assert_eq!(
            when("in 10 minutes", now, BERLIN),
            Some(utc(2026, 3, 25, 10, 25, 30))
        );
        assert_eq!(
            when("in 1 minute", now, BERLIN),
            Some(utc(2026, 3, 25, 10, 16, 30))
        );
        assert_eq!(
            when("in 30 mins", now, LOS_ANGELES),
            Some(utc(2026, 3, 25, 10, 45, 30))
        );
    }

    #[test]
    fn relative_hours_and_seconds_are_exact() {
        let now = wednesday();
        assert_eq!(
            when("in 2 hours", now, BERLIN),
            Some(utc(2026, 3, 25, 12, 15, 30))
        );
        assert_eq!(
            when("in 1h", now, LOS_ANGELES),
            Some(utc(2026, 3, 25, 11, 15, 30))
        );
        assert_eq!(
            when("in 90 seconds", now, BERLIN),
            Some(utc(2026, 3, 25, 10, 17, 0))
        );
    }

    #[test]
    fn relative_durations_keep_sub_second_precision() {
        let now = wednesday() + TimeDelta::milliseconds(250);
        let expected = utc(2026, 3, 25, 10, 25, 30) + TimeDelta::milliseconds(250);
        assert_eq!(when("in 10 minutes", now, BERLIN), Some(expected));
    }

    #[test]
    fn relative_hours_across_spring_forward_are_elapsed_time() {
        // 01:30 PST on 2026-03-08; the clocks jump from 02:00 to 03:00.
        let now = utc(2026, 3, 8, 9, 30, 0);
        assert_eq!(
            when("in 1h", now, LOS_ANGELES),
            Some(utc(2026, 3, 8, 10, 30, 0))
        );
        // 01:30 CET on 2026-03-29 in Berlin, same jump.
        let now = utc(2026, 3, 29, 0, 30, 0);
        assert_eq!(
            when("in 2 hours", now, BERLIN),
            Some(utc(2026, 3, 29, 2, 30, 0))
        );
    }

    #[test]
    fn relative_days_keep_the_wall_clock_time_across_a_clock_change() {
        // 11:15:30 CET on Wednesday; Saturday 11:15:30 is still CET, Monday's is CEST.
        assert_eq!(
            when("in 5 days", wednesday(), BERLIN),
            Some(utc(2026, 3, 30, 9, 15, 30))
        );
    }

    #[test]
    fn relative_months_keep_the_wall_clock_time() {
        assert_eq!(
            when("in 1 month", wednesday(), BERLIN),
            Some(utc(2026, 4, 25, 9, 15, 30))
        );
    }

    #[test]
    fn commas_between_day_and_time_are_allowed() {
        let now = wednesday();
        assert_eq!(
            when("Friday, 5pm", now, BERLIN),
            Some(utc(2026, 3, 27, 16, 0, 0))
        );
        assert_eq!(
            when("dec 24, 5pm", now, BERLIN),
            Some(utc(2026, 12, 24, 16, 0, 0))
        );
        assert_eq!(
            when("dec 24, 2027 5pm", now, BERLIN),
            Some(utc(2027, 12, 24, 16, 0, 0))
        );
    }

    #[test]
    fn tomorrow_with_a_time_is_that_time_tomorrow() {
        let now = wednesday();
        assert_eq!(
            when("tomorrow 9am", now, BERLIN),
            Some(utc(2026, 3, 26, 8, 0, 0))
        );
        assert_eq!(
            when("tomorrow at 9am", now, BERLIN),
            Some(utc(2026, 3, 26, 8, 0, 0))
        );
        assert_eq!(
            when("Tomorrow At 9AM", now, LOS_ANGELES),
            Some(utc(2026, 3, 26, 16, 0, 0))
        );
    }

    #[test]
    fn tomorrow_alone_is_nine_in_the_morning() {
        assert_eq!(
            when("tomorrow", wednesday(), BERLIN),
            Some(utc(2026, 3, 26, 8, 0, 0))
        );
        assert_eq!(
            when("tomorrow", wednesday(), LOS_ANGELES),
            Some(utc(2026, 3, 26, 16, 0, 0))
        );
    }

    #[test]
    fn today_with_a_time_is_that_time_today() {
        let now = wednesday();
        assert_eq!(
            when("today 17:00", now, BERLIN),
            Some(utc(2026, 3, 25, 16, 0, 0))
        );
        assert_eq!(
            when("today at 5pm", now, BERLIN),
            Some(utc(2026, 3, 25, 16, 0, 0))
        );
        assert_eq!(
            when("today at 5pm", now, LOS_ANGELES),
            Some(utc(2026, 3, 26, 0, 0, 0))
        );
    }

    #[test]
    fn today_with_a_passed_time_stays_in_the_past() {
        assert_eq!(
            when("today 8:00", wednesday(), BERLIN),
            Some(utc(2026, 3, 25, 7, 0, 0))
        );
    }

    #[test]
    fn weekday_with_a_time_crosses_into_summer_time() {
        // Monday 2026-03-30 is CEST (UTC+2), unlike the Wednesday before it.
        assert_eq!(
            when("monday 14:30", wednesday(), BERLIN),
            Some(utc(2026, 3, 30, 12, 30, 0))
        );
        assert_eq!(
            when("on Monday at 2:30pm", wednesday(), BERLIN),
            Some(utc(2026, 3, 30, 12, 30, 0))
        );
    }

    #[test]
    fn next_weekday_is_the_coming_one() {
        let now = wednesday();
        assert_eq!(
            when("next friday 10am", now, BERLIN),
            Some(utc(2026, 3, 27, 9, 0, 0))
        );
        assert_eq!(
            when("next friday 10am", now, LOS_ANGELES),
            Some(utc(2026, 3, 27, 17, 0, 0))
        );
    }

    #[test]
    fn weekday_alone_is_nine_in_the_morning() {
        assert_eq!(
            when("monday", wednesday(), BERLIN),
            Some(utc(2026, 3, 30, 7, 0, 0))
        );
        assert_eq!(
            when("friday", wednesday(), LOS_ANGELES),
            Some(utc(2026, 3, 27, 16, 0, 0))
        );
    }

    #[test]
    fn todays_weekday_still_ahead_is_today() {
        // Monday 2026-03-30, 12:00 CEST.
        let now = utc(2026, 3, 30, 10, 0, 0);
        assert_eq!(
            when("monday 14:30", now, BERLIN),
            Some(utc(2026, 3, 30, 12, 30, 0))
        );
        // Monday 08:00 CEST: 09:00 is still ahead.
        let early = utc(2026, 3, 30, 6, 0, 0);
        assert_eq!(
            when("monday", early, BERLIN),
            Some(utc(2026, 3, 30, 7, 0, 0))
        );
    }

    #[test]
    fn todays_weekday_already_passed_is_next_week() {
        // Monday 2026-03-30, 15:00 CEST.
        let now = utc(2026, 3, 30, 13, 0, 0);
        assert_eq!(
            when("monday 14:30", now, BERLIN),
            Some(utc(2026, 4, 6, 12, 30, 0))
        );
        assert_eq!(when("monday", now, BERLIN), Some(utc(2026, 4, 6, 7, 0, 0)));
    }

    #[test]
    fn weekday_at_exactly_now_is_next_week() {
        let now = utc(2026, 3, 30, 12, 30, 0);
        assert_eq!(
            when("monday 14:30", now, BERLIN),
            Some(utc(2026, 4, 6, 12, 30, 0))
        );
    }

    #[test]
    fn iso_date_with_a_time_is_read_in_the_users_zone() {
        let now = wednesday();
        assert_eq!(
            when("2026-12-24 17:00", now, BERLIN),
            Some(utc(2026, 12, 24, 16, 0, 0))
        );
        assert_eq!(
            when("2026-12-24 17:00", now, LOS_ANGELES),
            Some(utc(2026, 12, 25, 1, 0, 0))
        );
    }

    #[test]
    fn iso_date_alone_is_nine_in_the_morning() {
        assert_eq!(
            when("2026-12-24", wednesday(), BERLIN),
            Some(utc(2026, 12, 24, 8, 0, 0))
        );
        assert_eq!(
            when("2026-12-24", wednesday(), LOS_ANGELES),
            Some(utc(2026, 12, 24, 17, 0, 0))
        );
    }

    #[test]
    fn month_and_day_in_either_order() {
        let now = wednesday();
        assert_eq!(
            when("dec 24 5pm", now, LOS_ANGELES),
            Some(utc(2026, 12, 25, 1, 0, 0))
        );
        assert_eq!(
            when("24 dec 17:00", now, BERLIN),
            Some(utc(2026, 12, 24, 16, 0, 0))
        );
        assert_eq!(
            when("December 24 at 5pm", now, BERLIN),
            Some(utc(2026, 12, 24, 16, 0, 0))
        );
        assert_eq!(
            when("24 December", now, BERLIN),
            Some(utc(2026, 12, 24, 8, 0, 0))
        );
    }

    #[test]
    fn month_and_day_already_passed_this_year_is_next_year() {
        // 2026-12-24 18:00 CET: 17:00 has passed, 21:00 has not.
        let christmas_eve = utc(2026, 12, 24, 17, 0, 0);
        assert_eq!(
            when("dec 24 5pm", christmas_eve, BERLIN),
            Some(utc(2027, 12, 24, 16, 0, 0))
        );
        assert_eq!(
            when("dec 24 9pm", christmas_eve, BERLIN),
            Some(utc(2026, 12, 24, 20, 0, 0))
        );
        assert_eq!(
            when("jan 2 5pm", wednesday(), BERLIN),
            Some(utc(2027, 1, 2, 16, 0, 0))
        );
    }

    #[test]
    fn clock_time_alone_still_ahead_is_today() {
        let now = wednesday();
        assert_eq!(when("5pm", now, BERLIN), Some(utc(2026, 3, 25, 16, 0, 0)));
        assert_eq!(
            when("at 5pm", now, LOS_ANGELES),
            Some(utc(2026, 3, 26, 0, 0, 0))
        );
        assert_eq!(
            when("17:30", now, BERLIN),
            Some(utc(2026, 3, 25, 16, 30, 0))
        );
    }

    #[test]
    fn clock_time_alone_already_passed_is_tomorrow() {
        let now = wednesday();
        assert_eq!(when("9am", now, BERLIN), Some(utc(2026, 3, 26, 8, 0, 0)));
        assert_eq!(
            when("11:15", now, BERLIN),
            Some(utc(2026, 3, 26, 10, 15, 0))
        );
        // Saturday 2026-03-28 20:00 CET; Sunday 10:00 is already CEST.
        let saturday = utc(2026, 3, 28, 19, 0, 0);
        assert_eq!(
            when("10:00", saturday, BERLIN),
            Some(utc(2026, 3, 29, 8, 0, 0))
        );
    }

    #[test]
    fn twelve_am_is_midnight_and_twelve_pm_is_noon() {
        let now = wednesday();
        assert_eq!(
            when("tomorrow 12pm", now, BERLIN),
            Some(utc(2026, 3, 26, 11, 0, 0))
        );
        assert_eq!(
            when("tomorrow 12am", now, BERLIN),
            Some(utc(2026, 3, 25, 23, 0, 0))
        );
        assert_eq!(when("12 pm", now, BERLIN), Some(utc(2026, 3, 25, 11, 0, 0)));
        assert_eq!(
            when("dec 24 12:30am", now, LOS_ANGELES),
            Some(utc(2026, 12, 24, 8, 30, 0))
        );
    }

    #[test]
    fn words_interim_reads_as_a_distance_are_not_days() {
        let now = wednesday();
        for phrase in [
            "we",
            "weekend",
            "second",
            "hope 5pm",
            "next week",
            "yesterday 5pm",
            "3 days",
        ] {
            assert_eq!(when(phrase, now, BERLIN), None, "{phrase:?}");
        }
        for input in ["we ship friday", "second thoughts on this", "weekend plans"] {
            assert_eq!(parse_quick(input, now, BERLIN), None, "{input:?}");
        }
    }

    #[test]
    fn past_dates_are_returned_as_written() {
        assert_eq!(
            when("2020-01-01 10:00", wednesday(), BERLIN),
            Some(utc(2020, 1, 1, 9, 0, 0))
        );
    }

    #[test]
    fn skipped_local_times_move_to_the_end_of_the_gap() {
        let now = wednesday();
        assert_eq!(
            when("2026-03-29 02:30", now, BERLIN),
            Some(utc(2026, 3, 29, 1, 0, 0))
        );
        let before = utc(2026, 3, 1, 12, 0, 0);
        assert_eq!(
            when("2026-03-08 2:30am", before, LOS_ANGELES),
            Some(utc(2026, 3, 8, 10, 0, 0))
        );
    }

    #[test]
    fn repeated_local_times_take_the_earlier_instant() {
        let now = wednesday();
        assert_eq!(
            when("2026-10-25 02:30", now, BERLIN),
            Some(utc(2026, 10, 25, 0, 30, 0))
        );
        assert_eq!(
            when("2026-11-01 1:30am", now, LOS_ANGELES),
            Some(utc(2026, 11, 1, 8, 30, 0))
        );
    }

    #[test]
    fn gibberish_is_not_a_time() {
        let now = wednesday();
        for phrase in [
            "blah blah",
            "soonish do it",
            "tomorrowish",
            "",
            "   ",
            "in",
            "at",
            "in soon",
            "in 10 minutes ago",
            "in tomorrow",
            "now",
            "10 minutes",
            "May",
            "2026",
            "13pm",
            "5pm standup",
        ] {
            assert_eq!(when(phrase, now, BERLIN), None, "{phrase:?}");
        }
    }

    #[test]
    fn quick_splits_the_time_from_the_message() {
        let now = wednesday();
        let quick = |input| parse_quick(input, now, BERLIN);
        let expect = |due, text: &str| {
            Some(QuickSchedule {
                due,
                text: text.to_owned(),
            })
        };
        assert_eq!(
            quick("in 2 hours Standup moved"),
            expect(utc(2026, 3, 25, 12, 15, 30), "Standup moved")
        );
        assert_eq!(
            quick("tomorrow 9am Ship it"),
            expect(utc(2026, 3, 26, 8, 0, 0), "Ship it")
        );
        assert_eq!(
            quick("2026-12-24 17:00 Happy holidays"),
            expect(utc(2026, 12, 24, 16, 0, 0), "Happy holidays")
        );
        assert_eq!(
            quick("December 24 at 5pm party time"),
            expect(utc(2026, 12, 24, 16, 0, 0), "party time")
        );
        assert_eq!(
            quick("monday 2 items left"),
            expect(utc(2026, 3, 30, 7, 0, 0), "2 items left")
        );
    }

    #[test]
    fn quick_never_swallows_words_after_am_or_pm() {
        let now = wednesday();
        let quick = |input| parse_quick(input, now, BERLIN);
        let expect = |due, text: &str| {
            Some(QuickSchedule {
                due,
                text: text.to_owned(),
            })
        };
        assert_eq!(
            quick("5pm standup"),
            expect(utc(2026, 3, 25, 16, 0, 0), "standup")
        );
        assert_eq!(
            quick("9:30 am coffee run"),
            expect(utc(2026, 3, 26, 8, 30, 0), "coffee run")
        );
        assert_eq!(
            quick("tomorrow 5pm, ship it"),
            expect(utc(2026, 3, 26, 16, 0, 0), "ship it")
        );
        assert_eq!(
            quick("Friday, 5pm: retro"),
            expect(utc(2026, 3, 27, 16, 0, 0), "retro")
        );
        assert_eq!(
            quick("5pm at the office"),
            expect(utc(2026, 3, 25, 16, 0, 0), "at the office")
        );
    }

    #[test]
    fn quick_never_takes_a_word_after_a_month_name_as_the_day() {
        let now = wednesday();
        let quick = |input| parse_quick(input, now, BERLIN);
        let expect = |due, text: &str| {
            Some(QuickSchedule {
                due,
                text: text.to_owned(),
            })
        };
        assert_eq!(
            quick("24 dec party at the office"),
            expect(utc(2026, 12, 24, 8, 0, 0), "party at the office")
        );
        assert_eq!(
            quick("dec 24 2026 party"),
            expect(utc(2026, 12, 24, 8, 0, 0), "2026 party")
        );
        assert_eq!(
            quick("24 dec 2026 party"),
            expect(utc(2026, 12, 24, 8, 0, 0), "party")
        );
        assert_eq!(quick("March on, everyone"), None);
    }

    #[test]
    fn upper_case_and_long_words_do_not_upset_the_parser() {
        let now = wednesday();
        assert_eq!(
            when("TOMORROW 9AM", now, BERLIN),
            Some(utc(2026, 3, 26, 8, 0, 0))
        );
        assert_eq!(when("5 PM", now, BERLIN), Some(utc(2026, 3, 25, 16, 0, 0)));
        assert_eq!(when("9 Supercalifragilistic", now, BERLIN), None);
        let quick = parse_quick("tomorrow 9 Supercalifragilistic", now, BERLIN).unwrap();
        assert_eq!(quick.due, utc(2026, 3, 26, 8, 0, 0));
        assert_eq!(quick.text, "9 Supercalifragilistic");
    }

    #[test]
    fn quick_keeps_the_messages_own_formatting() {
        let input = "  in 2 hours   Standup moved\n\n  to *11:00*\n";
        let quick = parse_quick(input, wednesday(), BERLIN).unwrap();
        assert_eq!(quick.text, "Standup moved\n\n  to *11:00*");
        assert_eq!(quick.due, utc(2026, 3, 25, 12, 15, 30));
    }

    #[test]
    fn quick_needs_a_message_after_the_time() {
        let now = wednesday();
        assert_eq!(parse_quick("in 10 minutes", now, BERLIN), None);
        assert_eq!(parse_quick("tomorrow 9am   \n", now, BERLIN), None);
        assert_eq!(parse_quick("", now, BERLIN), None);
    }

    #[test]
    fn quick_needs_a_time_at_the_start() {
        let now = wednesday();
        for input in [
            "blah blah",
            "soonish do it",
            "tomorrowish we ship",
            "May I remind everyone",
            "3 days until launch",
        ] {
            assert_eq!(parse_quick(input, now, BERLIN), None, "{input:?}");
        }
    }

    #[test]
    fn instants_at_the_end_of_time_are_refused_without_panicking() {
        for now in [DateTime::<Utc>::MAX_UTC, DateTime::<Utc>::MIN_UTC] {
            assert_eq!(
                parse_when("tomorrow", now, chrono_tz::Pacific::Kiritimati),
                None
            );
            assert_eq!(parse_quick("in 1 minute hi", now, LOS_ANGELES), None);
        }
    }

    #[test]
    fn overlong_input_is_refused_without_panicking() {
        let now = wednesday();
        let long = "1a".repeat(10_000);
        assert_eq!(parse_when(&long, now, BERLIN), None);
        assert_eq!(parse_quick(&format!("{long} hi"), now, BERLIN), None);
        assert_eq!(parse_when("in 99999 years", now, BERLIN), None);
        assert_eq!(parse_when("ünïcödé 5pm", now, BERLIN), None);
    }
}
