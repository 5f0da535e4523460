//! `slack-scheduler backup PATH`: a consistent copy while the app writes.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use chrono::Utc;
use secrecy::{ExposeSecret, SecretString};
use slack_scheduler::crypto::TokenCipher;
use slack_scheduler::store::{Store, TokenGrant};

use tokio_util::sync::CancellationToken;

use crate::common::bin::{binary, new_key};
use crate::common::harness::{ALICE, TEAM, new_message};
use crate::common::{TestDb, wait_until};

fn grant(access: &str) -> TokenGrant {
    TokenGrant {
        access_token: SecretString::from(access.to_owned()),
        refresh_token: Some(SecretString::from(format!("{access}-refresh"))),
        expires_at: Some(Utc::now() + chrono::Duration::hours(12)),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_taken_during_writes_opens_with_its_copied_key() {
    let db = TestDb::sqlite().await;
    // The default set-up: the key lives in a file beside the database.
    let cipher = TokenCipher::from_config(None, &db.url).expect("key file");
    let store = db.store_with(cipher).await;
    let author = store
        .connect_user(TEAM, ALICE, &grant("xoxp-alice"), Utc::now())
        .await
        .expect("user");
    let due = Utc::now() + chrono::Duration::hours(1);
    let first: Vec<_> = (0..500)
        .map(|i| new_message(&author, "C1", &format!("before {i}"), due))
        .collect();
    store
        .insert_messages(&first, Utc::now())
        .await
        .expect("rows");

    // The app keeps writing (new messages, users connecting) while the copy is made.
    let writes = Arc::new(AtomicU64::new(0));
    let stop = CancellationToken::new();
    let writing = tokio::spawn({
        let (store, author, writes, stop) =
            (store.clone(), author.clone(), writes.clone(), stop.clone());
        async move {
            let mut n = 0u64;
            while !stop.is_cancelled() {
                n += 1;
                let batch: Vec<_> = (0..5)
                    .map(|i| new_message(&author, "C2", &format!("during {n} {i}"), due))
                    .collect();
                // The per-user limit refuses these past 1,000 pending; the users go on.
                let _ = store.insert_messages(&batch, Utc::now()).await;
                store
                    .connect_user(TEAM, &format!("U9{n:05}"), &grant("xoxp-more"), Utc::now())
                    .await
                    .expect("user");
                writes.fetch_add(1, Ordering::Relaxed);
            }
        }
    });
    wait_until("the app is writing", Duration::from_secs(10), || async {
        (writes.load(Ordering::Relaxed) > 0).then_some(())
    })
    .await;
    let dir = tempfile::tempdir().expect("dir");
    let copy = dir.path().join("copy.db");
    let before = writes.load(Ordering::Relaxed);
    let output = binary()
        .arg("backup")
        .arg(&copy)
        .env("DATABASE_URL", &db.url)
        .output()
        .await
        .expect("runs");
    let during = writes.load(Ordering::Relaxed) - before;
    stop.cancel();
    writing.await.expect("writer");
    assert!(during > 0, "the app wrote while the backup ran");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("backed up to"), "{stdout}");

    let key_path = dir.path().join("copy.db.key");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key_path)
            .expect("key copied")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "the key is readable by its owner only");
        let mode = std::fs::metadata(&copy).expect("copy").permissions().mode();
        assert_eq!(mode & 0o077, 0, "the copy holds personal data");
    }
    let key = std::fs::read_to_string(&key_path).expect("key readable");
    let restored = Store::connect_existing(
        &format!("sqlite://{}", copy.display()),
        TokenCipher::from_base64(&key).expect("a key"),
    )
    .await
    .expect("the copy opens");
    assert_eq!(restored.integrity_check().await.expect("check"), "ok");
    let messages = restored.all_messages().await.expect("rows");
    assert!(messages.len() >= 500, "{} rows", messages.len());
    assert!(messages.iter().any(|m| m.text == "before 499"));
    let alice = restored
        .user(TEAM, ALICE)
        .await
        .expect("read")
        .and_then(|u| u.credentials)
        .expect("alice's tokens open with the copied key");
    assert_eq!(alice.access_token.expose_secret(), "xoxp-alice");
    let audit = restored.audit_tokens(100).await.expect("audit");
    assert_eq!(audit.unreadable, 0, "{audit:?}");
}

#[tokio::test]
async fn backup_refuses_postgres_and_points_to_pg_dump() {
    let (key, _) = new_key();
    let output = binary()
        .args(["backup", "out.db"])
        .env(
            "DATABASE_URL",
            "postgres://postgres@127.0.0.1:5432/postgres",
        )
        .env("TOKEN_ENCRYPTION_KEY", key)
        .output()
        .await
        .expect("runs");
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.starts_with("error: backup copies SQLite databases; for PostgreSQL use pg_dump"),
        "{stderr}"
    );
}

#[tokio::test]
async fn backup_never_overwrites_and_never_invents_a_database() {
    let dir = tempfile::tempdir().expect("dir");
    let url = format!("sqlite://{}/missing.db", dir.path().display());
    let output = binary()
        .arg("backup")
        .arg(dir.path().join("copy.db"))
        .env("DATABASE_URL", &url)
        .output()
        .await
        .expect("runs");
    assert_eq!(output.status.code(), Some(1));
    assert!(
        !dir.path().join("missing.db").exists(),
        "no empty database created"
    );
    assert!(
        !dir.path().join("missing.db.key").exists(),
        "no key invented"
    );

    std::fs::write(dir.path().join("taken.db"), b"precious").expect("file");
    let output = binary()
        .arg("backup")
        .arg(dir.path().join("taken.db"))
        .env("DATABASE_URL", &url)
        .output()
        .await
        .expect("runs");
    assert!(String::from_utf8_lossy(&output.stderr).contains("already exists"));
    assert_eq!(
        std::fs::read(dir.path().join("taken.db")).expect("kept"),
        b"precious"
    );
}
