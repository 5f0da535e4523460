//! Tokens are sealed with AES-256-GCM before they reach a table.
//!
//! `TOKEN_ENCRYPTION_KEY` may hold several keys, comma-separated: the first
//! seals, every one of them opens, so a key can be replaced without anyone
//! reconnecting (`slack-scheduler rotate-key` re-seals everything with the
//! first, after which the others can be dropped).
//!
//! A sealed value is `0x01 || key id (4 bytes) || nonce (12) || ciphertext+tag`.
//! The key id is a fingerprint of the key (the first bytes of a SHA-256 over
//! it), so the right key is tried first and `rotate-key` can tell which values
//! are already sealed with the first key. Values written before key ids
//! existed are `nonce || ciphertext+tag`; they are still opened, by trying
//! each key. The row a value belongs to (say `user:T1:U1:access`) is bound in
//! as associated data, so a token copied into another row does not decrypt.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use aes_gcm::aead::{Aead, Generate, Key, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};

const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;
const KEY_ID_LEN: usize = 4;
/// First byte of a value sealed with a key id.
const FORMAT_KEYED: u8 = 0x01;
const HEADER_LEN: usize = 1 + KEY_ID_LEN;

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error(
        "TOKEN_ENCRYPTION_KEY must be one or more comma-separated keys, each 32 bytes in base64 (try `openssl rand -base64 32`)"
    )]
    Malformed,
    #[error("TOKEN_ENCRYPTION_KEY is required with PostgreSQL: every process must share one key")]
    RequiredForPostgres,
    #[error(
        "TOKEN_ENCRYPTION_KEY is not set and there is no key file at {0}: set the variable or restore the key file"
    )]
    NoKeyFile(PathBuf),
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

/// One key and its fingerprint.
#[derive(Clone)]
struct SealingKey {
    id: [u8; KEY_ID_LEN],
    cipher: Aes256Gcm,
}

impl SealingKey {
    fn new(bytes: &[u8; 32]) -> Self {
        let digest = Sha256::new()
            .chain_update(b"slack-scheduler token key id\0")
            .chain_update(bytes)
            .finalize();
        let mut id = [0; KEY_ID_LEN];
        id.copy_from_slice(&digest[..KEY_ID_LEN]);
        Self {
            id,
            cipher: Aes256Gcm::new(&Key::<Aes256Gcm>::from(*bytes)),
        }
    }
}

/// Where the keys came from, for messages that tell an operator what to fix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    /// `TOKEN_ENCRYPTION_KEY`.
    Variable,
    /// A key file beside the SQLite database; `generated` when this process
    /// created it because none existed.
    File { path: PathBuf, generated: bool },
    /// Made up for this process alone (tests, in-memory databases).
    Ephemeral,
}

/// Seals with the first key, opens with any. Cheap to clone.
#[derive(Clone)]
pub struct TokenCipher {
    /// Never empty; `keys[0]` seals.
    keys: Arc<[SealingKey]>,
    source: KeySource,
}

impl std::fmt::Debug for TokenCipher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TokenCipher({} keys)", self.keys.len())
    }
}

impl TokenCipher {
    pub fn from_key_bytes(key: &[u8; 32]) -> Self {
        Self::from_keys(&[*key])
    }

    /// Several keys; the first seals. An empty list gets a random key.
    pub fn from_keys(keys: &[[u8; 32]]) -> Self {
        if keys.is_empty() {
            return Self::random();
        }
        Self {
            keys: keys.iter().map(SealingKey::new).collect(),
            source: KeySource::Ephemeral,
        }
    }

    /// This cipher with `key` put first: it seals from now on, and the old
    /// keys still open (the first step of a rotation).
    pub fn with_new_first_key(&self, key: &[u8; 32]) -> Self {
        let keys = std::iter::once(SealingKey::new(key))
            .chain(self.keys.iter().cloned())
            .collect();
        Self {
            keys,
            source: self.source.clone(),
        }
    }

    /// This cipher with only its first key (the last step of a rotation).
    pub fn first_key_only(&self) -> Self {
        Self {
            keys: Arc::new([self.keys[0].clone()]),
            source: self.source.clone(),
        }
    }

    /// Keys from `TOKEN_ENCRYPTION_KEY`: base64 of 32 bytes each, separated by commas.
    pub fn from_base64(encoded: &str) -> Result<Self, KeyError> {
        let keys = parse_keys(encoded)?;
        Ok(Self {
            source: KeySource::Variable,
            ..Self::from_keys(&keys)
        })
    }

