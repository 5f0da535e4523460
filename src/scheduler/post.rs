//! One message's attempt, in its lane: wait for its turn, make sure its
//! author's token and its lease are good, post it (with our metadata where
//! the workspace keeps it), and turn Slack's answer into an [`Outcome`].

use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBuilder};
use chrono::{DateTime, Utc};
use tokio::time::Instant;

use super::authors::{TOKEN_EXPIRED, TokenState};
use super::drain::Drain;
use super::lanes::Item;
use crate::domain::{Outcome, OutcomeKind};
use crate::slack::{ErrorClass, Post, SlackError};
use crate::store::ClaimedMessage;
use crate::telemetry;

/// Sent back to wait for the turn kept for it in its conversation.
pub(super) const PACED: &str = "paced";
/// The lease would run out before Slack answers: posting now could race
/// whoever takes the row over.
const LEASE_RUNNING_OUT: &str = "lease_running_out";
/// Slack refuses message metadata on this kind of post.
const METADATA_REFUSED: &str = "metadata_must_be_sent_from_app";
/// Time kept in hand between the end of a call and the end of its lease
/// (the clocks of the processes sharing a database agree to about this).
const LEASE_MARGIN: chrono::Duration = chrono::Duration::seconds(1);

/// Posts one message and says what became of it.
pub(super) async fn deliver(drain: &Drain, item: &Item) -> Outcome {
    let message = &item.message;
    let shared = &drain.shared;
    let settings = &shared.settings;
    let team = message.author.team_id.as_str();
    let mut turn = item.turn;
    let mut refreshed = false;
    let mut with_metadata = shared.metadata_allowed(team);
    loop {
        // Our turn in the conversation, past any 429 it answered, and at
        // the pace of the posts already made into it.
        let now = Instant::now();
        if let Err(at) = shared.pacer.take_post(team, &message.channel_id, turn, now) {
            let wait = at - now;
            if wait > settings.pacing_budget {
                return release(
                    message,
                    drain.clock.now() + wait,
                    Some("ratelimited".into()),
                );
            }
            tokio::select! {
                () = tokio::time::sleep_until(at) => {}
                () = drain.cancel.cancelled() => return release(message, drain.clock.now(), None),
            }
            continue;
        }
        if drain.cancel.is_cancelled() {
            return release(message, drain.clock.now(), None);
        }
        // A refresh goes on without us if the drain stops meanwhile.
        let token = tokio::select! {
            token = drain.authors.ready(drain, message) => token,
            () = drain.cancel.cancelled() => return release(message, drain.clock.now(), None),
        };
        let token = match token {
            TokenState::Ready(credentials) => credentials.access_token,
            TokenState::Held(reason) => return held(message, reason),
            TokenState::Unavailable(reason) => return token_wait(drain, message, reason),
        };
        // However long the wait for the turn and the token, the row must
        // still be ours when Slack answers.
        let deadline = drain.clock.now()
            + chrono::Duration::from_std(settings.slack_timeout).unwrap_or_default()
            + LEASE_MARGIN;
        if deadline >= message.lease_until {
            tracing::warn!(
                message_id = message.id,
                "the lease would run out before Slack answers; trying again shortly"
            );
            return release(message, drain.clock.now(), Some(LEASE_RUNNING_OUT.into()));
        }
        let permit = tokio::select! {
            permit = drain.calls.acquire() => permit,
            () = drain.cancel.cancelled() => return release(message, drain.clock.now(), None),
        };
        let in_flight = drain
            .counters
            .in_flight
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        telemetry::set_in_flight(in_flight + 1);
        // Once started, a call is finished even during shutdown, so that its
        // outcome is recorded rather than left in doubt.
        let post = Post {
            channel_id: &message.channel_id,
            text: &message.text,
            rich_text: message.rich_text.as_deref(),
            thread_ts: message.options.thread_ts.as_deref(),
            reply_broadcast: message.options.reply_broadcast,
            scheduled_message_id: with_metadata.then_some(message.id),
        };
        let result = shared.slack.post(&token, team, &post).await;
        let in_flight = drain
            .counters
            .in_flight
            .fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
        telemetry::set_in_flight(in_flight.saturating_sub(1));
        drop(permit);

        let err = match result {
            Ok(posted) => {
                if with_metadata && !posted.metadata_kept {
                    shared.forget_metadata(team, "dropped");
                }
                let at = drain.clock.now();
                let late = (at - message.due_at).to_std().unwrap_or_default();
                drain.lateness.record(late);
                telemetry::record_lateness(late);
                return Outcome {
                    id: message.id,
                    attempts: message.attempts + 1,
                    kind: OutcomeKind::Sent { ts: posted.ts, at },
                };
            }
            Err(err) => err,
        };
        if matches!(&err, SlackError::Api { code } if code == METADATA_REFUSED) && with_metadata {
            // Nothing was posted: post again at once, without the metadata.
            shared.forget_metadata(team, "refused");
            with_metadata = false;
            continue;
        }
        let reason = err.reason();
        match err.class() {
            ErrorClass::RateLimited(retry_after) => {
                let wait = retry_after.unwrap_or(Duration::from_secs(1));
                let now = Instant::now();
                shared.pacer.cool_down(team, &message.channel_id, wait, now);
                telemetry::record_rate_limit_wait("retry_after");
                tracing::info!(
                    message_id = message.id,
                    wait_ms = wait.as_millis() as u64,
                    "Slack rate limited the conversation; waiting"
                );
                turn = now + wait;
            }
            ErrorClass::TokenExpired => {
                if refreshed {
                    return held(message, TOKEN_EXPIRED.into());
                }
                refreshed = true;
                // The loop picks up whatever the author's slot now holds.
                drain.authors.after_rejection(drain, message, &token).await;
            }
            ErrorClass::Credentials => {
                drain.authors.refused(drain, message, &reason).await;
                return held(message, reason);
            }
            ErrorClass::Permanent => {
                tracing::info!(message_id = message.id, reason = %reason, "message failed permanently");
                return Outcome {
                    id: message.id,
                    attempts: message.attempts + 1,
                    kind: OutcomeKind::Failed { reason },
                };
            }
            class @ (ErrorClass::Transient | ErrorClass::Ambiguous) => {
                tracing::info!(message_id = message.id, reason = %reason, "transient failure posting a message");
                return failed_attempt(
                    drain,
                    message,
                    reason,
                    class == ErrorClass::Ambiguous,
                    drain.clock.now(),
                );
            }
        }
    }
}

