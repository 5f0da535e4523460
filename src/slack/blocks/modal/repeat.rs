//! The modal's "Repeat" fields: a choice (never, daily, weekdays, weekly on
//! chosen days, monthly on a day or on the Nth weekday, every N hours) and
//! an end (never, on a date, after N times). The fields a choice needs
//! appear when it is made (the view is updated in place), and a spec reads
//! back into the domain's rule with the date and time of the "When" field
//! naming the time of day, the day of the month or the weekday.

use chrono::{DateTime, Datelike, NaiveDate, Timelike, Weekday};
use chrono_tz::Tz;
use slack_morphism::prelude::*;

use super::super::{
    DAYS_ACTION, DAYS_BLOCK, ENDS_ACTION, ENDS_BLOCK, HOURS_ACTION, HOURS_BLOCK, REPEAT_ACTION,
    REPEAT_BLOCK, TIMES_ACTION, TIMES_BLOCK, UNTIL_ACTION, UNTIL_BLOCK,
};
use crate::domain::recurrence::{Ends, MAX_TIMES, Nth, Recurrence, Repeat};

const HOURS: [u8; 8] = [1, 2, 3, 4, 6, 8, 12, 24];
const WEEK: [Weekday; 7] = [
    Weekday::Mon,
    Weekday::Tue,
    Weekday::Wed,
    Weekday::Thu,
    Weekday::Fri,
    Weekday::Sat,
    Weekday::Sun,
];

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum RepeatChoice {
    #[default]
    Never,
    Daily,
    Weekdays,
    Weekly,
    MonthlyDay,
    MonthlyWeekday,
    Hourly,
}

impl RepeatChoice {
    const ALL: [Self; 7] = [
        Self::Never,
        Self::Daily,
        Self::Weekdays,
        Self::Weekly,
        Self::MonthlyDay,
        Self::MonthlyWeekday,
        Self::Hourly,
    ];

    pub fn value(self) -> &'static str {
        match self {
            Self::Never => "never",
            Self::Daily => "daily",
            Self::Weekdays => "weekdays",
            Self::Weekly => "weekly",
            Self::MonthlyDay => "monthly_day",
            Self::MonthlyWeekday => "monthly_weekday",
            Self::Hourly => "hourly",
        }
    }

    fn label(self) -> &'static str {
        match self {
            Self::Never => "Does not repeat",
            Self::Daily => "Every day",
            Self::Weekdays => "Every weekday (Monday to Friday)",
            Self::Weekly => "Every week, on the days you pick",
            Self::MonthlyDay => "Every month, on that day of the month",
            Self::MonthlyWeekday => "Every month, on that weekday (say, the first Monday)",
            Self::Hourly => "Every few hours",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.value() == value)
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum EndsChoice {
    #[default]
    Never,
    On,
    After,
}

impl EndsChoice {
    const ALL: [Self; 3] = [Self::Never, Self::On, Self::After];

    pub fn value(self) -> &'static str {
        match self {
            Self::Never => "never",
            Self::On => "on",
            Self::After => "after",
        }
    }

    fn label(self) -> &'static str {
        match self {
            Self::Never => "Never",
            Self::On => "On a date",
            Self::After => "After a number of times",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.value() == value)
    }
}

/// The repeat fields as chosen (or to start with).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RepeatSpec {
    pub choice: RepeatChoice,
    /// Weekly: the days ticked.
    pub days: Vec<Weekday>,
    /// Hourly: every this many hours.
    pub hours: Option<u8>,
    pub ends: EndsChoice,
    pub until: Option<NaiveDate>,
    pub times: Option<u32>,
}

/// A repeat field the author must fix, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepeatProblem {
    pub block_id: &'static str,
    pub message: String,
}

