//! The simulator's record in [`RecordMode::Tally`](super::settings::RecordMode):
//! counts instead of every call, so that a benchmark posting millions of
//! messages costs the simulator a few bytes per message and nothing per call.
//!
//! Each post is known by the scheduled message its metadata names; what is
//! kept of it is how many times it was posted and when first (Unix
//! milliseconds), enough to find duplicates, early posts and lateness.

use std::collections::HashMap;
use std::fmt::Write;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// How often a scheduled message was posted, and when first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PostCount {
    pub count: u32,
    pub first_ms: i64,
}

/// Calls by method and outcome, and posts by scheduled message.
#[derive(Debug, Default)]
pub struct Tally {
    /// Method → outcome (`ok`, an error code, `ratelimited`, …) → calls.
    calls: HashMap<String, HashMap<String, u64>>,
    posts: HashMap<i64, PostCount>,
    /// Accepted posts whose metadata named no scheduled message.
    unnamed_posts: u64,
    /// Posts beyond the first of their scheduled message.
    duplicates: u64,
    first_post_ms: Option<i64>,
    last_post_ms: Option<i64>,
}

/// What `GET /_sim/bench/summary` answers: figures kept as posts arrive,
/// so reading them costs the same at any size.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TallySummary {
    /// Accepted posts, duplicates included.
    pub posts: u64,
    /// Scheduled messages posted at least once.
    pub distinct: u64,
    pub duplicates: u64,
    pub unnamed_posts: u64,
    pub first_post_ms: Option<i64>,
    pub last_post_ms: Option<i64>,
    pub calls: HashMap<String, HashMap<String, u64>>,
}

impl Tally {
    pub fn count_call(&mut self, method: &str, outcome: &str) {
        // Looked up by reference: a call allocates only the first time its
        // method and outcome are seen.
        let by_outcome = match self.calls.get_mut(method) {
            Some(by_outcome) => by_outcome,
            None => self.calls.entry(method.to_owned()).or_default(),
        };
        match by_outcome.get_mut(outcome) {
            Some(n) => *n += 1,
            None => {
                by_outcome.insert(outcome.to_owned(), 1);
            }
        }
    }

    /// An accepted post, with the metadata it carried.
    pub fn count_post(&mut self, metadata: Option<&Value>, at_ms: i64) {
        self.first_post_ms.get_or_insert(at_ms);
        self.last_post_ms = Some(self.last_post_ms.map_or(at_ms, |l| l.max(at_ms)));
        let Some(id) = metadata.and_then(scheduled_message_id) else {
            self.unnamed_posts += 1;
            return;
        };
        match self.posts.get_mut(&id) {
            Some(seen) => {
                seen.count += 1;
                self.duplicates += 1;
            }
            None => {
                self.posts.insert(
                    id,
                    PostCount {
                        count: 1,
                        first_ms: at_ms,
                    },
                );
            }
        }
    }

    pub fn summary(&self) -> TallySummary {
        TallySummary {
            posts: self.posts.len() as u64 + self.duplicates + self.unnamed_posts,
            distinct: self.posts.len() as u64,
            duplicates: self.duplicates,
            unnamed_posts: self.unnamed_posts,
            first_post_ms: self.first_post_ms,
            last_post_ms: self.last_post_ms,
            calls: self.calls.clone(),
        }
    }

    /// One line per scheduled message posted: `id count first_ms`.
    pub fn posts_text(&self) -> String {
        let mut out = String::with_capacity(self.posts.len() * 24);
        for (id, post) in &self.posts {
            let _ = writeln!(out, "{id} {} {}", post.count, post.first_ms);
        }
        out
    }
}

/// The scheduled message a post's metadata names (the app's own shape:
/// `event_payload.scheduled_message_id`, as a string or a number).
fn scheduled_message_id(metadata: &Value) -> Option<i64> {
    match metadata
        .get("event_payload")?
        .get(crate::slack::client::METADATA_ID_FIELD)?
    {
        Value::String(s) => s.parse().ok(),
        Value::Number(n) => n.as_i64(),
        _ => None,
    }
}

/// Parses what [`Tally::posts_text`] wrote.
pub fn parse_posts(text: &str) -> HashMap<i64, PostCount> {
    text.lines()
        .filter_map(|line| {
            let mut fields = line.split(' ');
            let id = fields.next()?.parse().ok()?;
            let count = fields.next()?.parse().ok()?;
            let first_ms = fields.next()?.parse().ok()?;
            Some((id, PostCount { count, first_ms }))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn named(id: i64) -> Value {
        json!({"event_type": "scheduled_message", "event_payload": {"scheduled_message_id": id.to_string()}})
    }

    #[test]
    fn posts_are_counted_by_the_message_they_name_and_repeats_are_duplicates() {
        let mut tally = Tally::default();
        tally.count_post(Some(&named(7)), 1_000);
        tally.count_post(Some(&named(8)), 1_005);
        tally.count_post(Some(&named(7)), 1_010);
        tally.count_post(None, 1_020);
        let summary = tally.summary();
        assert_eq!(
            (summary.posts, summary.distinct, summary.duplicates),
            (4, 2, 1)
        );
        assert_eq!(summary.unnamed_posts, 1);
        assert_eq!(
            (summary.first_post_ms, summary.last_post_ms),
            (Some(1_000), Some(1_020))
        );
        let posts = parse_posts(&tally.posts_text());
        assert_eq!(
            posts.get(&7),
            Some(&PostCount {
                count: 2,
                first_ms: 1_000
            })
        );
    }

    #[test]
    fn calls_are_counted_by_method_and_outcome() {
        let mut tally = Tally::default();
        tally.count_call("chat.postMessage", "ok");
        tally.count_call("chat.postMessage", "ok");
        tally.count_call("chat.postMessage", "ratelimited");
        let calls = tally.summary().calls;
        assert_eq!(calls["chat.postMessage"]["ok"], 2);
        assert_eq!(calls["chat.postMessage"]["ratelimited"], 1);
    }
}
