//! Bad input, generated (proptest, on the stable toolchain, inside `cargo
//! test`): signature verification, time phrases, and every payload kind
//! through the real router (`slack_scheduler::http::router`, a real store on
//! a temporary SQLite file, the simulator as Slack). Malformed, truncated,
//! oversized, wrong-typed and hostile payloads get a 4xx or a clean Slack
//! answer, never a panic or a 5xx, and nothing half-stored. The targets
//! below the router (signatures, time phrases) are in `fuzz_parsers`.
//!
//! Each target runs a few hundred to a few thousand cases, seconds in all.
//! `FUZZ_CASES=<n>` runs `n` cases per target instead, for a longer search.

use std::sync::Once;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::body::Body;
use axum::http::Request;
use chrono::Utc;
use hmac::{Hmac, KeyInit, Mac};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde_json::{Value, json};
use sha2::Sha256;
use slack_scheduler::slack::blocks;
use tower::ServiceExt;

use crate::common::harness::{ALICE, BOB, GENERAL, TEAM};
use crate::common::{TestApp, TestDb};

/// Cases for one target: its default, or `FUZZ_CASES`.
fn cases(default: u32) -> u32 {
    std::env::var("FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

pub(crate) fn runner(default: u32) -> TestRunner {
    TestRunner::new(Config {
        cases: cases(default),
        failure_persistence: None,
        ..Config::default()
    })
}

/// Panics on the app's own threads (its spawned tasks), which a response
/// alone would not show.
static WORKER_PANICS: AtomicUsize = AtomicUsize::new(0);
const WORKER: &str = "fuzz-worker";

fn count_worker_panics() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if std::thread::current()
                .name()
                .is_some_and(|n| n.starts_with(WORKER))
            {
                WORKER_PANICS.fetch_add(1, Ordering::SeqCst);
            }
            previous(info);
        }));
    });
}

/// The app with alice installed, its router, and a runtime to drive both.
struct Target {
    runtime: tokio::runtime::Runtime,
    app: TestApp,
    secret: String,
    _db: TestDb,
}

impl Target {
    fn start() -> Self {
        count_worker_panics();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name(WORKER)
            .enable_all()
            .build()
            .expect("runtime");
        let db = runtime.block_on(TestDb::sqlite());
        let app = runtime.block_on(TestApp::start(&db));
        runtime.block_on(app.install(ALICE));
        let secret = app.sim.settings().signing_secret;
        Self {
            runtime,
            app,
            secret,
            _db: db,
        }
    }

    /// Sends `body` to `path` through the router, signed as Slack signs it
    /// (over the raw bytes) unless `signed` is false; returns status and body.
    fn send(&self, path: &str, body: Vec<u8>, signed: bool) -> (u16, Vec<u8>) {
        let content_type = if path == "/slack/events" {
            "application/json"
        } else {
            "application/x-www-form-urlencoded"
        };
        let ts = Utc::now().timestamp();
        let mut mac =
            Hmac::<Sha256>::new_from_slice(self.secret.as_bytes()).expect("any key length");
        mac.update(format!("v0:{ts}:").as_bytes());
        mac.update(&body);
        let signature = if signed {
            format!("v0={}", hex::encode(mac.finalize().into_bytes()))
        } else {
            "v0=00".into()
        };
        let request = Request::post(path)
            .header("content-type", content_type)
            .header("x-slack-request-timestamp", ts.to_string())
            .header("x-slack-signature", signature)
            .body(Body::from(body))
            .expect("request");
        let router = slack_scheduler::http::router(self.app.state.clone());
        self.runtime.block_on(async move {
            let response = router
                .oneshot(request)
                .await
                .expect("the router is infallible");
            let status = response.status().as_u16();
            let bytes = axum::body::to_bytes(response.into_body(), 4 * 1024 * 1024)
                .await
                .expect("body");
            (status, bytes.to_vec())
        })
    }

    fn count(&self, table: &str) -> String {
        let rows = self.runtime.block_on(
            self.app
                .store
                .query_text_raw(&format!("SELECT CAST(COUNT(*) AS TEXT) FROM {table}")),
        );
        rows.expect("count").remove(0).remove(0)
    }

    /// What a request may change: messages, users, workspaces, handled events.
    fn footprint(&self) -> [String; 4] {
        ["scheduled_messages", "users", "workspaces", "slack_events"].map(|t| self.count(t))
    }

    /// Stored messages that are not whole and valid: none, whatever came in.
    fn half_stored(&self) -> String {
        self.count(
            "scheduled_messages AS m WHERE length(m.text) NOT BETWEEN 1 AND 4000 OR m.channel_id = ''
             OR m.team_id <> (SELECT u.team_id FROM users AS u WHERE u.id = m.author_id)
             OR m.user_id <> (SELECT u.user_id FROM users AS u WHERE u.id = m.author_id)
             OR m.due_at <= m.created_at",
        )
    }
}

