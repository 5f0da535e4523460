//! The series keeper: each settled occurrence brings exactly the next,
//! in the author's zone across daylight-saving changes; a failed one does
//! not stop the series, a held one holds it; a series ends with its rule;
//! several processes create each occurrence once.

use std::sync::{Arc, Mutex};

use chrono::{DateTime, NaiveTime, TimeZone, Utc, Weekday};
use chrono_tz::Tz;
use slack_scheduler::clock::Clock;
use slack_scheduler::domain::recurrence::{Ends, Recurrence, Repeat, Schedule};
use slack_scheduler::domain::{DueTime, MessageStatus, MessageText, Outcome, OutcomeKind};
use slack_scheduler::recurring::Keeper;
use slack_scheduler::scheduler::WakeSignal;
use slack_scheduler::store::{
    Author, ClaimRequest, MessageRecord, NewSeries, OutcomeRecord, SeriesStatus, Store,
};

use crate::common::TestDb;
use crate::common::harness::{ALICE, GENERAL, TEAM};
use crate::{on_both_backends, on_postgres};

/// A clock the test moves by hand.
#[derive(Clone)]
struct Hand(Arc<Mutex<DateTime<Utc>>>);

impl Hand {
    fn at(at: DateTime<Utc>) -> Self {
        Self(Arc::new(Mutex::new(at)))
    }

    fn set(&self, at: DateTime<Utc>) {
        *self.0.lock().expect("clock") = at;
    }

    fn clock(&self) -> Arc<Clock> {
        let hand = self.0.clone();
        Clock::with_local(move || *hand.lock().expect("clock"))
    }
}

fn keeper(store: &Store, hand: &Hand) -> Keeper {
    Keeper::new(store.clone(), hand.clock(), Arc::new(WakeSignal::default()))
}

fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap()
}

async fn author(store: &Store, now: DateTime<Utc>) -> Author {
    store.ensure_user(TEAM, ALICE, now).await.expect("author")
}

/// A series starting at `now` (its first occurrence checked as the modal does).
async fn create(
    store: &Store,
    author: &Author,
    recurrence: Recurrence,
    tz: Tz,
    now: DateTime<Utc>,
) -> i64 {
    let (schedule, first) = Schedule::start(&recurrence, tz, now).expect("a valid series");
    let series = NewSeries {
        author_id: author.id,
        team_id: TEAM.into(),
        user_id: ALICE.into(),
        channel_id: GENERAL.into(),
        text: MessageText::parse("standup").expect("text"),
        rich_text: None,
        options: Default::default(),
        recurrence: recurrence.clone(),
        tz,
        anchor: schedule.anchor,
        first: DueTime::parse(first, now).expect("due"),
    };
    store.create_series(&[series], now).await.expect("stored")[0].0
}

/// The waiting occurrences of a series.
async fn waiting(store: &Store, series: i64) -> Vec<MessageRecord> {
    store
        .all_messages()
        .await
        .expect("read")
        .into_iter()
        .filter(|m| m.series_id == Some(series) && m.status == MessageStatus::Pending)
        .collect()
}

/// Claims what is due at `now` and records `kind` for it, as a drain would.
async fn settle(store: &Store, now: DateTime<Utc>, kind: impl Fn(i64) -> OutcomeKind) -> usize {
    let claimed = store
        .claim_due(&ClaimRequest {
            now,
            limit: 100,
            lease_until: now + chrono::Duration::minutes(5),
            claim_token: "test-claim".into(),
            refresh_before: now,
            refresh_lock_until: now,
            pace_interval: chrono::Duration::milliseconds(1),
            pace_tolerance: chrono::Duration::zero(),
            pace_budget: chrono::Duration::seconds(20),
        })
        .await
        .expect("claim");
    let records: Vec<OutcomeRecord> = claimed
        .iter()
        .map(|m| OutcomeRecord {
            outcome: Outcome {
                id: m.id,
                attempts: 1,
                kind: kind(m.id),
            },
            claim_token: m.claim_token.clone(),
        })
        .collect();
    let report = store.record_outcomes(&records, now).await;
    assert!(report.unwritten.is_empty() && report.unreachable.is_empty());
    claimed.len()
}

fn sent(now: DateTime<Utc>) -> impl Fn(i64) -> OutcomeKind {
    move |id| OutcomeKind::Sent {
        ts: format!("{}.{id:06}", now.timestamp()),
        at: now,
    }
}

fn at_nine(repeat: fn(NaiveTime) -> Repeat) -> Recurrence {
    Recurrence {
        repeat: repeat(NaiveTime::from_hms_opt(9, 0, 0).expect("time")),
        ends: Ends::Never,
    }
}

