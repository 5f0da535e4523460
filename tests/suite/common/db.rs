//! A fresh database per test: a SQLite file in a temporary directory, or a
//! new PostgreSQL database on the server `TEST_DATABASE_URL` names (default:
//! the local server), dropped when the test ends.

use slack_scheduler::crypto::TokenCipher;
use slack_scheduler::store::{Backend, Store};
use sqlx::Connection;

const DEFAULT_POSTGRES: &str = "postgres://postgres@127.0.0.1:5432/postgres";

pub struct TestDb {
    pub url: String,
    pub backend: Backend,
    _dir: Option<tempfile::TempDir>,
    postgres: Option<(String, String)>,
}

impl TestDb {
    pub async fn sqlite() -> Self {
        let dir = tempfile::tempdir().expect("temporary directory");
        let url = format!("sqlite://{}", dir.path().join("test.db").display());
        Self {
            url,
            backend: Backend::Sqlite,
            _dir: Some(dir),
            postgres: None,
        }
    }

    /// `None` (the test is skipped, with a note) when no server answers,
    /// except under `CI=true`, where a skipped PostgreSQL test is a failure.
    pub async fn postgres() -> Option<Self> {
        let admin =
            std::env::var("TEST_DATABASE_URL").unwrap_or_else(|_| DEFAULT_POSTGRES.to_owned());
        let mut conn = match sqlx::PgConnection::connect(&admin).await {
            Ok(conn) => conn,
            Err(err) => {
                if std::env::var("CI").is_ok_and(|v| v == "true") {
                    panic!(
                        "PostgreSQL tests must run under CI, but {admin} does not answer: {err}"
                    );
                }
                eprintln!("SKIPPED: PostgreSQL test ({admin} does not answer: {err})");
                return None;
            }
        };
        let name = format!("sst_{}", hex::encode(rand::random::<[u8; 8]>()));
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut conn)
            .await
            .expect("create a test database");
        let _ = conn.close().await;
        let (base, _) = admin
            .rsplit_once('/')
            .expect("TEST_DATABASE_URL names a database");
        let url = format!("{base}/{name}");
        Some(Self {
            url,
            backend: Backend::Postgres,
            _dir: None,
            postgres: Some((admin, name)),
        })
    }

    /// A connected, migrated store with a fresh key.
    pub async fn store(&self) -> Store {
        self.store_with(TokenCipher::random()).await
    }

    pub async fn store_with(&self, cipher: TokenCipher) -> Store {
        let store = Store::connect(&self.url, cipher)
            .await
            .expect("connect to the test database");
        store.migrate().await.expect("migrations apply");
        store
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let Some((admin, name)) = self.postgres.take() else {
            return;
        };
        // Drop runs outside any runtime we may block: use a thread of its own.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            runtime.block_on(async {
                let mut conn = sqlx::PgConnection::connect(&admin).await.ok()?;
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                )))
                .execute(&mut conn)
                .await
                .ok()?;
                conn.close().await.ok()
            })
        })
        .join();
        if !matches!(dropped, Ok(Some(()))) {
            eprintln!("note: could not drop test database {}", self.url);
        }
    }
}
