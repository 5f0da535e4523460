//! The Home tab: a user's messages within Slack's 100 blocks.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use slack_morphism::prelude::*;

use super::rows::{SeriesView, group_places, record_line, series_blocks, waiting_blocks};
use super::{
    ACTION_EDIT, ACTION_NEW, ACTION_SEND_NOW, VIEW_BLOCKS, button, cancel_button, connect_blocks,
    context, escape, md_section, more_line, preview, slack_time,
};
use crate::slack::error::describe_reason;
use crate::store::{MessageCounts, MessageRecord};

/// A settled message in the history; its text may have been erased by
/// retention, which is said in so many words.
fn history_preview(message: &MessageRecord) -> String {
    match message.text_erased_at {
        Some(erased) => {
            let days = (erased - message.updated_at).num_days().max(0);
            let unit = if days == 1 { "day" } else { "days" };
            format!("_(text removed after {days} {unit})_")
        }
        None => preview(&message.text),
    }
}

/// Everything the Home tab shows one user.
#[derive(Debug, Clone)]
pub struct HomeSpec {
    pub counts: MessageCounts,
    /// Series still going, with their next occurrences.
    pub series: Vec<SeriesView>,
    pub upcoming: Vec<MessageRecord>,
    pub held: Vec<MessageRecord>,
    pub sent: Vec<MessageRecord>,
    pub failed: Vec<MessageRecord>,
    pub skipped: Vec<MessageRecord>,
    pub tz: Tz,
    pub now: DateTime<Utc>,
    /// Set when the user has no working token.
    pub connect_url: Option<String>,
    pub connect_problem: Option<String>,
}

/// One part of the Home tab: a divider, a title, its messages, and a line
/// (saying how many more there are, or that there is nothing).
pub(super) struct HomeSection {
    /// How many it has to show.
    pub(super) items: usize,
    /// Blocks each message takes.
    pub(super) per_message: usize,
    /// Shown even when empty (with a line saying so).
    pub(super) always: bool,
}

impl HomeSection {
    /// Divider, title and the closing line, counted whether or not the
    /// line is needed.
    const OVERHEAD: usize = 3;

    fn present(&self) -> bool {
        self.always || self.items > 0
    }
}

/// How many messages of each section fit in `budget` blocks, filling the
/// sections in order and keeping room for the later ones' titles.
pub(super) fn fit_sections(budget: usize, sections: &[HomeSection]) -> Vec<usize> {
    let mut left = budget;
    let mut shown = Vec::with_capacity(sections.len());
    for (i, section) in sections.iter().enumerate() {
        if !section.present() {
            shown.push(0);
            continue;
        }
        let later: usize = sections[i + 1..]
            .iter()
            .filter(|s| s.present())
            .map(|_| HomeSection::OVERHEAD)
            .sum();
        let room = left.saturating_sub(later + HomeSection::OVERHEAD);
        let count = section.items.min(room / section.per_message.max(1));
        left = left.saturating_sub(HomeSection::OVERHEAD + count * section.per_message);
        shown.push(count);
    }
    shown
}

