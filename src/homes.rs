//! Keeping users' Home tabs current without flooding Slack.
//!
//! Every change to someone's messages asks for their Home tab to be
//! republished; asks are coalesced per user (at most one publish in flight
//! and one queued, however many changes arrive) and published at a pace
//! per workspace within Slack's `views.publish` limit. After a delivery,
//! only users who looked at their Home tab lately, or whose message failed
//! or is held, are asked for: everyone else sees a fresh tab when they open
//! it (`app_home_opened` publishes at once).

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::bot::Bot;
use crate::scheduler::AuthorChanges;

/// Slack's `views.publish` allows about 100 calls a minute per workspace
/// (Tier 4); we keep to 50, so other calls of the method still fit.
const PUBLISHES_PER_MINUTE: u32 = 50;
/// Publishes running at once, over all workspaces.
const CONCURRENT_PUBLISHES: usize = 4;
/// Someone who opened their Home tab this recently sees deliveries live.
const VIEWER_MEMORY: Duration = Duration::from_secs(30 * 60);
/// Users waiting for a publish, at most; beyond, asks are dropped (the tab
/// is rebuilt when its user opens it).
const MAX_WAITING: usize = 100_000;
/// Recent viewers remembered, at most.
const MAX_VIEWERS: usize = 100_000;

type UserKey = (String, String);

#[derive(Default)]
struct State {
    /// Users waiting for a publish, oldest ask first.
    queue: VecDeque<UserKey>,
    queued: HashSet<UserKey>,
    /// Being published now; asked again meanwhile if in `again`.
    in_flight: HashSet<UserKey>,
    again: HashSet<UserKey>,
    /// When each workspace may publish next.
    next_slot: HashMap<String, Instant>,
    /// Who opened their Home tab lately.
    viewers: HashMap<UserKey, Instant>,
}

/// The Home tab publisher; one per process.
pub struct Homes {
    state: Mutex<State>,
    wake: Notify,
    /// Woken when a failed or held message may need a notice.
    notices: Notify,
    interval: Duration,
}

impl Default for Homes {
    fn default() -> Self {
        Self {
            state: Mutex::default(),
            wake: Notify::new(),
            notices: Notify::new(),
            interval: Duration::from_secs(60) / PUBLISHES_PER_MINUTE,
        }
    }
}

impl std::fmt::Debug for Homes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Homes").finish_non_exhaustive()
    }
}

impl Homes {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        // Nothing panics while holding the lock, so a poisoned one is whole.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Asks for a user's Home tab to be republished.
    pub fn request(&self, team_id: &str, user_id: &str) {
        let key = (team_id.to_owned(), user_id.to_owned());
        let mut state = self.state();
        if state.in_flight.contains(&key) {
            state.again.insert(key);
        } else if state.queue.len() < MAX_WAITING && state.queued.insert(key.clone()) {
            state.queue.push_back(key);
        }
        drop(state);
        self.wake.notify_one();
    }

    /// The user opened their Home tab: publish it, and keep it current for a while.
    pub fn opened(&self, team_id: &str, user_id: &str) {
        {
            let mut state = self.state();
            if state.viewers.len() >= MAX_VIEWERS {
                let now = Instant::now();
                state
                    .viewers
                    .retain(|_, at| now.duration_since(*at) < VIEWER_MEMORY);
            }
            if state.viewers.len() < MAX_VIEWERS {
                state
                    .viewers
                    .insert((team_id.to_owned(), user_id.to_owned()), Instant::now());
            }
        }
        self.request(team_id, user_id);
    }

    /// The notices follower waits on this.
    pub fn notices(&self) -> &Notify {
        &self.notices
    }

    fn recently_viewed(&self, key: &UserKey) -> bool {
        self.state()
            .viewers
            .get(key)
            .is_some_and(|at| at.elapsed() < VIEWER_MEMORY)
    }

    /// Takes the next user whose workspace may publish now, or says how
    /// long until one may.
    fn next(&self) -> Result<UserKey, Option<Duration>> {
        let mut state = self.state();
        let now = Instant::now();
        let mut soonest: Option<Duration> = None;
        for index in 0..state.queue.len() {
            let team = &state.queue[index].0;
            match state.next_slot.get(team) {
                Some(at) if *at > now => {
                    let wait = *at - now;
                    soonest = Some(soonest.map_or(wait, |s| s.min(wait)));
                }
                _ => {
                    let Some(key) = state.queue.remove(index) else {
                        break;
                    };
                    state.queued.remove(&key);
                    let slot = now + self.interval;
                    state.next_slot.insert(key.0.clone(), slot);
                    state.in_flight.insert(key.clone());
                    return Ok(key);
                }
            }
        }
        state.next_slot.retain(|_, at| *at > now);
        Err(soonest)
    }

    fn done(&self, key: UserKey) {
        let mut state = self.state();
        state.in_flight.remove(&key);
        if state.again.remove(&key) && state.queued.insert(key.clone()) {
            state.queue.push_back(key);
            drop(state);
            self.wake.notify_one();
        }
    }

    /// Publishes asked-for Home tabs until `cancel`.
    pub async fn run(self: Arc<Self>, bot: Arc<Bot>, cancel: CancellationToken) {
        let slots = Arc::new(tokio::sync::Semaphore::new(CONCURRENT_PUBLISHES));
        loop {
            let woken = self.wake.notified();
            match self.next() {
                Ok(key) => {
                    let permit = tokio::select! {
                        permit = slots.clone().acquire_owned() => permit,
                        () = cancel.cancelled() => return,
                    };
                    let (homes, bot) = (self.clone(), bot.clone());
                    tokio::spawn(async move {
                        bot.publish_home(&key.0, &key.1).await;
                        homes.done(key);
                        drop(permit);
                    });
                }
                Err(wait) => {
                    let wait = wait.unwrap_or(Duration::from_secs(3600));
                    tokio::select! {
                        () = woken => {}
                        () = tokio::time::sleep(wait) => {}
                        () = cancel.cancelled() => return,
                    }
                }
            }
        }
    }
}

impl AuthorChanges for Homes {
    fn changed(&self, team_id: &str, user_id: &str, important: bool) {
        if important {
            self.notices.notify_one();
        }
        let key = (team_id.to_owned(), user_id.to_owned());
        if important || self.recently_viewed(&key) {
            self.request(team_id, user_id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn asks_for_one_user_collapse_and_workspaces_are_paced() {
        let homes = Homes::default();
        for _ in 0..5 {
            homes.request("T1", "U1");
        }
        homes.request("T1", "U2");
        homes.request("T2", "U9");
        let first = homes.next().expect("one may go");
        assert_eq!(first, ("T1".to_owned(), "U1".to_owned()));
        // T1 just published: T2 goes next, U2 waits for T1's next slot.
        assert_eq!(
            homes.next().expect("another workspace"),
            ("T2".to_owned(), "U9".to_owned())
        );
        assert!(
            matches!(homes.next(), Err(Some(_))),
            "U2 waits for the pace"
        );
        // Asked again while in flight: exactly one more publish, queued after.
        homes.request("T1", "U1");
        homes.request("T1", "U1");
        homes.done(first);
        let state = homes.state();
        assert_eq!(
            state.queue.len(),
            2,
            "U2 and U1 once more: {:?}",
            state.queue
        );
    }
}
