//! `slack-scheduler`: parses the command line and runs the chosen mode.

use std::process::ExitCode;

use slack_scheduler::app::{Application, cancel_on_signal};
use slack_scheduler::config::{Cli, Command, redacted_url};
use slack_scheduler::crypto::TokenCipher;
use slack_scheduler::store::Store;
use slack_scheduler::{ops, sim, telemetry};
use tokio_util::sync::CancellationToken;

/// The process's allocator (see Cargo.toml for why).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    // A missing .env is the normal case in production.
    let _ = dotenvy::dotenv();
    let cli = match Cli::parse_checked() {
        Ok(cli) => cli,
        Err(err) => {
            eprintln!("error: {err}");
            return ExitCode::from(2);
        }
    };
    // The demo and the benchmark narrate on stdout; keep their logs to
    // warnings unless asked.
    let quiet = std::env::var_os("RUST_LOG").is_none();
    let filter = match &cli.command {
        Some(Command::Demo) if quiet => "warn",
        // Seeding statements take seconds by design; sqlx would call each slow.
        Some(Command::Bench(_)) if quiet => "warn,sqlx::query=error",
        _ => cli.config.rust_log.as_str(),
    };
    telemetry::init_tracing(filter, cli.config.log_format);
    let result = match cli.command.clone().unwrap_or(Command::Serve) {
        Command::Serve => serve(&cli).await,
        Command::Migrate => migrate(&cli).await,
        Command::Sim(args) => run_sim(args).await,
        Command::Demo => slack_scheduler::demo::run(&cli.config).await,
        Command::Backup(args) => ops::backup::run(&cli.config, &args.path).await,
        Command::RotateKey => ops::keys::run(&cli.config).await,
        Command::Doctor => ops::doctor::run(&cli.config).await,
        Command::Bench(args) => slack_scheduler::bench::run(&args).await,
        Command::BenchNaive => slack_scheduler::bench::naive::run(&cli.config).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(cli: &Cli) -> anyhow::Result<()> {
    let settings = cli.config.scheduler_settings();
    let app = Application::build(&cli.config, settings).await?;
    let shutdown = CancellationToken::new();
    cancel_on_signal(shutdown.clone());
    app.run_until(shutdown).await?;
    Ok(())
}

async fn migrate(cli: &Cli) -> anyhow::Result<()> {
    let cipher = TokenCipher::from_config(
        cli.config.token_encryption_key.as_deref(),
        &cli.config.database_url,
    )?;
    let store = Store::connect(&cli.config.database_url, cipher).await?;
    store.migrate().await?;
    ops::keys::verify_stored_tokens(&store).await?;
    store.close().await;
    println!(
        "migrations applied to {}",
        redacted_url(&cli.config.database_url)
    );
    Ok(())
}

async fn run_sim(args: slack_scheduler::config::SimArgs) -> anyhow::Result<()> {
    let mut settings = sim::SimSettings::default();
    if args.bench {
        settings = settings.bench();
    }
    settings.latency = std::time::Duration::from_millis(args.latency_ms);
    if let Ok(id) = std::env::var("SLACK_CLIENT_ID") {
        settings.client_id = id;
    }
    if let Ok(secret) = std::env::var("SLACK_CLIENT_SECRET") {
        settings.client_secret = secret;
    }
    if let Ok(secret) = std::env::var("SLACK_SIGNING_SECRET") {
        settings.signing_secret = secret;
    }
    let simulator = sim::Simulator::start_on(args.sim_bind_addr, settings).await?;
    simulator.seed_demo_workspace();
    simulator.set_app_url(&args.sim_app_url);
    // The app's Redirect URL, as its manifest registers it.
    simulator.allow_redirect_url(&format!(
        "{}/slack/oauth/callback",
        args.sim_app_url.trim_end_matches('/')
    ));
    let base = simulator.base_url();
    let sim_settings = simulator.settings();
    println!(
        "Slack simulator listening on {base}, sending to the app at {}",
        args.sim_app_url
    );
    println!("Run the app against it with:");
    println!(
        "  SLACK_API_URL={} SLACK_AUTHORIZE_URL={} \\",
        simulator.api_url(),
        simulator.authorize_url()
    );
    println!(
        "  SLACK_CLIENT_ID={} SLACK_CLIENT_SECRET={} SLACK_SIGNING_SECRET={} slack-scheduler serve",
        sim_settings.client_id, sim_settings.client_secret, sim_settings.signing_secret
    );
    println!(
        "Workspace T0001: users U0001 (alice, Berlin), U0002 (bob, New York); channels C0001 #general, C0002 #random"
    );
    println!("Install: open <app>/slack/install in a browser (you approve as alice).");
    println!("Type a command as alice:");
    println!(
        "  curl -s {base}/_sim/command -H 'content-type: application/json' \\\n    -d '{{\"user_id\":\"U0001\",\"channel_id\":\"C0001\",\"text\":\"in 1 minute Hello\"}}'"
    );
    println!("Inspect: GET {base}/_sim/messages, GET {base}/_sim/calls");
    let stop = CancellationToken::new();
    cancel_on_signal(stop.clone());
    stop.cancelled().await;
    Ok(())
}
