//! Conditional sends (SPEC §7): "only if nobody has replied in this thread
//! since I scheduled it" and "skip if I have posted in this conversation
//! since". Checked at the due time by reading the thread
//! (`conversations.replies`) or the conversation (`conversations.history`)
//! since the message was scheduled; a condition that holds makes the
//! outcome `skipped`, otherwise the message goes to its lane and is posted.
//!
//! Reads are as scarce as for in-doubt messages: outside the Marketplace,
//! Slack allows one call of each method a minute per workspace, 15 messages
//! a page. So each page spends the workspace's budget for its method (kept
//! in the database, shared with the verifier and every process); a message
//! that must wait goes back to `pending` until the budget allows the next
//! call, keeping how far its read got; a read cut short never decides.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

use super::authors::TokenState;
use super::drain::Drain;
use super::lanes;
use super::post;
use super::verifier::spacing;
use crate::domain::{Outcome, OutcomeKind};
use crate::slack::{ErrorClass, HistoryMessage, HistoryRequest, SlackError};
use crate::store::ClaimedMessage;

/// Why a message was skipped.
pub const SOMEONE_REPLIED: &str = "someone_replied";
pub const YOU_POSTED: &str = "you_posted";
/// The condition could not be checked at all (no access to the conversation).
pub const CONDITION_UNCHECKED: &str = "condition_unchecked";

/// Reads kept at most (one per message being checked).
const MAX_READS: usize = 10_000;
/// Slack's answers that mean the conversation cannot be read with this token.
const NO_ACCESS: [&str; 4] = [
    "missing_scope",
    "not_in_channel",
    "channel_not_found",
    "thread_not_found",
];

/// How far each message's read got, across drains: the cursor of its next page.
#[derive(Debug, Default)]
pub(crate) struct Reads {
    reads: Mutex<HashMap<i64, (String, Instant)>>,
}

impl Reads {
    fn take(&self, id: i64) -> Option<String> {
        self.reads
            .lock()
            .ok()?
            .remove(&id)
            .map(|(cursor, _)| cursor)
    }

    fn keep(&self, id: i64, cursor: String) {
        if let Ok(mut reads) = self.reads.lock()
            && (reads.len() < MAX_READS || reads.contains_key(&id))
        {
            reads.insert(id, (cursor, Instant::now()));
        }
    }

    /// Drops reads nobody came back to within `age`.
    pub(crate) fn forget_stale(&self, now: Instant, age: Duration) {
        if let Ok(mut reads) = self.reads.lock() {
            reads.retain(|_, (_, at)| now.duration_since(*at) < age);
        }
    }
}

/// What a message's conditions ask to read.
enum Source<'a> {
    Thread(&'a str),
    Conversation,
}

/// Checks a conditional message, then skips it or hands it to its lane.
pub(super) async fn check(drain: Arc<Drain>, message: ClaimedMessage) {
    let conditions = message.options.conditions;
    let thread = message.options.thread_ts.as_deref();
    // "Nobody replied in this thread" means nothing outside a thread.
    let source = match (thread, conditions.unless_posted) {
        (Some(ts), _) => Source::Thread(ts),
        (None, true) => Source::Conversation,
        (None, false) => {
            lanes::enqueue(&drain, message);
            return;
        }
    };
    let token = match drain.authors.ready(&drain, &message).await {
        TokenState::Ready(credentials) => credentials.access_token,
        TokenState::Held(reason) => {
            let outcome = post::held(&message, reason);
            drain.recorder.send(&message, outcome);
            return;
        }
        TokenState::Unavailable(reason) => {
            let outcome =
                post::release(&message, drain.clock.now() + spacing(&drain), Some(reason));
            drain.recorder.send(&message, outcome);
            return;
        }
    };
    let team = message.author.team_id.as_str();
    let (method, budget_key) = match source {
        Source::Thread(_) => (
            "conversations.replies",
            format!("{team}/conversations.replies"),
        ),
        Source::Conversation => ("conversations.history", team.to_owned()),
    };
    let settings = &drain.shared.settings;
    let mut cursor = drain.shared.conditions.take(message.id);
    loop {
        let now = drain.clock.now();
        match drain
            .shared
            .store
            .take_history_call(&budget_key, now, now + spacing(&drain))
            .await
        {
            Ok(None) => {}
            Ok(Some(allowed_at)) => {
                wait_for_budget(&drain, &message, cursor, allowed_at);
                return;
            }
            Err(err) => {
                tracing::warn!(error = %err, "cannot take a history call from the budget");
                wait_for_budget(&drain, &message, cursor, now + spacing(&drain));
                return;
            }
        }
        let request = HistoryRequest {
            channel_id: &message.channel_id,
            oldest: message.scheduled_at,
            latest: None,
            cursor: cursor.as_deref(),
            limit: settings.history_page,
        };
        let page = {
            let _permit = drain.calls.acquire().await;
            match source {
                Source::Thread(ts) => {
                    drain
                        .shared
                        .slack
                        .replies_page(&token, team, ts, &request)
                        .await
                }
                Source::Conversation => {
                    drain
                        .shared
                        .slack
                        .history_page(&token, team, &request)
                        .await
                }
            }
        };
        let page = match page {
            Ok(page) => page,
            Err(err) => {
                read_failed(&drain, &message, &budget_key, method, cursor, err).await;
                return;
            }
        };
        if let Some(reason) = page
            .messages
            .iter()
            .find_map(|seen| holds(&message, thread, seen))
        {
            tracing::info!(
                message_id = message.id,
                reason,
                "condition held: message skipped"
            );
            let outcome = Outcome {
                id: message.id,
                attempts: message.attempts,
                kind: OutcomeKind::Skipped {
                    reason: reason.to_owned(),
                },
            };
            drain.recorder.send(&message, outcome);
            return;
        }
        if page.complete {
            lanes::enqueue(&drain, message);
            return;
        }
        cursor = page.next_cursor;
        if cursor.is_none() || drain.cancel.is_cancelled() {
            // Slack said there is more but gave no way on: read again from the start.
            wait_for_budget(&drain, &message, None, drain.clock.now() + spacing(&drain));
            return;
        }
    }
}

