//! `slack-scheduler backup PATH`: a consistent copy of the SQLite database,
//! taken while `serve` runs, with the key that opens its tokens beside it
//! (`PATH.key`). A copy without its key is a copy of locked boxes.

use std::path::{Path, PathBuf};

use crate::config::Config;
use crate::crypto::{KeySource, sqlite_key_path, write_private_file};
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error(
        "backup copies SQLite databases; for PostgreSQL use pg_dump (e.g. `pg_dump --format=custom --file=slack-scheduler.dump \"$DATABASE_URL\"`) and keep TOKEN_ENCRYPTION_KEY with the dump (README: Operating it)"
    )]
    Postgres,
    #[error("{0} already exists: name a new file for the backup")]
    Exists(PathBuf),
    #[error(transparent)]
    Open(#[from] super::OpenError),
    #[error("the copy failed: {0}")]
    Copy(#[source] StoreError),
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the copy at {path} does not check out: {problem}")]
    Verify { path: PathBuf, problem: String },
}

/// What was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backup {
    pub path: PathBuf,
    pub key_path: PathBuf,
    pub tokens: u64,
}

/// `PATH` → `PATH.key`.
pub fn key_path_for(path: &Path) -> PathBuf {
    PathBuf::from(format!("{}.key", path.display()))
}

/// Copies the database named by `config` to `path` and its key to `path.key`,
/// then opens the copy with that key to prove the pair works.
pub async fn back_up(config: &Config, path: &Path) -> Result<Backup, BackupError> {
    if !config.database_url.starts_with("sqlite:") {
        return Err(BackupError::Postgres);
    }
    let key_path = key_path_for(path);
    for existing in [path, key_path.as_path()] {
        if existing.exists() {
            return Err(BackupError::Exists(existing.to_owned()));
        }
    }
    let store = super::open_existing(config).await?;
    let key_text = key_material(config, &store)?;
    let copied = store.backup_into(path).await.map_err(BackupError::Copy);
    store.close().await;
    copied?;
    restrict_to_owner(path)?;
    write_private_file(&key_path, key_text.as_bytes()).map_err(|source| BackupError::Write {
        path: key_path.clone(),
        source,
    })?;
    let tokens = verify_copy(path, &key_text).await?;
    Ok(Backup {
        path: path.to_owned(),
        key_path,
        tokens,
    })
}

/// The key text to keep with the copy: the key file's contents, or the
/// variable's value when the keys come from `TOKEN_ENCRYPTION_KEY`.
fn key_material(config: &Config, store: &crate::store::Store) -> Result<String, BackupError> {
    match store.key_source() {
        KeySource::File { path, .. } => {
            std::fs::read_to_string(path).map_err(|source| BackupError::Write {
                path: path.clone(),
                source,
            })
        }
        _ => match config.token_encryption_key.as_deref() {
            Some(key) => Ok(key.trim().to_owned()),
            None => {
                let path = sqlite_key_path(&config.database_url).unwrap_or_default();
                Err(BackupError::Verify {
                    path,
                    problem: "no key to copy".into(),
                })
            }
        },
    }
}

/// The copy holds message text and sealed tokens: its owner's eyes only.
fn restrict_to_owner(path: &Path) -> Result<(), BackupError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(
            |source| BackupError::Write {
                path: path.to_owned(),
                source,
            },
        )?;
    }
    Ok(())
}

/// Opens the copy with the copied key: it must be intact and every token must open.
async fn verify_copy(path: &Path, key_text: &str) -> Result<u64, BackupError> {
    let problem = |problem: String| BackupError::Verify {
        path: path.to_owned(),
        problem,
    };
    let cipher =
        crate::crypto::TokenCipher::from_base64(key_text).map_err(|e| problem(e.to_string()))?;
    let url = format!("sqlite://{}", path.display());
    let copy = crate::store::Store::connect_existing(&url, cipher)
        .await
        .map_err(|e| problem(e.to_string()))?;
    let checked = async {
        let integrity = copy.integrity_check().await.map_err(|e| e.to_string())?;
        if integrity != "ok" {
            return Err(integrity);
        }
        let audit = copy
            .audit_tokens(super::keys::PAGE)
            .await
            .map_err(|e| e.to_string())?;
        if audit.unreadable > 0 {
            return Err(format!(
                "{} tokens do not open with the copied key",
                audit.unreadable
            ));
        }
        Ok(audit.total)
    }
    .await;
    copy.close().await;
    checked.map_err(problem)
}

/// `slack-scheduler backup PATH`.
pub async fn run(config: &Config, path: &Path) -> anyhow::Result<()> {
    let backup = back_up(config, path).await?;
    println!(
        "backed up to {} ({} sealed tokens open with the copied key); key in {}: keep the two together, and as secret as the key",
        backup.path.display(),
        backup.tokens,
        backup.key_path.display()
    );
    Ok(())
}
