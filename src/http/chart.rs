//! The status page's charts, computed here and drawn by the template as
//! inline SVG: no JavaScript, nothing to build, readable on a phone.
//!
//! Samples of the running totals become 24 hourly buckets (what was sent
//! and failed in each hour, and the pending count at its end), and buckets
//! become coordinates in a fixed view box that the SVG scales to any width.

use chrono::{DateTime, DurationRound, Utc};

use crate::store::StatusSample;

pub const HOURS: usize = 24;
/// The view box: wide and short, so a phone shows it whole.
pub const WIDTH: f64 = 360.0;
pub const HEIGHT: f64 = 140.0;
/// Room at the bottom for the hour labels.
const AXIS: f64 = 16.0;

/// One hour of the last day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HourBucket {
    pub start: DateTime<Utc>,
    pub sent: i64,
    pub failed: i64,
    /// The pending count at the hour's last sample, if it has one.
    pub pending: Option<i64>,
}

/// Buckets for the 24 hours up to and including `now`'s, oldest first. The
/// difference between two samples is counted in the later one's hour; a
/// total that went down (rows deleted) counts as nothing, not as negative.
pub fn hourly(samples: &[StatusSample], now: DateTime<Utc>) -> Vec<HourBucket> {
    let hour = chrono::Duration::hours(1);
    let current = now.duration_trunc(hour).unwrap_or(now);
    let first = current - hour * (HOURS as i32 - 1);
    let mut buckets: Vec<HourBucket> = (0..HOURS)
        .map(|i| HourBucket {
            start: first + hour * i as i32,
            sent: 0,
            failed: 0,
            pending: None,
        })
        .collect();
    let index = |at: DateTime<Utc>| -> Option<usize> {
        if at < first || at >= current + hour {
            return None;
        }
        usize::try_from((at - first).num_hours()).ok()
    };
    for (i, sample) in samples.iter().enumerate() {
        let Some(slot) = index(sample.taken_at) else {
            continue;
        };
        buckets[slot].pending = Some(sample.pending);
        // A difference from before the window would pile days into one hour.
        if let Some(previous) = i
            .checked_sub(1)
            .map(|p| &samples[p])
            .filter(|p| index(p.taken_at).is_some())
        {
            buckets[slot].sent += (sample.sent - previous.sent).max(0);
            buckets[slot].failed += (sample.failed - previous.failed).max(0);
        }
    }
    buckets
}

/// A stacked bar: sent below, failed on top.
#[derive(Debug, Clone, PartialEq)]
pub struct Bar {
    pub x: String,
    pub width: String,
    pub sent_y: String,
    pub sent_height: String,
    pub failed_y: String,
    pub failed_height: String,
    pub title: String,
}

/// A label under the chart.
#[derive(Debug, Clone, PartialEq)]
pub struct Tick {
    pub x: String,
    /// `start`, `middle` or `end`: the outer labels keep inside the box.
    pub anchor: &'static str,
    pub label: String,
}

/// Both charts, ready for the template.
#[derive(Debug, Clone, PartialEq)]
pub struct Charts {
    pub bars: Vec<Bar>,
    /// The largest hourly total the bar chart is scaled to.
    pub bar_max: i64,
    /// `x,y x,y …` of the pending line; empty without samples.
    pub pending_points: String,
    pub pending_max: i64,
    pub ticks: Vec<Tick>,
    pub baseline_y: String,
    pub has_samples: bool,
}

fn coordinate(value: f64) -> String {
    format!("{value:.1}")
}

