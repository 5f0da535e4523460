//! In-doubt messages: an earlier attempt may have reached Slack (its lease
//! ran out mid-call, or Slack answered ambiguously). Before posting again,
//! look for the post in the conversation's history, by our metadata or, in
//! workspaces where Slack keeps none, by author and text as Slack stores it.
//!
//! Look-ups are scarce: Slack allows apps outside its Marketplace one
//! `conversations.history` call a minute per workspace, 15 messages a page.
//! So they spend a per-workspace budget kept in the database (shared by
//! every process), one page per call, grouped per conversation; pages
//! already read are kept (matches are recorded at once, and the scan goes
//! on from its cursor next time); a history cut short is never taken for
//! "not found". A message that waits for a look-up goes back to `pending`
//! until the budget allows the next one, and once `SCHEDULER_VERIFY_WAIT_SECS`
//! have passed since it came into doubt (or when no look-up is possible at
//! all) it is posted again, which is logged and counted. Nothing waits
//! for ever.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

use super::authors::TokenState;
use super::drain::Drain;
use super::lanes::{self, LaneKey};
use super::post;
use crate::domain::{Outcome, OutcomeKind};
use crate::slack::mrkdwn::same_text;
use crate::slack::{ErrorClass, HistoryMessage, HistoryRequest, SlackError};
use crate::store::ClaimedMessage;
use crate::telemetry;

/// Scans kept at most (one per conversation with in-doubt messages).
const MAX_SCANS: usize = 10_000;
/// Earlier attempts happened after the first claim, and the post they may
/// have made lies before the doubt began; a little slack for clocks.
const CLOCK_SLACK: chrono::Duration = chrono::Duration::seconds(2);
/// Slack's answers that mean no look-up of this conversation can work.
const NO_HISTORY: [&str; 4] = [
    "missing_scope",
    "not_in_channel",
    "channel_not_found",
    "not_allowed_token_type",
];

/// How far a conversation's scan got: the range it reads, and where the
/// next page starts.
#[derive(Debug, Clone)]
struct Scan {
    oldest: DateTime<Utc>,
    latest: Option<DateTime<Utc>>,
    cursor: Option<String>,
    touched: Instant,
}

/// Scans in progress, per conversation, across drains.
#[derive(Debug, Default)]
pub(crate) struct Scans {
    scans: Mutex<HashMap<LaneKey, Scan>>,
}

impl Scans {
    /// The scan of `key` if it covers the range asked for, else a new one.
    fn resume(&self, key: &LaneKey, oldest: DateTime<Utc>, latest: Option<DateTime<Utc>>) -> Scan {
        let fresh = Scan {
            oldest,
            latest,
            cursor: None,
            touched: Instant::now(),
        };
        let Ok(mut scans) = self.scans.lock() else {
            return fresh;
        };
        match scans.remove(key) {
            Some(scan) if scan.oldest <= oldest && covers(scan.latest, latest) => scan,
            _ => fresh,
        }
    }

    fn keep(&self, key: LaneKey, mut scan: Scan) {
        if let Ok(mut scans) = self.scans.lock()
            && (scans.len() < MAX_SCANS || scans.contains_key(&key))
        {
            scan.touched = Instant::now();
            scans.insert(key, scan);
        }
    }

    /// Drops scans nobody came back to within `age`.
    pub(crate) fn forget_stale(&self, now: Instant, age: Duration) {
        if let Ok(mut scans) = self.scans.lock() {
            scans.retain(|_, scan| now.duration_since(scan.touched) < age);
        }
    }
}

/// Whether a scan up to `kept` also covers up to `wanted` (None: now).
fn covers(kept: Option<DateTime<Utc>>, wanted: Option<DateTime<Utc>>) -> bool {
    match (kept, wanted) {
        (None, _) => true,
        (Some(_), None) => false,
        (Some(kept), Some(wanted)) => kept >= wanted,
    }
}

