//! Recurring series (SPEC §7): the rule, and the one occurrence that
//! exists at a time. Creating a series stores it with its first occurrence;
//! when an occurrence settles, a trigger marks the series as wanting its
//! next, which the series keeper creates (`add_occurrence`), exactly once
//! whoever tries: occurrences are unique per series and number.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use super::messages::{InsertError, PostOptions, check_at};
use super::{Db, Store, StoreError, on_db, stamp};
use crate::domain::message::MAX_PENDING_PER_USER;
use crate::domain::recurrence::{Recurrence, Schedule};
use crate::domain::{Conditions, DueTime, MessageText};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeriesStatus {
    Active,
    /// Paused by its author: no occurrence waits until it is resumed.
    Paused,
    /// Its rule has no more occurrences.
    Ended,
    Cancelled,
}

impl SeriesStatus {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Paused => "paused",
            Self::Ended => "ended",
            Self::Cancelled => "cancelled",
        }
    }

    fn parse(s: &str) -> Result<Self, StoreError> {
        Ok(match s {
            "active" => Self::Active,
            "paused" => Self::Paused,
            "ended" => Self::Ended,
            "cancelled" => Self::Cancelled,
            other => return Err(StoreError::Corrupt(format!("series status {other:?}"))),
        })
    }
}

/// A series ready to be stored, with its first occurrence.
#[derive(Debug, Clone)]
pub struct NewSeries {
    pub author_id: i64,
    pub team_id: String,
    pub user_id: String,
    pub channel_id: String,
    pub text: MessageText,
    pub rich_text: Option<String>,
    pub options: PostOptions,
    pub recurrence: Recurrence,
    pub tz: Tz,
    pub anchor: DateTime<Utc>,
    pub first: DueTime,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SeriesRecord {
    pub id: i64,
    pub author_id: i64,
    pub team_id: String,
    pub user_id: String,
    pub channel_id: String,
    pub text: String,
    pub rich_text: Option<String>,
    pub options: PostOptions,
    pub recurrence: Recurrence,
    pub tz: Tz,
    pub anchor: DateTime<Utc>,
    pub skipped: Vec<DateTime<Utc>>,
    pub status: SeriesStatus,
    /// Occurrences created so far, and the due time of the latest.
    pub occurrences: i32,
    pub last_due_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl SeriesRecord {
    /// The series' rule placed in time.
    pub fn schedule(&self) -> Schedule<'_> {
        Schedule {
            recurrence: &self.recurrence,
            tz: self.tz,
            anchor: self.anchor,
            skipped: &self.skipped,
        }
    }
}

#[derive(sqlx::FromRow)]
struct SeriesRow {
    id: i64,
    author_id: i64,
    team_id: String,
    user_id: String,
    channel_id: String,
    thread_ts: Option<String>,
    reply_broadcast: bool,
    unless_replied: bool,
    unless_posted: bool,
    group_key: Option<String>,
    text: String,
    rich_text: Option<String>,
    recurrence: String,
    tz: String,
    anchor_at: DateTime<Utc>,
    skipped: String,
    status: String,
    occurrences: i32,
    last_due_at: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

const SERIES_COLUMNS: &str = "id, author_id, team_id, user_id, channel_id, thread_ts, reply_broadcast, \
     unless_replied, unless_posted, group_key, text, rich_text, recurrence, tz, anchor_at, skipped, \
     status, occurrences, last_due_at, created_at, updated_at";

impl TryFrom<SeriesRow> for SeriesRecord {
    type Error = StoreError;