pub fn draw(buckets: &[HourBucket]) -> Charts {
    let plot = HEIGHT - AXIS;
    let step = WIDTH / buckets.len().max(1) as f64;
    let bar_max = buckets
        .iter()
        .map(|b| b.sent + b.failed)
        .max()
        .unwrap_or(0)
        .max(1);
    let scale = |n: i64, max: i64| plot * n as f64 / max as f64;
    let bars = buckets
        .iter()
        .enumerate()
        .map(|(i, b)| {
            let sent = scale(b.sent, bar_max);
            let failed = scale(b.failed, bar_max);
            Bar {
                x: coordinate(i as f64 * step + 1.0),
                width: coordinate((step - 2.0).max(1.0)),
                sent_y: coordinate(plot - sent),
                sent_height: coordinate(sent),
                failed_y: coordinate(plot - sent - failed),
                failed_height: coordinate(failed),
                title: format!(
                    "{} UTC: {} sent, {} failed",
                    b.start.format("%H:00"),
                    b.sent,
                    b.failed
                ),
            }
        })
        .collect();
    let pending_max = buckets
        .iter()
        .filter_map(|b| b.pending)
        .max()
        .unwrap_or(0)
        .max(1);
    let pending_points = buckets
        .iter()
        .enumerate()
        .filter_map(|(i, b)| {
            b.pending.map(|p| {
                format!(
                    "{},{}",
                    coordinate(i as f64 * step + step / 2.0),
                    coordinate(plot - scale(p, pending_max))
                )
            })
        })
        .collect::<Vec<_>>()
        .join(" ");
    let ticks = [0, 6, 12, 18, HOURS - 1]
        .iter()
        .filter_map(|&i| buckets.get(i).map(|b| (i, b)))
        .map(|(i, b)| {
            let (x, anchor) = match i {
                0 => (0.0, "start"),
                i if i + 1 == buckets.len() => (WIDTH, "end"),
                i => (i as f64 * step + step / 2.0, "middle"),
            };
            Tick {
                x: coordinate(x),
                anchor,
                label: b.start.format("%H:00").to_string(),
            }
        })
        .collect();
    Charts {
        bars,
        bar_max,
        has_samples: !pending_points.is_empty(),
        pending_points,
        pending_max,
        ticks,
        baseline_y: coordinate(plot),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(h: u32, m: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 1, h, m, 0)
            .single()
            .expect("valid")
    }

    fn sample(taken_at: DateTime<Utc>, pending: i64, sent: i64, failed: i64) -> StatusSample {
        StatusSample {
            taken_at,
            pending,
            sent,
            failed,
            held: 0,
        }
    }

    #[test]
    fn differences_of_the_totals_land_in_the_later_samples_hour() {
        let samples = [
            sample(at(8, 55), 10, 100, 1),
            sample(at(9, 5), 8, 110, 1),
            sample(at(9, 55), 5, 130, 3),
            sample(at(10, 0), 4, 131, 3),
        ];
        let buckets = hourly(&samples, at(10, 20));
        assert_eq!(buckets.len(), HOURS);
        let nine = &buckets[HOURS - 2];
        assert_eq!(nine.start, at(9, 0));
        assert_eq!((nine.sent, nine.failed, nine.pending), (30, 2, Some(5)));
        let ten = &buckets[HOURS - 1];
        assert_eq!((ten.sent, ten.failed, ten.pending), (1, 0, Some(4)));
        assert_eq!(
            buckets[HOURS - 3].sent,
            0,
            "the first sample has nothing to compare to"
        );
    }

    #[test]
    fn a_total_that_drops_counts_as_nothing_and_old_samples_are_ignored() {
        let samples = [
            sample(at(10, 0) - chrono::Duration::days(2), 1, 5, 0),
            sample(at(9, 0), 1, 50, 0),
            sample(at(9, 30), 1, 40, 0),
        ];
        let buckets = hourly(&samples, at(10, 0));
        assert!(buckets.iter().all(|b| b.sent >= 0));
        assert_eq!(buckets[HOURS - 2].sent, 0);
    }

    #[test]
    fn bars_fill_the_plot_at_the_busiest_hour_and_stack_failures_on_top() {
        let mut buckets = hourly(&[], at(10, 0));
        buckets[3].sent = 30;
        buckets[3].failed = 10;
        buckets[5].sent = 20;
        buckets[5].pending = Some(7);
        let charts = draw(&buckets);
        assert_eq!(charts.bar_max, 40);
        let busiest = &charts.bars[3];
        assert_eq!(busiest.failed_y, "0.0", "the tallest stack reaches the top");
        assert_eq!(busiest.sent_height, "93.0");
        assert_eq!(charts.bars[0].sent_height, "0.0");
        assert_eq!(charts.pending_points, "82.5,0.0");
        assert!(charts.has_samples);
        assert_eq!(charts.ticks.len(), 5);
        assert!(charts.bars[3].title.ends_with("30 sent, 10 failed"));
    }
}
