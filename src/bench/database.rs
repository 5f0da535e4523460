//! A fresh database per run: a SQLite file in a directory of the run's
//! own, or a new database on the PostgreSQL server named by
//! `--postgres-url`, dropped when the run ends.

use std::path::{Path, PathBuf};

use sqlx::Connection;

use super::Db;

pub struct BenchDb {
    pub url: String,
    pub db: Db,
    /// The PostgreSQL server and the database made on it.
    postgres: Option<(String, String)>,
}

impl BenchDb {
    /// A fresh, empty database; a SQLite file goes into `dir`.
    pub async fn create(db: Db, dir: &Path, postgres_url: &str) -> anyhow::Result<Self> {
        match db {
            Db::Sqlite => Ok(Self {
                url: format!("sqlite://{}", dir.join("bench.db").display()),
                db,
                postgres: None,
            }),
            Db::Postgres => {
                let mut conn = sqlx::PgConnection::connect(postgres_url)
                    .await
                    .map_err(|e| anyhow::anyhow!("PostgreSQL at {postgres_url}: {e}"))?;
                let name = format!("bench_{}", hex::encode(rand::random::<[u8; 6]>()));
                sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                    .execute(&mut conn)
                    .await?;
                let _ = conn.close().await;
                let (base, _) = postgres_url
                    .rsplit_once('/')
                    .ok_or_else(|| anyhow::anyhow!("--postgres-url must name a database"))?;
                Ok(Self {
                    url: format!("{base}/{name}"),
                    db,
                    postgres: Some((postgres_url.to_owned(), name)),
                })
            }
        }
    }

    /// The PostgreSQL server processes serving this database's connections,
    /// found by the title PostgreSQL gives each (`postgres: user db …`).
    pub fn server_pids(&self) -> Vec<u32> {
        match &self.postgres {
            Some((_, name)) => super::procs::titled(&format!(" {name} ")),
            None => Vec::new(),
        }
    }

    /// Drops a PostgreSQL database (a SQLite file goes with its directory).
    pub async fn drop_now(mut self) {
        let Some((admin, name)) = self.postgres.take() else {
            return;
        };
        let dropped = async {
            let mut conn = sqlx::PgConnection::connect(&admin).await?;
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
            )))
            .execute(&mut conn)
            .await?;
            conn.close().await
        };
        if let Err(err) = dropped.await {
            eprintln!("note: could not drop the benchmark database {name}: {err}");
        }
    }
}

/// A directory of the run's own under the system's temporary directory,
/// removed with its contents when dropped.
pub struct RunDir(PathBuf);

impl RunDir {
    pub fn new() -> std::io::Result<Self> {
        let path = std::env::temp_dir().join(format!(
            "slack-scheduler-bench-{}-{}",
            std::process::id(),
            hex::encode(rand::random::<[u8; 4]>())
        ));
        std::fs::create_dir_all(&path)?;
        Ok(Self(path))
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for RunDir {
    fn drop(&mut self) {
        if std::env::var_os("BENCH_KEEP_FILES").is_none() {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}