on_both_backends! {
    /// Every two hours: each time the waiting occurrence is sent, the keeper
    /// creates the next, numbered in order, and only ever one waits.
    async fn each_settled_occurrence_brings_exactly_the_next(db: TestDb) {
        let store = db.store().await;
        let start = utc(2027, 1, 4, 8, 0);
        let hand = Hand::at(start);
        let alice = author(&store, start).await;
        let every_two = Recurrence { repeat: Repeat::Hours { hours: 2 }, ends: Ends::Never };
        let series = create(&store, &alice, every_two, Tz::UTC, start).await;
        let keeper = keeper(&store, &hand);
        for k in 0..3 {
            let due = start + chrono::Duration::hours(2 * (k + 1));
            let first = waiting(&store, series).await;
            assert_eq!(first.len(), 1, "one occurrence waits");
            assert_eq!((first[0].due_at, first[0].occurrence), (due, Some(k as i32 + 1)));
            assert_eq!(keeper.step().await.expect("step"), 0, "nothing to create while it waits");
            hand.set(due + chrono::Duration::seconds(5));
            assert_eq!(settle(&store, due + chrono::Duration::seconds(5), sent(due)).await, 1);
            assert_eq!(keeper.step().await.expect("step"), 1, "the next, once");
            assert_eq!(keeper.step().await.expect("step"), 0, "and only once");
        }
        let stats = store.message_stats(None).await.expect("stats");
        assert_eq!((stats.pending, stats.sent), (1, 3), "pendingCount counts the next occurrence");
        let record = store.series(series).await.expect("read").expect("series");
        assert_eq!((record.occurrences, record.status), (4, SeriesStatus::Active));
    }
}

/// Creates a daily 9:00 series in `tz` at `start` and settles it `days`
/// times, returning each occurrence's due time.
async fn nine_oclocks(db: &TestDb, tz: Tz, start: DateTime<Utc>, days: usize) -> Vec<String> {
    let store = db.store().await;
    let hand = Hand::at(start);
    let alice = author(&store, start).await;
    let series = create(&store, &alice, at_nine(|at| Repeat::Day { at }), tz, start).await;
    let keeper = keeper(&store, &hand);
    let mut seen = Vec::new();
    for _ in 0..days {
        let next = waiting(&store, series).await;
        let due = next[0].due_at;
        seen.push(due.with_timezone(&tz).format("%m-%d %H:%M %Z").to_string());
        hand.set(due + chrono::Duration::minutes(1));
        settle(&store, due + chrono::Duration::minutes(1), sent(due)).await;
        keeper.step().await.expect("step");
    }
    seen
}

on_both_backends! {
    /// 9:00 in New York stays 9:00 across both of 2027's changes.
    async fn nine_stays_nine_in_new_york_in_march_and_november(db: TestDb) {
        let ny = chrono_tz::America::New_York;
        assert_eq!(
            nine_oclocks(&db, ny, utc(2027, 3, 12, 12, 0), 4).await,
            ["03-12 09:00 EST", "03-13 09:00 EST", "03-14 09:00 EDT", "03-15 09:00 EDT"]
        );
        assert_eq!(
            nine_oclocks(&db, ny, utc(2027, 11, 5, 12, 0), 4).await,
            ["11-05 09:00 EDT", "11-06 09:00 EDT", "11-07 09:00 EST", "11-08 09:00 EST"]
        );
    }
}

on_both_backends! {
    /// Berlin and Sydney keep their 9:00 through their own changes.
    async fn berlin_and_sydney_keep_their_local_time(db: TestDb) {
        assert_eq!(
            nine_oclocks(&db, chrono_tz::Europe::Berlin, utc(2027, 3, 27, 6, 0), 3).await,
            ["03-27 09:00 CET", "03-28 09:00 CEST", "03-29 09:00 CEST"]
        );
        assert_eq!(
            nine_oclocks(&db, chrono_tz::Australia::Sydney, utc(2027, 4, 2, 0, 0), 3).await,
            ["04-03 09:00 AEDT", "04-04 09:00 AEST", "04-05 09:00 AEST"]
        );
    }
}

