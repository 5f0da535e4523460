//! The seed's delivery cycle, the benchmark's "before"
//! (`--strategy naive`), run in a process of its own like `serve`: one
//! query for every due message, then one message at a time: read its
//! author's row, refresh the token if it is about to expire, post, update
//! the row. A 429 is waited out and the post tried again, as Slack's SDKs
//! do; any other failure fails the message.
//!
//! It wakes every second rather than the seed's every minute, so that its
//! lateness is that of its throughput and not of its tick. Its SQL lives
//! in `crate::store` (`naive_*`), like all SQL.

use std::time::Duration;

use chrono::Utc;
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::crypto::TokenCipher;
use crate::slack::{ErrorClass, SlackApi, SlackOAuth};
use crate::store::{NaiveDue, Store};
use crate::tokens::needs_refresh;

/// Printed once the process is ready to deliver.
pub const READY: &str = "naive cycle ready";
/// Slack's SDKs refresh a token with less than this left.
const REFRESH_MARGIN: Duration = Duration::from_secs(2 * 3600);

/// What the process did, printed as one JSON line as it stops.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct NaiveReport {
    pub statements: u64,
    pub posted: u64,
    pub failed: u64,
    pub refreshed: u64,
}

struct Naive {
    store: Store,
    slack: SlackApi,
    oauth: SlackOAuth,
    report: NaiveReport,
}

/// Runs the naive cycle until SIGTERM or SIGINT, then prints its report.
pub async fn run(config: &Config) -> anyhow::Result<()> {
    let cipher =
        TokenCipher::from_config(config.token_encryption_key.as_deref(), &config.database_url)?;
    let store = Store::connect(&config.database_url, cipher)
        .await?
        .counted();
    let credentials = config.slack_credentials()?;
    let timeout = Duration::from_secs(config.slack_timeout_secs);
    let mut naive = Naive {
        slack: SlackApi::new(&config.api_base(), timeout)?,
        oauth: SlackOAuth::new(
            &credentials.client_id,
            &credentials.client_secret,
            &config.slack_authorize_url,
            &config.api_base(),
            &format!("{}/slack/oauth/callback", config.public_base()),
        )?,
        store,
        report: NaiveReport::default(),
    };
    let stop = CancellationToken::new();
    crate::app::cancel_on_signal(stop.clone());
    println!("{READY}");
    while !stop.is_cancelled() {
        let due = naive.store.naive_due_messages(Utc::now()).await?;
        if due.is_empty() {
            tokio::select! {
                () = tokio::time::sleep(Duration::from_secs(1)) => {}
                () = stop.cancelled() => {}
            }
            continue;
        }
        for message in &due {
            if stop.is_cancelled() {
                break;
            }
            naive.deliver(message).await;
        }
    }
    naive.report.statements = naive.store.statements();
    println!("{}", serde_json::to_string(&naive.report)?);
    Ok(())
}

impl Naive {
    async fn deliver(&mut self, message: &NaiveDue) {
        let now = Utc::now();
        let user = match self.store.user_by_id(message.author_id).await {
            Ok(Some(user)) => user,
            _ => return self.fail(message, "not_connected").await,
        };
        let Some(mut credentials) = user.credentials else {
            return self.fail(message, "not_connected").await;
        };
        if needs_refresh(credentials.expires_at, now, REFRESH_MARGIN)
            && let Some(refresh_token) = credentials.refresh_token.clone()
        {
            match self.oauth.refresh(&refresh_token, now).await {
                Ok(grant) => {
                    let stored = self
                        .store
                        .connect_user(&user.author.team_id, &user.author.user_id, &grant, now)
                        .await;
                    if stored.is_err() {
                        return self.fail(message, "database_error").await;
                    }
                    self.report.refreshed += 1;
                    credentials.access_token = grant.access_token;
                }
                Err(err) => return self.fail(message, &err.reason()).await,
            }
        }
        loop {
            let posted = self
                .slack
                .post_message(
                    &credentials.access_token,
                    &message.team_id,
                    &message.channel_id,
                    &message.text,
                    None,
                    Some(message.id),
                )
                .await;
            match posted {
                Ok(posted) => {
                    if self
                        .store
                        .naive_mark_sent(message.id, &posted.ts, Utc::now())
                        .await
                        .is_ok()
                    {
                        self.report.posted += 1;
                    }
                    return;
                }
                Err(err) => match err.class() {
                    ErrorClass::RateLimited(wait) => {
                        tokio::time::sleep(wait.unwrap_or(Duration::from_secs(1))).await;
                    }
                    _ => return self.fail(message, &err.reason()).await,
                },
            }
        }
    }

    async fn fail(&mut self, message: &NaiveDue, reason: &str) {
        self.report.failed += 1;
        if let Err(err) = self
            .store
            .naive_mark_failed(message.id, reason, Utc::now())
            .await
        {
            tracing::error!(message_id = message.id, error = %err, "cannot record a failure");
        }
    }
}
