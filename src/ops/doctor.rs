//! `slack-scheduler doctor`: checks a deployment the way an operator would
//! after installing it, and prints one line per check, each problem with
//! what to fix. It changes nothing: it creates no database and no key file,
//! applies no migration, and refreshes no token (a refresh rotates the
//! token pair, which would race the `serve` that owns it).

use std::time::Duration;

use chrono::Utc;

use crate::config::Config;
use crate::crypto::{TokenCipher, sqlite_path};
use crate::slack::{SlackApi, SlackError, SlackOAuth};
use crate::store::Store;

/// Workspaces whose bot token is tried; past this the line says how many were.
const MAX_WORKSPACES: i64 = 50;
const NETWORK_TIMEOUT: Duration = Duration::from_secs(10);

/// One check's result: `ok` lines inform, problems say what to fix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub ok: bool,
    pub area: String,
    pub text: String,
}

impl Finding {
    fn ok(area: impl Into<String>, text: impl Into<String>) -> Self {
        Self {
            ok: true,
            area: area.into(),
            text: text.into(),
        }
    }

    fn problem(area: impl Into<String>, text: impl Into<String>) -> Self {
        Self {
            ok: false,
            area: area.into(),
            text: text.into(),
        }
    }
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mark = if self.ok { "ok  " } else { "FAIL" };
        write!(f, "{mark} {}: {}", self.area, self.text)
    }
}

/// Every check, in the order an operator would fix them.
pub async fn examine(config: &Config) -> Vec<Finding> {
    let mut findings = check_configuration(config);
    if let Some(store) = check_database(config, &mut findings).await {
        check_key(&store, &mut findings).await;
        check_workspaces(config, &store, &mut findings).await;
        store.close().await;
    }
    check_client_credentials(config, &mut findings).await;
    check_public_url(config, &mut findings).await;
    findings
}

fn check_configuration(config: &Config) -> Vec<Finding> {
    let mut findings = Vec::new();
    let missing: Vec<&str> = [
        ("SLACK_CLIENT_ID", &config.slack_client_id),
        ("SLACK_CLIENT_SECRET", &config.slack_client_secret),
        ("SLACK_SIGNING_SECRET", &config.slack_signing_secret),
    ]
    .into_iter()
    .filter(|(_, value)| value.as_deref().is_none_or(|v| v.trim().is_empty()))
    .map(|(name, _)| name)
    .collect();
    for name in &missing {
        findings.push(Finding::problem(
            "configuration",
            format!("{name} is not set: copy it from the Slack app's Basic Information page into the environment (or /etc/slack-scheduler/env)"),
        ));
    }
    let public = config.public_base();
    let public_ok = public.starts_with("https://") || public.starts_with("http://");
    if !public_ok {
        findings.push(Finding::problem(
            "configuration",
            format!("PUBLIC_URL {public:?} is not an http(s) URL: set it to the address Slack and browsers reach this app at"),
        ));
    }
    if missing.is_empty() && public_ok {
        findings.push(Finding::ok(
            "configuration",
            format!("Slack credentials set; PUBLIC_URL {public}; OAuth redirect {public}/slack/oauth/callback"),
        ));
    }
    findings
}

