//! The environment of the product contract (SPEC §2), parsed once at start-up.
//!
//! Every variable is also a command-line flag, and `.env` is read first, so
//! `--help` documents the whole configuration surface in one place. The
//! secrets are the exception: given as flags they are refused (see
//! [`Cli::parse_checked`]), and [`Config`]'s `Debug` never prints them.

use std::net::SocketAddr;
use std::time::Duration;

use clap::parser::ValueSource;
use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum};
use secrecy::SecretString;

/// `slack-scheduler [serve|migrate|sim|demo|backup|rotate-key|doctor|bench]`
#[derive(Debug, Parser)]
#[command(name = "slack-scheduler", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,

    #[command(flatten)]
    pub config: Config,
}

#[derive(Debug, Clone, Subcommand)]
pub enum Command {
    /// Run the HTTP server and the delivery cycle (the default).
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Run the bundled Slack simulator on its own port.
    Sim(SimArgs),
    /// Run the simulator and the app together on a throw-away SQLite database and show a delivery.
    Demo,
    /// Write a consistent copy of the SQLite database (and its key, to PATH.key) while it is in use.
    Backup(BackupArgs),
    /// Re-seal every stored token with the first key of TOKEN_ENCRYPTION_KEY.
    RotateKey,
    /// Check the configuration, database, key, Slack credentials and PUBLIC_URL; one line per problem.
    Doctor,
    /// Measure delivery and the slash command against the simulator (see BENCHMARKS.md).
    Bench(crate::bench::BenchArgs),
    /// The benchmark's baseline: the seed's sequential cycle, run until a signal.
    #[command(hide = true)]
    BenchNaive,
}

#[derive(Debug, Clone, Args)]
pub struct BackupArgs {
    /// Where the copy goes; must not exist yet. The key goes to PATH.key.
    pub path: std::path::PathBuf,
}

#[derive(Debug, Clone, Args)]
pub struct SimArgs {
    /// Where the simulator listens; point SLACK_API_URL at http://<this>/api.
    #[arg(long, env = "SIM_BIND_ADDR", default_value = "127.0.0.1:3001")]
    pub sim_bind_addr: SocketAddr,

    /// The app's base URL, where the simulator sends signed commands, interactions and events.
    #[arg(long, env = "SIM_APP_URL", default_value = "http://localhost:3000")]
    pub sim_app_url: String,

    /// Latency added to every Web API call, in milliseconds.
    #[arg(long, env = "SIM_LATENCY_MS", default_value_t = 0)]
    pub latency_ms: u64,

    /// The benchmark's Slack: no workspace-wide post limit, metadata kept on
    /// user-token posts, counts kept instead of every call (see BENCHMARKS.md).
    #[arg(long, env = "SIM_BENCH")]
    pub bench: bool,
}

/// Output format of the logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

