//! After a run: every message held against what the simulator received.
//! A message is delivered once it was posted exactly once, no earlier than
//! its due time, and recorded `sent`; its lateness is the time Slack first
//! received it minus its due time.

use std::collections::HashMap;

use crate::sim::state::PostCount;
use crate::store::DeliveryRow;

/// Quantiles of a set of durations, in milliseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Quantiles {
    pub p50: f64,
    pub p99: f64,
    pub max: f64,
}

impl Quantiles {
    /// Exact quantiles (nearest rank) of `values`, which are sorted here.
    pub fn of(values: &mut [i64]) -> Option<Self> {
        if values.is_empty() {
            return None;
        }
        values.sort_unstable();
        let at = |q: f64| {
            let rank = ((values.len() as f64) * q).ceil().max(1.0) as usize;
            values[rank.min(values.len()) - 1] as f64
        };
        Some(Self {
            p50: at(0.5),
            p99: at(0.99),
            max: at(1.0),
        })
    }
}

/// One conversation's share of a run (the hot workload's busy channel).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ChannelFigures {
    pub messages: usize,
    pub posted: usize,
    /// When its last message was first posted (Unix ms).
    pub last_ms: Option<i64>,
    /// The most posts it received in any ten seconds.
    pub max_per_10s: usize,
}

/// What a run delivered.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Checked {
    pub messages: usize,
    /// Messages posted at least once.
    pub posted: usize,
    /// Posts beyond the first of a message.
    pub duplicates: u64,
    /// Messages first posted before their due time.
    pub early: usize,
    /// Posted, but not recorded `sent` in the database.
    pub unrecorded: usize,
    /// Recorded failed or held.
    pub failed: usize,
    pub lateness: Option<Quantiles>,
    /// The first and the last first-post of the run (Unix ms).
    pub first_ms: Option<i64>,
    pub last_ms: Option<i64>,
    /// The hot conversation, when the run has one; the figures above then
    /// count the others only.
    pub hot: Option<ChannelFigures>,
}

pub fn check(
    rows: &[DeliveryRow],
    posts: &HashMap<i64, PostCount>,
    hot_channel: Option<&str>,
) -> Checked {
    let mut checked = Checked::default();
    let mut hot = hot_channel.map(|_| ChannelFigures::default());
    let mut hot_posts = Vec::new();
    let mut lateness = Vec::with_capacity(rows.len());
    for row in rows {
        if !matches!(row.status.as_str(), "sent" | "pending" | "sending") {
            checked.failed += 1;
        }
        let post = posts.get(&row.id);
        if let Some(post) = post {
            checked.duplicates += u64::from(post.count.saturating_sub(1));
            if post.first_ms < row.due_at.timestamp_millis() {
                checked.early += 1;
            }
            if row.status != "sent" {
                checked.unrecorded += 1;
            }
        }
        if hot_channel == Some(row.channel_id.as_str())
            && let Some(hot) = hot.as_mut()
        {
            hot.messages += 1;
            if let Some(post) = post {
                hot.posted += 1;
                hot.last_ms = hot.last_ms.max(Some(post.first_ms));
                hot_posts.push(post.first_ms);
            }
            continue;
        }
        checked.messages += 1;
        if let Some(post) = post {
            checked.posted += 1;
            lateness.push(post.first_ms - row.due_at.timestamp_millis());
            checked.first_ms = Some(
                checked
                    .first_ms
                    .map_or(post.first_ms, |f| f.min(post.first_ms)),
            );
            checked.last_ms = checked.last_ms.max(Some(post.first_ms));
        }
    }
    if let Some(hot) = hot.as_mut() {
        hot.max_per_10s = most_within(&mut hot_posts, 10_000);
    }
    checked.hot = hot;
    checked.lateness = Quantiles::of(&mut lateness);
    checked
}

/// The most of `times` (ms) that fall within any `span` ms.
fn most_within(times: &mut [i64], span: i64) -> usize {
    times.sort_unstable();
    let mut most = 0;
    let mut start = 0;
    for end in 0..times.len() {
        while times[end] - times[start] >= span {
            start += 1;
        }
        most = most.max(end - start + 1);
    }
    most
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};

    fn row(id: i64, channel: &str, due_ms: i64, status: &str) -> DeliveryRow {
        DeliveryRow {
            id,
            channel_id: channel.into(),
            due_at: Utc.timestamp_millis_opt(due_ms).single().expect("valid"),
            status: status.into(),
            sent_at: None,
        }
    }

    #[test]
    fn duplicates_early_and_missing_posts_are_counted_and_the_hot_channel_apart() {
        let rows = vec![
            row(1, "C1", 1_000, "sent"),
            row(2, "C2", 1_000, "sent"),
            row(3, "C3", 5_000, "sent"),
            row(4, "C4", 1_000, "pending"),
            row(5, "HOT", 1_000, "sent"),
            row(6, "HOT", 1_000, "sent"),
        ];
        let posts: HashMap<i64, PostCount> = [
            (1, 1, 1_200),
            (2, 2, 1_100),
            (3, 1, 4_000),
            (5, 1, 1_000),
            (6, 1, 2_000),
        ]
        .into_iter()
        .map(|(id, count, first_ms)| (id, PostCount { count, first_ms }))
        .collect();
        let checked = check(&rows, &posts, Some("HOT"));
        assert_eq!((checked.messages, checked.posted), (4, 3));
        assert_eq!(checked.duplicates, 1);
        assert_eq!(checked.early, 1, "message 3 went a second early");
        let hot = checked.hot.expect("hot figures");
        assert_eq!((hot.messages, hot.posted, hot.max_per_10s), (2, 2, 2));
        assert_eq!(checked.last_ms, Some(4_000));
    }

    #[test]
    fn quantiles_are_nearest_rank() {
        let mut values: Vec<i64> = (1..=100).collect();
        let q = Quantiles::of(&mut values).expect("values");
        assert_eq!((q.p50, q.p99, q.max), (50.0, 99.0, 100.0));
    }
}
