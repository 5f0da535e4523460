//! One lane per conversation with work: its messages in due order, each at
//! its turn. A lane is a task that lives while its queue has messages, so a
//! message waiting for its conversation's pace, its author's refresh or a
//! rate limit holds up nobody else, and a drain over a hundred thousand
//! conversations runs only as many tasks as it has messages in hand.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use tokio::time::Instant;
use tracing::Instrument;

use super::drain::Drain;
use super::pacing::Turn;
use super::post::{self, PACED};
use super::{conditions, verifier};
use crate::store::ClaimedMessage;

/// A conversation: workspace and channel.
pub(super) type LaneKey = (String, String);

/// A message waiting in its lane, with its turn.
pub(super) struct Item {
    pub(super) message: ClaimedMessage,
    pub(super) turn: Instant,
}

/// The lanes with work, and their queues. A lane's entry exists exactly
/// while its task runs.
#[derive(Default)]
pub(super) struct Lanes {
    queues: Mutex<HashMap<LaneKey, VecDeque<Item>>>,
}

fn key(message: &ClaimedMessage) -> LaneKey {
    (message.author.team_id.clone(), message.channel_id.clone())
}

/// Hands a claim's messages to their lanes, the in-doubt ones, grouped
/// by conversation, to the verifier, and the conditional ones to be checked.
pub(super) fn route(drain: &Arc<Drain>, claimed: Vec<ClaimedMessage>) {
    let mut in_doubt: HashMap<LaneKey, Vec<ClaimedMessage>> = HashMap::new();
    for message in claimed {
        if message.verify_before_post {
            in_doubt.entry(key(&message)).or_default().push(message);
        } else if message.options.conditions.any() {
            let drain = drain.clone();
            drain
                .tasks
                .clone()
                .spawn(conditions::check(drain, message).in_current_span());
        } else {
            enqueue(drain, message);
        }
    }
    for group in in_doubt.into_values() {
        let drain = drain.clone();
        drain
            .tasks
            .clone()
            .spawn(verifier::verify(drain, group).in_current_span());
    }
}

/// Gives a message its turn in its conversation and queues it; a turn
/// beyond the pacing budget sends it back to wait for it.
pub(super) fn enqueue(drain: &Arc<Drain>, message: ClaimedMessage) {
    let now = Instant::now();
    let pacer = &drain.shared.pacer;
    let turn = if let Some(turn_at) = message.turn_at {
        // The database keeps the pace (several processes share it).
        // The database decided which turns it took; its word stands.
        let wait = (turn_at - drain.clock.now()).to_std().unwrap_or_default();
        if message.turn_taken {
            Turn::At(now + wait)
        } else {
            Turn::Later(wait)
        }
    } else {
        pacer.reserve(&message.author.team_id, &message.channel_id, now)
    };
    let turn = match turn {
        Turn::At(at) => at,
        Turn::Later(wait) => {
            crate::telemetry::record_rate_limit_wait("deferred");
            let outcome = post::release(&message, drain.clock.now() + wait, Some(PACED.into()));
            drain.recorder.send(&message, outcome);
            return;
        }
    };
    let lane = key(&message);
    let item = Item { message, turn };
    // Nothing panics while holding the lock, so a poisoned one is still whole.
    let mut queues = drain
        .lanes
        .queues
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(queue) = queues.get_mut(&lane) {
        queue.push_back(item);
        return;
    }
    queues.insert(lane.clone(), VecDeque::from([item]));
    drop(queues);
    let task_drain = drain.clone();
    drain
        .tasks
        .spawn(run_lane(task_drain, lane).in_current_span());
}

/// Posts the lane's messages one after another until its queue is empty.
async fn run_lane(drain: Arc<Drain>, lane: LaneKey) {
    loop {
        let next = {
            let mut queues = drain
                .lanes
                .queues
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            match queues.get_mut(&lane).and_then(VecDeque::pop_front) {
                Some(item) => item,
                None => {
                    queues.remove(&lane);
                    return;
                }
            }
        };
        let outcome = post::deliver(&drain, &next).await;
        drain.recorder.send(&next.message, outcome);
    }
}