impl RepeatSpec {
    /// The spec that shows `recurrence` (editing a series).
    pub fn of(recurrence: &Recurrence) -> Self {
        let (choice, days, hours) = match &recurrence.repeat {
            Repeat::Day { .. } => (RepeatChoice::Daily, Vec::new(), None),
            Repeat::Weekday { .. } => (RepeatChoice::Weekdays, Vec::new(), None),
            Repeat::Week { days, .. } => (RepeatChoice::Weekly, days.clone(), None),
            Repeat::MonthDay { .. } => (RepeatChoice::MonthlyDay, Vec::new(), None),
            Repeat::MonthWeekday { .. } => (RepeatChoice::MonthlyWeekday, Vec::new(), None),
            Repeat::Hours { hours } => (RepeatChoice::Hourly, Vec::new(), Some(*hours)),
        };
        let (ends, until, times) = match recurrence.ends {
            Ends::Never => (EndsChoice::Never, None, None),
            Ends::On { date } => (EndsChoice::On, Some(date), None),
            Ends::After { times } => (EndsChoice::After, None, Some(times)),
        };
        Self {
            choice,
            days,
            hours,
            ends,
            until,
            times,
        }
    }

    /// The rule these fields describe, with `first` (the "When" field, in
    /// the author's zone) giving its time of day, day or weekday; `None`
    /// for a message that does not repeat.
    pub fn recurrence(&self, first: DateTime<Tz>) -> Result<Option<Recurrence>, RepeatProblem> {
        let at = first
            .time()
            .with_nanosecond(0)
            .unwrap_or_else(|| first.time());
        let repeat = match self.choice {
            RepeatChoice::Never => return Ok(None),
            RepeatChoice::Daily => Repeat::Day { at },
            RepeatChoice::Weekdays => Repeat::Weekday { at },
            RepeatChoice::Weekly => {
                if self.days.is_empty() {
                    return Err(problem(DAYS_BLOCK, "Pick at least one day of the week."));
                }
                Repeat::Week {
                    days: self.days.clone(),
                    at,
                }
            }
            RepeatChoice::MonthlyDay => Repeat::MonthDay {
                day: first.day() as u8,
                at,
            },
            RepeatChoice::MonthlyWeekday => Repeat::MonthWeekday {
                nth: Nth::of(first.date_naive()),
                weekday: first.weekday(),
                at,
            },
            RepeatChoice::Hourly => Repeat::Hours {
                hours: self
                    .hours
                    .ok_or_else(|| problem(HOURS_BLOCK, "Pick how many hours apart."))?,
            },
        };
        let ends = match self.ends {
            EndsChoice::Never => Ends::Never,
            EndsChoice::On => match self.until {
                Some(date) if date >= first.date_naive() => Ends::On { date },
                Some(_) => {
                    return Err(problem(
                        UNTIL_BLOCK,
                        "The end date must be on or after the first time.",
                    ));
                }
                None => return Err(problem(UNTIL_BLOCK, "Pick the last day.")),
            },
            EndsChoice::After => match self.times {
                Some(times) if (1..=MAX_TIMES).contains(&times) => Ends::After { times },
                _ => {
                    return Err(problem(TIMES_BLOCK, "Say how many times: 1 to 1,000."));
                }
            },
        };
        Ok(Some(Recurrence { repeat, ends }))
    }
}

fn problem(block_id: &'static str, message: &str) -> RepeatProblem {
    RepeatProblem {
        block_id,
        message: message.to_owned(),
    }
}

fn option(value: &str, label: &str) -> SlackBlockChoiceItem<SlackBlockPlainTextOnly> {
    SlackBlockChoiceItem::new(pt!(label), value.to_owned())
}

