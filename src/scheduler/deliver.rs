//! Delivering one claimed batch.
//!
//! 1. Each author's token is made ready (refreshed once if expiring).
//! 2. Messages whose earlier attempt may have reached Slack are looked for
//!    in their conversation's history first, one look-up per conversation.
//! 3. The rest are posted: one task per conversation, in due order, paced;
//!    conversations in parallel, at most `concurrency` calls in flight.
//!
//! Every message ends with exactly one [`Outcome`], whatever happens to the
//! others.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBuilder};
use chrono::{DateTime, Utc};
use futures_util::stream::{self, FuturesUnordered, StreamExt};
use tokio::sync::{Mutex, Semaphore};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::Scheduler;
use super::cycle::CycleClock;
use super::tokens::{AuthorTokens, Slot, TOKEN_EXPIRED, TokenState};
use crate::domain::{Outcome, OutcomeKind};
use crate::slack::client::unescape_text;
use crate::slack::{ErrorClass, HistoryMessage, SlackError};
use crate::store::ClaimedMessage;
use crate::telemetry;

/// History look-ups run a few at a time: Slack limits them much more
/// tightly than posts.
const HISTORY_CONCURRENCY: usize = 4;

type Item = (ClaimedMessage, Arc<Mutex<Slot>>);

impl Scheduler {
    pub(super) async fn deliver(
        &self,
        batch: Vec<ClaimedMessage>,
        clock: &CycleClock,
        cancel: &CancellationToken,
    ) -> Vec<Outcome> {
        let mut outcomes = Vec::with_capacity(batch.len());
        let (tokens, firsts) = AuthorTokens::for_batch(&batch);
        let now = clock.now();
        stream::iter(firsts)
            .for_each_concurrent(self.settings.concurrency, |(slot, first)| async move {
                self.prepare_token(&slot, &first, now).await;
            })
            .await;

        let mut ready = Vec::with_capacity(batch.len());
        for message in batch {
            let Some(slot) = tokens.slot(message.author.id) else {
                continue;
            };
            let state = slot.lock().await.state().clone();
            match state {
                TokenState::Ready(_) => ready.push((message, slot)),
                TokenState::Held(reason) => outcomes.push(held(&message, reason)),
                TokenState::Unavailable(reason) => {
                    outcomes.push(self.failed_attempt(&message, reason, false, now))
                }
            }
        }

        let (found, to_post) = self.find_in_doubt(ready, clock).await;
        outcomes.extend(found);
        outcomes.extend(self.post_all(to_post, clock, cancel).await);
        outcomes
    }

    /// Looks for in-doubt messages in their conversations' recent history.
    /// Returns outcomes for those found, and everything still to post.
    async fn find_in_doubt(
        &self,
        items: Vec<Item>,
        clock: &CycleClock,
    ) -> (Vec<Outcome>, Vec<Item>) {
        let (in_doubt, mut to_post): (Vec<Item>, Vec<Item>) =
            items.into_iter().partition(|(m, _)| m.verify_before_post);
        if in_doubt.is_empty() {
            return (Vec::new(), to_post);
        }
        let groups = group_by_conversation(in_doubt);
        let results: Vec<(Vec<Outcome>, Vec<Item>)> = stream::iter(groups)
            .map(|group| self.find_in_conversation(group, clock))
            .buffer_unordered(HISTORY_CONCURRENCY)
            .collect()
            .await;
        let mut found = Vec::new();
        for (outcomes, rest) in results {
            found.extend(outcomes);
            to_post.extend(rest);
        }
        // Keep due order for posting.
        to_post.sort_by_key(|(m, _)| (m.due_at, m.id));
        (found, to_post)
    }

    async fn find_in_conversation(
        &self,
        group: Vec<Item>,
        clock: &CycleClock,
    ) -> (Vec<Outcome>, Vec<Item>) {
        let Some((first, slot)) = group.first() else {
            return (Vec::new(), group);
        };
        let first = first.clone();
        let token = match slot.lock().await.state() {
            TokenState::Ready(creds) => Some(creds.access_token.clone()),
            _ => None,
        };
        let Some(token) = token else {
            return (Vec::new(), group);
        };
        // Any earlier attempt happened after the first claim.
        let oldest = group
            .iter()
            .map(|(m, _)| m.first_claimed_at)
            .min()
            .unwrap_or(first.first_claimed_at)
            - chrono::Duration::seconds(2);
        let history = self
            .slack
            .history_since(
                &token,
                &first.author.team_id,
                &first.channel_id,
                oldest,
                self.settings.history_pages,
            )
            .await;
        let mut history = match history {
            Ok(history) => history,
            Err(err) => return self.without_history(group, err, clock.now()),
        };
        let mut found = Vec::new();
        let mut rest = Vec::new();
        for (message, slot) in group {
            match take_match(&mut history, &message) {
                Some(posted) => {
                    tracing::info!(message_id = message.id, ts = %posted.ts,
                        "in-doubt message was already posted; recording it as sent");
                    found.push(Outcome {
                        id: message.id,
                        attempts: message.attempts.max(1),
                        kind: OutcomeKind::Sent {
                            ts: posted.ts,
                            at: clock.now(),
                        },
                    });
                }
                None => rest.push((message, slot)),
            }
        }
        (found, rest)
    }