/// The Home tab: within Slack's 100 blocks whatever the user has, the most
/// relevant first (messages waiting for them, then the soonest upcoming,
/// then the latest sent and failed), each part saying how many more it has.
pub fn home_view(spec: &HomeSpec) -> SlackView {
    let mut blocks: Vec<SlackBlock> = vec![SlackHeaderBlock::new(pt!("Scheduled messages")).into()];
    let counts = spec.counts;
    blocks.push(context(format!(
        "*{}* upcoming  ·  *{}* sent  ·  *{}* failed{}  ·  times in {}",
        counts.pending,
        counts.sent,
        counts.failed,
        if counts.held > 0 {
            format!("  ·  *{}* waiting for you", counts.held)
        } else {
            String::new()
        },
        spec.tz.name()
    )));
    let why = match spec.connect_problem.as_deref() {
        Some(problem) => format!(
            "Your messages can't be posted: {}.",
            describe_reason(problem)
        ),
        None => "Connect your Slack account so Scheduler can post your messages as you.".to_owned(),
    };
    blocks.extend(connect_blocks(spec.connect_url.as_deref(), &why));
    blocks.push(
        SlackActionsBlock::new(vec![
            button("Schedule a message", ACTION_NEW, "new".into())
                .with_style(SlackBlockButtonStyle::Primary)
                .into(),
        ])
        .into(),
    );

    let section = |items: usize, per_message: usize, always: bool| HomeSection {
        items,
        per_message,
        always,
    };
    let sections = [
        section(spec.held.len(), 2, false),
        section(spec.series.len(), 2, false),
        section(spec.upcoming.len(), 2, true),
        section(spec.sent.len(), 1, false),
        section(spec.failed.len(), 1, false),
        section(spec.skipped.len(), 1, false),
    ];
    let fits = fit_sections(VIEW_BLOCKS.saturating_sub(blocks.len()), &sections);
    let (held, series, upcoming) = (
        &spec.held[..fits[0]],
        &spec.series[..fits[1]],
        &spec.upcoming[..fits[2]],
    );
    let (sent, failed, skipped) = (
        &spec.sent[..fits[3]],
        &spec.failed[..fits[4]],
        &spec.skipped[..fits[5]],
    );

    if !spec.held.is_empty() {
        blocks.push(SlackDividerBlock::new().into());
        blocks.push(md_section(
            "*Waiting for you*: these could not be posted when they were due.".into(),
        ));
        for message in held {
            let overdue = message.due_at <= spec.now;
            let reason = message
                .reason
                .as_deref()
                .map(describe_reason)
                .unwrap_or_default();
            blocks.push(md_section(format!(
                "<#{}> · was due {}\n>{}\n_{}_",
                message.channel_id,
                slack_time(message.due_at, spec.tz),
                preview(&message.text),
                escape(&reason)
            )));
            let mut actions: Vec<SlackActionBlockElement> = Vec::new();
            if overdue && spec.connect_url.is_none() {
                actions.push(
                    button("Send now", ACTION_SEND_NOW, message.id.to_string())
                        .with_style(SlackBlockButtonStyle::Primary)
                        .into(),
                );
            }
            actions.push(button("Reschedule", ACTION_EDIT, message.id.to_string()).into());
            actions.push(cancel_button(message.id).into());
            blocks.push(SlackActionsBlock::new(actions).into());
        }
        blocks.extend(more_line(counts.held, held.len(), " waiting for you"));
    }

    if !spec.series.is_empty() {
        blocks.push(SlackDividerBlock::new().into());
        blocks.push(md_section("*Repeating*".into()));
        for view in series {
            blocks.extend(series_blocks(view, spec.tz));
        }
        let total = i64::try_from(spec.series.len()).unwrap_or(i64::MAX);
        blocks.extend(more_line(total, series.len(), " series"));
    }

    blocks.push(SlackDividerBlock::new().into());
    blocks.push(md_section("*Upcoming*".into()));
    if spec.upcoming.is_empty() {
        blocks.push(context(
            "Nothing scheduled. Type `/schedule` in any conversation, or use the button above."
                .into(),
        ));
    }
    for (message, group) in upcoming.iter().zip(group_places(upcoming)) {
        blocks.extend(waiting_blocks(message, spec.tz, "", group));
    }
    if !spec.upcoming.is_empty() {
        blocks.extend(more_line(counts.pending, upcoming.len(), ""));
    }

    for (title, records, total, earlier) in [
        ("*Recently sent*", sent, counts.sent, " sent earlier"),
        (
            "*Recently failed*",
            failed,
            counts.failed,
            " failed earlier",
        ),
        (
            "*Recently skipped*",
            skipped,
            counts.skipped,
            " skipped earlier",
        ),
    ] {
        if records.is_empty() {
            continue;
        }
        blocks.push(SlackDividerBlock::new().into());
        blocks.push(md_section(title.into()));
        for message in records {
            blocks.push(context(record_line(
                message,
                spec.tz,
                &history_preview(message),
            )));
        }
        blocks.extend(more_line(total, records.len(), earlier));
    }
    SlackView::Home(SlackHomeView::new(blocks))
}
