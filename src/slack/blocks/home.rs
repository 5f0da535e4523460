//! The Home tab: a user's messages within Slack's 100 blocks.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use slack_morphism::prelude::*;

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
    pub upcoming: Vec<MessageRecord>,
    pub held: Vec<MessageRecord>,
    pub sent: Vec<MessageRecord>,
    pub failed: Vec<MessageRecord>,
    pub tz: Tz,
    pub now: DateTime<Utc>,
    /// Set when the user has no working token.
    pub connect_url: Option<String>,
    pub connect_problem: Option<String>,
}

/// One part of the Home tab: a divider, a title, its messages, and a line
/// (saying how many more there are, or that there is nothing).
pub(super) struct HomeSection<'a> {
    pub(super) messages: &'a [MessageRecord],
    /// Blocks each message takes.
    pub(super) per_message: usize,
    /// Shown even when empty (with a line saying so).
    pub(super) always: bool,
}

impl HomeSection<'_> {
    /// Divider, title and the closing line, counted whether or not the
    /// line is needed.
    const OVERHEAD: usize = 3;

    fn present(&self) -> bool {
        self.always || !self.messages.is_empty()
    }
}

/// How many messages of each section fit in `budget` blocks, filling the
/// sections in order and keeping room for the later ones' titles.
pub(super) fn fit_sections(budget: usize, sections: &[HomeSection<'_>]) -> Vec<usize> {
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
        let count = section
            .messages
            .len()
            .min(room / section.per_message.max(1));
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

    let sections = [
        HomeSection {
            messages: &spec.held,
            per_message: 2,
            always: false,
        },
        HomeSection {
            messages: &spec.upcoming,
            per_message: 2,
            always: true,
        },
        HomeSection {
            messages: &spec.sent,
            per_message: 1,
            always: false,
        },
        HomeSection {
            messages: &spec.failed,
            per_message: 1,
            always: false,
        },
    ];
    let fits = fit_sections(VIEW_BLOCKS.saturating_sub(blocks.len()), &sections);
    let (held, upcoming, sent, failed) = (
        &spec.held[..fits[0]],
        &spec.upcoming[..fits[1]],
        &spec.sent[..fits[2]],
        &spec.failed[..fits[3]],
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

    blocks.push(SlackDividerBlock::new().into());
    blocks.push(md_section("*Upcoming*".into()));
    if spec.upcoming.is_empty() {
        blocks.push(context(
            "Nothing scheduled. Type `/schedule` in any conversation, or use the button above."
                .into(),
        ));
    }
    for message in upcoming {
        blocks.push(md_section(format!(
            "<#{}> · {}\n>{}",
            message.channel_id,
            slack_time(message.due_at, spec.tz),
            preview(&message.text)
        )));
        blocks.push(
            SlackActionsBlock::new(vec![
                button("Edit", ACTION_EDIT, message.id.to_string()).into(),
                cancel_button(message.id).into(),
            ])
            .into(),
        );
    }
    if !spec.upcoming.is_empty() {
        blocks.extend(more_line(counts.pending, upcoming.len(), ""));
    }

    if !spec.sent.is_empty() {
        blocks.push(SlackDividerBlock::new().into());
        blocks.push(md_section("*Recently sent*".into()));
        for message in sent {
            let at = message.sent_at.unwrap_or(message.due_at);
            blocks.push(context(format!(
                ":white_check_mark: <#{}> · {} · {}",
                message.channel_id,
                slack_time(at, spec.tz),
                history_preview(message)
            )));
        }
        blocks.extend(more_line(counts.sent, sent.len(), " sent earlier"));
    }
    if !spec.failed.is_empty() {
        blocks.push(SlackDividerBlock::new().into());
        blocks.push(md_section("*Recently failed*".into()));
        for message in failed {
            let reason = message
                .reason
                .as_deref()
                .map(describe_reason)
                .unwrap_or_else(|| "unknown reason".into());
            blocks.push(context(format!(
                ":x: <#{}> · {} · {}\n_Not posted: {}._",
                message.channel_id,
                slack_time(message.due_at, spec.tz),
                history_preview(message),
                escape(&reason)
            )));
        }
        blocks.extend(more_line(counts.failed, failed.len(), " failed earlier"));
    }
    SlackView::Home(SlackHomeView::new(blocks))
}
