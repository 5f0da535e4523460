//! Posting at Slack's pace: about one message a second per conversation
//! with short bursts, so a burst into one channel is spread out rather than
//! refused; and nothing into a conversation that answered 429 until its
//! `Retry-After` has passed.
//!
//! Each conversation's turns are kept as a generic cell rate (GCRA): a
//! message gets the next free turn at routing time, in due order. A turn
//! further away than the pacing budget is not waited for in memory: the
//! message goes back to `pending` until about when its turn would come, its
//! place in the queue spreading it from the others sent back, and is paced
//! again when it returns (so however late it is claimed, a conversation
//! never gets more than its burst at once).
//!
//! Slack's 429 does not say whether the conversation or the workspace is
//! limited. A 429 cools down its conversation only; when three of a
//! workspace's conversations answer 429 within one `Retry-After`, the
//! workspace is taken to be limited and cools down as a whole.
//!
//! A conversation with nothing ahead (no turn, post, deferral or 429 still
//! to come) is forgotten every few thousand turns: it would behave the same
//! if never seen, and a drain over a hundred thousand conversations then
//! keeps only those of the last few seconds.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

/// Conversations of one workspace answering 429 together that mean the
/// workspace, not the conversation, is limited.
const WORKSPACE_LIMIT_SIGNS: usize = 3;

type LaneKey = (String, String);

/// When a message may be posted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Turn {
    /// At this instant (now or within the pacing budget).
    At(Instant),
    /// Not within the budget: come back after this long.
    Later(Duration),
}

#[derive(Debug)]
struct LanePace {
    /// The GCRA's theoretical arrival time of the next post.
    tat: Instant,
    /// The same for posts actually made: a lane that stalled (a 429, a
    /// refresh) and finds several turns overdue catches up at the pace,
    /// not all at once.
    posted_tat: Option<Instant>,
    /// When the last message sent back to wait is due to return.
    deferred_tail: Option<Instant>,
    cooldown_until: Option<Instant>,
}

#[derive(Debug, Default)]
struct TeamPace {
    cooldown_until: Option<Instant>,
    /// Recent 429s: when, and in which conversation.
    refusals: VecDeque<(Instant, String)>,
}

pub(super) struct Pacer {
    interval: Duration,
    /// How far ahead of the cell rate a burst may run.
    tolerance: Duration,
    budget: Duration,
    lanes: Mutex<HashMap<LaneKey, LanePace>>,
    teams: Mutex<HashMap<String, TeamPace>>,
    /// Turns taken since idle conversations were last forgotten.
    since_pruned: std::sync::atomic::AtomicUsize,
}

/// Turns taken between two sweeps of idle conversations during a drain:
/// often enough that the map holds about the conversations of the last
/// few seconds, not every one a long drain touched.
const PRUNE_EVERY: usize = 8_192;

impl LanePace {
    /// Nothing ahead: the conversation may post as if never seen.
    fn idle_at(&self, now: Instant) -> bool {
        self.tat <= now
            && self.posted_tat.is_none_or(|t| t <= now)
            && self.deferred_tail.is_none_or(|t| t <= now)
            && self.cooldown_until.is_none_or(|t| t <= now)
    }
}

impl Pacer {
    pub(super) fn new(per_second: u32, burst: u32, budget: Duration) -> Self {
        let interval = Duration::from_secs(1) / per_second.max(1);
        Self {
            interval,
            tolerance: interval * burst.max(1).saturating_sub(1),
            budget,
            lanes: Mutex::default(),
            teams: Mutex::default(),
            since_pruned: Default::default(),
        }
    }

    /// The time between two posts into one conversation.
    pub(super) fn interval(&self) -> Duration {
        self.interval
    }

    /// How far ahead of its pace a conversation's burst may run.
    pub(super) fn tolerance(&self) -> Duration {
        self.tolerance
    }

