//! `GET /status`: HTML through the real router, and the page as headless
//! Chromium draws it, checked pixel by pixel.

use std::time::Duration;

use chrono::Utc;
use slack_scheduler::domain::MessageStatus;
use slack_scheduler::sim::SimSettings;
use slack_scheduler::store::StatusSample;

use crate::common::harness::{ALICE, GENERAL, OLD, test_settings};
use crate::common::{TestApp, TestDb, wait_until};
use crate::on_both_backends;

/// The colours the template gives sent bars and the pending line.
const SENT_GREEN: [u8; 3] = [0x2e, 0xb6, 0x7d];
const PENDING_BLUE: [u8; 3] = [0x36, 0xc5, 0xf0];

/// An app that delivered one message and failed one, with a day of samples.
async fn busy_app(db: &TestDb) -> TestApp {
    let app = TestApp::start(db).await;
    app.install(ALICE).await;
    app.command(ALICE, GENERAL, "in 2 seconds On the status page")
        .await;
    app.command(ALICE, OLD, "in 2 seconds Into the archive")
        .await;
    wait_until(
        "both messages are settled",
        Duration::from_secs(15),
        || async {
            let settled = app
                .messages()
                .await
                .iter()
                .filter(|m| matches!(m.status, MessageStatus::Sent | MessageStatus::Failed))
                .count();
            (settled == 2).then_some(())
        },
    )
    .await;
    // A day of samples, as the sampler leaves them: running totals.
    let now = Utc::now();
    let (mut sent, mut failed) = (0, 0);
    for hours_ago in (1..=23).rev() {
        sent += (hours_ago % 5 + 1) * 10;
        failed += hours_ago % 3;
        let sample = StatusSample {
            taken_at: now - chrono::Duration::hours(hours_ago),
            pending: 40 + hours_ago,
            sent,
            failed,
            held: 0,
        };
        app.store
            .record_status_sample(&sample)
            .await
            .expect("sample");
    }
    app
}

async fn get(app: &TestApp, token: Option<&str>) -> (u16, String) {
    let mut request = app.http.get(format!("{}/status", app.url));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.expect("status page");
    let status = response.status().as_u16();
    (status, response.text().await.expect("body"))
}