    /// The history look-up failed. A look-up that may work later (a rate
    /// limit, an outage) is waited for, since posting blind risks a
    /// duplicate; one that cannot work (no access to the history) means
    /// posting again, as the only way not to lose the message.
    fn without_history(
        &self,
        group: Vec<Item>,
        err: SlackError,
        now: DateTime<Utc>,
    ) -> (Vec<Outcome>, Vec<Item>) {
        let channel_id = group
            .first()
            .map(|(m, _)| m.channel_id.clone())
            .unwrap_or_default();
        match err.class() {
            ErrorClass::RateLimited(retry_after) => {
                let wait =
                    chrono::Duration::from_std(retry_after.unwrap_or(Duration::from_secs(60)))
                        .unwrap_or_default();
                tracing::info!(channel_id = %channel_id, messages = group.len(),
                    "history is rate limited; looking for in-doubt messages later");
                let outcomes = group
                    .iter()
                    .map(|(m, _)| release(m, now + wait, Some("history_ratelimited".into())))
                    .collect();
                (outcomes, Vec::new())
            }
            ErrorClass::Transient | ErrorClass::Ambiguous => {
                tracing::warn!(channel_id = %channel_id, messages = group.len(), error = %err,
                    "cannot read history now; looking for in-doubt messages later");
                let outcomes = group
                    .iter()
                    .map(|(m, _)| self.failed_attempt(m, err.reason(), true, now))
                    .collect();
                (outcomes, Vec::new())
            }
            _ => {
                tracing::warn!(channel_id = %channel_id, messages = group.len(), error = %err,
                    "cannot look for in-doubt messages in history; posting them again");
                (Vec::new(), group)
            }
        }
    }

    async fn post_all(
        &self,
        items: Vec<Item>,
        clock: &CycleClock,
        cancel: &CancellationToken,
    ) -> Vec<Outcome> {
        let semaphore = Semaphore::new(self.settings.concurrency.max(1));
        let in_flight = AtomicUsize::new(0);
        let mut channels: FuturesUnordered<_> = group_by_conversation(items)
            .into_iter()
            .map(|group| self.post_conversation(group, clock, cancel, &semaphore, &in_flight))
            .collect();
        let mut outcomes = Vec::new();
        while let Some(done) = channels.next().await {
            outcomes.extend(done);
        }
        telemetry::set_in_flight(0);
        outcomes
    }

    /// Posts one conversation's messages in order, at the conversation's pace.
    async fn post_conversation(
        &self,
        group: Vec<Item>,
        clock: &CycleClock,
        cancel: &CancellationToken,
        semaphore: &Semaphore,
        in_flight: &AtomicUsize,
    ) -> Vec<Outcome> {
        let started = Instant::now();
        let mut outcomes = Vec::with_capacity(group.len());
        for (message, slot) in group {
            outcomes.push(
                self.post_one(
                    &message, &slot, clock, cancel, semaphore, in_flight, started,
                )
                .await,
            );
        }
        outcomes
    }

