//! The token key in operation: a key that cannot open what is stored stops
//! start-up (rather than every user silently looking disconnected), and
//! `rotate-key` re-seals everything with the first key.

use crate::crypto::KeySource;
use crate::store::{ResealReport, Store, StoreError, TokenAudit};

/// Rows read per statement by the check and by `rotate-key`.
pub const PAGE: i64 = 500;

/// Passes `rotate-key` makes at most: each one retries the rows another
/// process changed during the previous one.
const MAX_PASSES: usize = 5;

/// The key in use cannot open some stored tokens.
#[derive(Debug, thiserror::Error)]
#[error("{}", describe(.audit, .key))]
pub struct UnreadableTokens {
    pub audit: TokenAudit,
    pub key: KeySource,
}

#[derive(Debug, thiserror::Error)]
pub enum KeyCheckError {
    #[error(transparent)]
    Unreadable(#[from] UnreadableTokens),
    #[error("cannot read the stored tokens: {0}")]
    Store(#[from] StoreError),
}

fn describe(audit: &TokenAudit, source: &KeySource) -> String {
    let mut examples = audit.examples.join(", ");
    if audit.unreadable > audit.examples.len() as u64 {
        examples.push_str(&format!(
            " and {} more",
            audit.unreadable - audit.examples.len() as u64
        ));
    }
    let fix = match source {
        KeySource::File {
            path,
            generated: true,
        } => format!(
            "no key file was found beside the database, so a new one was generated at {}; put the original key file back there, or set TOKEN_ENCRYPTION_KEY to the original key",
            path.display()
        ),
        KeySource::File { path, .. } => format!(
            "the key file {} is not the one they were sealed with; restore the right key file, or set TOKEN_ENCRYPTION_KEY to the key they were sealed with",
            path.display()
        ),
        KeySource::Variable | KeySource::Ephemeral => "set it to the key they were sealed with (while rotating, list the new key first and the old one after it, comma-separated)".to_owned(),
    };
    format!(
        "TOKEN_ENCRYPTION_KEY cannot open {} of {} stored tokens ({examples}): {fix}",
        audit.unreadable, audit.total
    )
}

/// Fails unless the store's key opens every stored token.
pub async fn verify_stored_tokens(store: &Store) -> Result<TokenAudit, KeyCheckError> {
    let audit = store.audit_tokens(PAGE).await?;
    if audit.unreadable > 0 {
        return Err(UnreadableTokens {
            audit,
            key: store.key_source().clone(),
        }
        .into());
    }
    Ok(audit)
}

/// What `rotate-key` did, summed over its passes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rotation {
    pub passes: usize,
    pub resealed: u64,
    /// Tokens still not sealed with the first key at the end (another
    /// process kept sealing with an old key: it was not restarted with the
    /// new key first).
    pub stale_after: u64,
    pub unreadable: u64,
}

/// Re-seals every token with the first key. Safe while `serve` runs: each
/// row is written only if it still holds what was read; rows that changed
/// meanwhile are looked at again in the next pass.
/// `page` rows are read per statement.
pub async fn rotate(store: &Store, page: i64) -> Result<Rotation, KeyCheckError> {
    verify_stored_tokens(store).await?;
    let mut rotation = Rotation::default();
    loop {
        let pass: ResealReport = store.reseal_tokens(page).await?;
        rotation.passes += 1;
        rotation.resealed += pass.resealed;
        rotation.unreadable = pass.unreadable;
        tracing::info!(
            pass = rotation.passes,
            resealed = pass.resealed,
            changed_meanwhile = pass.changed_meanwhile,
            "re-sealing pass done"
        );
        if pass.changed_meanwhile == 0 || rotation.passes >= MAX_PASSES {
            break;
        }
    }
    rotation.stale_after = store.audit_tokens(page).await?.stale;
    Ok(rotation)
}

/// The `rotate-key` command: re-seal, then say whether the old key may go.
pub async fn run_rotate_key(store: &Store) -> Result<String, KeyCheckError> {
    let rotation = rotate(store, PAGE).await?;
    let key = store.sealing_key_id();
    if rotation.stale_after == 0 && rotation.unreadable == 0 {
        Ok(format!(
            "re-sealed {} tokens; every stored token is now sealed with the first key ({key}): the other keys may be removed from TOKEN_ENCRYPTION_KEY",
            rotation.resealed
        ))
    } else {
        Ok(format!(
            "re-sealed {} tokens, but {} are still sealed with another key: restart every `serve` with the new key listed first, then run rotate-key again; keep the old key until then",
            rotation.resealed,
            rotation.stale_after + rotation.unreadable
        ))
    }
}

/// `slack-scheduler rotate-key`.
pub async fn run(config: &crate::config::Config) -> anyhow::Result<()> {
    let store = super::open_existing(config).await?;
    let outcome = run_rotate_key(&store).await;
    store.close().await;
    println!("{}", outcome?);
    Ok(())
}