on_both_backends! {
    async fn the_status_page_shows_counts_the_day_s_chart_cycles_and_readiness(db: TestDb) {
        let app = busy_app(&db).await;
        let (status, html) = get(&app, None).await;
        assert_eq!(status, 200, "{html}");
        assert!(html.contains(r#"id="readiness">Ready"#), "readiness shown");
        assert!(html.contains(r#"<dd id="pending">0</dd>"#), "nothing pending");
        assert!(html.contains(r#"<dd id="held-users">0</dd>"#));
        // The cycles that posted measured how late they were.
        for figure in ["lateness-p50", "lateness-p99"] {
            let shown = html.split(&format!(r#"<dd id="{figure}">"#)).nth(1).and_then(|r| r.split('<').next()).expect("figure");
            assert!(shown.ends_with(" ms") || shown.ends_with(" s"), "{figure}: {shown:?}");
        }
        assert!(html.contains(r#"<svg class="chart" id="sent-chart""#) && html.contains(r#"<svg class="chart" id="pending-chart""#));
        let bars = html.matches(r##"fill="#2eb67d""##).count();
        assert_eq!(bars, 24, "one sent bar per hour");
        assert!(html.contains("<polyline points=\""), "the pending line is drawn");
        assert!(!html.contains("<script"), "no JavaScript");
        // The deltas of the samples, and the delivery just made, are in the day's figures.
        let sent_24h: i64 = html.split(r#"<dd id="sent-24h">"#).nth(1).and_then(|r| r.split('<').next())
            .and_then(|n| n.parse().ok()).expect("sent figure");
        assert!(sent_24h >= 200, "sent in 24 h: {sent_24h}");
        assert!(html.contains(r#"<table id="cycles">"#), "recent cycles listed");
        let rows = html.split(r#"<table id="cycles">"#).nth(1).unwrap_or_default().matches("<tr>").count();
        assert!(rows >= 2, "a header and at least one cycle: {rows}");
    }
}

on_both_backends! {
    async fn the_status_page_follows_the_stats_api_access_rule(db: TestDb) {
        let app = TestApp::start_with(&db, SimSettings::default(), test_settings(), |config| {
            config.stats_api_token = Some("s3cret-operator-token".into());
        })
        .await;
        assert_eq!(get(&app, None).await.0, 401);
        assert_eq!(get(&app, Some("wrong")).await.0, 401);
        let (status, html) = get(&app, Some("s3cret-operator-token")).await;
        assert_eq!(status, 200);
        assert!(html.contains("No samples yet") || html.contains("pending-chart"), "{html}");
    }
}

/// Chromium, if installed: under CI=true it must be.
fn chromium() -> Option<std::path::PathBuf> {
    let found = ["chromium", "chromium-browser"].iter().find_map(|name| {
        std::env::var_os("PATH").and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|dir| dir.join(name))
                .find(|p| p.is_file())
        })
    });
    if found.is_none() {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("chromium is required under CI (apt-get install -y chromium)");
        }
        eprintln!("SKIPPED: status page screenshot (chromium is not installed)");
    }
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_status_page_renders_its_chart_on_a_phone_sized_screen() {
    let Some(chromium) = chromium() else { return };
    let db = TestDb::sqlite().await;
    let app = busy_app(&db).await;
    let dir = tempfile::tempdir().expect("dir");
    let shot = dir.path().join("status.png");
    let profile = dir.path().join("profile");
    std::fs::create_dir(&profile).expect("profile dir");
    let output = tokio::time::timeout(
        Duration::from_secs(90),
        tokio::process::Command::new(&chromium)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--hide-scrollbars",
                "--window-size=390,1200",
            ])
            .arg(format!("--user-data-dir={}", profile.display()))
            .arg(format!("--screenshot={}", shot.display()))
            .arg(format!("{}/status", app.url))
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("chromium finishes within 90 s")
    .expect("chromium runs");
    assert!(
        shot.exists(),
        "no screenshot: {}",
        String::from_utf8_lossy(&output.stderr)
    );

    let decoder = png::Decoder::new(std::io::BufReader::new(
        std::fs::File::open(&shot).expect("png"),
    ));
    let mut reader = decoder.read_info().expect("a PNG");
    let mut pixels = vec![0; reader.output_buffer_size().expect("size")];
    let frame = reader.next_frame(&mut pixels).expect("a frame");
    let channels = frame.color_type.samples();
    let (width, height) = (frame.width as usize, frame.height as usize);
    assert_eq!(width, 390, "phone width");
    let at = |x: usize, y: usize| -> [u8; 3] {
        let i = (y * width + x) * channels;
        [pixels[i], pixels[i + 1], pixels[i + 2]]
    };
    let near = |a: [u8; 3], b: [u8; 3]| a.iter().zip(b).all(|(x, y)| x.abs_diff(y) <= 6);
    let mut colours = std::collections::HashSet::new();
    let (mut green, mut blue) = (Vec::new(), 0usize);
    for y in 0..height {
        for x in 0..width {
            let p = at(x, y);
            colours.insert(p);
            if near(p, SENT_GREEN) {
                green.push((x, y));
            }
            if near(p, PENDING_BLUE) {
                blue += 1;
            }
        }
    }
    assert!(
        colours.len() > 20,
        "the page is not blank ({} colours)",
        colours.len()
    );
    assert!(
        green.len() > 500,
        "the sent bars are drawn: {} green pixels",
        green.len()
    );
    let (min_x, max_x) = (
        green.iter().map(|p| p.0).min().unwrap_or(0),
        green.iter().map(|p| p.0).max().unwrap_or(0),
    );
    let min_y = green.iter().map(|p| p.1).min().unwrap_or(0);
    assert!(
        max_x - min_x > 250,
        "bars span the chart's width: {min_x}..{max_x}"
    );
    assert!(max_x < width, "the chart fits the phone's width");
    assert!(
        min_y > 150,
        "the chart sits below the figures, at y {min_y}"
    );
    assert!(blue > 50, "the pending line is drawn: {blue} blue pixels");
}

on_both_backends! {
    /// Several processes sampling in one slot leave one sample; two days are kept.
    async fn samples_are_one_per_slot_and_kept_two_days(db: TestDb) {
        let store = db.store().await;
        let now = Utc::now();
        assert!(slack_scheduler::sampler::take_sample(&store, now).await.expect("sample"));
        assert!(!slack_scheduler::sampler::take_sample(&store, now).await.expect("same slot"), "one per slot");
        let old = StatusSample { taken_at: now - chrono::Duration::days(3), pending: 1, sent: 1, failed: 0, held: 0 };
        store.record_status_sample(&old).await.expect("old sample");
        let later = now + chrono::Duration::minutes(5);
        assert!(slack_scheduler::sampler::take_sample(&store, later).await.expect("next slot"));
        let kept = store.status_samples(now - chrono::Duration::days(4)).await.expect("samples");
        assert_eq!(kept.len(), 2, "the three-day-old sample is pruned: {kept:?}");
        assert_eq!(kept[0].taken_at, slack_scheduler::sampler::slot_of(now));
    }
}

on_both_backends! {
    /// Held users counts authors, not their messages.
    async fn held_users_counts_authors_not_messages(db: TestDb) {
        let h = crate::common::Harness::start(&db).await;
        let (alice, _) = h.connect(ALICE).await;
        let (bob, _) = h.connect(crate::common::harness::BOB).await;
        let now = Utc::now();
        for author in [&alice, &alice, &bob] {
            h.schedule(author, GENERAL, "cannot be posted", now).await;
        }
        assert!(h.store.revoke_user_tokens(alice.id, "token_revoked", now, now).await.expect("alice loses her token"));
        h.cycle_at(now + chrono::Duration::seconds(1)).await;
        assert_eq!(h.store.message_stats(None).await.expect("stats").held, 2);
        assert_eq!(h.store.held_users().await.expect("held users"), 1);
    }
}

on_both_backends! {
    /// An author whose token Slack revoked is counted among held users;
    /// with the database gone the page answers 503, saying it is not ready.
    async fn the_status_page_counts_held_users_and_says_when_it_is_not_ready(db: TestDb) {
        let app = TestApp::start(&db).await;
        app.install(ALICE).await;
        app.sim.revoke_tokens(ALICE);
        app.command(ALICE, GENERAL, "in 1 second Held back").await;
        wait_until("the message is held", Duration::from_secs(15), || async {
            app.messages().await.iter().any(|m| m.status == MessageStatus::Held).then_some(())
        })
        .await;
        let (_, html) = get(&app, None).await;
        assert!(html.contains(r#"<dd id="held-users">1</dd>"#), "{html}");
        app.store.close().await;
        let (status, html) = get(&app, None).await;
        assert_eq!(status, 503, "monitors see it too");
        assert!(html.contains("Not ready") && html.contains("database did not answer"), "{html}");
    }
}