/// The repeat fields for `spec`: the choice, and what it needs.
pub(super) fn fields(spec: &RepeatSpec) -> Vec<SlackBlock> {
    let choices: Vec<_> = RepeatChoice::ALL
        .into_iter()
        .map(|c| option(c.value(), c.label()))
        .collect();
    let initial = option(spec.choice.value(), spec.choice.label());
    let select = SlackBlockStaticSelectElement::new()
        .with_action_id(SlackActionId::new(REPEAT_ACTION.to_owned()))
        .with_options(choices)
        .with_initial_option(initial);
    let mut blocks: Vec<SlackBlock> = vec![
        SlackInputBlock::new(pt!("Repeat"), select.into())
            .with_block_id(SlackBlockId::new(REPEAT_BLOCK.to_owned()))
            .with_dispatch_action(true)
            .into(),
    ];
    match spec.choice {
        RepeatChoice::Never => return blocks,
        RepeatChoice::Weekly => blocks.push(days_field(&spec.days)),
        RepeatChoice::Hourly => blocks.push(hours_field(spec.hours)),
        _ => {}
    }
    let ends: Vec<_> = EndsChoice::ALL
        .into_iter()
        .map(|c| option(c.value(), c.label()))
        .collect();
    let select = SlackBlockStaticSelectElement::new()
        .with_action_id(SlackActionId::new(ENDS_ACTION.to_owned()))
        .with_options(ends)
        .with_initial_option(option(spec.ends.value(), spec.ends.label()));
    blocks.push(
        SlackInputBlock::new(pt!("Ends"), select.into())
            .with_block_id(SlackBlockId::new(ENDS_BLOCK.to_owned()))
            .with_dispatch_action(true)
            .into(),
    );
    match spec.ends {
        EndsChoice::Never => {}
        EndsChoice::On => {
            let mut picker = SlackBlockDatePickerElement::new()
                .with_action_id(SlackActionId::new(UNTIL_ACTION.to_owned()));
            if let Some(date) = spec.until {
                picker = picker.with_initial_date(date.format("%Y-%m-%d").to_string());
            }
            blocks.push(
                SlackInputBlock::new(pt!("Last day"), picker.into())
                    .with_block_id(SlackBlockId::new(UNTIL_BLOCK.to_owned()))
                    .into(),
            );
        }
        EndsChoice::After => {
            let mut input = SlackBlockNumberInputElement::new(false)
                .with_action_id(SlackActionId::new(TIMES_ACTION.to_owned()))
                .with_min_value("1".to_owned())
                .with_max_value(MAX_TIMES.to_string());
            if let Some(times) = spec.times {
                input = input.with_initial_value(times.to_string());
            }
            blocks.push(
                SlackInputBlock::new(pt!("Times"), input.into())
                    .with_block_id(SlackBlockId::new(TIMES_BLOCK.to_owned()))
                    .into(),
            );
        }
    }
    blocks
}

fn days_field(days: &[Weekday]) -> SlackBlock {
    let item = |day: Weekday| {
        SlackBlockChoiceItem::new(
            SlackBlockText::Plain(pt!(crate::domain::recurrence::day_name(day))),
            day_value(day).to_owned(),
        )
    };
    let mut checkboxes = SlackBlockCheckboxesElement::new(WEEK.into_iter().map(item).collect())
        .with_action_id(SlackActionId::new(DAYS_ACTION.to_owned()));
    if !days.is_empty() {
        checkboxes = checkboxes.with_initial_options(days.iter().copied().map(item).collect());
    }
    SlackInputBlock::new(pt!("On"), checkboxes.into())
        .with_block_id(SlackBlockId::new(DAYS_BLOCK.to_owned()))
        .into()
}

fn hours_field(hours: Option<u8>) -> SlackBlock {
    let label = |h: u8| {
        if h == 1 {
            "Every hour".to_owned()
        } else {
            format!("Every {h} hours")
        }
    };
    let mut select = SlackBlockStaticSelectElement::new()
        .with_action_id(SlackActionId::new(HOURS_ACTION.to_owned()))
        .with_options(
            HOURS
                .into_iter()
                .map(|h| option(&h.to_string(), &label(h)))
                .collect(),
        );
    if let Some(h) = hours {
        select = select.with_initial_option(option(&h.to_string(), &label(h)));
    }
    SlackInputBlock::new(pt!("How often"), select.into())
        .with_block_id(SlackBlockId::new(HOURS_BLOCK.to_owned()))
        .into()
}

/// A weekday's checkbox value: `mon` … `sun`.
pub fn day_value(day: Weekday) -> &'static str {
    match day {
        Weekday::Mon => "mon",
        Weekday::Tue => "tue",
        Weekday::Wed => "wed",
        Weekday::Thu => "thu",
        Weekday::Fri => "fri",
        Weekday::Sat => "sat",
        Weekday::Sun => "sun",
    }
}

/// The weekday a checkbox value names.
pub fn parse_day(value: &str) -> Option<Weekday> {
    WEEK.into_iter().find(|d| day_value(*d) == value)
}