    /// A fresh random key; for tests and the demo's throw-away database.
    pub fn random() -> Self {
        let key = Key::<Aes256Gcm>::generate();
        let mut bytes = [0; 32];
        bytes.copy_from_slice(key.as_slice());
        Self {
            keys: Arc::new([SealingKey::new(&bytes)]),
            source: KeySource::Ephemeral,
        }
    }

    /// The key the configuration asks for: the variable when set; otherwise a
    /// key file beside the SQLite database, generated on first run.
    pub fn from_config(key: Option<&str>, database_url: &str) -> Result<Self, KeyError> {
        Self::configured(key, database_url, true)
    }

    /// Like [`TokenCipher::from_config`], but never creates a key file: for
    /// commands that inspect or copy an existing deployment.
    pub fn from_existing_config(key: Option<&str>, database_url: &str) -> Result<Self, KeyError> {
        Self::configured(key, database_url, false)
    }

    fn configured(key: Option<&str>, database_url: &str, create: bool) -> Result<Self, KeyError> {
        if let Some(key) = key.filter(|k| !k.trim().is_empty()) {
            return Self::from_base64(key);
        }
        if !database_url.starts_with("sqlite:") {
            return Err(KeyError::RequiredForPostgres);
        }
        match sqlite_key_path(database_url) {
            Some(path) if create => Self::from_key_file(&path),
            Some(path) => Self::read_key_file(&path)?.ok_or(KeyError::NoKeyFile(path)),
            // An in-memory database lives only as long as the process: so may its key.
            None => Ok(Self::random()),
        }
    }

    /// Reads the key file, creating it (mode 0600) if it does not exist yet.
    ///
    /// Two processes starting together may both find no file: each writes
    /// its key to a file of its own and links it into place, which only one
    /// can do; the other then reads the winner's key. The file appears whole
    /// or not at all, so nobody reads a half-written key.
    pub fn from_key_file(path: &Path) -> Result<Self, KeyError> {
        if let Some(cipher) = Self::read_key_file(path)? {
            return Ok(cipher);
        }
        let file_error = |source| KeyError::File {
            path: path.to_owned(),
            source,
        };
        let key = Key::<Aes256Gcm>::generate();
        let contents = BASE64.encode(key.as_slice());
        let staging = path.with_file_name(format!(
            ".{}.{}.tmp",
            path.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            hex::encode(rand::random::<[u8; 8]>())
        ));
        write_private_file(&staging, contents.as_bytes()).map_err(file_error)?;
        let linked = std::fs::hard_link(&staging, path);
        let _ = std::fs::remove_file(&staging);
        match linked {
            Ok(()) => {
                tracing::info!(path = %path.display(), "generated a new token encryption key");
                let mut bytes = [0; 32];
                bytes.copy_from_slice(key.as_slice());
                Ok(Self {
                    keys: Arc::new([SealingKey::new(&bytes)]),
                    source: KeySource::File {
                        path: path.to_owned(),
                        generated: true,
                    },
                })
            }
            Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => {
                Self::read_key_file(path)?.ok_or_else(|| file_error(err))
            }
            Err(err) => Err(file_error(err)),
        }
    }

    /// The keys in `path`, or `None` when there is no such file.
    fn read_key_file(path: &Path) -> Result<Option<Self>, KeyError> {
        match std::fs::read_to_string(path) {
            Ok(contents) => Ok(Some(Self {
                source: KeySource::File {
                    path: path.to_owned(),
                    generated: false,
                },
                ..Self::from_keys(&parse_keys(&contents)?)
            })),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(KeyError::File {
                path: path.to_owned(),
                source,
            }),
        }
    }

    pub fn source(&self) -> &KeySource {
        &self.source
    }

    /// How many keys open tokens.
    pub fn key_count(&self) -> usize {
        self.keys.len()
    }

    /// The sealing key's fingerprint in hex (not secret: it names the key).
    pub fn sealing_key_id(&self) -> String {
        hex::encode(self.keys[0].id)
    }

    pub fn seal(&self, plaintext: &SecretString, context: &str) -> Vec<u8> {
        let key = &self.keys[0];
        let nonce = Nonce::generate();
        let payload = Payload {
            msg: plaintext.expose_secret().as_bytes(),
            aad: context.as_bytes(),
        };
        let sealed = key
            .cipher
            .encrypt(&nonce, payload)
            .expect("AES-GCM encryption of an in-memory buffer cannot fail");
        let mut out = Vec::with_capacity(HEADER_LEN + NONCE_LEN + sealed.len());
        out.push(FORMAT_KEYED);
        out.extend_from_slice(&key.id);
        out.extend_from_slice(nonce.as_slice());
        out.extend_from_slice(&sealed);
        out
    }

