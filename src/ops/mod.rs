//! The operator's commands besides `serve`: each one's work in its own
//! module, so `main.rs` only dispatches.
//!
//! - [`keys`]: the start-up check that the key opens the stored tokens, and
//!   `rotate-key`.
//! - [`backup`]: `backup PATH`, a consistent copy of a SQLite database and its key.
//! - [`doctor`]: `doctor`, one line per check, each problem with what to fix.

pub mod backup;
pub mod doctor;
pub mod keys;

use crate::config::Config;
use crate::crypto::{KeyError, TokenCipher};
use crate::store::{Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error("cannot open the database: {0}")]
    Store(#[from] StoreError),
}

/// The deployment's database and key as they are: creates neither a
/// database nor a key file.
pub async fn open_existing(config: &Config) -> Result<Store, OpenError> {
    let cipher = TokenCipher::from_existing_config(
        config.token_encryption_key.as_deref(),
        &config.database_url,
    )?;
    Ok(Store::connect_existing(&config.database_url, cipher).await?)
}