/// Looks for one conversation's in-doubt messages, then posts, records or
/// sends back each of them.
pub(super) async fn verify(drain: Arc<Drain>, group: Vec<ClaimedMessage>) {
    let Some(first) = group.first() else { return };
    let key: LaneKey = (first.author.team_id.clone(), first.channel_id.clone());
    let settings = &drain.shared.settings;
    let verify_wait = chrono::Duration::from_std(settings.verify_wait).unwrap_or_default();
    let now = drain.clock.now();
    let (overdue, mut waiting): (Vec<_>, Vec<_>) = group.into_iter().partition(|m| {
        m.in_doubt_since
            .is_some_and(|since| since + verify_wait <= now)
    });
    if !overdue.is_empty() {
        tracing::warn!(team_id = %key.0, channel_id = %key.1, messages = overdue.len(),
            "in-doubt messages could not be looked for within SCHEDULER_VERIFY_WAIT_SECS; posting them again");
        repost(&drain, overdue, "verify_wait");
    }
    if waiting.is_empty() {
        return;
    }
    // Any member's token reads the conversation; the first author's will do.
    let token = match drain.authors.ready(&drain, &waiting[0]).await {
        TokenState::Ready(credentials) => credentials.access_token,
        TokenState::Held(reason) => {
            for message in &waiting {
                drain
                    .recorder
                    .send(message, post::held(message, reason.clone()));
            }
            return;
        }
        TokenState::Unavailable(reason) => {
            let later = now + spacing(&drain);
            send_back(&drain, &waiting, later, &reason);
            return;
        }
    };
    let oldest = waiting
        .iter()
        .map(|m| m.first_claimed_at)
        .min()
        .unwrap_or(now)
        - CLOCK_SLACK;
    // The earlier attempt cannot have posted after its call timed out.
    let latest = waiting
        .iter()
        .map(|m| m.in_doubt_since)
        .collect::<Option<Vec<_>>>()
        .and_then(|since| since.into_iter().max())
        .map(|at| {
            at + chrono::Duration::from_std(settings.slack_timeout).unwrap_or_default()
                + CLOCK_SLACK
        });
    let mut scan = drain.shared.verifier.resume(&key, oldest, latest);
    loop {
        let now = drain.clock.now();
        let next_call = now + spacing(&drain);
        match drain
            .shared
            .store
            .take_history_call(&key.0, now, next_call)
            .await
        {
            Ok(None) => {}
            Ok(Some(allowed_at)) => {
                drain.shared.verifier.keep(key, scan);
                send_back(&drain, &waiting, allowed_at, "history_budget");
                return;
            }
            Err(err) => {
                tracing::warn!(error = %err, "cannot take a history call from the budget");
                send_back(&drain, &waiting, next_call, "database_error");
                return;
            }
        }
        let page = {
            let _permit = drain.calls.acquire().await;
            let request = HistoryRequest {
                channel_id: &key.1,
                oldest: scan.oldest,
                latest: scan.latest,
                cursor: scan.cursor.as_deref(),
                limit: settings.history_page,
            };
            drain
                .shared
                .slack
                .history_page(&token, &key.0, &request)
                .await
        };
        let page = match page {
            Ok(page) => page,
            Err(err) => {
                look_up_failed(&drain, key, scan, waiting, err).await;
                return;
            }
        };
        let mut history = page.messages;
        waiting.retain(|message| match take_match(&mut history, message) {
            Some(posted) => {
                tracing::info!(message_id = message.id, ts = %posted.ts,
                    "in-doubt message was already posted; recording it as sent");
                drain.counters.found_posted.fetch_add(1, Ordering::Relaxed);
                let outcome = Outcome {
                    id: message.id,
                    attempts: message.attempts.max(1),
                    kind: OutcomeKind::Sent {
                        ts: posted.ts,
                        at: drain.clock.now(),
                    },
                };
                drain.recorder.send(message, outcome);
                false
            }
            None => true,
        });
        if waiting.is_empty() {
            return;
        }
        if page.complete {
            // The whole range was read: they were never posted.
            for mut message in waiting {
                message.verify_before_post = false;
                lanes::enqueue(&drain, message);
            }
            return;
        }
        scan.cursor = page.next_cursor;
        if drain.cancel.is_cancelled() {
            drain.shared.verifier.keep(key, scan);
            send_back(&drain, &waiting, drain.clock.now(), "history_cut_short");
            return;
        }
    }
}

