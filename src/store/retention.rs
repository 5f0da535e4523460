//! Erasing the text of settled messages once they are old enough
//! (`MESSAGE_RETENTION_DAYS`): the row, its outcome and the counts stay.
//!
//! Each call erases a bounded batch read off `scheduled_messages_retention`
//! (settled rows that still hold text, by status and last change), so it
//! costs the same with ten rows or ten million. The status change that
//! `message_counts` triggers on does not happen here, so counts never move.

use chrono::{DateTime, Utc};

use super::{Backend, Db, Store, StoreError, sqlite_text, stamp};
use crate::domain::MessageStatus;

/// The statuses after which nothing more happens to a message, so its text
/// is no longer needed. A new final status is added here and nowhere else.
pub const SETTLED: &[MessageStatus] = &[
    MessageStatus::Sent,
    MessageStatus::Failed,
    MessageStatus::Cancelled,
    MessageStatus::Skipped,
];

/// `'sent', 'failed', …`: constants of our own, safe to inline.
fn settled_list() -> String {
    SETTLED
        .iter()
        .map(|s| format!("'{}'", s.as_str()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The selection, shared by the statement and its EXPLAIN. A failed message
/// whose author has not been told yet keeps its text until they are.
fn selection(index_hint: &str, settled_before: &str, limit: &str, lock: &str) -> String {
    format!(
        "SELECT id FROM scheduled_messages {index_hint}
         WHERE wake_at IS NULL AND text_erased_at IS NULL AND status IN ({})
           AND updated_at < {settled_before} AND NOT needs_notice
         LIMIT {limit} {lock}",
        settled_list()
    )
}

fn erase_statement(backend: Backend, settled_before: &str, limit: &str) -> String {
    let inner = match backend {
        // The planner could pick the author index by its statistics; name ours.
        Backend::Sqlite => selection(
            "INDEXED BY scheduled_messages_retention",
            settled_before,
            limit,
            "",
        ),
        // SKIP LOCKED: processes sweeping at once take different rows, and
        // none waits on a row the cycle holds.
        Backend::Postgres => selection("", settled_before, limit, "FOR UPDATE SKIP LOCKED"),
    };
    // The rich text says the same as the text: it goes with it.
    format!(
        "UPDATE scheduled_messages SET text = '', rich_text = NULL, text_erased_at = $1 \
         WHERE id IN ({inner})"
    )
}

impl Store {
    /// Erases the text of up to `limit` messages settled before
    /// `settled_before`; returns how many. Call again while it returns `limit`.
    pub async fn erase_settled_text(
        &self,
        settled_before: DateTime<Utc>,
        now: DateTime<Utc>,
        limit: i64,
    ) -> Result<u64, StoreError> {
        let sql = sqlx::AssertSqlSafe(erase_statement(self.backend(), "$2", "$3"));
        self.count_statement();
        let erased = match &self.db {
            Db::Sqlite(pool) => sqlx::query(sql)
                .bind(stamp(now))
                .bind(stamp(settled_before))
                .bind(limit)
                .execute(pool)
                .await?
                .rows_affected(),
            Db::Postgres(pool) => sqlx::query(sql)
                .bind(stamp(now))
                .bind(stamp(settled_before))
                .bind(limit)
                .execute(pool)
                .await?
                .rows_affected(),
        };
        Ok(erased)
    }

    /// Erases the text of up to `limit` series that ended or were cancelled
    /// before `settled_before` (their occurrences go with the messages).
    pub async fn erase_settled_series_text(
        &self,
        settled_before: DateTime<Utc>,
        now: DateTime<Utc>,
        limit: i64,
    ) -> Result<u64, StoreError> {
        let erased = super::on_db!(self, |pool| sqlx::query(
            "UPDATE series SET text = '', rich_text = NULL, text_erased_at = $1
             WHERE id IN (SELECT id FROM series
                          WHERE status IN ('ended', 'cancelled') AND text_erased_at IS NULL
                            AND updated_at < $2
                          LIMIT $3)"
        )
        .bind(stamp(now))
        .bind(stamp(settled_before))
        .bind(limit)
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(erased)
    }

    /// The plan of the erasing statement, one line per plan row: tests
    /// check that it reads the retention index, not the table.
    pub async fn explain_retention(
        &self,
        settled_before: DateTime<Utc>,
        limit: i64,
    ) -> Result<String, StoreError> {
        let now = stamp(Utc::now());
        let sql = match self.backend() {
            Backend::Sqlite => format!(
                "EXPLAIN QUERY PLAN {}",
                erase_statement(
                    Backend::Sqlite,
                    &format!("'{}'", sqlite_text(settled_before)),
                    &limit.to_string()
                )
                .replace("$1", &format!("'{}'", sqlite_text(now)))
            ),
            Backend::Postgres => format!(
                "EXPLAIN {}",
                erase_statement(
                    Backend::Postgres,
                    &format!("'{}'::timestamptz", stamp(settled_before).to_rfc3339()),
                    &limit.to_string()
                )
                .replace("$1", &format!("'{}'::timestamptz", now.to_rfc3339()))
            ),
        };
        let rows = self.query_text_raw(&sql).await?;
        Ok(rows
            .into_iter()
            .map(|r| r.join(" "))
            .collect::<Vec<_>>()
            .join("\n"))
    }
}