/// A clean answer: not a 5xx, and a 200 carries nothing or JSON.
fn clean(status: u16, body: &[u8]) -> Result<(), TestCaseError> {
    prop_assert!(
        status < 500,
        "status {status}: {}",
        String::from_utf8_lossy(body)
    );
    if status == 200 && !body.is_empty() {
        prop_assert!(
            serde_json::from_slice::<Value>(body).is_ok(),
            "a 200 that is not JSON: {}",
            String::from_utf8_lossy(body)
        );
    }
    Ok(())
}

const ENDPOINTS: [&str; 3] = ["/slack/commands", "/slack/interactivity", "/slack/events"];

#[test]
fn random_bytes_on_every_endpoint_get_a_clean_refusal_and_store_nothing() {
    let target = Target::start();
    let before = target.footprint();
    let strategy = (
        0..ENDPOINTS.len(),
        proptest::collection::vec(any::<u8>(), 0..2048),
        any::<bool>(),
    );
    runner(600)
        .run(&strategy, |(endpoint, body, signed)| {
            let (status, answer) = target.send(ENDPOINTS[endpoint], body, signed);
            clean(status, &answer)?;
            if !signed {
                prop_assert_eq!(status, 401);
            }
            prop_assert_eq!(&target.footprint(), &before, "something was stored");
            Ok(())
        })
        .expect("no failing case");
    assert_eq!(
        WORKER_PANICS.load(Ordering::SeqCst),
        0,
        "a spawned task panicked"
    );
}

/// Values of the wrong type or hostile content, to put anywhere in a payload.
fn hostile_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| json!(f)),
        any::<bool>().prop_map(Value::from),
        Just(json!([])),
        Just(json!({"nested": {"deeper": [1, "two", null]}})),
        "[a-zA-Z0-9 _.-]{0,40}".prop_map(Value::from),
        (1usize..6000).prop_map(|n| Value::from("x".repeat(n))),
        (0usize..3).prop_map(|i| Value::from(["T0404", "U0404", "C0404"][i])),
        Just(Value::from("'); DROP TABLE scheduled_messages; --")),
        Just(Value::from(
            "{\"blocks\":[{\"type\":\"section\",\"text\":{\"type\":\"mrkdwn\",\"text\":\"*pwned*\"}}]}"
        )),
        Just(Value::from("مرحبا 🎉 שלום \u{200f}\u{202e}")),
        Just(Value::from("\u{0}\u{1}\u{7f}")),
        Just(Value::from("in 99999999999999 years overflow")),
        Just(Value::from("-1")),
        Just(Value::from("9223372036854775807")),
        Just(nested(200)),
    ]
}

fn nested(depth: usize) -> Value {
    (0..depth).fold(Value::Null, |inner, _| json!({ "a": inner }))
}

/// Every JSON pointer into `value`.
fn pointers(value: &Value, at: String, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => map.iter().for_each(|(k, v)| {
            let path = format!("{at}/{}", k.replace('~', "~0").replace('/', "~1"));
            out.push(path.clone());
            pointers(v, path, out);
        }),
        Value::Array(items) => items.iter().enumerate().for_each(|(i, v)| {
            let path = format!("{at}/{i}");
            out.push(path.clone());
            pointers(v, path, out);
        }),
        _ => {}
    }
}

#[derive(Debug, Clone)]
enum Mutation {
    Replace(usize, Value),
    Remove(usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), hostile_value()).prop_map(|(i, v)| Mutation::Replace(i, v)),
        any::<usize>().prop_map(Mutation::Remove),
    ]
}

fn mutate(mut value: Value, mutations: &[Mutation]) -> Value {
    for m in mutations {
        let mut paths = Vec::new();
        pointers(&value, String::new(), &mut paths);
        if paths.is_empty() {
            continue;
        }
        let (index, replacement) = match m {
            Mutation::Replace(i, v) => (*i, Some(v.clone())),
            Mutation::Remove(i) => (*i, None),
        };
        let path = &paths[index % paths.len()];
        match replacement {
            Some(v) => {
                if let Some(slot) = value.pointer_mut(path) {
                    *slot = v;
                }
            }
            None => {
                let (parent, key) = path.rsplit_once('/').unwrap_or(("", path));
                match value.pointer_mut(parent) {
                    Some(Value::Object(map)) => {
                        map.remove(&key.replace("~1", "/").replace("~0", "~"));
                    }
                    Some(Value::Array(items)) => {
                        if let Ok(i) = key.parse::<usize>()
                            && i < items.len()
                        {
                            items.remove(i);
                        }
                    }
                    _ => {}
                }
            }
        }
    }
    value
}