    pub fn open(&self, sealed: &[u8], context: &str) -> Result<SecretString, DecryptError> {
        if let Some((id, body)) = split_keyed(sealed)
            && let Some(key) = self.keys.iter().find(|k| k.id == id)
            && let Ok(plaintext) = decrypt(&key.cipher, body, context)
        {
            return Ok(plaintext);
        }
        // A legacy value (no key id), or one whose first byte merely looks
        // like a header: authenticated decryption tells which key, if any.
        self.keys
            .iter()
            .find_map(|k| decrypt(&k.cipher, sealed, context).ok())
            .ok_or(DecryptError)
    }

    /// Whether `sealed` is already sealed with the first key in the current
    /// format, so `rotate-key` can leave it alone.
    pub fn is_current(&self, sealed: &[u8]) -> bool {
        split_keyed(sealed).is_some_and(|(id, _)| id == self.keys[0].id)
    }
}

/// The key id and `nonce || ciphertext` of a value in the keyed format.
fn split_keyed(sealed: &[u8]) -> Option<([u8; KEY_ID_LEN], &[u8])> {
    if sealed.len() < HEADER_LEN + NONCE_LEN + TAG_LEN || sealed[0] != FORMAT_KEYED {
        return None;
    }
    let mut id = [0; KEY_ID_LEN];
    id.copy_from_slice(&sealed[1..HEADER_LEN]);
    Some((id, &sealed[HEADER_LEN..]))
}