    fn try_from(row: SeriesRow) -> Result<Self, StoreError> {
        let recurrence: Recurrence = serde_json::from_str(&row.recurrence)
            .map_err(|e| StoreError::Corrupt(format!("series {} rule: {e}", row.id)))?;
        let tz: Tz = row
            .tz
            .parse()
            .map_err(|_| StoreError::Corrupt(format!("series {} zone {:?}", row.id, row.tz)))?;
        let skipped: Vec<DateTime<Utc>> = serde_json::from_str(&row.skipped)
            .map_err(|e| StoreError::Corrupt(format!("series {} skips: {e}", row.id)))?;
        Ok(Self {
            id: row.id,
            author_id: row.author_id,
            team_id: row.team_id,
            user_id: row.user_id,
            channel_id: row.channel_id,
            text: row.text,
            rich_text: row.rich_text,
            options: PostOptions {
                thread_ts: row.thread_ts,
                reply_broadcast: row.reply_broadcast,
                conditions: Conditions {
                    unless_replied: row.unless_replied,
                    unless_posted: row.unless_posted,
                },
                group_key: row.group_key,
            },
            recurrence,
            tz,
            anchor: row.anchor_at,
            skipped,
            status: SeriesStatus::parse(&row.status)?,
            occurrences: row.occurrences,
            last_due_at: row.last_due_at,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}

fn rule_json(recurrence: &Recurrence) -> Result<String, StoreError> {
    serde_json::to_string(recurrence).map_err(|e| StoreError::Corrupt(format!("a rule: {e}")))
}

/// The columns an occurrence takes from its series, and their values.
const OCCURRENCE_INSERT: &str = "INSERT INTO scheduled_messages
     (author_id, team_id, user_id, channel_id, text, rich_text, due_at, status, wake_at,
      created_at, updated_at, thread_ts, reply_broadcast, unless_replied, unless_posted,
      group_key, check_at, series_id, occurrence)";

impl Store {
    /// Stores series (one per destination of one submission) with their
    /// first occurrences, all or nothing: nothing when they would take the
    /// author past [`MAX_PENDING_PER_USER`]. Returns each series' id and its
    /// first occurrence's, in the order given.
    pub async fn create_series(
        &self,
        all: &[NewSeries],
        now: DateTime<Utc>,
    ) -> Result<Vec<(i64, i64)>, InsertError> {
        let insert_series = "INSERT INTO series
                 (author_id, team_id, user_id, channel_id, thread_ts, reply_broadcast,
                  unless_replied, unless_posted, group_key, text, rich_text, recurrence, tz,
                  anchor_at, status, occurrences, last_due_at, created_at, updated_at)
             SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, 'active', 1,
                    $15, $16, $16
             FROM users WHERE id = $1 AND waiting_count < $17";
        let insert_first = format!(
            "{OCCURRENCE_INSERT}
             VALUES ($1, $2, $3, $4, $5, $6, $7, 'pending', $7, $8, $8, $9, $10, $11, $12, $13,
                     $14, $15, 1)
             RETURNING id"
        );
        // Each occurrence stored raises the author's waiting count (a
        // trigger), so the next series' check sees it within the transaction.
        macro_rules! run {
            ($tx:expr, $lock:expr) => {{
                let mut ids = Vec::with_capacity(all.len());
                for series in all {
                    let rule = rule_json(&series.recurrence)?;
                    let first = stamp(series.first.at());
                    let o = &series.options;
                    let sql = sqlx::AssertSqlSafe(format!("{insert_series}{} RETURNING id", $lock));
                    let series_id: Option<i64> = sqlx::query_scalar(sql)
                        .bind(series.author_id)
                        .bind(&series.team_id)
                        .bind(&series.user_id)
                        .bind(&series.channel_id)
                        .bind(o.thread_ts.as_deref())
                        .bind(o.reply_broadcast)
                        .bind(o.conditions.unless_replied)
                        .bind(o.conditions.unless_posted)
                        .bind(o.group_key.as_deref())
                        .bind(series.text.as_str())
                        .bind(series.rich_text.as_deref())
                        .bind(&rule)
                        .bind(series.tz.name())
                        .bind(stamp(series.anchor))
                        .bind(first)
                        .bind(stamp(now))
                        .bind(MAX_PENDING_PER_USER)
                        .fetch_optional(&mut *$tx)
                        .await
                        .map_err(StoreError::from)?;
                    let Some(series_id) = series_id else {
                        return Err(InsertError::PendingLimit);
                    };
                    let message_id: i64 =
                        sqlx::query_scalar(sqlx::AssertSqlSafe(insert_first.clone()))
                            .bind(series.author_id)
                            .bind(&series.team_id)
                            .bind(&series.user_id)
                            .bind(&series.channel_id)
                            .bind(series.text.as_str())
                            .bind(series.rich_text.as_deref())
                            .bind(first)
                            .bind(stamp(now))
                            .bind(o.thread_ts.as_deref())
                            .bind(o.reply_broadcast)
                            .bind(o.conditions.unless_replied)
                            .bind(o.conditions.unless_posted)
                            .bind(o.group_key.as_deref())
                            .bind(check_at(first, now))
                            .bind(series_id)
                            .fetch_one(&mut *$tx)
                            .await
                            .map_err(StoreError::from)?;
                    ids.push((series_id, message_id));
                }
                ids
            }};
        }
        for _ in all {
            self.count_statement();
            self.count_statement();
        }
        let ids = match &self.db {
            Db::Sqlite(pool) => {
                let mut tx = pool.begin().await.map_err(StoreError::from)?;
                let ids = run!(tx, "");
                tx.commit().await.map_err(StoreError::from)?;
                ids
            }
            Db::Postgres(pool) => {
                let mut tx = pool.begin().await.map_err(StoreError::from)?;
                // Locks the author's row, as `insert_message` does.
                let ids = run!(tx, " FOR NO KEY UPDATE");
                tx.commit().await.map_err(StoreError::from)?;
                ids
            }
        };
        Ok(ids)
    }

    pub async fn series(&self, id: i64) -> Result<Option<SeriesRecord>, StoreError> {
        let sql = sqlx::AssertSqlSafe(format!("SELECT {SERIES_COLUMNS} FROM series WHERE id = $1"));
        let row: Option<SeriesRow> = on_db!(self, |pool| sqlx::query_as(sql)
            .bind(id)
            .fetch_optional(pool)
            .await)?;
        row.map(SeriesRecord::try_from).transpose()
    }

    /// An author's series that are still going (active or paused), oldest first.
    pub async fn author_series(
        &self,
        author_id: i64,
        limit: i64,
    ) -> Result<Vec<SeriesRecord>, StoreError> {
        let sql = sqlx::AssertSqlSafe(format!(
            "SELECT {SERIES_COLUMNS} FROM series
             WHERE author_id = $1 AND status IN ('active', 'paused')
             ORDER BY id LIMIT $2"
        ));
        let rows: Vec<SeriesRow> = on_db!(self, |pool| sqlx::query_as(sql)
            .bind(author_id)
            .bind(limit)
            .fetch_all(pool)
            .await)?;
        rows.into_iter().map(SeriesRecord::try_from).collect()
    }

    /// Series whose occurrence settled and that want their next, read off
    /// their own index.
    pub async fn series_wanting_next(&self, limit: i64) -> Result<Vec<SeriesRecord>, StoreError> {
        let sql = sqlx::AssertSqlSafe(format!(
            "SELECT {SERIES_COLUMNS} FROM series WHERE wants_next ORDER BY id LIMIT $1"
        ));
        let rows: Vec<SeriesRow> = on_db!(self, |pool| sqlx::query_as(sql)
            .bind(limit)
            .fetch_all(pool)
            .await)?;
        rows.into_iter().map(SeriesRecord::try_from).collect()
    }

    /// Creates the next occurrence of `series` (as read) due at `due`, and
    /// records it on the series. Exactly once: a second try with the same
    /// reading (another process) creates nothing and returns `false`.
    pub async fn add_occurrence(
        &self,
        series: &SeriesRecord,
        due: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let number = series.occurrences + 1;
        let due = stamp(due);
        let insert = sqlx::AssertSqlSafe(format!(
            "{OCCURRENCE_INSERT}
             SELECT author_id, team_id, user_id, channel_id, text, rich_text, $2, 'pending', $2,
                    $3, $3, thread_ts, reply_broadcast, unless_replied, unless_posted, group_key,
                    $4, id, $5
             FROM series WHERE id = $1 AND status = 'active' AND occurrences = $6
             ON CONFLICT (series_id, occurrence) WHERE series_id IS NOT NULL DO NOTHING"
        ));
        let created = on_db!(self, |pool| sqlx::query(insert)
            .bind(series.id)
            .bind(due)
            .bind(stamp(now))
            .bind(check_at(due, now))
            .bind(number)
            .bind(series.occurrences)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))?;
        // The series moves on whoever created the occurrence; one that is no
        // longer active (paused, cancelled meanwhile) stops wanting.
        on_db!(self, |pool| sqlx::query(
            "UPDATE series
             SET occurrences = CASE WHEN o.found THEN $2 ELSE occurrences END,
                 last_due_at = CASE WHEN o.found THEN $3 ELSE last_due_at END,
                 wants_next = FALSE, updated_at = $4
             FROM (SELECT EXISTS (SELECT 1 FROM scheduled_messages
                                  WHERE series_id = $1 AND occurrence = $2) AS found) AS o
             WHERE id = $1 AND occurrences = $5"
        )
        .bind(series.id)
        .bind(number)
        .bind(due)
        .bind(stamp(now))
        .bind(series.occurrences)
        .execute(pool)
        .await
        .map(|_| ()))?;
        Ok(created == 1)
    }

    /// The series has no occurrence left: it has ended.
    pub async fn end_series(&self, id: i64, now: DateTime<Utc>) -> Result<(), StoreError> {
        on_db!(self, |pool| sqlx::query(
            "UPDATE series SET status = 'ended', wants_next = FALSE, updated_at = $2
             WHERE id = $1 AND status = 'active'"
        )
        .bind(id)
        .bind(stamp(now))
        .execute(pool)
        .await
        .map(|_| ()))?;
        Ok(())
    }

    /// A series that cannot go on (its rule no longer reads): not asked again.
    pub async fn drop_next_wish(&self, id: i64) -> Result<(), StoreError> {
        on_db!(self, |pool| sqlx::query(
            "UPDATE series SET wants_next = FALSE WHERE id = $1"
        )
        .bind(id)
        .execute(pool)
        .await
        .map(|_| ()))?;
        Ok(())
    }
}