/// Connects and compares migrations; the store, if it opened.
async fn check_database(config: &Config, findings: &mut Vec<Finding>) -> Option<Store> {
    let url = &config.database_url;
    if url.starts_with("sqlite:")
        && let Some(path) = sqlite_path(url)
        && !path.exists()
    {
        findings.push(Finding::problem(
            "database",
            format!("{} does not exist: check DATABASE_URL, or create it with `slack-scheduler migrate`", path.display()),
        ));
        return None;
    }
    let cipher =
        match TokenCipher::from_existing_config(config.token_encryption_key.as_deref(), url) {
            Ok(cipher) => cipher,
            Err(err) => {
                findings.push(Finding::problem("key", err.to_string()));
                // The database can still be checked; the key check cannot.
                TokenCipher::random()
            }
        };
    let key_usable = findings.iter().all(|f| f.area != "key");
    let store = match Store::connect_existing(url, cipher).await {
        Ok(store) => store,
        Err(err) => {
            findings.push(Finding::problem(
                "database",
                format!(
                    "cannot connect ({err}): check DATABASE_URL and that the database server runs"
                ),
            ));
            return None;
        }
    };
    match store.migration_status().await {
        Ok(status) if !status.failed.is_empty() => findings.push(Finding::problem(
            "database",
            format!("migration {:?} is recorded as failed: see the serve log of that start, fix the cause, and run `slack-scheduler migrate`", status.failed),
        )),
        Ok(status) if !status.pending.is_empty() => findings.push(Finding::problem(
            "database",
            format!(
                "{} of {} migrations applied, pending {:?}: run `slack-scheduler migrate` (serve also applies them at start)",
                status.known - status.pending.len(),
                status.known,
                status.pending
            ),
        )),
        Ok(status) if !status.unknown.is_empty() => findings.push(Finding::problem(
            "database",
            format!("the database has migrations {:?} this binary does not know: a newer version ran here; install it again", status.unknown),
        )),
        Ok(status) => findings.push(Finding::ok(
            "database",
            format!("answers; all {} migrations applied", status.known),
        )),
        Err(err) => findings.push(Finding::problem(
            "database",
            format!("cannot read the migrations table ({err})"),
        )),
    }
    if !key_usable {
        store.close().await;
        return None;
    }
    Some(store)
}

async fn check_key(store: &Store, findings: &mut Vec<Finding>) {
    match super::keys::verify_stored_tokens(store).await {
        Ok(audit) if audit.stale > 0 => findings.push(Finding::ok(
            "key",
            format!(
                "opens all {} stored tokens; {} are sealed with an older key: run `slack-scheduler rotate-key` before dropping it",
                audit.total, audit.stale
            ),
        )),
        Ok(audit) => findings.push(Finding::ok(
            "key",
            format!("opens all {} stored tokens", audit.total),
        )),
        Err(err) => findings.push(Finding::problem("key", err.to_string())),
    }
}

/// `auth.test` with each installed workspace's bot token.
async fn check_workspaces(config: &Config, store: &Store, findings: &mut Vec<Finding>) {
    let teams = match store.installed_team_ids(MAX_WORKSPACES + 1).await {
        Ok(teams) => teams,
        Err(err) => {
            findings.push(Finding::problem(
                "workspaces",
                format!("cannot list them ({err})"),
            ));
            return;
        }
    };
    if teams.is_empty() {
        findings.push(Finding::ok(
            "workspaces",
            format!(
                "none installed yet: open {}/slack/install to add one",
                config.public_base()
            ),
        ));
        return;
    }
    let slack = match SlackApi::new(&config.api_base(), NETWORK_TIMEOUT) {
        Ok(slack) => slack,
        Err(err) => {
            findings.push(Finding::problem(
                "workspaces",
                format!("cannot set up an HTTP client ({err})"),
            ));
            return;
        }
    };
    for team in teams.iter().take(MAX_WORKSPACES as usize) {
        let area = format!("workspace {team}");
        let bot = match store.workspace(team).await {
            Ok(Some(workspace)) => workspace.bot,
            Ok(None) => None,
            Err(err) => {
                findings.push(Finding::problem(
                    area,
                    format!("cannot read its bot token ({err})"),
                ));
                continue;
            }
        };
        let Some(bot) = bot else { continue };
        let reinstall = format!(
            "install the app again from {}/slack/install?team={team}",
            config.public_base()
        );
        match slack.auth_test(&bot.access_token, team).await {
            Ok(_) => findings.push(Finding::ok(area, "bot token accepted by auth.test")),
            // Expired (rotation): `serve` refreshes it before its next use.
            Err(SlackError::Api { code }) if code == "token_expired" => findings.push(Finding::ok(
                area,
                "bot token expired, as rotated tokens do after 12 hours; serve refreshes it before its next use",
            )),
            Err(SlackError::Api { code }) => findings.push(Finding::problem(
                area,
                format!("Slack refused the bot token ({code}): {reinstall}"),
            )),
            Err(err) => findings.push(Finding::problem(
                area,
                format!("auth.test did not answer ({err}): check SLACK_API_URL and the network path to Slack"),
            )),
        }
    }
    if teams.len() as i64 > MAX_WORKSPACES {
        findings.push(Finding::ok(
            "workspaces",
            format!("checked the first {MAX_WORKSPACES}; more are installed"),
        ));
    }
}