/// Opens `nonce || ciphertext+tag`.
fn decrypt(cipher: &Aes256Gcm, body: &[u8], context: &str) -> Result<SecretString, DecryptError> {
    if body.len() < NONCE_LEN + TAG_LEN {
        return Err(DecryptError);
    }
    let (nonce, ciphertext) = body.split_at(NONCE_LEN);
    let nonce = Nonce::try_from(nonce).map_err(|_| DecryptError)?;
    let plaintext = cipher
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

/// `k1,k2,…`: blanks around and between keys are ignored.
fn parse_keys(encoded: &str) -> Result<Vec<[u8; 32]>, KeyError> {
    let keys = encoded
        .split(',')
        .map(str::trim)
        .filter(|k| !k.is_empty())
        .map(|k| {
            let bytes = BASE64.decode(k).map_err(|_| KeyError::Malformed)?;
            <[u8; 32]>::try_from(bytes).map_err(|_| KeyError::Malformed)
        })
        .collect::<Result<Vec<_>, _>>()?;
    if keys.is_empty() {
        return Err(KeyError::Malformed);
    }
    Ok(keys)
}

/// `sqlite://data/app.db?mode=rwc` → `data/app.db.key`; `None` for in-memory databases.
pub fn sqlite_key_path(database_url: &str) -> Option<PathBuf> {
    sqlite_path(database_url).map(|path| PathBuf::from(format!("{}.key", path.display())))
}

/// `sqlite://data/app.db?mode=rwc` → `data/app.db`; `None` for in-memory databases.
pub fn sqlite_path(database_url: &str) -> Option<PathBuf> {
    let rest = database_url.strip_prefix("sqlite:")?;
    let rest = rest.strip_prefix("//").unwrap_or(rest);
    let path = rest.split('?').next().unwrap_or_default();
    if path.is_empty() || path == ":memory:" {
        return None;
    }
    Some(PathBuf::from(path))
}

/// Writes a new file readable by its owner only; fails if it exists.
pub fn write_private_file(path: &Path, contents: &[u8]) -> std::io::Result<()> {
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

    fn key(byte: u8) -> [u8; 32] {
        [byte; 32]
    }

    /// What this module wrote before key ids: `nonce || ciphertext+tag`.
    fn seal_legacy(key: &[u8; 32], plaintext: &str, context: &str) -> Vec<u8> {
        let cipher = Aes256Gcm::new(&Key::<Aes256Gcm>::from(*key));
        let nonce = Nonce::generate();
        let sealed = cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: plaintext.as_bytes(),
                    aad: context.as_bytes(),
                },
            )
            .expect("encrypts");
        [nonce.as_slice(), &sealed].concat()
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
        assert!(
            TokenCipher::random()
                .open(&[FORMAT_KEYED; 40], "bot:T1")
                .is_err()
        );
    }

    #[test]
    fn the_first_key_seals_and_every_key_opens() {
        let old = TokenCipher::from_keys(&[key(1)]);
        let both = TokenCipher::from_keys(&[key(2), key(1)]);
        let sealed_old = old.seal(&secret("xoxp-old"), "ctx");
        assert_eq!(
            both.open(&sealed_old, "ctx")
                .expect("old key opens")
                .expose_secret(),
            "xoxp-old"
        );
        assert!(
            !both.is_current(&sealed_old),
            "sealed with a key that is not first"
        );
        let sealed_new = both.seal(&secret("xoxp-new"), "ctx");
        assert!(both.is_current(&sealed_new));
        assert_eq!(sealed_new[0], FORMAT_KEYED);
        let only_new = TokenCipher::from_keys(&[key(2)]);
        assert!(
            only_new.open(&sealed_new, "ctx").is_ok(),
            "the old key can be dropped"
        );
        assert!(old.open(&sealed_new, "ctx").is_err());
    }

    #[test]
    fn values_sealed_before_key_ids_still_open_and_count_as_stale() {
        let legacy = seal_legacy(&key(7), "xoxe-legacy", "user:T1:U1:refresh");
        let cipher = TokenCipher::from_keys(&[key(8), key(7)]);
        assert_eq!(
            cipher
                .open(&legacy, "user:T1:U1:refresh")
                .expect("legacy opens")
                .expose_secret(),
            "xoxe-legacy"
        );
        assert!(!cipher.is_current(&legacy));
        assert!(
            TokenCipher::from_keys(&[key(8)])
                .open(&legacy, "user:T1:U1:refresh")
                .is_err()
        );
    }

    #[test]
    fn a_key_list_parses_with_blanks_and_refuses_a_bad_member() {
        let one = BASE64.encode(key(1));
        let two = BASE64.encode(key(2));
        let cipher = TokenCipher::from_base64(&format!(" {two} , {one},")).expect("two keys");
        assert_eq!(cipher.key_count(), 2);
        assert_eq!(
            cipher.sealing_key_id(),
            TokenCipher::from_keys(&[key(2)]).sealing_key_id()
        );
        assert!(matches!(
            TokenCipher::from_base64(&format!("{one},c2hvcnQ=")),
            Err(KeyError::Malformed)
        ));
        assert!(matches!(
            TokenCipher::from_base64(" , "),
            Err(KeyError::Malformed)
        ));
    }

    #[test]
    fn the_key_file_is_created_once_and_reused() {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}/app.db", dir.path().display());
        let first = TokenCipher::from_config(None, &url).expect("generated");
        assert!(matches!(
            first.source(),
            KeySource::File {
                generated: true,
                ..
            }
        ));
        let sealed = first.seal(&secret("xoxp-3"), "ctx");
        let second = TokenCipher::from_config(Some(""), &url).expect("read back");
        assert!(matches!(
            second.source(),
            KeySource::File {
                generated: false,
                ..
            }
        ));
        assert_eq!(
            second
                .open(&sealed, "ctx")
                .expect("same key")
                .expose_secret(),
            "xoxp-3"
        );
        assert!(dir.path().join("app.db.key").exists());
        let leftovers = std::fs::read_dir(dir.path()).expect("list").count();
        assert_eq!(leftovers, 1, "only the key file remains");
    }

    #[test]
    fn processes_starting_together_agree_on_one_generated_key() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("race.db.key");
        let barrier = std::sync::Arc::new(std::sync::Barrier::new(8));
        let ciphers: Vec<TokenCipher> = (0..8)
            .map(|_| {
                let path = path.clone();
                let barrier = barrier.clone();
                std::thread::spawn(move || {
                    barrier.wait();
                    TokenCipher::from_key_file(&path).expect("every starter gets a key")
                })
            })
            .collect::<Vec<_>>()
            .into_iter()
            .map(|t| t.join().expect("thread"))
            .collect();
        let generated = ciphers
            .iter()
            .filter(|c| {
                matches!(
                    c.source(),
                    KeySource::File {
                        generated: true,
                        ..
                    }
                )
            })
            .count();
        assert!(generated <= 1, "{generated} starters each generated a key");
        let id = ciphers[0].sealing_key_id();
        assert!(
            ciphers.iter().all(|c| c.sealing_key_id() == id),
            "one key for all"
        );
        let sealed = ciphers[3].seal(&secret("xoxp-race"), "ctx");
        assert!(ciphers[5].open(&sealed, "ctx").is_ok());
    }

    #[test]
    fn inspecting_commands_never_create_a_key_file() {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}/app.db", dir.path().display());
        let err = TokenCipher::from_existing_config(None, &url).expect_err("no file");
        assert!(matches!(err, KeyError::NoKeyFile(_)), "{err}");
        assert!(!dir.path().join("app.db.key").exists());
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