/// Everything SPEC §2 lists. Slack credentials are optional here because only
/// `serve` needs them; [`Config::slack_credentials`] names the missing one.
/// `Debug` is written by hand: it shows whether each secret is set, never
/// its value.
#[derive(Clone, Args)]
pub struct Config {
    /// `sqlite://…` (created if missing) or `postgres://…`.
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "sqlite://slack-scheduler.db",
        global = true
    )]
    pub database_url: String,

    /// Where the HTTP server listens.
    #[arg(
        long,
        env = "BIND_ADDR",
        default_value = "127.0.0.1:3000",
        global = true
    )]
    pub bind_addr: SocketAddr,

    /// External base URL; the OAuth redirect is $PUBLIC_URL/slack/oauth/callback.
    #[arg(
        long,
        env = "PUBLIC_URL",
        default_value = "http://localhost:3000",
        global = true
    )]
    pub public_url: String,

    /// The Slack app's client id (required by `serve`).
    #[arg(long, env = "SLACK_CLIENT_ID", global = true)]
    pub slack_client_id: Option<String>,

    /// The Slack app's client secret (required by `serve`). Environment only.
    #[arg(
        long,
        env = "SLACK_CLIENT_SECRET",
        hide_env_values = true,
        global = true
    )]
    pub slack_client_secret: Option<String>,

    /// The Slack app's signing secret (required by `serve`). Environment only.
    #[arg(
        long,
        env = "SLACK_SIGNING_SECRET",
        hide_env_values = true,
        global = true
    )]
    pub slack_signing_secret: Option<String>,

    /// Base of Slack's Web API.
    #[arg(
        long,
        env = "SLACK_API_URL",
        default_value = "https://slack.com/api",
        global = true
    )]
    pub slack_api_url: String,

    /// Where `/slack/install` sends the browser.
    #[arg(
        long,
        env = "SLACK_AUTHORIZE_URL",
        default_value = "https://slack.com/oauth/v2/authorize",
        global = true
    )]
    pub slack_authorize_url: String,

    /// 32 bytes, base64: encrypts every token at rest. Without it a key file is
    /// generated once beside the SQLite database; PostgreSQL requires it.
    /// Environment only.
    #[arg(
        long,
        env = "TOKEN_ENCRYPTION_KEY",
        hide_env_values = true,
        global = true
    )]
    pub token_encryption_key: Option<String>,

    /// Bearer token for the stats API and /metrics; unset, they answer loopback
    /// clients only. Environment only.
    #[arg(long, env = "STATS_API_TOKEN", hide_env_values = true, global = true)]
    pub stats_api_token: Option<String>,

    /// Cycle period in seconds; cycles start on wall-clock multiples of it.
    #[arg(long, env = "SCHEDULER_TICK_SECS", default_value_t = 60,
          value_parser = clap::value_parser!(u64).range(1..=86_400), global = true)]
    pub scheduler_tick_secs: u64,

    /// Messages claimed per database round trip.
    #[arg(long, env = "SCHEDULER_BATCH_SIZE", default_value_t = 1000,
          value_parser = clap::value_parser!(u32).range(1..=100_000), global = true)]
    pub scheduler_batch_size: u32,

    /// Slack calls in flight at once, per process.
    #[arg(long, env = "SCHEDULER_CONCURRENCY", default_value_t = 256,
          value_parser = clap::value_parser!(u32).range(1..=10_000), global = true)]
    pub scheduler_concurrency: u32,

    /// Tries before a transient failure becomes final.
    #[arg(long, env = "SCHEDULER_MAX_ATTEMPTS", default_value_t = 5,
          value_parser = clap::value_parser!(u32).range(1..=100), global = true)]
    pub scheduler_max_attempts: u32,

    /// Seconds a call to Slack's Web API may take before it is given up (and, for a post, in doubt).
    #[arg(long, env = "SLACK_TIMEOUT_SECS", default_value_t = 15,
          value_parser = clap::value_parser!(u64).range(1..=120), global = true)]
    pub slack_timeout_secs: u64,

    /// Seconds a claim holds its messages; a process that dies leaves them in doubt this long.
    #[arg(long, env = "SCHEDULER_LEASE_SECS", default_value_t = 300,
          value_parser = clap::value_parser!(u64).range(5..=3_600), global = true)]
    pub scheduler_lease_secs: u64,

    /// Seconds an in-doubt message may wait for its history look-up before it is posted again.
    #[arg(long, env = "SCHEDULER_VERIFY_WAIT_SECS", default_value_t = 900,
          value_parser = clap::value_parser!(u64).range(0..=86_400), global = true)]
    pub scheduler_verify_wait_secs: u64,

    /// `conversations.history` calls a minute per workspace (1 outside Slack's Marketplace).
    #[arg(long, env = "SLACK_HISTORY_PER_MINUTE", default_value_t = 1,
          value_parser = clap::value_parser!(u32).range(1..=1_000), global = true)]
    pub slack_history_per_minute: u32,

    /// Messages a `conversations.history` page holds (15 outside Slack's Marketplace).
    #[arg(long, env = "SLACK_HISTORY_PAGE", default_value_t = 15,
          value_parser = clap::value_parser!(u32).range(1..=999), global = true)]
    pub slack_history_page: u32,

    /// Days a sent, failed or cancelled message keeps its text; then the text is erased.
    #[arg(long, env = "MESSAGE_RETENTION_DAYS", default_value_t = 30,
          value_parser = clap::value_parser!(u32).range(1..=3650), global = true)]
    pub message_retention_days: u32,

    /// Tracing filter, e.g. `info` or `slack_scheduler=debug`.
    #[arg(long, env = "RUST_LOG", default_value = "info", global = true)]
    pub rust_log: String,

    /// `text` or `json` (one JSON object per line).
    #[arg(long, env = "LOG_FORMAT", value_enum, default_value_t = LogFormat::Text, global = true)]
    pub log_format: LogFormat,
}

/// The settings that hold secrets: `(argument id, flag, variable)`.
const SECRETS: [(&str, &str, &str); 4] = [
    (
        "slack_client_secret",
        "--slack-client-secret",
        "SLACK_CLIENT_SECRET",
    ),
    (
        "slack_signing_secret",
        "--slack-signing-secret",
        "SLACK_SIGNING_SECRET",
    ),
    (
        "token_encryption_key",
        "--token-encryption-key",
        "TOKEN_ENCRYPTION_KEY",
    ),
    ("stats_api_token", "--stats-api-token", "STATS_API_TOKEN"),
];