/// A look-up failed: wait for the budget, post again, or hold, by what
/// Slack said.
async fn look_up_failed(
    drain: &Arc<Drain>,
    key: LaneKey,
    scan: Scan,
    waiting: Vec<ClaimedMessage>,
    err: SlackError,
) {
    let now = drain.clock.now();
    if matches!(&err, SlackError::Api { code } if NO_HISTORY.contains(&code.as_str())) {
        tracing::warn!(channel_id = %key.1, messages = waiting.len(), error = %err,
            "cannot look for in-doubt messages in history; posting them again");
        repost(drain, waiting, "no_history_access");
        return;
    }
    match err.class() {
        ErrorClass::RateLimited(retry_after) => {
            let until = now
                + chrono::Duration::from_std(
                    retry_after.unwrap_or(drain.shared.settings.history_window),
                )
                .unwrap_or_default();
            if let Err(db) = drain.shared.store.defer_history_calls(&key.0, until).await {
                tracing::warn!(error = %db, "cannot record the history rate limit");
            }
            tracing::info!(channel_id = %key.1, messages = waiting.len(),
                "history is rate limited; looking for in-doubt messages later");
            drain.shared.verifier.keep(key, scan);
            send_back(drain, &waiting, until, "history_ratelimited");
        }
        ErrorClass::Credentials => {
            let reason = err.reason();
            drain.authors.refused(drain, &waiting[0], &reason).await;
            for message in &waiting {
                drain
                    .recorder
                    .send(message, post::held(message, reason.clone()));
            }
        }
        _ => {
            tracing::warn!(channel_id = %key.1, messages = waiting.len(), error = %err,
                "cannot read history now; looking for in-doubt messages later");
            drain.shared.verifier.keep(key, scan);
            send_back(drain, &waiting, now + spacing(drain), "history_unavailable");
        }
    }
}

/// Posts in-doubt messages without a look-up; logged by the caller, counted here.
fn repost(drain: &Arc<Drain>, messages: Vec<ClaimedMessage>, cause: &'static str) {
    for mut message in messages {
        drain
            .counters
            .reposted_unverified
            .fetch_add(1, Ordering::Relaxed);
        telemetry::record_unverified_repost(cause);
        message.verify_before_post = false;
        lanes::enqueue(drain, message);
    }
}

/// Back to `pending` until `at` (or the end of its verify wait, if sooner),
/// still in doubt, without counting an attempt.
fn send_back(drain: &Drain, messages: &[ClaimedMessage], at: DateTime<Utc>, reason: &str) {
    let verify_wait =
        chrono::Duration::from_std(drain.shared.settings.verify_wait).unwrap_or_default();
    for message in messages {
        let deadline = message
            .in_doubt_since
            .map_or(at, |since| since + verify_wait);
        let outcome = post::release(message, at.min(deadline), Some(reason.to_owned()));
        drain.recorder.send(message, outcome);
    }
}

/// The pause between two history calls the workspace's budget allows.
/// Slack counts from when a call reaches it, and a call leaves here a
/// varying moment after its turn is taken: a twentieth (and at least a
/// quarter of a second) is kept in hand.
pub(super) fn spacing(drain: &Drain) -> chrono::Duration {
    let settings = &drain.shared.settings;
    let per = settings.history_per_window.max(1);
    let pause = settings.history_window / per;
    let in_hand = (pause / 20).max(Duration::from_millis(250));
    chrono::Duration::from_std(pause + in_hand).unwrap_or_default()
}

/// Finds (and consumes, so it matches once) the post of `message` in
/// `history`: by the metadata id we attach, else by author and text.
fn take_match(
    history: &mut Vec<HistoryMessage>,
    message: &ClaimedMessage,
) -> Option<HistoryMessage> {
    let by_metadata = history
        .iter()
        .position(|h| h.scheduled_message_id == Some(message.id));
    let position = by_metadata.or_else(|| {
        history.iter().position(|h| {
            h.scheduled_message_id.is_none()
                && h.user.as_deref() == Some(message.author.user_id.as_str())
                && same_text(&h.text, &message.text)
        })
    })?;
    Some(history.swap_remove(position))
}
