//! `slack-scheduler demo`: the simulator and the app together, on a
//! throw-away SQLite database. A workspace is installed through the real
//! OAuth flow, messages are scheduled through signed slash commands, the
//! modal (one of them repeating) and the "Schedule a reply" shortcut, the
//! scheduler delivers them (one fails on purpose), and what Slack received
//! is shown, with the stats.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use chrono::Utc;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::app::Application;
use crate::config::{Config, SlackCredentials};
use crate::crypto::TokenCipher;
use crate::domain::MessageStatus;
use crate::sim::{Command, SimSettings, Simulator};
use crate::slack::blocks;
use crate::store::Store;

const TEAM: &str = "T0001";
const ALICE: &str = "U0001";
const BOB: &str = "U0002";
const GENERAL: &str = "C0001";
const OLD: &str = "C0003";

/// A temporary directory removed when the demo ends.
struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub async fn run(config: &Config) -> anyhow::Result<()> {
    println!(
        "slack-scheduler demo: the Slack simulator and the app, on a throw-away SQLite database.\n"
    );
    let sim = Simulator::start(SimSettings::default())
        .await
        .context("starting the simulator")?;
    sim.seed_demo_workspace();
    let scratch = Scratch(std::env::temp_dir().join(format!(
        "slack-scheduler-demo-{}",
        hex::encode(rand::random::<[u8; 6]>())
    )));
    std::fs::create_dir_all(&scratch.0).context("creating a temporary directory")?;
    let database_url = format!("sqlite://{}", scratch.0.join("demo.db").display());

    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .context("binding a local port")?;
    let app_url = format!("http://{}", listener.local_addr()?);
    sim.allow_redirect_url(&format!("{app_url}/slack/oauth/callback"));
    let sim_settings = sim.settings();
    let mut app_config = config.clone();
    app_config.database_url = database_url.clone();
    app_config.public_url = app_url.clone();
    app_config.slack_api_url = sim.api_url();
    app_config.slack_authorize_url = sim.authorize_url();
    app_config.token_encryption_key = None;
    app_config.stats_api_token = None;
    let credentials = SlackCredentials {
        client_id: sim_settings.client_id.clone(),
        client_secret: sim_settings.client_secret.clone().into(),
        signing_secret: sim_settings.signing_secret.clone().into(),
    };
    let mut settings = app_config.scheduler_settings();
    settings.tick = Duration::from_secs(1);
    let store = Store::connect(
        &database_url,
        TokenCipher::from_config(None, &database_url)?,
    )
    .await?;
    store.migrate().await?;
    let app = Application::assemble(&app_config, credentials, store.clone(), settings, listener)?;
    let state = app.state();
    let stop = CancellationToken::new();
    let running = tokio::spawn(app.run_until(stop.clone()));
    println!("  simulated Slack  {}", sim.base_url());
    println!("  the app          {app_url}\n");

    println!("1. alice clicks \"Add to Slack\" and approves; bob connects his own account.");
    for (user, name) in [(ALICE, "alice"), (BOB, "bob")] {
        let page = sim
            .browser_install(&app_url, Some(user))
            .await
            .map_err(anyhow::Error::msg)?;
        anyhow::ensure!(
            page.status == 200,
            "install as {name} answered {}",
            page.status
        );
    }
    let workspace = store
        .workspace(TEAM)
        .await?
        .context("the workspace was not stored")?;
    println!(
        "   installed in \"{}\"; tokens stored encrypted.\n",
        workspace.team_name
    );

    println!("2. They schedule messages:");
    let quick = sim
        .send_command(
            &app_url,
            Command {
                team_id: TEAM,
                user_id: ALICE,
                channel_id: GENERAL,
                text: "in 3 seconds Stand-up moved to 11:00 ☕",
            },
        )
        .await?;
    println!("   alice › /schedule in 3 seconds Stand-up moved to 11:00 ☕");
    println!("     ↳ {}", ephemeral_text(&quick.body));
    sim.send_command(
        &app_url,
        Command {
            team_id: TEAM,
            user_id: BOB,
            channel_id: GENERAL,
            text: "in 4 seconds Lunch at noon? 🍜",
        },
    )
    .await?;
    println!("   bob   › /schedule in 4 seconds Lunch at noon? 🍜");

    sim.send_command(
        &app_url,
        Command {
            team_id: TEAM,
            user_id: ALICE,
            channel_id: GENERAL,
            text: "",
        },
    )
    .await?;
    let opened = crate::sim::wait_for(Duration::from_secs(5), || {
        (!sim.views().is_empty()).then_some(())
    })
    .await;
    anyhow::ensure!(opened.is_some(), "the modal did not open");
    let due = Utc::now() + chrono::Duration::seconds(5);
    let response_url = sim.issue_response_url(TEAM, OLD, ALICE);
    let submission = serde_json::json!({
        "type": "view_submission", "team": {"id": TEAM}, "user": {"id": ALICE, "team_id": TEAM},
        "view": {"id": "V1", "callback_id": blocks::NEW_CALLBACK, "private_metadata": "",
                 "state": {"values": {
                    blocks::CHANNEL_BLOCK: {blocks::CHANNEL_ACTION: {"type": "conversations_select", "selected_conversation": OLD}},
                    blocks::TEXT_BLOCK: {blocks::TEXT_ACTION: {"type": "rich_text_input",
                        "rich_text_value": sim.composed(TEAM, "Retro notes are in the doc")}},
                    blocks::WHEN_BLOCK: {blocks::WHEN_ACTION: {"type": "datetimepicker", "selected_date_time": due.timestamp()}}}}},
        "response_urls": [{"block_id": blocks::CHANNEL_BLOCK, "action_id": blocks::CHANNEL_ACTION,
                           "channel_id": OLD, "response_url": response_url}],
    });
    let submitted = sim.send_interaction(&app_url, submission).await?;
    anyhow::ensure!(
        submitted.status == 200 && submitted.body.is_empty(),
        "the modal submission was refused: {}",
        submitted.body
    );
    println!(
        "   alice › /schedule → modal: #old (archived), \"Retro notes are in the doc\", in 5 seconds"
    );
    // A series: every weekday at 9, straight from the quick form…
    let weekly = sim
        .send_command(
            &app_url,
            Command {
                team_id: TEAM,
                user_id: ALICE,
                channel_id: GENERAL,
                text: "every weekday at 9am Stand-up in 5 minutes",
            },
        )
        .await?;
    println!("   alice › /schedule every weekday at 9am Stand-up in 5 minutes");
    println!("     ↳ {}", ephemeral_text(&weekly.body));
    // …and a daily one from the modal, whose first goes out in a moment.
    let first = Utc::now() + chrono::Duration::seconds(6);
    let series = modal_submission(
        &sim,
        Some(GENERAL),
        None,
        "Daily digest: 3 PRs waiting for review",
        first.timestamp(),
        serde_json::json!({blocks::REPEAT_ACTION: {"type": "static_select",
            "selected_option": {"value": "daily"}}}),
        &[],
    );
    let submitted = sim.send_interaction(&app_url, series).await?;
    anyhow::ensure!(
        submitted.status == 200 && submitted.body.is_empty(),
        "the series was refused: {}",
        submitted.body
    );
    println!(
        "   alice › /schedule → modal: #general, \"Daily digest…\", repeat every day, from 6 seconds from now"
    );
    // A reply in bob's thread, from the message's "Schedule a reply"
    // shortcut: only if nobody answers him first.
    let parent = sim.post_as(GENERAL, BOB, "Who can review my PR today?");
    sim.send_message_shortcut(
        &app_url,
        TEAM,
        ALICE,
        GENERAL,
        &parent,
        blocks::REPLY_SHORTCUT,
    )
    .await?;
    let reply_modal = crate::sim::wait_for(Duration::from_secs(5), || {
        sim.views()
            .into_iter()
            .find(|v| v.view["title"]["text"] == "Schedule a reply")
            .map(|v| v.view)
    })
    .await
    .context("the reply modal did not open")?;
    let reply = modal_submission(
        &sim,
        None,
        reply_modal["private_metadata"].as_str(),
        "I can take it after lunch 👀",
        (Utc::now() + chrono::Duration::seconds(5)).timestamp(),
        serde_json::json!({}),
        &[blocks::OPTION_UNLESS_REPLIED],
    );
    sim.send_interaction(&app_url, reply).await?;
    println!(
        "   alice › \"Schedule a reply\" on bob's message: in 5 seconds, only if nobody has replied"
    );
    let listed = sim
        .send_command(
            &app_url,
            Command {
                team_id: TEAM,
                user_id: ALICE,
                channel_id: GENERAL,
                text: "list",
            },
        )
        .await?;
    println!(
        "   alice › /schedule list\n     ↳ {}\n",
        ephemeral_text(&listed.body)
    );

    println!("3. The scheduler delivers them when they are due…");
    let soon = Utc::now() + chrono::Duration::seconds(30);
    let settled = crate::sim::wait_for_async(Duration::from_secs(60), || async {
        let all = store.all_messages().await.ok()?;
        let due: Vec<_> = all.into_iter().filter(|m| m.due_at <= soon).collect();
        let next_made = store
            .all_messages()
            .await
            .ok()?
            .iter()
            .any(|m| m.occurrence == Some(2));
        (next_made
            && due.iter().all(|m| {
                matches!(
                    m.status,
                    MessageStatus::Sent | MessageStatus::Failed | MessageStatus::Skipped
                )
            }))
        .then_some(due)
    })
    .await
    .context("the messages were not delivered within a minute")?;
    for message in &settled {
        let outcome = match (&message.status, message.reason.as_deref()) {
            (MessageStatus::Sent, _) => format!(
                "sent at {}",
                message
                    .sent_at
                    .map(|t| t.format("%H:%M:%S").to_string())
                    .unwrap_or_default()
            ),
            (_, Some(reason)) => {
                format!("failed: {}", crate::slack::error::describe_reason(reason))
            }
            (status, None) => status.to_string(),
        };
        let kind = match (message.occurrence, &message.options.thread_ts) {
            (Some(n), _) => format!("  (occurrence {n} of a series)"),
            (None, Some(_)) => "  (a reply in a thread)".to_owned(),
            (None, None) => String::new(),
        };
        println!(
            "   #{:<3} due {} UTC  {outcome}{kind}",
            message.id,
            message.due_at.format("%H:%M:%S")
        );
    }
    for series in store
        .author_series(
            store
                .user(TEAM, ALICE)
                .await?
                .context("alice is not stored")?
                .author
                .id,
            10,
        )
        .await?
    {
        let next: Vec<String> = blocks::SeriesView::of(series.clone(), Utc::now(), 3)
            .next
            .iter()
            .map(|at| at.format("%a %d %b %H:%M UTC").to_string())
            .collect();
        println!(
            "   series #{}: {}, next {}",
            series.id,
            series.recurrence.describe(),
            next.join(", ")
        );
    }
    // The author hears about the failure by DM.
    let _ = crate::sim::wait_for(Duration::from_secs(10), || {
        sim.messages(None)
            .iter()
            .any(|m| m.as_bot && m.text.contains("could not be posted"))
            .then_some(())
    })
    .await;

    println!("\n4. What Slack received:");
    for message in sim.messages(None) {
        let who = if message.as_bot {
            "Scheduler (bot)".to_owned()
        } else {
            message.user.clone()
        };
        let first_line = message.text.lines().next().unwrap_or_default();
        let thread = if message.thread_ts.is_some() {
            " ↳ in thread"
        } else {
            ""
        };
        println!("   {:<6} {:<16} {first_line}{thread}", message.channel, who);
    }
    let calls = sim.calls(None);
    let mut methods: Vec<(String, usize)> = Vec::new();
    for call in &calls {
        match methods.iter_mut().find(|(m, _)| *m == call.method) {
            Some((_, n)) => *n += 1,
            None => methods.push((call.method.clone(), 1)),
        }
    }
    let summary: Vec<String> = methods.iter().map(|(m, n)| format!("{m} ×{n}")).collect();
    println!("   Web API calls: {}", summary.join(", "));

    println!("\n5. Stats (GET /api/messages/scheduler/stats):");
    let stats = reqwest::get(format!("{app_url}/api/messages/scheduler/stats"))
        .await?
        .text()
        .await?;
    let pretty = serde_json::from_str::<serde_json::Value>(&stats)
        .and_then(|v| serde_json::to_string_pretty(&v))
        .unwrap_or(stats);
    for line in pretty.lines() {
        println!("   {line}");
    }
    let busy = state
        .scheduler
        .recent_cycles()
        .into_iter()
        .rev()
        .find(|c| c.claimed > 0);
    if let Some(cycle) = busy {
        println!(
            "\n   the last cycle with work: {} claimed, {} sent, {} failed in {} ms, {} database statements",
            cycle.claimed, cycle.sent, cycle.failed, cycle.duration_ms, cycle.db_statements
        );
    }

    stop.cancel();
    running.await.context("the app stopped abnormally")??;
    println!(
        "\nDone. Run `slack-scheduler sim` and `slack-scheduler serve` to try it by hand (see README)."
    );
    Ok(())
}

