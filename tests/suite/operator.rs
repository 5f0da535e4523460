//! The operator's view: the stats API, metrics, health and readiness.

use std::net::SocketAddr;
use std::time::Duration;

use axum::extract::connect_info::MockConnectInfo;
use chrono::Utc;
use serde_json::Value;
use slack_scheduler::domain::MessageStatus;
use slack_scheduler::scheduler::Settings;
use slack_scheduler::store::{Backend, ClaimRequest, MessageEdit, TokenGrant};
use tower::ServiceExt;

use crate::common::harness::{
    ALICE, GENERAL, OLD, TEAM, new_message, test_settings, test_sim_settings,
};
use crate::common::{TestApp, TestDb, wait_until};
use crate::on_both_backends;

const STATS: &str = "/api/messages/scheduler/stats";

fn is_iso_millis_z(value: &Value) -> bool {
    value.as_str().is_some_and(|s| {
        chrono::DateTime::parse_from_rfc3339(s).is_ok()
            && s.ends_with('Z')
            && s.len() == "2024-01-07T10:00:00.000Z".len()
    })
}

async fn get_json(app: &TestApp, path: &str, token: Option<&str>) -> (u16, Value) {
    let mut request = app.http.get(format!("{}{path}", app.url));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.expect("request");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

on_both_backends! {
    async fn stats_follow_the_contract(db: TestDb) {
        let app = TestApp::start(&db).await;
        let (status, empty) = get_json(&app, STATS, None).await;
        assert_eq!(status, 200);
        assert_eq!(empty["success"], true);
        assert_eq!(empty["stats"]["pendingCount"], 0);
        assert_eq!(empty["stats"]["earliestScheduled"], Value::Null);
        assert_eq!(empty["stats"]["latestScheduled"], Value::Null);
        assert_eq!((empty["stats"]["sentCount"].as_i64(), empty["stats"]["failedCount"].as_i64()), (Some(0), Some(0)));
        assert!(is_iso_millis_z(&empty["timestamp"]), "{}", empty["timestamp"]);

        app.install(ALICE).await;
        let alice = app.store.user(TEAM, ALICE).await.expect("read").expect("alice").author;
        let other = app.store.ensure_user("T0999", "U0999", Utc::now()).await.expect("user");
        let soon = Utc::now() + chrono::Duration::seconds(2);
        let later = chrono::DateTime::from_timestamp(Utc::now().timestamp() + 7_200, 0).expect("time");
        let latest = later + chrono::Duration::hours(5);
        for (author, channel, text, due) in [
            (&alice, GENERAL, "goes out", soon),
            (&alice, OLD, "fails", soon),
            (&alice, GENERAL, "waits", later),
            (&other, "C9", "elsewhere", latest),
        ] {
            app.store.insert_message(&new_message(author, channel, text, due), Utc::now()).await.expect("stored");
        }
        app.state.wake.due_at(soon);
        wait_until("two messages are settled", Duration::from_secs(15), || async {
            let all = app.messages().await;
            (all.iter().filter(|m| matches!(m.status, MessageStatus::Sent | MessageStatus::Failed)).count() == 2).then_some(())
        })
        .await;

        let (_, all) = get_json(&app, STATS, None).await;
        let stats = &all["stats"];
        assert_eq!((stats["pendingCount"].as_i64(), stats["sentCount"].as_i64(), stats["failedCount"].as_i64()), (Some(2), Some(1), Some(1)));
        assert_eq!(stats["earliestScheduled"], later.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string());
        assert_eq!(stats["latestScheduled"], latest.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string());
        let cycle = &stats["lastCycle"];
        assert!(is_iso_millis_z(&cycle["startedAt"]), "{cycle}");
        for field in ["durationMs", "claimed", "sent", "failed", "dbStatements"] {
            assert!(cycle[field].is_u64(), "lastCycle.{field}: {cycle}");
        }
        assert!(cycle["dbStatements"].as_u64() >= Some(2));

        let (_, team) = get_json(&app, &format!("{STATS}?team={TEAM}"), None).await;
        assert_eq!((team["stats"]["pendingCount"].as_i64(), team["stats"]["sentCount"].as_i64()), (Some(1), Some(1)));
        assert_eq!(team["stats"]["latestScheduled"], later.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string());
        let (status, bad) = get_json(&app, &format!("{STATS}?team=T1;DROP"), None).await;
        assert_eq!((status, bad["success"].as_bool()), (400, Some(false)));
    }
}

on_both_backends! {
    /// The counters behind the stats stay equal to a real count through every kind of write.
    async fn message_counts_stay_exact_through_every_write(db: TestDb) {
        let store = db.store().await;
        let now = Utc::now();
        let grant = TokenGrant { access_token: "a".to_owned().into(), refresh_token: None, expires_at: None };
        let alice = store.connect_user("T1", "U1", &grant, now).await.expect("user");
        let bob = store.connect_user("T2", "U2", &grant, now).await.expect("user");
        let batch: Vec<_> = (0..30).map(|i| new_message(if i % 3 == 0 { &bob } else { &alice }, "C1", &format!("m{i}"), now + chrono::Duration::seconds(i))).collect();
        store.insert_messages(&batch, now).await.expect("bulk");
        let claim = ClaimRequest { now: now + chrono::Duration::seconds(12), limit: 8, lease_until: now + chrono::Duration::minutes(5),
            claim_token: "c".into(), refresh_before: now, refresh_lock_until: now, pace_interval: chrono::Duration::seconds(1), pace_tolerance: chrono::Duration::zero(), pace_budget: chrono::Duration::seconds(20) };
        let claimed = store.claim_due(&claim).await.expect("claim");
        let outcomes: Vec<_> = claimed.iter().enumerate().map(|(i, m)| slack_scheduler::store::OutcomeRecord {
            outcome: slack_scheduler::domain::Outcome {
                id: m.id, attempts: 1,
                kind: if i % 2 == 0 { slack_scheduler::domain::OutcomeKind::Sent { ts: "1.1".into(), at: now } }
                      else { slack_scheduler::domain::OutcomeKind::Failed { reason: "is_archived".into() } },
            },
            claim_token: m.claim_token.clone(),
        }).collect();
        store.record_outcomes(&outcomes[..6], now).await;
        let last = batch.len() as i64;
        let ids: Vec<i64> = store.all_messages().await.expect("read").iter().map(|m| m.id).collect();
        store.cancel_message(ids[20], alice.id, now).await.expect("cancel");
        let edit = MessageEdit { channel_id: "C2".into(), text: slack_scheduler::domain::MessageText::parse("edited").expect("text"), rich_text: None,
            due: slack_scheduler::domain::DueTime::parse(now + chrono::Duration::hours(1), now).expect("due"),
            conditions: Default::default(), reply_broadcast: false };
        store.edit_message(ids[25], alice.id, &edit, now).await.expect("edit");
        store.cancel_waiting("T2", None, "app_uninstalled", now).await.expect("uninstall");
        store.execute_raw(&format!("DELETE FROM scheduled_messages WHERE id = {}", ids[29])).await.expect("delete");

        let all = store.all_messages().await.expect("read");
        assert_eq!(all.len() as i64, last - 1);
        for team in [None, Some("T1"), Some("T2")] {
            let stats = store.message_stats(team).await.expect("stats");
            let count = |status: MessageStatus| all.iter().filter(|m| m.status == status && team.is_none_or(|t| m.team_id == t)).count() as i64;
            assert_eq!(stats.pending, count(MessageStatus::Pending), "{team:?} pending");
            assert_eq!(stats.sent, count(MessageStatus::Sent), "{team:?} sent");
            assert_eq!(stats.failed, count(MessageStatus::Failed), "{team:?} failed");
            assert_eq!(stats.sending, count(MessageStatus::Sending), "{team:?} sending");
            let pending_dues: Vec<_> = all.iter().filter(|m| m.status == MessageStatus::Pending && team.is_none_or(|t| m.team_id == t)).map(|m| m.due_at).collect();
            assert_eq!(stats.earliest_pending, pending_dues.iter().min().copied());
            assert_eq!(stats.latest_pending, pending_dues.iter().max().copied());
        }
    }
}

async fn with_token(db: &TestDb) -> TestApp {
    TestApp::start_with(db, test_sim_settings(), test_settings(), |config| {
        config.stats_api_token = Some("s3cret-operator-token".into());
    })
    .await
}

on_both_backends! {
    async fn with_a_token_configured_every_request_must_carry_it(db: TestDb) {
        let app = with_token(&db).await;
        for path in [STATS, "/metrics"] {
            let (status, body) = get_json(&app, path, None).await;
            assert_eq!(status, 401, "{path} without a token");
            assert_eq!(body["success"], false);
            assert!(body["error"].as_str().is_some_and(|e| e.contains("bearer")), "{body}");
            assert_eq!(get_json(&app, path, Some("wrong")).await.0, 401, "{path} wrong token");
            assert_eq!(get_json(&app, path, Some("s3cret-operator-token-but-longer")).await.0, 401, "{path} longer token");
        }
        let (status, body) = get_json(&app, STATS, Some("s3cret-operator-token")).await;
        assert_eq!((status, body["success"].as_bool()), (200, Some(true)));
        let metrics = app.http.get(format!("{}/metrics", app.url)).bearer_auth("s3cret-operator-token").send().await.expect("metrics");
        assert_eq!(metrics.status(), 200);
    }
}

on_both_backends! {
    async fn without_a_token_only_loopback_clients_are_served(db: TestDb) {
        let app = TestApp::start(&db).await;
        assert_eq!(get_json(&app, STATS, None).await.0, 200, "a loopback client over real HTTP");
        // The same router, seen from another machine's address.
        for path in [STATS, "/metrics"] {
            let router = slack_scheduler::http::router(app.state.clone())
                .layer(MockConnectInfo(SocketAddr::from(([10, 20, 30, 40], 51_000))));
            let response = router
                .oneshot(axum::http::Request::get(path).body(axum::body::Body::empty()).expect("request"))
                .await
                .expect("answer");
            assert_eq!(response.status(), 403, "{path} from a remote address");
            let bytes = axum::body::to_bytes(response.into_body(), 4096).await.expect("body");
            let body: Value = serde_json::from_slice(&bytes).expect("json");
            assert_eq!(body["success"], false);
        }
        // IPv6 loopback counts as local too.
        let router = slack_scheduler::http::router(app.state.clone())
            .layer(MockConnectInfo(SocketAddr::from((std::net::Ipv6Addr::LOCALHOST, 51_000))));
        let response = router.oneshot(axum::http::Request::get(STATS).body(axum::body::Body::empty()).expect("request")).await.expect("answer");
        assert_eq!(response.status(), 200);
    }
}

on_both_backends! {
    async fn metrics_expose_the_cycle_in_prometheus_text(db: TestDb) {
        let settings = Settings { ..test_settings() };
        let app = TestApp::start_with(&db, test_sim_settings(), settings, |_| {}).await;
        app.install(ALICE).await;
        app.command(ALICE, GENERAL, "in 2 seconds metric me").await;
        app.command(ALICE, OLD, "in 2 seconds fail me").await;
        wait_until("both are settled", Duration::from_secs(15), || async {
            let all = app.messages().await;
            all.iter().all(|m| matches!(m.status, MessageStatus::Sent | MessageStatus::Failed)).then_some(())
        })
        .await;
        app.command(ALICE, GENERAL, "in 3 hours still pending").await;
        let response = app.http.get(format!("{}/metrics", app.url)).send().await.expect("metrics");
        assert_eq!(response.status(), 200);
        assert!(response.headers()["content-type"].to_str().expect("type").starts_with("text/plain"));
        let text = response.text().await.expect("text");
        for needle in [
            "scheduler_messages_sent_total",
            "scheduler_messages_failed_total{outcome=\"failed\",reason=\"is_archived\"}",
            "scheduler_cycle_duration_seconds_bucket",
            "scheduler_batch_size_bucket",
            "slack_api_call_duration_seconds_bucket{method=\"chat.postMessage\",outcome=\"ok\"",
            "slack_api_call_duration_seconds_bucket{method=\"chat.postMessage\",outcome=\"is_archived\"",
            "scheduler_token_refreshes_total",
            "scheduler_pending_messages",
            "scheduler_in_flight_posts",
        ] {
            assert!(text.contains(needle), "metrics lack {needle}:\n{text}");
        }
        let pending = text.lines().find(|l| l.starts_with("scheduler_pending_messages ")).expect("pending gauge");
        assert_eq!(pending, "scheduler_pending_messages 1");
    }
}

on_both_backends! {
    async fn health_and_readiness_answer_and_readiness_fails_with_a_reason_when_the_database_is_down(db: TestDb) {
        let app = TestApp::start(&db).await;
        let health = app.http.get(format!("{}/healthz", app.url)).send().await.expect("healthz");
        assert_eq!(health.status(), 200);
        let (status, ready) = get_json(&app, "/readyz", None).await;
        assert_eq!((status, ready["status"].as_str()), (200, Some("ready")));

        match db.backend {
            // The server goes away: every connection of the pool is cut.
            Backend::Postgres => {
                let name = db.url.rsplit('/').next().expect("database name").to_owned();
                let admin = std::env::var("TEST_DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
                let admin = slack_scheduler::store::Store::connect(&admin, slack_scheduler::crypto::TokenCipher::random()).await.expect("admin");
                admin.execute_raw(&format!("DROP DATABASE {name} WITH (FORCE)")).await.expect("dropped");
            }
            // The file's pool is closed under the app.
            Backend::Sqlite => app.state.store.close().await,
        }
        let (status, down) = get_json(&app, "/readyz", None).await;
        assert_eq!(status, 503);
        assert_eq!(down["status"], "unavailable");
        assert!(down["reason"].as_str().is_some_and(|r| r.contains("database")), "{down}");
        let health = app.http.get(format!("{}/healthz", app.url)).send().await.expect("healthz");
        assert_eq!(health.status(), 200, "the process itself is alive");
    }
}

on_both_backends! {
    async fn pages_are_compressed_for_browsers_that_ask(db: TestDb) {
        let app = TestApp::start(&db).await;
        let response = app.http.get(&app.url).header("accept-encoding", "gzip").send().await.expect("page");
        assert_eq!(response.headers().get("content-encoding").map(|v| v.to_str().unwrap_or_default()), Some("gzip"));
    }
}

on_both_backends! {
    /// A request that takes too long is cut off with 503 rather than left hanging.
    async fn a_request_over_the_timeout_gets_503(db: TestDb) {
        let app = TestApp::start(&db).await;
        app.install(ALICE).await;
        // bob's time zone is not cached: the command asks Slack, which is slow today.
        app.sim.update_settings(|s| s.latency = Duration::from_millis(800));
        let router = slack_scheduler::http::router_with_timeout(app.state.clone(), Duration::from_millis(200));
        let body = "team_id=T0001&user_id=U0002&channel_id=C0001&command=%2Fschedule&text=in+1+hour+slow&trigger_id=1.2.3";
        let now = Utc::now().timestamp();
        let signature = slack_scheduler::sim::outbound::sign(&app.sim.settings().signing_secret, now, body);
        let request = axum::http::Request::post("/slack/commands")
            .header("content-type", "application/x-www-form-urlencoded")
            .header("x-slack-request-timestamp", now.to_string())
            .header("x-slack-signature", signature)
            .body(axum::body::Body::from(body))
            .expect("request");
        let started = std::time::Instant::now();
        let response = router.oneshot(request).await.expect("answer");
        assert_eq!(response.status(), 503);
        assert!(started.elapsed() < Duration::from_millis(700), "cut off at the timeout");
    }
}