/// Valid payloads of every kind, from the installed workspace.
fn templates(target: &Target) -> Vec<(&'static str, Value)> {
    let response_url = target.app.sim.issue_response_url(TEAM, GENERAL, ALICE);
    let when = (Utc::now() + chrono::Duration::hours(3)).timestamp();
    let command = json!({"token": "x", "team_id": TEAM, "team_domain": "acme", "channel_id": GENERAL,
        "channel_name": "general", "user_id": ALICE, "user_name": "alice", "command": "/schedule",
        "text": "in 2 hours fuzzed", "api_app_id": "A0SIMAPP", "response_url": response_url, "trigger_id": "1.2.3"});
    let submission = json!({"type": "view_submission", "team": {"id": TEAM}, "user": {"id": ALICE, "team_id": TEAM},
        "trigger_id": "4.5.6", "view": {"id": "V1", "type": "modal", "callback_id": blocks::NEW_CALLBACK, "private_metadata": "",
        "state": {"values": {
            blocks::CHANNEL_BLOCK: {blocks::CHANNEL_ACTION: {"type": "conversations_select", "selected_conversation": GENERAL}},
            blocks::TEXT_BLOCK: {blocks::TEXT_ACTION: {"type": "plain_text_input", "value": "fuzzed modal"}},
            blocks::WHEN_BLOCK: {blocks::WHEN_ACTION: {"type": "datetimepicker", "selected_date_time": when}}}}},
        "response_urls": [{"block_id": blocks::CHANNEL_BLOCK, "action_id": blocks::CHANNEL_ACTION, "channel_id": GENERAL, "response_url": response_url}]});
    let actions = json!({"type": "block_actions", "team": {"id": TEAM}, "user": {"id": BOB, "team_id": TEAM},
        "response_url": response_url, "container": {"type": "message"},
        "actions": [{"action_id": blocks::ACTION_CANCEL, "value": "1", "block_id": "b", "type": "button"}]});
    let home = json!({"token": "x", "team_id": TEAM, "api_app_id": "A0SIMAPP", "type": "event_callback", "event_id": "Ev1",
        "event": {"type": "app_home_opened", "user": ALICE, "channel": "D0001", "tab": "home"}});
    let revoked = json!({"token": "x", "team_id": "T0404", "type": "event_callback", "event_id": "Ev2",
        "event": {"type": "tokens_revoked", "tokens": {"oauth": ["U0404"], "bot": []}}});
    vec![
        ("/slack/commands", command),
        ("/slack/interactivity", submission),
        ("/slack/interactivity", actions),
        ("/slack/events", home),
        ("/slack/events", revoked),
        (
            "/slack/events",
            json!({"type": "url_verification", "challenge": "abc"}),
        ),
    ]
}

/// The wire form of a payload: a form for commands (each field a string),
/// `payload=<json>` for interactions, JSON for events.
fn encode(path: &str, payload: &Value) -> Vec<u8> {
    match path {
        "/slack/commands" => {
            let pairs: Vec<(String, String)> = payload
                .as_object()
                .map(|m| {
                    m.iter()
                        .map(|(k, v)| {
                            (
                                k.clone(),
                                v.as_str()
                                    .map(str::to_owned)
                                    .unwrap_or_else(|| v.to_string()),
                            )
                        })
                        .collect()
                })
                .unwrap_or_default();
            serde_urlencoded::to_string(pairs)
                .unwrap_or_default()
                .into_bytes()
        }
        "/slack/interactivity" => serde_urlencoded::to_string([("payload", payload.to_string())])
            .unwrap_or_default()
            .into_bytes(),
        _ => payload.to_string().into_bytes(),
    }
}

#[test]
fn mutated_truncated_and_hostile_payloads_get_a_clean_answer_and_nothing_half_stored() {
    let target = Target::start();
    let templates = templates(&target);
    let strategy = (
        0..templates.len(),
        proptest::collection::vec(mutation(), 0..4),
        proptest::option::weighted(0.25, any::<proptest::sample::Index>()),
        any::<u64>(),
    );
    let answers = std::sync::Mutex::new(std::collections::BTreeMap::<u16, usize>::new());
    let started = std::time::Instant::now();
    runner(1500)
        .run(&strategy, |(which, mutations, cut, fresh)| {
            let (path, template) = &templates[which];
            // Each case is a new user action or delivery, not a replay of the last.
            let mut payload = template.clone();
            for key in ["/trigger_id", "/event_id"] {
                if let Some(slot) = payload.pointer_mut(key) {
                    *slot = Value::from(format!("{fresh}.{which}"));
                }
            }
            let mut body = encode(path, &mutate(payload, &mutations));
            if let Some(cut) = cut {
                body.truncate(cut.index(body.len() + 1));
            }
            let (status, answer) = target.send(path, body, true);
            *answers.lock().expect("tally").entry(status).or_default() += 1;
            clean(status, &answer)
        })
        .expect("no failing case");
    let answers = answers.into_inner().expect("tally");
    let stored = target.count("scheduled_messages");
    eprintln!(
        "mutated payloads: answers {answers:?}, {stored} messages stored, in {:?}",
        started.elapsed()
    );
    assert!(
        answers.get(&200).is_some_and(|n| *n > 0) && answers.get(&400).is_some_and(|n| *n > 0),
        "{answers:?}"
    );
    assert_ne!(stored, "0", "some mutations stay valid and are stored");
    assert_eq!(
        target.half_stored(),
        "0",
        "every stored message is whole and valid"
    );
    assert_eq!(
        WORKER_PANICS.load(Ordering::SeqCst),
        0,
        "a spawned task panicked"
    );
}