    /// Takes the next turn of `channel` for one message.
    pub(super) fn reserve(&self, team_id: &str, channel_id: &str, now: Instant) -> Turn {
        let team_hold = self.team_hold(team_id, now);
        let Ok(mut lanes) = self.lanes.lock() else {
            return Turn::At(now);
        };
        let taken = self
            .since_pruned
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        if taken >= PRUNE_EVERY {
            self.since_pruned
                .store(0, std::sync::atomic::Ordering::Relaxed);
            lanes.retain(|_, lane| !lane.idle_at(now));
        }
        let lane = lanes
            .entry((team_id.to_owned(), channel_id.to_owned()))
            .or_insert(LanePace {
                tat: now,
                posted_tat: None,
                deferred_tail: None,
                cooldown_until: None,
            });
        let mut turn = now.max(lane.tat.checked_sub(self.tolerance).unwrap_or(now));
        for hold in [lane.cooldown_until, team_hold].into_iter().flatten() {
            turn = turn.max(hold);
        }
        if turn.duration_since(now) <= self.budget {
            lane.tat = lane.tat.max(turn) + self.interval;
            return Turn::At(turn);
        }
        // Sent back: no turn is taken, but its place in the queue is.
        let back_at = lane.deferred_tail.map_or(turn, |tail| tail.max(turn));
        lane.deferred_tail = Some(back_at + self.interval);
        Turn::Later(back_at.duration_since(now))
    }

    /// When a message whose turn is `turn` may be posted into `channel`:
    /// its turn, past any 429, and no sooner than the posts already made
    /// allow. `Ok` when that is now, and the post is counted; else the
    /// time to wait until.
    pub(super) fn take_post(
        &self,
        team_id: &str,
        channel_id: &str,
        turn: Instant,
        now: Instant,
    ) -> Result<(), Instant> {
        let team = self.team_hold(team_id, now);
        let mut lanes = self.lanes.lock().unwrap_or_else(|p| p.into_inner());
        let lane = lanes
            .entry((team_id.to_owned(), channel_id.to_owned()))
            .or_insert(LanePace {
                tat: now,
                posted_tat: None,
                deferred_tail: None,
                cooldown_until: None,
            });
        let mut at = turn;
        for hold in [lane.cooldown_until, team].into_iter().flatten() {
            at = at.max(hold);
        }
        if let Some(posted) = lane.posted_tat {
            at = at.max(posted.checked_sub(self.tolerance).unwrap_or(now));
        }
        if at > now {
            return Err(at);
        }
        lane.posted_tat = Some(lane.posted_tat.map_or(now, |t| t.max(now)) + self.interval);
        Ok(())
    }

    /// Slack answered 429 for `channel`, asking to wait `wait`.
    pub(super) fn cool_down(&self, team_id: &str, channel_id: &str, wait: Duration, now: Instant) {
        let until = now + wait;
        if let Ok(mut lanes) = self.lanes.lock() {
            let lane = lanes
                .entry((team_id.to_owned(), channel_id.to_owned()))
                .or_insert(LanePace {
                    tat: now,
                    posted_tat: None,
                    deferred_tail: None,
                    cooldown_until: None,
                });
            lane.cooldown_until = Some(lane.cooldown_until.map_or(until, |u| u.max(until)));
            lane.tat = lane.tat.max(until);
        }
        let Ok(mut teams) = self.teams.lock() else {
            return;
        };
        let team = teams.entry(team_id.to_owned()).or_default();
        let window = wait.max(Duration::from_secs(1));
        while team
            .refusals
            .front()
            .is_some_and(|(at, _)| now.duration_since(*at) > window)
        {
            team.refusals.pop_front();
        }
        if !team.refusals.iter().any(|(_, c)| c == channel_id) {
            team.refusals.push_back((now, channel_id.to_owned()));
        }
        if team.refusals.len() >= WORKSPACE_LIMIT_SIGNS {
            tracing::info!(
                team_id,
                wait_ms = wait.as_millis() as u64,
                "several conversations answered 429: the workspace is rate limited"
            );
            team.cooldown_until = Some(team.cooldown_until.map_or(until, |u| u.max(until)));
        }
    }

    fn team_hold(&self, team_id: &str, now: Instant) -> Option<Instant> {
        let teams = self.teams.lock().ok()?;
        teams
            .get(team_id)?
            .cooldown_until
            .filter(|until| *until > now)
    }

