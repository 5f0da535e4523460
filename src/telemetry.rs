//! Logs and metrics: where the process reports what it does.
//!
//! Metrics go through the `metrics` facade into a Prometheus recorder that
//! is installed once per process; `/metrics` renders it.

use std::sync::OnceLock;
use std::time::Duration;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::format::FmtSpan;

use crate::config::LogFormat;

/// Installs the global tracing subscriber: `RUST_LOG` filters, `LOG_FORMAT`
/// picks text or JSON lines. A second call is a no-op (tests, the demo).
pub fn init_tracing(filter: &str, format: LogFormat) {
    let filter = EnvFilter::try_new(filter).unwrap_or_else(|_| EnvFilter::new("info"));
    // Colours only for a person at a terminal, never into files or collectors.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_span_events(FmtSpan::NONE)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()));
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .try_init(),
    };
}

static PROMETHEUS: OnceLock<PrometheusHandle> = OnceLock::new();

const LATENESS: &str = "scheduler_delivery_lateness_seconds";
/// How often histogram samples are folded into their buckets.
const UPKEEP_EVERY: std::time::Duration = std::time::Duration::from_secs(5);

/// The process's Prometheus recorder, installed on first use.
pub fn metrics_handle() -> &'static PrometheusHandle {
    let handle = PROMETHEUS.get_or_init(|| {
        let seconds = [
            0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
        ];
        let sizes = [
            1.0, 10.0, 50.0, 100.0, 250.0, 500.0, 1000.0, 2500.0, 5000.0, 10000.0,
        ];
        // Lateness is judged against a minute (the alert), so it needs
        // buckets on both sides of one.
        let lateness = [
            0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 900.0,
        ];
        let recorder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Full(LATENESS.into()), &lateness)
            .and_then(|b| b.set_buckets_for_metric(Matcher::Suffix("_seconds".into()), &seconds))
            .and_then(|b| {
                b.set_buckets_for_metric(Matcher::Full("scheduler_batch_size".into()), &sizes)
            })
            .expect("static bucket lists are not empty")
            .build_recorder();
        let handle = recorder.handle();
        // A recorder built by hand keeps every histogram sample until it is
        // drained: without a scrape, a drain of a million messages would
        // keep two million. Drained every few seconds, memory stays flat.
        let upkeep = handle.clone();
        let spawned = std::thread::Builder::new()
            .name("metrics-upkeep".into())
            .spawn(move || {
                loop {
                    std::thread::sleep(UPKEEP_EVERY);
                    upkeep.run_upkeep();
                }
            });
        if let Err(err) = spawned {
            tracing::warn!(error = %err, "cannot start the metrics upkeep; histograms drain at each scrape only");
        }
        // Another recorder may already be installed (a test harness); then
        // ours still renders what it records through its own handle only.
        if metrics::set_global_recorder(recorder).is_err() {
            tracing::warn!("a metrics recorder was already installed");
        }
        handle
    });
    DESCRIBED.call_once(describe);
    handle
}

static DESCRIBED: std::sync::Once = std::sync::Once::new();