/// The skip reason if `seen` makes one of `message`'s conditions hold.
fn holds(
    message: &ClaimedMessage,
    thread: Option<&str>,
    seen: &HistoryMessage,
) -> Option<&'static str> {
    // The thread's parent is no reply, and anything as old as the
    // scheduling itself is no news (Slack's `oldest` is inclusive).
    if thread == Some(seen.ts.as_str()) || !after(&seen.ts, message.scheduled_at) {
        return None;
    }
    let by_author = seen.user.as_deref() == Some(message.author.user_id.as_str());
    let conditions = message.options.conditions;
    if conditions.unless_replied && thread.is_some() && !by_author && seen.user.is_some() {
        return Some(SOMEONE_REPLIED);
    }
    if conditions.unless_posted && by_author {
        return Some(YOU_POSTED);
    }
    None
}

/// Whether Slack's `ts` lies after `at`.
fn after(ts: &str, at: DateTime<Utc>) -> bool {
    let Some((secs, micros)) = ts.split_once('.') else {
        return true;
    };
    match (secs.parse::<i64>(), micros.parse::<u32>()) {
        (Ok(secs), Ok(micros)) => DateTime::from_timestamp(secs, micros.saturating_mul(1000))
            .is_none_or(|posted| posted > at),
        _ => true,
    }
}

/// Back to `pending` until the budget allows the next read, keeping the read.
fn wait_for_budget(
    drain: &Drain,
    message: &ClaimedMessage,
    cursor: Option<String>,
    at: DateTime<Utc>,
) {
    if let Some(cursor) = cursor {
        drain.shared.conditions.keep(message.id, cursor);
    }
    crate::telemetry::record_rate_limit_wait("deferred");
    let outcome = post::release(message, at, Some("history_budget".into()));
    drain.recorder.send(message, outcome);
}

/// A read failed: wait for the budget, fail the message, or hold it, by
/// what Slack said.
async fn read_failed(
    drain: &Arc<Drain>,
    message: &ClaimedMessage,
    budget_key: &str,
    method: &str,
    cursor: Option<String>,
    err: SlackError,
) {
    let now = drain.clock.now();
    if matches!(&err, SlackError::Api { code } if NO_ACCESS.contains(&code.as_str())) {
        tracing::warn!(message_id = message.id, method, error = %err,
            "cannot read the conversation to check the message's condition");
        let outcome = Outcome {
            id: message.id,
            attempts: message.attempts + 1,
            kind: OutcomeKind::Failed {
                reason: CONDITION_UNCHECKED.into(),
            },
        };
        drain.recorder.send(message, outcome);
        return;
    }
    match err.class() {
        ErrorClass::RateLimited(retry_after) => {
            let until = now
                + chrono::Duration::from_std(
                    retry_after.unwrap_or(drain.shared.settings.history_window),
                )
                .unwrap_or_default();
            if let Err(db) = drain
                .shared
                .store
                .defer_history_calls(budget_key, until)
                .await
            {
                tracing::warn!(error = %db, "cannot record the history rate limit");
            }
            wait_for_budget(drain, message, cursor, until);
        }
        ErrorClass::Credentials => {
            let reason = err.reason();
            drain.authors.refused(drain, message, &reason).await;
            drain.recorder.send(message, post::held(message, reason));
        }
        _ => {
            let outcome = post::failed_attempt(drain, message, err.reason(), false, now);
            drain.recorder.send(message, outcome);
        }
    }
}