/// A signed `view_submission` of the scheduling modal, as Slack sends it
/// when a person fills it in: into `channel`, or as a reply (`metadata`
/// names the thread); `repeat` holds the Repeat field's state, if any.
fn modal_submission(
    sim: &Simulator,
    channel: Option<&str>,
    metadata: Option<&str>,
    text: &str,
    when: i64,
    repeat: serde_json::Value,
    options: &[&str],
) -> serde_json::Value {
    let ticked: Vec<serde_json::Value> = options
        .iter()
        .map(|o| serde_json::json!({"value": o}))
        .collect();
    let mut values = serde_json::json!({
        blocks::TEXT_BLOCK: {blocks::TEXT_ACTION: {"type": "rich_text_input",
            "rich_text_value": sim.composed(TEAM, text)}},
        blocks::WHEN_BLOCK: {blocks::WHEN_ACTION: {"type": "datetimepicker", "selected_date_time": when}},
        blocks::REPEAT_BLOCK: repeat,
        blocks::OPTIONS_BLOCK: {blocks::OPTIONS_ACTION: {"type": "checkboxes", "selected_options": ticked}},
    });
    let mut payload = serde_json::json!({
        "type": "view_submission", "team": {"id": TEAM}, "user": {"id": ALICE, "team_id": TEAM},
        "view": {"id": "V2", "callback_id": blocks::NEW_CALLBACK,
                 "private_metadata": metadata.unwrap_or_default()},
    });
    if let Some(channel) = channel {
        values[blocks::CHANNEL_BLOCK] = serde_json::json!({blocks::CHANNEL_ACTION:
            {"type": "conversations_select", "selected_conversation": channel}});
        payload["response_urls"] = serde_json::json!([{"block_id": blocks::CHANNEL_BLOCK,
            "action_id": blocks::CHANNEL_ACTION, "channel_id": channel,
            "response_url": sim.issue_response_url(TEAM, channel, ALICE)}]);
    }
    payload["view"]["state"] = serde_json::json!({ "values": values });
    payload
}

/// The text of an ephemeral answer, on one line.
fn ephemeral_text(body: &str) -> String {
    serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v.get("text").and_then(|t| t.as_str()).map(str::to_owned))
        .unwrap_or_else(|| body.to_owned())
        .replace('\n', " ")
}