fn describe() {
    use metrics::{describe_counter, describe_gauge, describe_histogram};
    describe_counter!("scheduler_messages_sent_total", "Messages Slack accepted.");
    describe_counter!(
        "scheduler_messages_failed_total",
        "Messages not sent in a cycle, by outcome and reason."
    );
    describe_counter!(
        "scheduler_messages_skipped_total",
        "Messages not posted because their condition held at the due time, by reason."
    );
    describe_histogram!(
        "scheduler_cycle_duration_seconds",
        "Wall time of a delivery cycle."
    );
    describe_histogram!("scheduler_batch_size", "Messages claimed per batch.");
    describe_counter!(
        "scheduler_token_refreshes_total",
        "Token refreshes, by kind and outcome."
    );
    describe_counter!(
        "scheduler_rate_limit_waits_total",
        "Waits for a rate limit or pacing, by cause."
    );
    describe_counter!(
        "scheduler_notices_total",
        "Tries at telling an author about a failed or held message, by outcome (sent, retry, given_up)."
    );
    describe_gauge!("scheduler_pending_messages", "Messages waiting to be sent.");
    describe_gauge!(
        "scheduler_in_flight_posts",
        "chat.postMessage calls in flight."
    );
    describe_histogram!(
        "slack_api_call_duration_seconds",
        "Slack Web API latency, by method and outcome."
    );
    describe_histogram!(
        LATENESS,
        "How long after its due time each message was posted."
    );
    describe_counter!(
        "scheduler_in_doubt_reposted_total",
        "In-doubt messages posted again without finding them in history, by cause."
    );
    describe_counter!(
        "retention_texts_erased_total",
        "Message texts erased after MESSAGE_RETENTION_DAYS."
    );
    describe_gauge!(
        "scheduler_last_cycle_timestamp_seconds",
        "When the last delivery cycle finished (Unix time)."
    );
    describe_gauge!(
        "scheduler_held_users",
        "Authors with messages held until they reconnect."
    );
    describe_counter!(
        "db_statements_total",
        "Database statements run, by the part of the process that ran them (cycle, requests, bot, retention, sampler)."
    );
    describe_gauge!(
        "scheduler_database_ready",
        "1 when the database answered at the last scrape, else 0."
    );
    // Present from the first scrape, at zero, rather than absent until used.
    metrics::counter!("retention_texts_erased_total").absolute(0);
    metrics::counter!("scheduler_messages_sent_total").absolute(0);
    for reason in ["someone_replied", "you_posted"] {
        metrics::counter!("scheduler_messages_skipped_total", "reason" => reason).absolute(0);
    }
    for kind in ["user", "bot"] {
        for outcome in ["ok", "refused", "error"] {
            metrics::counter!("scheduler_token_refreshes_total", "kind" => kind, "outcome" => outcome)
                .absolute(0);
        }
    }
    for cause in ["pacing", "deferred", "retry_after"] {
        metrics::counter!("scheduler_rate_limit_waits_total", "cause" => cause).absolute(0);
    }
    for cause in ["verify_wait", "no_history_access"] {
        metrics::counter!("scheduler_in_doubt_reposted_total", "cause" => cause).absolute(0);
    }
    for outcome in ["sent", "retry", "given_up"] {
        metrics::counter!("scheduler_notices_total", "outcome" => outcome).absolute(0);
    }
    metrics::gauge!("scheduler_in_flight_posts").set(0.0);
    metrics::gauge!("scheduler_held_users").set(0.0);
    metrics::gauge!("scheduler_database_ready").set(0.0);
    metrics::gauge!("scheduler_last_cycle_timestamp_seconds").set(0.0);
    // A histogram is only rendered once it has a sample; registering it
    // with the recorder makes it appear (empty) from the first scrape.
    let _ = metrics::histogram!(LATENESS);
    metrics::gauge!("scheduler_pending_messages").set(0.0);
}

pub fn record_slack_call(method: &'static str, outcome: &str, elapsed: Duration) {
    metrics::histogram!("slack_api_call_duration_seconds", "method" => method, "outcome" => bounded(outcome))
        .record(elapsed.as_secs_f64());
}

pub fn record_lateness(late: Duration) {
    metrics::histogram!(LATENESS).record(late.as_secs_f64());
}

pub fn record_unverified_repost(cause: &'static str) {
    metrics::counter!("scheduler_in_doubt_reposted_total", "cause" => cause).increment(1);
}

/// Longest label value kept; anything longer or odd is `other`.
const MAX_LABEL: usize = 48;

/// A reason as a label: Slack's codes and ours are short snake_case words;
/// anything else (a new code is fine, free text is not) becomes `other`, so
/// labels stay few and never carry text from outside.
fn bounded(reason: &str) -> String {
    let tidy = !reason.is_empty()
        && reason.len() <= MAX_LABEL
        && reason
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if tidy {
        reason.to_owned()
    } else {
        "other".to_owned()
    }
}