    /// Drops state for conversations and workspaces that are idle again, so
    /// the maps do not grow with every conversation ever posted to.
    pub(super) fn forget_idle(&self, now: Instant) {
        if let Ok(mut lanes) = self.lanes.lock() {
            lanes.retain(|_, lane| !lane.idle_at(now));
        }
        if let Ok(mut teams) = self.teams.lock() {
            teams.retain(|_, team| {
                team.cooldown_until.is_some_and(|t| t > now) || !team.refusals.is_empty()
            });
            for team in teams.values_mut() {
                team.refusals
                    .retain(|(at, _)| now.duration_since(*at) < Duration::from_secs(60));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pacer() -> Pacer {
        Pacer::new(1, 2, Duration::from_secs(5))
    }

    #[test]
    fn a_burst_into_one_channel_is_spread_out_but_other_channels_go_at_once() {
        let pacer = pacer();
        let now = Instant::now();
        assert_eq!(pacer.reserve("T1", "C1", now), Turn::At(now));
        assert_eq!(pacer.reserve("T1", "C1", now), Turn::At(now));
        assert_eq!(
            pacer.reserve("T1", "C1", now),
            Turn::At(now + Duration::from_secs(1))
        );
        assert_eq!(pacer.reserve("T1", "C2", now), Turn::At(now));
    }

    #[test]
    fn turns_beyond_the_budget_come_back_later_spread_by_position() {
        let pacer = pacer();
        let now = Instant::now();
        let turns: Vec<Turn> = (0..10).map(|_| pacer.reserve("T1", "C1", now)).collect();
        // Two at once, then one a second up to the five-second budget.
        assert_eq!(turns[6], Turn::At(now + Duration::from_secs(5)));
        let later: Vec<Duration> = turns[7..]
            .iter()
            .map(|t| match t {
                Turn::Later(wait) => *wait,
                Turn::At(_) => panic!("expected a deferral: {turns:?}"),
            })
            .collect();
        assert_eq!(
            later,
            [6, 7, 8].map(Duration::from_secs),
            "each at its own place in the queue"
        );
        // A newcomer queues behind the deferred ones.
        assert_eq!(
            pacer.reserve("T1", "C1", now),
            Turn::Later(Duration::from_secs(9))
        );
        // Back at its time, a deferred message takes a turn like any other.
        let later = now + Duration::from_secs(6);
        assert_eq!(pacer.reserve("T1", "C1", later), Turn::At(later));
    }

    #[test]
    fn a_lane_catching_up_on_overdue_turns_posts_at_the_pace() {
        let pacer = pacer();
        let start = Instant::now();
        // Five turns all overdue by now (the lane was held up).
        let now = start + Duration::from_secs(10);
        assert_eq!(pacer.take_post("T1", "C1", start, now), Ok(()));
        assert_eq!(pacer.take_post("T1", "C1", start, now), Ok(()), "the burst");
        let next = pacer
            .take_post("T1", "C1", start, now)
            .expect_err("then the pace");
        assert_eq!(next, now + Duration::from_secs(1));
        assert_eq!(pacer.take_post("T1", "C1", start, next), Ok(()));
    }

    #[test]
    fn a_429_holds_its_conversation_and_three_hold_the_workspace() {
        let pacer = pacer();
        let now = Instant::now();
        pacer.cool_down("T1", "C1", Duration::from_secs(30), now);
        assert!(pacer.take_post("T1", "C1", now, now).is_err());
        assert_eq!(
            pacer.take_post("T1", "C2", now, now),
            Ok(()),
            "other conversations go on"
        );
        assert!(matches!(pacer.reserve("T1", "C1", now), Turn::Later(_)));
        pacer.cool_down("T1", "C2", Duration::from_secs(30), now);
        pacer.cool_down("T1", "C3", Duration::from_secs(30), now);
        assert!(
            pacer.take_post("T1", "C9", now, now).is_err(),
            "the workspace is limited"
        );
        assert_eq!(pacer.take_post("T2", "C1", now, now), Ok(()));
    }
}