on_both_backends! {
    /// A failed occurrence settles like a sent one: the series goes on.
    async fn a_failed_occurrence_does_not_stop_the_series(db: TestDb) {
        let store = db.store().await;
        let start = utc(2027, 1, 4, 6, 0);
        let hand = Hand::at(start);
        let alice = author(&store, start).await;
        let series = create(&store, &alice, at_nine(|at| Repeat::Weekday { at }), Tz::UTC, start).await;
        let due = waiting(&store, series).await[0].due_at;
        hand.set(due + chrono::Duration::minutes(1));
        settle(&store, due + chrono::Duration::minutes(1), |_| OutcomeKind::Failed { reason: "is_archived".into() }).await;
        assert_eq!(keeper(&store, &hand).step().await.expect("step"), 1);
        let next = waiting(&store, series).await;
        assert_eq!(next[0].due_at, due + chrono::Duration::days(1), "Tuesday, after Monday's failure");
    }
}

on_both_backends! {
    /// A held occurrence (its author must reconnect) holds the series:
    /// nothing more is created until it settles.
    async fn a_held_occurrence_holds_the_series(db: TestDb) {
        let store = db.store().await;
        let start = utc(2027, 1, 4, 6, 0);
        let hand = Hand::at(start);
        let alice = author(&store, start).await;
        let series = create(&store, &alice, at_nine(|at| Repeat::Day { at }), Tz::UTC, start).await;
        let due = waiting(&store, series).await[0].due_at;
        let later = due + chrono::Duration::minutes(1);
        hand.set(later);
        settle(&store, later, |_| OutcomeKind::Held { reason: "token_revoked".into(), in_doubt: false }).await;
        let keeper = keeper(&store, &hand);
        assert_eq!(keeper.step().await.expect("step"), 0, "held: the series waits");
        let all = store.all_messages().await.expect("read");
        assert_eq!(all.len(), 1);
        // The author sends the held one after reconnecting: it settles, the series goes on.
        let id = all[0].id;
        store.execute_raw("UPDATE users SET token_status = 'active'").await.expect("reconnected");
        store.send_now(id, alice.id, later).await.expect("send now");
        settle(&store, later + chrono::Duration::seconds(1), sent(later)).await;
        assert_eq!(keeper.step().await.expect("step"), 1);
        let next = waiting(&store, series).await;
        assert_eq!(next[0].due_at, due + chrono::Duration::days(1));
    }
}

on_both_backends! {
    /// `for 2 times`: after the second, the series has ended.
    async fn a_series_ends_after_its_times(db: TestDb) {
        let store = db.store().await;
        let start = utc(2027, 1, 4, 6, 0);
        let hand = Hand::at(start);
        let alice = author(&store, start).await;
        let twice = Recurrence {
            repeat: Repeat::Week { days: vec![Weekday::Mon, Weekday::Wed], at: NaiveTime::from_hms_opt(9, 0, 0).expect("t") },
            ends: Ends::After { times: 2 },
        };
        let series = create(&store, &alice, twice, Tz::UTC, start).await;
        let keeper = keeper(&store, &hand);
        for _ in 0..2 {
            let due = waiting(&store, series).await[0].due_at;
            hand.set(due + chrono::Duration::minutes(1));
            settle(&store, due + chrono::Duration::minutes(1), sent(due)).await;
            keeper.step().await.expect("step");
        }
        let record = store.series(series).await.expect("read").expect("series");
        assert_eq!(record.status, SeriesStatus::Ended);
        assert!(waiting(&store, series).await.is_empty());
        assert_eq!(store.message_stats(None).await.expect("stats").sent, 2);
    }
}

on_postgres! {
    /// Two processes' keepers race over forty series wanting their next
    /// occurrence: each series gets exactly one.
    async fn two_processes_create_each_occurrence_once(db: TestDb) {
        let first = db.store().await;
        let second = db.store().await;
        let start = utc(2027, 1, 4, 6, 0);
        let hand = Hand::at(start);
        let alice = author(&first, start).await;
        let mut all = Vec::new();
        for _ in 0..40 {
            all.push(create(&first, &alice, at_nine(|at| Repeat::Day { at }), Tz::UTC, start).await);
        }
        let due = utc(2027, 1, 4, 9, 0);
        hand.set(due + chrono::Duration::minutes(1));
        assert_eq!(settle(&first, due + chrono::Duration::minutes(1), sent(due)).await, 40);
        let (a, b) = (keeper(&first, &hand), keeper(&second, &hand));
        let (made_a, made_b) = tokio::join!(a.step(), b.step());
        let (again_a, again_b) = tokio::join!(a.step(), b.step());
        let made = made_a.expect("a") + made_b.expect("b") + again_a.expect("a") + again_b.expect("b");
        assert_eq!(made, 40, "each next occurrence created once in all");
        for series in all {
            let next = waiting(&first, series).await;
            assert_eq!(next.len(), 1, "series {series}");
            assert_eq!((next[0].occurrence, next[0].due_at), (Some(2), due + chrono::Duration::days(1)));
        }
    }
}