pub fn record_token_refresh(kind: &'static str, outcome: &'static str) {
    metrics::counter!("scheduler_token_refreshes_total", "kind" => kind, "outcome" => outcome)
        .increment(1);
}

pub fn record_rate_limit_wait(cause: &'static str) {
    metrics::counter!("scheduler_rate_limit_waits_total", "cause" => cause).increment(1);
}

pub fn set_in_flight(posts: usize) {
    metrics::gauge!("scheduler_in_flight_posts").set(posts as f64);
}

/// The statements `source` has run so far (read from its store's count).
pub fn set_statements(source: &'static str, total: u64) {
    metrics::counter!("db_statements_total", "source" => source).absolute(total);
}

pub fn set_pending(count: i64) {
    metrics::gauge!("scheduler_pending_messages").set(count as f64);
}

pub fn record_batch(claimed: usize) {
    metrics::histogram!("scheduler_batch_size").record(claimed as f64);
}

pub fn record_message_outcome(status: &'static str, reason: Option<&str>) {
    if status == "sent" {
        metrics::counter!("scheduler_messages_sent_total").increment(1);
    } else if status == "skipped" {
        metrics::counter!("scheduler_messages_skipped_total",
            "reason" => bounded(reason.unwrap_or("none")))
        .increment(1);
    } else {
        metrics::counter!("scheduler_messages_failed_total",
            "outcome" => status, "reason" => bounded(reason.unwrap_or("none")))
        .increment(1);
    }
}

pub fn record_notice(outcome: &'static str) {
    metrics::counter!("scheduler_notices_total", "outcome" => outcome).increment(1);
}

pub fn record_texts_erased(count: u64) {
    metrics::counter!("retention_texts_erased_total").increment(count);
}

/// The figures read at scrape time.
pub fn set_scrape_figures(held_users: Option<i64>, database_ready: bool) {
    if let Some(users) = held_users {
        metrics::gauge!("scheduler_held_users").set(users as f64);
    }
    metrics::gauge!("scheduler_database_ready").set(if database_ready { 1.0 } else { 0.0 });
}

pub fn record_cycle(duration: Duration) {
    metrics::histogram!("scheduler_cycle_duration_seconds").record(duration.as_secs_f64());
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    metrics::gauge!("scheduler_last_cycle_timestamp_seconds").set(now.as_secs_f64());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_become_labels_only_when_they_look_like_codes() {
        assert_eq!(bounded("not_in_channel"), "not_in_channel");
        assert_eq!(bounded("http_502"), "http_502");
        assert_eq!(bounded("database error: connection reset by peer"), "other");
        assert_eq!(bounded(&"x".repeat(100)), "other");
        assert_eq!(bounded(""), "other");
    }

    #[test]
    fn recorded_figures_appear_in_the_prometheus_text() {
        let handle = metrics_handle();
        record_message_outcome("sent", None);
        record_message_outcome("failed", Some("is_archived"));
        record_slack_call("chat.postMessage", "ok", Duration::from_millis(12));
        let text = handle.render();
        assert!(text.contains("scheduler_messages_sent_total"), "{text}");
        assert!(
            text.contains(
                "scheduler_messages_failed_total{outcome=\"failed\",reason=\"is_archived\"}"
            ),
            "{text}"
        );
        assert!(text.contains("slack_api_call_duration_seconds_bucket{method=\"chat.postMessage\",outcome=\"ok\",le=\"0.025\"}"), "{text}");
        assert!(
            text.contains("scheduler_token_refreshes_total{kind=\"bot\",outcome=\"refused\"} 0"),
            "{text}"
        );
        record_lateness(Duration::from_secs(90));
        let text = handle.render();
        assert!(
            text.contains("scheduler_delivery_lateness_seconds_bucket{le=\"120\"}"),
            "lateness has buckets past a minute: {text}"
        );
    }
}
