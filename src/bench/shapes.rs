//! Each workload's shape: sizes at full and `--quick` scale, and the
//! workspaces and message segments a run of it seeds (the table in
//! `workloads` says what each measures).

use std::time::Duration;

use super::Db;
use super::delivery::{DeliveryPlan, Segment, Strategy, WorkspaceSeed};

/// Sizes of the workloads.
#[derive(Debug, Clone)]
pub(super) struct Sizes {
    pub(super) burst: u64,
    pub(super) burst_workspaces: u32,
    pub(super) burst_users: u32,
    pub(super) burst_channels: u32,
    pub(super) hot: u64,
    pub(super) hot_others: u64,
    pub(super) hot_channels: u32,
    pub(super) steady_rows: u64,
    pub(super) steady_per_minute: u64,
    pub(super) steady_minutes: u64,
    pub(super) idle_rows: u64,
    pub(super) scaleout: u64,
    pub(super) command_users: u32,
    pub(super) command_waiting: u64,
    pub(super) command_secs: u64,
}

impl Sizes {
    pub(super) fn full() -> Self {
        Self {
            burst: 1_000_000,
            burst_workspaces: 10,
            burst_users: 1_000,
            burst_channels: 10_000,
            hot: 300,
            hot_others: 20_000,
            hot_channels: 10_000,
            steady_rows: 10_000_000,
            steady_per_minute: 20_000,
            steady_minutes: 5,
            idle_rows: 10_000,
            scaleout: 60_000,
            command_users: 2_000,
            command_waiting: 900,
            command_secs: 30,
        }
    }

    pub(super) fn quick() -> Self {
        Self {
            burst: 20_000,
            burst_workspaces: 2,
            burst_users: 100,
            burst_channels: 1_000,
            hot: 30,
            hot_others: 2_000,
            hot_channels: 1_000,
            steady_rows: 200_000,
            steady_per_minute: 2_000,
            steady_minutes: 2,
            idle_rows: 1_000,
            scaleout: 6_000,
            command_users: 200,
            command_waiting: 900,
            command_secs: 5,
        }
    }
}

fn workspaces(count: u32, users: u32, channels: u32, expired_every: u32) -> Vec<WorkspaceSeed> {
    (0..count)
        .map(|w| WorkspaceSeed {
            team_id: format!("TB{w}"),
            users,
            channels,
            expired_every,
        })
        .collect()
}

/// `count` messages spread over the workspaces, their users and channels,
/// each workspace's share numbered from 0, due at once.
fn spread(workspaces: &[WorkspaceSeed], count: u64) -> Vec<Segment> {
    let n = workspaces.len().max(1) as u64;
    workspaces
        .iter()
        .enumerate()
        .map(|(w, ws)| Segment {
            workspace: w,
            first: 0,
            count: count / n + u64::from((w as u64) < count % n),
            channels: ws.channels,
            channel_offset: 0,
            due_offset: Duration::ZERO,
            step: Duration::ZERO,
            per_step: u64::MAX,
        })
        .collect()
}

pub(super) fn burst(
    sizes: &Sizes,
    db: Db,
    strategy: Strategy,
    latency_ms: u64,
    concurrency: u32,
    budget: Duration,
) -> DeliveryPlan {
    let workspaces = workspaces(
        sizes.burst_workspaces,
        sizes.burst_users,
        sizes.burst_channels,
        10,
    );
    let segments = spread(&workspaces, sizes.burst);
    DeliveryPlan {
        workload: "burst",
        db,
        strategy,
        latency_ms,
        concurrency,
        processes: 1,
        workspaces,
        segments,
        window: Duration::ZERO,
        budget: (strategy == Strategy::Naive).then_some(budget),
        hot_channel: None,
        measure_claim: false,
    }
}

#[allow(clippy::too_many_arguments)]
pub(super) fn hot(
    sizes: &Sizes,
    db: Db,
    strategy: Strategy,
    latency_ms: u64,
    concurrency: u32,
    with_hot: bool,
    budget: Duration,
) -> DeliveryPlan {
    // Channel 0 is the hot one; the others are 1..=hot_channels.
    let workspaces = workspaces(1, 1_000, sizes.hot_channels + 1, 0);
    let mut segments = vec![Segment {
        workspace: 0,
        first: 0,
        count: sizes.hot_others,
        channels: sizes.hot_channels,
        channel_offset: 1,
        due_offset: Duration::ZERO,
        step: Duration::ZERO,
        per_step: u64::MAX,
    }];
    if with_hot {
        segments.push(Segment {
            workspace: 0,
            first: sizes.hot_others,
            count: sizes.hot,
            channels: 1,
            channel_offset: 0,
            due_offset: Duration::ZERO,
            step: Duration::ZERO,
            per_step: u64::MAX,
        });
    }
    DeliveryPlan {
        workload: if with_hot { "hot" } else { "hot-absent" },
        db,
        strategy,
        latency_ms,
        concurrency,
        processes: 1,
        hot_channel: Some(super::delivery::channel_name(&workspaces[0], 0)),
        workspaces,
        segments,
        window: Duration::ZERO,
        budget: (strategy == Strategy::Naive).then_some(budget),
        measure_claim: false,
    }
}

pub(super) fn steady(sizes: &Sizes, db: Db, latency_ms: u64, concurrency: u32) -> DeliveryPlan {
    let workspaces = workspaces(10, 1_000, 10_000, 10);
    let n = workspaces.len() as u64;
    // Each workspace holds its share of the rows; together they have
    // `steady_per_minute` due at each minute.
    let segments = (0..workspaces.len())
        .map(|w| Segment {
            workspace: w,
            first: 0,
            count: sizes.steady_rows / n,
            channels: 10_000,
            channel_offset: 0,
            due_offset: Duration::ZERO,
            step: Duration::from_secs(60),
            per_step: sizes.steady_per_minute / n,
        })
        .collect();
    DeliveryPlan {
        workload: "steady",
        db,
        strategy: Strategy::Pipeline,
        latency_ms,
        concurrency,
        processes: 1,
        workspaces,
        segments,
        window: Duration::from_secs(60 * (sizes.steady_minutes - 1)),
        budget: None,
        hot_channel: None,
        measure_claim: true,
    }
}

pub(super) fn scaleout(
    sizes: &Sizes,
    processes: usize,
    latency_ms: u64,
    concurrency: u32,
) -> DeliveryPlan {
    let workspaces = workspaces(4, 1_000, 15_000, 10);
    let segments = spread(&workspaces, sizes.scaleout);
    DeliveryPlan {
        workload: "scaleout",
        db: Db::Postgres,
        strategy: Strategy::Pipeline,
        latency_ms,
        concurrency,
        processes,
        workspaces,
        segments,
        window: Duration::ZERO,
        budget: None,
        hot_channel: None,
        measure_claim: false,
    }
}