    #[allow(clippy::too_many_arguments)]
    async fn post_one(
        &self,
        message: &ClaimedMessage,
        slot: &Mutex<Slot>,
        clock: &CycleClock,
        cancel: &CancellationToken,
        semaphore: &Semaphore,
        in_flight: &AtomicUsize,
        started: Instant,
    ) -> Outcome {
        let team = message.author.team_id.as_str();
        let mut refreshed = false;
        loop {
            let token = match slot.lock().await.state() {
                TokenState::Ready(creds) => creds.access_token.clone(),
                TokenState::Held(reason) => return held(message, reason.clone()),
                TokenState::Unavailable(reason) => {
                    return self.failed_attempt(message, reason.clone(), false, clock.now());
                }
            };

            // Wait for our turn in this conversation (and workspace), unless
            // the wait would outlast the budget: then come back later.
            loop {
                let wait = self.pacer.reserve(team, &message.channel_id);
                if wait.is_zero() {
                    break;
                }
                if started.elapsed() + wait > self.settings.pacing_budget {
                    telemetry::record_rate_limit_wait("deferred");
                    return release(message, clock.now() + wait, Some("paced".into()));
                }
                telemetry::record_rate_limit_wait("pacing");
                tokio::select! {
                    () = tokio::time::sleep(wait) => {}
                    () = cancel.cancelled() => return release(message, clock.now(), None),
                }
            }
            let permit = tokio::select! {
                permit = semaphore.acquire() => permit,
                () = cancel.cancelled() => return release(message, clock.now(), None),
            };
            telemetry::set_in_flight(in_flight.fetch_add(1, Ordering::Relaxed) + 1);
            // Once started, a call is finished even during shutdown, so that
            // its outcome is recorded rather than left in doubt.
            let result = self
                .slack
                .post_message(&token, team, &message.channel_id, &message.text, message.id)
                .await;
            telemetry::set_in_flight(in_flight.fetch_sub(1, Ordering::Relaxed).saturating_sub(1));
            drop(permit);

            let err = match result {
                Ok(ts) => {
                    return Outcome {
                        id: message.id,
                        attempts: message.attempts + 1,
                        kind: OutcomeKind::Sent {
                            ts,
                            at: clock.now(),
                        },
                    };
                }
                Err(err) => err,
            };
            let reason = err.reason();
            match err.class() {
                ErrorClass::RateLimited(retry_after) => {
                    let wait = retry_after.unwrap_or(Duration::from_secs(1));
                    self.pacer.cool_down(team, wait);
                    telemetry::record_rate_limit_wait("retry_after");
                    tracing::info!(
                        message_id = message.id,
                        wait_ms = wait.as_millis() as u64,
                        "Slack rate limited the workspace; waiting"
                    );
                    if cancel.is_cancelled()
                        || started.elapsed() + wait > self.settings.pacing_budget
                    {
                        return release(message, clock.now() + wait, Some(reason));
                    }
                    // The pacing loop above now waits out the cooldown.
                }
                ErrorClass::TokenExpired => {
                    if refreshed {
                        return held(message, TOKEN_EXPIRED.into());
                    }
                    refreshed = true;
                    // The loop picks up whatever the slot now holds.
                    self.token_after_rejection(slot, &token).await;
                }
                ErrorClass::Credentials => {
                    self.credentials_refused(slot, &reason).await;
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
                    return self.failed_attempt(
                        message,
                        reason,
                        class == ErrorClass::Ambiguous,
                        clock.now(),
                    );
                }
            }
        }
    }

    /// An attempt that failed in a way worth retrying: back to `pending`
    /// after a backoff, or `failed` once the attempts are spent.
    fn failed_attempt(
        &self,
        message: &ClaimedMessage,
        reason: String,
        ambiguous: bool,
        now: DateTime<Utc>,
    ) -> Outcome {
        let attempts = message.attempts + 1;
        if attempts >= i32::try_from(self.settings.max_attempts).unwrap_or(i32::MAX) {
            return Outcome {
                id: message.id,
                attempts,
                kind: OutcomeKind::Failed { reason },
            };
        }
        let delay = self.retry_delay(attempts);
        Outcome {
            id: message.id,
            attempts,
            kind: OutcomeKind::Retry {
                next_at: now + chrono::Duration::from_std(delay).unwrap_or_default(),
                reason: Some(reason),
                verify_before_post: ambiguous,
            },
        }
    }

    /// Exponential backoff with jitter: `retry_base`, doubling, at most `retry_cap`.
    fn retry_delay(&self, attempts: i32) -> Duration {
        ExponentialBuilder::default()
            .with_min_delay(self.settings.retry_base)
            .with_max_delay(self.settings.retry_cap)
            .with_factor(2.0)
            .with_jitter()
            .with_max_times(usize::try_from(attempts.max(1)).unwrap_or(1))
            .build()
            .last()
            .unwrap_or(self.settings.retry_base)
    }
}

fn held(message: &ClaimedMessage, reason: String) -> Outcome {
    Outcome {
        id: message.id,
        attempts: message.attempts,
        kind: OutcomeKind::Held { reason },
    }
}

/// Back to `pending` without counting an attempt: nothing was tried.
fn release(message: &ClaimedMessage, next_at: DateTime<Utc>, reason: Option<String>) -> Outcome {
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

/// Groups items by conversation, keeping each group in due order.
fn group_by_conversation(items: Vec<Item>) -> Vec<Vec<Item>> {
    let mut index: HashMap<(String, String), usize> = HashMap::new();
    let mut groups: Vec<Vec<Item>> = Vec::new();
    for item in items {
        let key = (item.0.author.team_id.clone(), item.0.channel_id.clone());
        let at = *index.entry(key).or_insert_with(|| {
            groups.push(Vec::new());
            groups.len() - 1
        });
        groups[at].push(item);
    }
    groups
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
                && unescape_text(&h.text) == message.text
        })
    })?;
    Some(history.swap_remove(position))
}