/// Slack has no method that only checks a client id and secret, but
/// `oauth.v2.access` checks the client before the code: with a code that
/// cannot be valid it answers `invalid_code` when the id and secret are
/// right, and `invalid_client_id` or `bad_client_secret` when they are not.
/// Nothing is granted either way. The signing secret cannot be checked
/// from here: only a request Slack signs proves it (the app logs a 401).
async fn check_client_credentials(config: &Config, findings: &mut Vec<Finding>) {
    let (Ok(credentials), area) = (config.slack_credentials(), "slack app") else {
        return;
    };
    let oauth = match SlackOAuth::new(
        &credentials.client_id,
        &credentials.client_secret,
        &config.slack_authorize_url,
        &config.api_base(),
        &format!("{}/slack/oauth/callback", config.public_base()),
    ) {
        Ok(oauth) => oauth,
        Err(err) => {
            findings.push(Finding::problem(area, err.to_string()));
            return;
        }
    };
    let probe = tokio::time::timeout(
        NETWORK_TIMEOUT,
        oauth.exchange_code("slack-scheduler-doctor-probe", Utc::now()),
    )
    .await;
    let finding = match probe {
        Err(_) => Finding::problem(
            area,
            "oauth.v2.access did not answer within 10 s: check SLACK_API_URL and the network path to Slack",
        ),
        Ok(Err(crate::slack::OAuthError::Refused(code))) => match code.as_str() {
            "invalid_code" => Finding::ok(
                area,
                "SLACK_CLIENT_ID and SLACK_CLIENT_SECRET accepted by oauth.v2.access",
            ),
            "invalid_client_id" => Finding::problem(
                area,
                "Slack does not know SLACK_CLIENT_ID: copy the Client ID from the app's Basic Information page",
            ),
            "bad_client_secret" => Finding::problem(
                area,
                "Slack refused SLACK_CLIENT_SECRET: copy the Client Secret from the app's Basic Information page (regenerated secrets replace the old one)",
            ),
            other => Finding::problem(
                area,
                format!("oauth.v2.access answered {other}: check the app's credentials"),
            ),
        },
        Ok(Err(err)) => Finding::problem(area, format!("{err}: check SLACK_API_URL")),
        Ok(Ok(_)) => Finding::problem(
            area,
            "oauth.v2.access accepted a made-up code: SLACK_API_URL does not point at Slack",
        ),
    };
    findings.push(finding);
}

async fn check_public_url(config: &Config, findings: &mut Vec<Finding>) {
    let url = format!("{}/healthz", config.public_base());
    let client = match reqwest::Client::builder()
        .timeout(NETWORK_TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .build()
    {
        Ok(client) => client,
        Err(err) => {
            findings.push(Finding::problem(
                "public url",
                format!("cannot set up an HTTP client ({err})"),
            ));
            return;
        }
    };
    let finding = match client.get(&url).send().await {
        Ok(response) if response.status().is_success() => Finding::ok(
            "public url",
            format!("GET {url} answered {}", response.status().as_u16()),
        ),
        Ok(response) => Finding::problem(
            "public url",
            format!(
                "GET {url} answered {}: PUBLIC_URL must reach this app (check the proxy in front of it)",
                response.status().as_u16()
            ),
        ),
        Err(err) => Finding::problem(
            "public url",
            format!(
                "GET {url} failed ({}): start serve, and make PUBLIC_URL the address it is reached at",
                describe_request_error(&err)
            ),
        ),
    };
    findings.push(finding);
}

fn describe_request_error(err: &reqwest::Error) -> String {
    if err.is_timeout() {
        "no answer within 10 s".into()
    } else if err.is_connect() {
        "connection refused or unreachable".into()
    } else {
        err.to_string()
    }
}

#[derive(Debug, thiserror::Error)]
#[error("doctor found {0} problem(s)")]
pub struct Problems(pub usize);

/// `slack-scheduler doctor`: prints every finding; fails if any is a problem.
pub async fn run(config: &Config) -> anyhow::Result<()> {
    let findings = examine(config).await;
    for finding in &findings {
        println!("{finding}");
    }
    let problems = findings.iter().filter(|f| !f.ok).count();
    if problems > 0 {
        return Err(Problems(problems).into());
    }
    Ok(())
}
