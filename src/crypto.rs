//! Tokens are sealed with AES-256-GCM before they reach a table.
//!
//! Each sealed value is `nonce (12 bytes) || ciphertext+tag`, and the row it
//! belongs to (say `user:T1:U1:access`) is bound in as associated data, so a
//! token copied into another row does not decrypt.

use std::path::{Path, PathBuf};

use aes_gcm::aead::{Aead, Generate, Key, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use secrecy::{ExposeSecret, SecretString};

const NONCE_LEN: usize = 12;

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("TOKEN_ENCRYPTION_KEY must be 32 bytes in base64 (try `openssl rand -base64 32`)")]
    Malformed,
    #[error("TOKEN_ENCRYPTION_KEY is required with PostgreSQL: every process must share one key")]
    RequiredForPostgres,
    #[error("key file {path}: {source}")]
    File {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

#[derive(Debug, thiserror::Error)]
#[error(
    "a stored token could not be decrypted (wrong TOKEN_ENCRYPTION_KEY, or the row was altered)"
)]
pub struct DecryptError;

/// Seals and opens tokens. Cheap to clone.
#[derive(Clone)]
pub struct TokenCipher {
    cipher: Aes256Gcm,
}

impl std::fmt::Debug for TokenCipher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenCipher(..)")
    }
}

impl TokenCipher {
    pub fn from_key_bytes(key: &[u8; 32]) -> Self {
        let key = Key::<Aes256Gcm>::from(*key);
        Self {
            cipher: Aes256Gcm::new(&key),
        }
    }

    /// A key from `TOKEN_ENCRYPTION_KEY` (base64 of 32 bytes).
    pub fn from_base64(encoded: &str) -> Result<Self, KeyError> {
        let bytes = BASE64
            .decode(encoded.trim())
            .map_err(|_| KeyError::Malformed)?;
        let key: [u8; 32] = bytes.try_into().map_err(|_| KeyError::Malformed)?;
        Ok(Self::from_key_bytes(&key))
    }

    /// A fresh random key; for tests and the demo's throw-away database.
    pub fn random() -> Self {
        let key = Key::<Aes256Gcm>::generate();
        Self {
            cipher: Aes256Gcm::new(&key),
        }
    }

    /// The key the configuration asks for: the variable when set; otherwise a
    /// key file beside the SQLite database, generated on first run.
    pub fn from_config(key: Option<&str>, database_url: &str) -> Result<Self, KeyError> {
        if let Some(key) = key.filter(|k| !k.trim().is_empty()) {
            return Self::from_base64(key);
        }
        if !database_url.starts_with("sqlite:") {
            return Err(KeyError::RequiredForPostgres);
        }
        match sqlite_key_path(database_url) {
            Some(path) => Self::from_key_file(&path),
            // An in-memory database lives only as long as the process: so may its key.
            None => Ok(Self::random()),
        }
    }

    /// Reads the key file, creating it (mode 0600) if it does not exist yet.
    pub fn from_key_file(path: &Path) -> Result<Self, KeyError> {
        let file_error = |source| KeyError::File {
            path: path.to_owned(),
            source,
        };
        match std::fs::read_to_string(path) {
            Ok(contents) => Self::from_base64(&contents),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                let key = Key::<Aes256Gcm>::generate();
                write_private_file(path, BASE64.encode(key.as_slice()).as_bytes())
                    .map_err(file_error)?;
                tracing::info!(path = %path.display(), "generated a new token encryption key");
                Ok(Self {
                    cipher: Aes256Gcm::new(&key),
                })
            }
            Err(err) => Err(file_error(err)),
        }
    }

    pub fn seal(&self, plaintext: &SecretString, context: &str) -> Vec<u8> {
        let nonce = Nonce::generate();
        let payload = Payload {
            msg: plaintext.expose_secret().as_bytes(),
            aad: context.as_bytes(),
        };
        let sealed = self
            .cipher
            .encrypt(&nonce, payload)
            .expect("AES-GCM encryption of an in-memory buffer cannot fail");
        let mut out = Vec::with_capacity(NONCE_LEN + sealed.len());
        out.extend_from_slice(nonce.as_slice());
        out.extend_from_slice(&sealed);
        out
    }

    pub fn open(&self, sealed: &[u8], context: &str) -> Result<SecretString, DecryptError> {
        if sealed.len() < NONCE_LEN {
            return Err(DecryptError);
        }
        let (nonce, ciphertext) = sealed.split_at(NONCE_LEN);
        let nonce = Nonce::try_from(nonce).map_err(|_| DecryptError)?;
        let plaintext = self
            .cipher
            .decrypt(
                &nonce,
                Payload {
                    msg: ciphertext,
                    aad: context.as_bytes(),
                },
            )
            .map_err(|_| DecryptError)?;
        String::from_utf8(plaintext)
            .map(SecretString::from)
            .map_err(|_| DecryptError)
    }
}

/// `sqlite://data/app.db?mode=rwc` → `data/app.db.key`; `None` for in-memory databases.
fn sqlite_key_path(database_url: &str) -> Option<PathBuf> {
    let rest = database_url.strip_prefix("sqlite:")?;
    let rest = rest.strip_prefix("//").unwrap_or(rest);
    let path = rest.split('?').next().unwrap_or_default();
    if path.is_empty() || path == ":memory:" {
        return None;
    }
    Some(PathBuf::from(format!("{path}.key")))
}

fn write_private_file(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(contents)?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret(s: &str) -> SecretString {
        SecretString::from(s.to_owned())
    }

    #[test]
    fn a_sealed_token_opens_only_in_its_own_row() {
        let cipher = TokenCipher::random();
        let sealed = cipher.seal(&secret("xoxp-1"), "user:T1:U1:access");
        assert!(
            !sealed.windows(6).any(|w| w == b"xoxp-1"),
            "plaintext must not appear"
        );
        let opened = cipher.open(&sealed, "user:T1:U1:access").expect("opens");
        assert_eq!(opened.expose_secret(), "xoxp-1");
        assert!(cipher.open(&sealed, "user:T1:U2:access").is_err());
    }

    #[test]
    fn another_key_cannot_open_it() {
        let sealed = TokenCipher::random().seal(&secret("xoxb-2"), "bot:T1");
        assert!(TokenCipher::random().open(&sealed, "bot:T1").is_err());
        assert!(TokenCipher::random().open(&[1, 2, 3], "bot:T1").is_err());
    }

    #[test]
    fn the_key_file_is_created_once_and_reused() {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}/app.db", dir.path().display());
        let first = TokenCipher::from_config(None, &url).expect("generated");
        let sealed = first.seal(&secret("xoxp-3"), "ctx");
        let second = TokenCipher::from_config(Some(""), &url).expect("read back");
        assert_eq!(
            second
                .open(&sealed, "ctx")
                .expect("same key")
                .expose_secret(),
            "xoxp-3"
        );
        assert!(dir.path().join("app.db.key").exists());
    }

    #[test]
    fn postgres_needs_an_explicit_key_and_a_bad_key_is_refused() {
        assert!(matches!(
            TokenCipher::from_config(None, "postgres://localhost/db"),
            Err(KeyError::RequiredForPostgres)
        ));
        assert!(matches!(
            TokenCipher::from_base64("c2hvcnQ="),
            Err(KeyError::Malformed)
        ));
    }
}