/// An attempt that failed in a way worth retrying: back to `pending`
/// after a backoff, or `failed` once the attempts are spent.
pub(super) fn failed_attempt(
    drain: &Drain,
    message: &ClaimedMessage,
    reason: String,
    ambiguous: bool,
    now: DateTime<Utc>,
) -> Outcome {
    let attempts = message.attempts + 1;
    let settings = &drain.shared.settings;
    if attempts >= i32::try_from(settings.max_attempts).unwrap_or(i32::MAX) {
        return Outcome {
            id: message.id,
            attempts,
            kind: OutcomeKind::Failed { reason },
        };
    }
    Outcome {
        id: message.id,
        attempts,
        kind: OutcomeKind::Retry {
            next_at: now + retry_delay(drain, attempts),
            reason: Some(reason),
            verify_before_post: ambiguous || message.verify_before_post,
        },
    }
}

/// No usable token right now (a refresh failed and the old token ran
/// out): not the message's fault, so no attempt is counted; it waits with
/// the same backoff as a failed attempt, for as long as it takes.
fn token_wait(drain: &Drain, message: &ClaimedMessage, reason: String) -> Outcome {
    let next_at = drain.clock.now() + retry_delay(drain, message.attempts + 1);
    release(message, next_at, Some(reason))
}

/// Exponential backoff with jitter: `retry_base`, doubling, at most `retry_cap`.
fn retry_delay(drain: &Drain, attempts: i32) -> chrono::Duration {
    let settings = &drain.shared.settings;
    let delay = ExponentialBuilder::default()
        .with_min_delay(settings.retry_base)
        .with_max_delay(settings.retry_cap)
        .with_factor(2.0)
        .with_jitter()
        .with_max_times(usize::try_from(attempts.max(1)).unwrap_or(1))
        .build()
        .last()
        .unwrap_or(settings.retry_base);
    chrono::Duration::from_std(delay).unwrap_or_default()
}

/// Held until the author reconnects; a message in doubt stays in doubt.
pub(super) fn held(message: &ClaimedMessage, reason: String) -> Outcome {
    Outcome {
        id: message.id,
        attempts: message.attempts,
        kind: OutcomeKind::Held {
            reason,
            in_doubt: message.verify_before_post,
        },
    }
}

/// Back to `pending` without counting an attempt: nothing was tried.
pub(super) fn release(
    message: &ClaimedMessage,
    next_at: DateTime<Utc>,
    reason: Option<String>,
) -> Outcome {
    Outcome {
        id: message.id,
        attempts: message.attempts,
        kind: OutcomeKind::Retry {
            next_at,
            reason,
            verify_before_post: message.verify_before_post,
        },
    }
}
