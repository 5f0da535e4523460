//! What operators read: the stats API and Prometheus metrics. With
//! STATS_API_TOKEN set, every request must carry it as a bearer token
//! (compared in constant time); without it, only loopback clients are served.

use std::net::SocketAddr;

use axum::Json;
use axum::Router;
use axum::extract::{ConnectInfo, FromRequestParts, Query, State};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;

use super::SharedState;
use crate::scheduler::CycleReport;
use crate::telemetry;

pub fn router() -> Router<SharedState> {
    Router::new()
        .route("/api/messages/scheduler/stats", get(stats))
        .route("/metrics", get(metrics))
}

/// A caller allowed to read operator data.
pub struct Operator;

impl FromRequestParts<SharedState> for Operator {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &SharedState,
    ) -> Result<Self, Self::Rejection> {
        match state.stats_api_token.as_deref() {
            Some(expected) => {
                let presented = parts
                    .headers
                    .get(header::AUTHORIZATION)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.strip_prefix("Bearer "))
                    .unwrap_or_default();
                if bool::from(presented.as_bytes().ct_eq(expected.as_bytes())) {
                    Ok(Self)
                } else {
                    Err(refuse(
                        StatusCode::UNAUTHORIZED,
                        "a valid bearer token is required",
                    ))
                }
            }
            None => {
                // The extractor also honours axum's MockConnectInfo in tests.
                let peer = ConnectInfo::<SocketAddr>::from_request_parts(parts, state)
                    .await
                    .ok()
                    .map(|c| c.0);
                if peer.is_some_and(|addr| addr.ip().to_canonical().is_loopback()) {
                    Ok(Self)
                } else {
                    Err(refuse(
                        StatusCode::FORBIDDEN,
                        "only local clients may read this without STATS_API_TOKEN",
                    ))
                }
            }
        }
    }
}

fn refuse(status: StatusCode, error: &str) -> Response {
    let mut response = (
        status,
        Json(serde_json::json!({"success": false, "error": error})),
    )
        .into_response();
    if status == StatusCode::UNAUTHORIZED
        && let Ok(value) = "Bearer".parse()
    {
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, value);
    }
    response
}

/// ISO 8601 in UTC with milliseconds and `Z`: `2024-01-07T10:00:00.000Z`.
fn iso(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

#[derive(Debug, Deserialize)]
struct StatsQuery {
    team: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct StatsBody {
    success: bool,
    stats: Stats,
    timestamp: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Stats {
    pending_count: i64,
    earliest_scheduled: Option<String>,
    latest_scheduled: Option<String>,
    sent_count: i64,
    failed_count: i64,
    held_count: i64,
    sending_count: i64,
    skipped_count: i64,
    last_cycle: Option<LastCycle>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct LastCycle {
    started_at: String,
    duration_ms: u64,
    claimed: usize,
    sent: usize,
    failed: usize,
    db_statements: u64,
    skipped: usize,
    retrying: usize,
    held: usize,
    /// Claim statements (each takes up to a batch).
    batches: usize,
    flushes: usize,
    lateness_p50_ms: Option<u64>,
    lateness_p99_ms: Option<u64>,
}

impl From<CycleReport> for LastCycle {
    fn from(report: CycleReport) -> Self {
        Self {
            started_at: iso(report.started_at),
            duration_ms: report.duration_ms,
            claimed: report.claimed,
            sent: report.sent,
            failed: report.failed,
            db_statements: report.db_statements,
            skipped: report.skipped,
            retrying: report.retrying,
            held: report.held,
            batches: report.claims,
            flushes: report.flushes,
            lateness_p50_ms: report.lateness_p50_ms,
            lateness_p99_ms: report.lateness_p99_ms,
        }
    }
}

async fn stats(
    _: Operator,
    State(app): State<SharedState>,
    Query(query): Query<StatsQuery>,
) -> Response {
    let team = query.team.as_deref().filter(|t| !t.is_empty());
    if team.is_some_and(|t| t.len() > 32 || !t.chars().all(|c| c.is_ascii_alphanumeric())) {
        return refuse(
            StatusCode::BAD_REQUEST,
            "team must be a Slack team id such as T0123ABCD",
        );
    }
    match app.store.message_stats(team).await {
        Ok(stats) => Json(StatsBody {
            success: true,
            stats: Stats {
                pending_count: stats.pending,
                earliest_scheduled: stats.earliest_pending.map(iso),
                latest_scheduled: stats.latest_pending.map(iso),
                sent_count: stats.sent,
                failed_count: stats.failed,
                held_count: stats.held,
                sending_count: stats.sending,
                skipped_count: stats.skipped,
                last_cycle: app.scheduler.last_cycle().map(LastCycle::from),
            },
            timestamp: iso(Utc::now()),
        })
        .into_response(),
        Err(err) => {
            tracing::error!(error = %err, "cannot compute stats");
            refuse(
                StatusCode::SERVICE_UNAVAILABLE,
                "the database did not answer",
            )
        }
    }
}

async fn metrics(_: Operator, State(app): State<SharedState>) -> Response {
    // Read before this scrape runs statements of its own.
    for (source, count) in &app.statements {
        telemetry::set_statements(source, count.get());
    }
    // The pending gauge is read at scrape time: exact, and cheap (a counter).
    let ready = match app.store.message_stats(None).await {
        Ok(stats) => {
            telemetry::set_pending(stats.pending);
            true
        }
        Err(err) => {
            tracing::warn!(error = %err, "cannot read the pending count for metrics");
            false
        }
    };
    // Counted off the held-messages index: as cheap as the pending count.
    let held_users = if ready {
        app.store.held_users().await.ok()
    } else {
        None
    };
    telemetry::set_scrape_figures(held_users, ready);
    let body = telemetry::metrics_handle().render();
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        body,
    )
        .into_response()
}