impl Cli {
    /// Parses the command line like [`Parser::parse`] (which exits on
    /// `--help` or a bad argument), then refuses a secret given as a flag.
    ///
    /// Refused rather than warned about: a command line is readable by every
    /// local user (`ps`, `/proc/<pid>/cmdline`) from the moment the process
    /// starts, and lands in shell histories and process accounting, so by the
    /// time a warning is printed the secret is already out. Refusing costs
    /// the operator one `export` (or a line in `.env`); a warning costs a
    /// secret to rotate.
    pub fn parse_checked() -> Result<Self, ConfigError> {
        Self::parse_checked_from(std::env::args_os())
    }

    /// [`Cli::parse_checked`] over the given arguments.
    pub fn parse_checked_from<I, T>(args: I) -> Result<Self, ConfigError>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        let matches = Self::command().get_matches_from(args);
        if let Some((_, flag, variable)) = SECRETS
            .iter()
            .find(|(id, _, _)| given_as_flag(&matches, id))
        {
            return Err(ConfigError::SecretFlag { flag, variable });
        }
        Self::from_arg_matches(&matches).map_err(|err| err.exit())
    }
}

/// Whether `id` came from the command line, at the top level or after the
/// subcommand (the settings are global).
fn given_as_flag(matches: &clap::ArgMatches, id: &str) -> bool {
    let here = matches
        .try_get_raw(id)
        .ok()
        .flatten()
        .is_some_and(|_| matches.value_source(id) == Some(ValueSource::CommandLine));
    here || matches
        .subcommand()
        .is_some_and(|(_, sub)| given_as_flag(sub, id))
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        fn secret(value: &Option<String>) -> &'static str {
            match value {
                Some(_) => "Some(<redacted>)",
                None => "None",
            }
        }
        struct Shown(&'static str);
        impl std::fmt::Debug for Shown {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.0)
            }
        }
        f.debug_struct("Config")
            .field("database_url", &redacted_url(&self.database_url))
            .field("bind_addr", &self.bind_addr)
            .field("public_url", &self.public_url)
            .field("slack_client_id", &self.slack_client_id)
            .field(
                "slack_client_secret",
                &Shown(secret(&self.slack_client_secret)),
            )
            .field(
                "slack_signing_secret",
                &Shown(secret(&self.slack_signing_secret)),
            )
            .field("slack_api_url", &self.slack_api_url)
            .field("slack_authorize_url", &self.slack_authorize_url)
            .field(
                "token_encryption_key",
                &Shown(secret(&self.token_encryption_key)),
            )
            .field("stats_api_token", &Shown(secret(&self.stats_api_token)))
            .field("scheduler_tick_secs", &self.scheduler_tick_secs)
            .field("scheduler_batch_size", &self.scheduler_batch_size)
            .field("scheduler_concurrency", &self.scheduler_concurrency)
            .field("scheduler_max_attempts", &self.scheduler_max_attempts)
            .field("rust_log", &self.rust_log)
            .field("log_format", &self.log_format)
            .finish()
    }
}

/// A database URL without its password: `postgres://user:***@host/db`.
pub fn redacted_url(url: &str) -> String {
    match url.split_once('@') {
        Some((credentials, host)) if credentials.contains(':') && credentials.contains("//") => {
            let scheme_end = credentials.find("//").map(|i| i + 2).unwrap_or(0);
            let user = credentials[scheme_end..]
                .split(':')
                .next()
                .unwrap_or_default();
            format!("{}{user}:***@{host}", &credentials[..scheme_end])
        }
        _ => url.to_owned(),
    }
}

/// The Slack app's credentials, all present.
#[derive(Debug, Clone)]
pub struct SlackCredentials {
    pub client_id: String,
    pub client_secret: SecretString,
    pub signing_secret: SecretString,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{0} is not set: the Slack app's credentials are required (see README: Configuration)")]
    Missing(&'static str),
    /// The value is deliberately not part of the message.
    #[error(
        "{flag} is refused: a command line shows in `ps` to every user of the machine. Set {variable} in the environment or in .env instead"
    )]
    SecretFlag {
        flag: &'static str,
        variable: &'static str,
    },
}

impl Config {
    /// The three Slack credentials `serve` cannot run without; the error names
    /// the first one missing.
    pub fn slack_credentials(&self) -> Result<SlackCredentials, ConfigError> {
        fn required(value: &Option<String>, name: &'static str) -> Result<String, ConfigError> {
            match value.as_deref().map(str::trim) {
                Some(v) if !v.is_empty() => Ok(v.to_owned()),
                _ => Err(ConfigError::Missing(name)),
            }
        }
        Ok(SlackCredentials {
            client_id: required(&self.slack_client_id, "SLACK_CLIENT_ID")?,
            client_secret: required(&self.slack_client_secret, "SLACK_CLIENT_SECRET")?.into(),
            signing_secret: required(&self.slack_signing_secret, "SLACK_SIGNING_SECRET")?.into(),
        })
    }

