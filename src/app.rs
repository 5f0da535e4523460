//! Wiring: configuration → store, Slack client, scheduler and router; then
//! run the HTTP server and the scheduler until a shutdown signal.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::bot::Bot;
use crate::clock::Clock;
use crate::config::{Config, SlackCredentials};
use crate::crypto::TokenCipher;
use crate::foresight::Foresight;
use crate::homes::Homes;
use crate::recurring::Keeper;
use crate::retention::Retention;
use crate::scheduler::{Scheduler, SchedulerStatus, Settings, WakeSignal};
use crate::slack::{SignatureVerifier, SlackApi, SlackOAuth};
use crate::store::{StatementCount, Store};
use crate::tokens::Refresher;

/// What request handlers share.
pub struct AppState {
    pub store: Store,
    pub bot: Arc<Bot>,
    pub homes: Arc<Homes>,
    pub oauth: SlackOAuth,
    pub verifier: SignatureVerifier,
    pub public_url: String,
    pub stats_api_token: Option<String>,
    pub scheduler: Arc<SchedulerStatus>,
    pub wake: Arc<WakeSignal>,
    pub foresight: Arc<Foresight>,
    /// Statements run by each part of the process, for `/metrics`.
    pub statements: Vec<(&'static str, StatementCount)>,
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    #[error(transparent)]
    Key(#[from] crate::crypto::KeyError),
    #[error("cannot open the database: {0}")]
    Store(#[from] crate::store::StoreError),
    #[error(transparent)]
    Tokens(#[from] crate::ops::keys::KeyCheckError),
    #[error(transparent)]
    OAuth(#[from] crate::slack::OAuthError),
    #[error(transparent)]
    Settings(#[from] crate::scheduler::SettingsError),
    #[error("cannot set up the HTTP client: {0}")]
    Http(std::io::Error),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
}

/// A built application: bound to its port, not yet serving.
pub struct Application {
    listener: TcpListener,
    state: Arc<AppState>,
    scheduler: Arc<Scheduler>,
    retention: Retention,
    keeper: Keeper,
    sampler_store: Store,
}

impl Application {
    /// Opens the database (applying migrations), binds the port and builds
    /// the scheduler. Binding here, before anything is spawned, lets tests
    /// ask for port 0 and know the address without waiting.
    pub async fn build(config: &Config, settings: Settings) -> Result<Self, StartError> {
        let credentials = config.slack_credentials()?;
        let cipher =
            TokenCipher::from_config(config.token_encryption_key.as_deref(), &config.database_url)?;
        let store = Store::connect(&config.database_url, cipher).await?;
        store.migrate().await?;
        // A wrong key would otherwise show as every user disconnected.
        crate::ops::keys::verify_stored_tokens(&store).await?;
        let listener = TcpListener::bind(config.bind_addr)
            .await
            .map_err(|source| StartError::Bind {
                addr: config.bind_addr,
                source,
            })?;
        Self::assemble(config, credentials, store, settings, listener)
    }

    /// Builds around an open store and a bound listener (tests, the demo).
    /// `config.bind_addr` is ignored; `public_url` should name the listener.
    pub fn assemble(
        config: &Config,
        credentials: SlackCredentials,
        store: Store,
        settings: Settings,
        listener: TcpListener,
    ) -> Result<Self, StartError> {
        settings.check()?;
        // Installed before anything records a metric.
        crate::telemetry::metrics_handle();
        let slack =
            SlackApi::new(&config.api_base(), settings.slack_timeout).map_err(StartError::Http)?;
        let public_url = config.public_base();
        let oauth = SlackOAuth::new(
            &credentials.client_id,
            &credentials.client_secret,
            &config.slack_authorize_url,
            &config.api_base(),
            &format!("{public_url}/slack/oauth/callback"),
        )?;
        let refresher = Refresher::with_clock(
            store.counted(),
            oauth.clone(),
            settings.refresh_lock,
            Clock::system(),
        );
        let homes = Arc::new(Homes::default());
        let scheduler = Arc::new(
            Scheduler::new(&store, slack.clone(), refresher.clone(), settings)
                .with_changes(homes.clone()),
        );
        // The bot's statements (Home tabs, notices) are counted apart from the
        // request handlers', so each figure says what its own path costs.
        let bot_store = store.counted();
        // Background work counts its statements apart from the requests'.
        let retention_store = store.counted();
        let sampler_store = store.counted();
        let keeper_store = store.counted();
        let foresight_store = store.counted();
        let statements = vec![
            ("cycle", scheduler.statement_count()),
            ("requests", store.statement_count()),
            ("bot", bot_store.statement_count()),
            ("retention", retention_store.statement_count()),
            ("sampler", sampler_store.statement_count()),
            ("series", keeper_store.statement_count()),
            ("foresight", foresight_store.statement_count()),
        ];
        let bot = Arc::new(Bot::new(
            bot_store,
            slack.clone(),
            refresher.clone(),
            public_url.clone(),
        ));
        let foresight = Arc::new(Foresight::new(
            foresight_store,
            slack,
            bot.clone(),
            refresher.clone(),
            homes.clone(),
        ));
        let state = Arc::new(AppState {
            store,
            bot,
            homes,
            oauth,
            verifier: SignatureVerifier::new(&credentials.signing_secret),
            public_url,
            stats_api_token: config.stats_api_token.clone().filter(|t| !t.is_empty()),
            scheduler: scheduler.status(),
            wake: scheduler.wake_signal(),
            foresight,
            statements,
        });
        let retention = Retention::new(retention_store, config.message_retention_days);
        let keeper = Keeper::new(keeper_store, refresher.clock(), state.wake.clone())
            .with_changes(state.homes.clone());
        Ok(Self {
            listener,
            state,
            scheduler,
            retention,
            keeper,
            sampler_store,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 0)))
    }

    pub fn state(&self) -> Arc<AppState> {
        self.state.clone()
    }

    pub fn scheduler(&self) -> Arc<Scheduler> {
        self.scheduler.clone()
    }

    /// Serves HTTP and runs the scheduler until `shutdown` fires; then stops
    /// taking requests, lets the cycle finish and record its calls in flight.
    pub async fn run_until(self, shutdown: CancellationToken) -> std::io::Result<()> {
        let router = crate::http::router(self.state.clone());
        let scheduler = self.scheduler.clone();
        let scheduler_stop = shutdown.clone();
        let scheduler_task = tokio::spawn(async move { scheduler.run(scheduler_stop).await });
        let (bot, homes) = (self.state.bot.clone(), self.state.homes.clone());
        let bot_stop = shutdown.clone();
        let notices_task = tokio::spawn(async move {
            bot.follow_notices(homes.notices(), bot_stop).await;
        });
        let homes_task = tokio::spawn(
            self.state
                .homes
                .clone()
                .run(self.state.bot.clone(), shutdown.clone()),
        );
        let addr = self.local_addr();
        let retention_task = tokio::spawn(self.retention.run(shutdown.clone()));
        let keeper_task = tokio::spawn(self.keeper.run(shutdown.clone()));
        let foresight_task = tokio::spawn(self.state.foresight.clone().run(shutdown.clone()));
        let sampler_task = tokio::spawn(crate::sampler::run(self.sampler_store, shutdown.clone()));
        tracing::info!(addr = %addr, "listening");
        let server_stop = shutdown.clone();
        axum::serve(
            self.listener,
            router.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(async move { server_stop.cancelled().await })
        .await?;
        // Every Slack call has its own timeout, so the cycle in hand finishes;
        // the grace is a last resort. Rows left `sending` are verified later.
        match tokio::time::timeout(SHUTDOWN_GRACE, scheduler_task).await {
            Ok(Ok(())) => {}
            Ok(Err(err)) => tracing::error!(error = %err, "scheduler task ended abnormally"),
            Err(_) => {
                tracing::error!("the delivery cycle did not finish within the shutdown grace")
            }
        }
        // They stop at the same signal; a DM, a Home tab publish or a
        // statement stuck on a hanging Slack or database must not hold the
        // process up: one deadline for them all.
        let deadline = tokio::time::Instant::now() + BOT_SHUTDOWN_GRACE;
        for (name, mut task) in [
            ("notice", notices_task),
            ("Home tab", homes_task),
            ("retention", retention_task),
            ("series keeper", keeper_task),
            ("foresight", foresight_task),
            ("status sampler", sampler_task),
        ] {
            match tokio::time::timeout_at(deadline, &mut task).await {
                Ok(Ok(())) => {}
                Ok(Err(err)) => tracing::error!(error = %err, "the {name} task ended abnormally"),
                Err(_) => {
                    tracing::warn!("the {name} task did not stop in time");
                    task.abort();
                }
            }
        }
        self.state.store.close().await;
        Ok(())
    }
}

/// Cancels `token` on SIGTERM or SIGINT (Ctrl-C).
pub fn cancel_on_signal(token: CancellationToken) {
    tokio::spawn(async move {
        wait_for_signal().await;
        tracing::info!("shutdown requested; finishing the calls in flight");
        token.cancel();
    });
}

async fn wait_for_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
}

/// How long a stopping process waits for its calls in flight before giving
/// up on them (they are then in doubt, and looked for after a restart), so
/// that it exits within ten seconds of a signal even with Slack or the
/// database hanging.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(7);
/// How long it waits for the notice and Home tab tasks, which stop at the
/// signal (unsent notices stay leased for a later try), before aborting them.
pub const BOT_SHUTDOWN_GRACE: Duration = Duration::from_secs(2);
