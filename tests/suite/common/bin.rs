//! The real binary, with an empty environment but PATH.

use tokio::process::Command;

pub fn binary() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_slack-scheduler"));
    command
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .kill_on_drop(true);
    command
}

/// A random key as `TOKEN_ENCRYPTION_KEY` takes it, and its bytes.
pub fn new_key() -> (String, [u8; 32]) {
    use base64::Engine;
    let bytes = rand::random::<[u8; 32]>();
    (
        base64::engine::general_purpose::STANDARD.encode(bytes),
        bytes,
    )
}