    pub fn scheduler_settings(&self) -> crate::scheduler::Settings {
        crate::scheduler::Settings {
            tick: Duration::from_secs(self.scheduler_tick_secs),
            batch_size: self.scheduler_batch_size,
            concurrency: self.scheduler_concurrency as usize,
            max_attempts: self.scheduler_max_attempts,
            verify_wait: Duration::from_secs(self.scheduler_verify_wait_secs),
            lease: Duration::from_secs(self.scheduler_lease_secs),
            slack_timeout: Duration::from_secs(self.slack_timeout_secs),
            history_per_window: self.slack_history_per_minute,
            history_page: self.slack_history_page,
            ..crate::scheduler::Settings::default()
        }
    }

    /// The Web API base without a trailing slash, as slack-morphism expects.
    pub fn api_base(&self) -> String {
        self.slack_api_url.trim_end_matches('/').to_owned()
    }

    pub fn public_base(&self) -> String {
        self.public_url.trim_end_matches('/').to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Cli {
        Cli::try_parse_from(args).expect("arguments parse")
    }

    #[test]
    fn no_subcommand_means_serve_with_the_documented_defaults() {
        let cli = parse(&["slack-scheduler"]);
        assert!(cli.command.is_none());
        assert_eq!(cli.config.scheduler_tick_secs, 60);
        assert_eq!(cli.config.scheduler_batch_size, 1000);
        assert_eq!(cli.config.scheduler_concurrency, 256);
        assert_eq!(cli.config.scheduler_max_attempts, 5);
        assert_eq!(cli.config.scheduler_verify_wait_secs, 900);
        assert_eq!(
            (
                cli.config.slack_history_per_minute,
                cli.config.slack_history_page
            ),
            (1, 15)
        );
        assert_eq!(cli.config.bind_addr.to_string(), "127.0.0.1:3000");
        assert_eq!(cli.config.message_retention_days, 30);
    }

    #[test]
    fn a_missing_credential_is_named() {
        let mut cli = parse(&["slack-scheduler", "serve"]);
        cli.config.slack_client_id = Some("123.456".into());
        cli.config.slack_client_secret = Some("  ".into());
        let err = cli.config.slack_credentials().expect_err("secret is blank");
        assert!(
            err.to_string()
                .starts_with("SLACK_CLIENT_SECRET is not set"),
            "{err}"
        );
    }

    #[test]
    fn debug_shows_whether_secrets_are_set_but_never_their_values() {
        let mut cli = parse(&["slack-scheduler"]);
        cli.config.slack_client_secret = Some("client-secret-value".into());
        cli.config.slack_signing_secret = Some("signing-secret-value".into());
        cli.config.token_encryption_key = Some("key-value".into());
        cli.config.stats_api_token = Some("stats-token-value".into());
        cli.config.database_url = "postgres://app:db-password@db.internal/app".into();
        for shown in [
            format!("{:?}", cli.config),
            format!("{cli:?}"),
            format!("{:#?}", cli.config),
        ] {
            for secret in [
                "client-secret-value",
                "signing-secret-value",
                "key-value",
                "stats-token-value",
                "db-password",
            ] {
                assert!(!shown.contains(secret), "{secret} leaked: {shown}");
            }
            assert!(
                shown.contains("slack_signing_secret: Some(<redacted>)"),
                "{shown}"
            );
            assert!(
                shown.contains("postgres://app:***@db.internal/app"),
                "{shown}"
            );
        }
    }

    #[test]
    fn secrets_given_as_flags_are_refused_wherever_they_stand() {
        for args in [
            [
                "slack-scheduler",
                "--slack-signing-secret",
                "s3cr3t",
                "serve",
            ],
            [
                "slack-scheduler",
                "serve",
                "--slack-signing-secret",
                "s3cr3t",
            ],
        ] {
            let err = Cli::parse_checked_from(args).expect_err("refused");
            assert!(err.to_string().contains("SLACK_SIGNING_SECRET"), "{err}");
            assert!(!err.to_string().contains("s3cr3t"), "{err}");
        }
        let fine = Cli::parse_checked_from(["slack-scheduler", "--scheduler-tick-secs", "5"]);
        assert_eq!(fine.expect("not a secret").config.scheduler_tick_secs, 5);
    }

    #[test]
    fn a_zero_tick_is_refused() {
        assert!(Cli::try_parse_from(["slack-scheduler", "--scheduler-tick-secs", "0"]).is_err());
    }
}
