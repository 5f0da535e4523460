//! Scheduled messages as their authors see them: create, read, and the
//! scheduler's next wake-up.

use chrono::{DateTime, Utc};

use super::{Backend, Store, StoreError, on_db, sqlite_text, stamp};
use crate::domain::message::{CHECK_AHEAD, MAX_PENDING_PER_USER};
use crate::domain::{Conditions, DueTime, MessageStatus, MessageText};

/// How a message is posted beyond its conversation and text.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PostOptions {
    /// A reply in this thread (the parent message's `ts`).
    pub thread_ts: Option<String>,
    /// A thread reply also sent to the conversation.
    pub reply_broadcast: bool,
    pub conditions: Conditions,
    /// Shared by the messages one submission scheduled into several conversations.
    pub group_key: Option<String>,
}

/// A message ready to be stored: its text and due time already validated.
#[derive(Debug, Clone)]
pub struct NewMessage {
    pub author_id: i64,
    pub team_id: String,
    pub user_id: String,
    pub channel_id: String,
    pub text: MessageText,
    /// The message as rich text (Slack's JSON), when it was written as such;
    /// `text` is then its plain rendering.
    pub rich_text: Option<String>,
    pub due: DueTime,
    pub options: PostOptions,
}

/// When a message due at `due` is checked again ahead of time (see
/// [`CHECK_AHEAD`]); none when that moment has passed already.
pub(super) fn check_at(due: DateTime<Utc>, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let at = due - CHECK_AHEAD;
    (at > now).then(|| stamp(at))
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageRecord {
    pub id: i64,
    pub author_id: i64,
    pub team_id: String,
    pub user_id: String,
    pub channel_id: String,
    pub text: String,
    /// See [`NewMessage::rich_text`].
    pub rich_text: Option<String>,
    pub due_at: DateTime<Utc>,
    pub status: MessageStatus,
    pub attempts: i32,
    pub wake_at: Option<DateTime<Utc>>,
    pub slack_ts: Option<String>,
    pub sent_at: Option<DateTime<Utc>>,
    pub reason: Option<String>,
    pub verify_before_post: bool,
    pub needs_notice: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// When retention erased the text (`text` is then empty).
    pub text_erased_at: Option<DateTime<Utc>>,
    /// The series it is an occurrence of, and which one.
    pub series_id: Option<i64>,
    pub occurrence: Option<i32>,
    pub options: PostOptions,
    /// Where the posted message is, once known.
    pub permalink: Option<String>,
    /// What the last check ahead of time found wrong, if anything.
    pub warning: Option<String>,
}

#[derive(sqlx::FromRow)]
pub(super) struct MessageRow {
    id: i64,
    author_id: i64,
    team_id: String,
    user_id: String,
    channel_id: String,
    text: String,
    rich_text: Option<String>,
    due_at: DateTime<Utc>,
    status: String,
    attempts: i32,
    wake_at: Option<DateTime<Utc>>,
    slack_ts: Option<String>,
    sent_at: Option<DateTime<Utc>>,
    reason: Option<String>,
    verify_before_post: bool,
    needs_notice: bool,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    text_erased_at: Option<DateTime<Utc>>,
    series_id: Option<i64>,
    occurrence: Option<i32>,
    thread_ts: Option<String>,
    reply_broadcast: bool,
    unless_replied: bool,
    unless_posted: bool,
    group_key: Option<String>,
    permalink: Option<String>,
    warning: Option<String>,
}

pub(super) const MESSAGE_COLUMNS: &str = "id, author_id, team_id, user_id, channel_id, text, rich_text, due_at, status, \
     attempts, wake_at, slack_ts, sent_at, reason, verify_before_post, needs_notice, created_at, updated_at, \
     text_erased_at, series_id, occurrence, thread_ts, reply_broadcast, unless_replied, unless_posted, \
     group_key, permalink, warning";

impl TryFrom<MessageRow> for MessageRecord {
    type Error = StoreError;

    fn try_from(row: MessageRow) -> Result<Self, StoreError> {
        let status = MessageStatus::parse(&row.status)
            .ok_or_else(|| StoreError::Corrupt(format!("message status {:?}", row.status)))?;
        Ok(Self {
            id: row.id,
            author_id: row.author_id,
            team_id: row.team_id,
            user_id: row.user_id,
            channel_id: row.channel_id,
            text: row.text,
            rich_text: row.rich_text,
            due_at: row.due_at,
            status,
            attempts: row.attempts,
            wake_at: row.wake_at,
            slack_ts: row.slack_ts,
            sent_at: row.sent_at,
            reason: row.reason,
            verify_before_post: row.verify_before_post,
            needs_notice: row.needs_notice,
            created_at: row.created_at,
            updated_at: row.updated_at,
            text_erased_at: row.text_erased_at,
            series_id: row.series_id,
            occurrence: row.occurrence,
            options: PostOptions {
                thread_ts: row.thread_ts,
                reply_broadcast: row.reply_broadcast,
                conditions: Conditions {
                    unless_replied: row.unless_replied,
                    unless_posted: row.unless_posted,
                },
                group_key: row.group_key,
            },
            permalink: row.permalink,
            warning: row.warning,
        })
    }
}

/// Why a message was not stored.
#[derive(Debug, thiserror::Error)]
pub enum InsertError {
    #[error(
        "You already have 1,000 messages waiting to be sent. Cancel some before scheduling more."
    )]
    PendingLimit,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Store {
    /// Stores a pending message, unless its author already has
    /// [`MAX_PENDING_PER_USER`] waiting, in one statement. The author's row
    /// carries their waiting count (kept by triggers); the insert reads it
    /// through the row, locked on PostgreSQL, so concurrent inserts for one
    /// author queue on it and each sees the count the one before left. (A
    /// `COUNT` in the statement would race under READ COMMITTED.) SQLite
    /// runs one write at a time, so no lock is needed there.
    pub async fn insert_message(
        &self,
        message: &NewMessage,
        now: DateTime<Utc>,
    ) -> Result<i64, InsertError> {
        const INSERT: &str = "INSERT INTO scheduled_messages
                 (author_id, team_id, user_id, channel_id, text, rich_text, due_at, status,
                  wake_at, created_at, updated_at, thread_ts, reply_broadcast, unless_replied,
                  unless_posted, group_key, check_at)
             SELECT $1, $2, $3, $4, $5, $9, $6, 'pending', $6, $7, $7, $10, $11, $12, $13, $14, $15
             FROM users WHERE id = $1 AND waiting_count < $8";
        let sql = match self.backend() {
            Backend::Sqlite => format!("{INSERT} RETURNING id"),
            Backend::Postgres => format!("{INSERT} FOR NO KEY UPDATE RETURNING id"),
        };
        let sql = sqlx::AssertSqlSafe(sql);
        let id: Option<i64> = on_db!(self, |pool| sqlx::query_scalar(sql)
            .bind(message.author_id)
            .bind(&message.team_id)
            .bind(&message.user_id)
            .bind(&message.channel_id)
            .bind(message.text.as_str())
            .bind(stamp(message.due.at()))
            .bind(stamp(now))
            .bind(MAX_PENDING_PER_USER)
            .bind(message.rich_text.as_deref())
            .bind(message.options.thread_ts.as_deref())
            .bind(message.options.reply_broadcast)
            .bind(message.options.conditions.unless_replied)
            .bind(message.options.conditions.unless_posted)
            .bind(message.options.group_key.as_deref())
            .bind(check_at(message.due.at(), now))
            .fetch_optional(pool)
            .await)
        .map_err(StoreError::from)?;
        id.ok_or(InsertError::PendingLimit)
    }

    /// Stores the messages of one submission (the same author, several
    /// conversations) in one statement: all of them, or none when they
    /// would take the author past [`MAX_PENDING_PER_USER`]. Ids in the
    /// order given.
    pub async fn insert_group(
        &self,
        messages: &[NewMessage],
        now: DateTime<Utc>,
    ) -> Result<Vec<i64>, InsertError> {
        let Some(first) = messages.first() else {
            return Ok(Vec::new());
        };
        let count = i64::try_from(messages.len()).unwrap_or(i64::MAX);
        let room = MAX_PENDING_PER_USER - count;
        self.count_statement();
        let mut ids: Vec<(i64, String)> = match &self.db {
            super::Db::Sqlite(pool) => {
                let rows: Vec<serde_json::Value> = messages
                    .iter()
                    .map(|m| {
                        serde_json::json!({
                            "channel_id": m.channel_id, "text": m.text.as_str(),
                            "rich_text": m.rich_text, "due_at": sqlite_text(m.due.at()),
                            "thread_ts": m.options.thread_ts,
                            "reply_broadcast": m.options.reply_broadcast,
                            "unless_replied": m.options.conditions.unless_replied,
                            "unless_posted": m.options.conditions.unless_posted,
                            "group_key": m.options.group_key,
                            "check_at": check_at(m.due.at(), now).map(sqlite_text),
                        })
                    })
                    .collect();
                sqlx::query_as(
                    "INSERT INTO scheduled_messages
                         (author_id, team_id, user_id, channel_id, text, rich_text, due_at, status,
                          wake_at, created_at, updated_at, thread_ts, reply_broadcast,
                          unless_replied, unless_posted, group_key, check_at)
                     SELECT $1, $2, $3, value ->> 'channel_id', value ->> 'text',
                            value ->> 'rich_text', value ->> 'due_at', 'pending', value ->> 'due_at',
                            $5, $5, value ->> 'thread_ts', value ->> 'reply_broadcast',
                            value ->> 'unless_replied', value ->> 'unless_posted',
                            value ->> 'group_key', value ->> 'check_at'
                     FROM json_each($4)
                     WHERE (SELECT waiting_count FROM users WHERE id = $1) <= $6
                     RETURNING id, channel_id",
                )
                .bind(first.author_id)
                .bind(&first.team_id)
                .bind(&first.user_id)
                .bind(serde_json::Value::Array(rows).to_string())
                .bind(stamp(now))
                .bind(room)
                .fetch_all(pool)
                .await
                .map_err(StoreError::from)?
            }
            super::Db::Postgres(pool) => {
                let mut channel = Vec::with_capacity(messages.len());
                let mut text = Vec::with_capacity(messages.len());
                let mut rich = Vec::with_capacity(messages.len());
                let mut due = Vec::with_capacity(messages.len());
                let mut thread = Vec::with_capacity(messages.len());
                let mut broadcast = Vec::with_capacity(messages.len());
                let mut replied = Vec::with_capacity(messages.len());
                let mut posted = Vec::with_capacity(messages.len());
                let mut group = Vec::with_capacity(messages.len());
                let mut check = Vec::with_capacity(messages.len());
                for m in messages {
                    channel.push(m.channel_id.as_str());
                    text.push(m.text.as_str());
                    rich.push(m.rich_text.as_deref());
                    due.push(stamp(m.due.at()));
                    thread.push(m.options.thread_ts.as_deref());
                    broadcast.push(m.options.reply_broadcast);
                    replied.push(m.options.conditions.unless_replied);
                    posted.push(m.options.conditions.unless_posted);
                    group.push(m.options.group_key.as_deref());
                    check.push(check_at(m.due.at(), now));
                }
                // The author's row is locked, as in `insert_message`, so
                // concurrent submissions see each other's counts.
                sqlx::query_as(
                    "WITH author AS (
                         SELECT id FROM users WHERE id = $1 AND waiting_count <= $15
                         FOR NO KEY UPDATE
                     )
                     INSERT INTO scheduled_messages
                         (author_id, team_id, user_id, channel_id, text, rich_text, due_at, status,
                          wake_at, created_at, updated_at, thread_ts, reply_broadcast,
                          unless_replied, unless_posted, group_key, check_at)
                     SELECT author.id, $2, $3, c, x, r, d, 'pending', d, $4, $4, t, b, ur, up, g, k
                     FROM author,
                          UNNEST($5::text[], $6::text[], $7::text[], $8::timestamptz[], $9::text[],
                                 $10::bool[], $11::bool[], $12::bool[], $13::text[],
                                 $14::timestamptz[]) AS m(c, x, r, d, t, b, ur, up, g, k)
                     RETURNING id, channel_id",
                )
                .bind(first.author_id)
                .bind(&first.team_id)
                .bind(&first.user_id)
                .bind(stamp(now))
                .bind(channel)
                .bind(text)
                .bind(rich)
                .bind(due)
                .bind(thread)
                .bind(broadcast)
                .bind(replied)
                .bind(posted)
                .bind(group)
                .bind(check)
                .bind(room)
                .fetch_all(pool)
                .await
                .map_err(StoreError::from)?
            }
        };
        if ids.len() < messages.len() {
            return Err(InsertError::PendingLimit);
        }
        // RETURNING promises no order: give the ids in the order asked.
        let mut ordered = Vec::with_capacity(messages.len());
        for message in messages {
            let Some(at) = ids.iter().position(|(_, c)| *c == message.channel_id) else {
                return Err(InsertError::Store(StoreError::Corrupt(
                    "a grouped insert returned another conversation".into(),
                )));
            };
            ordered.push(ids.swap_remove(at).0);
        }
        Ok(ordered)
    }

    /// Stores many pending messages in one statement, without the per-user
    /// limit: for seeding tests, benchmarks and imports.
    pub async fn insert_messages(
        &self,
        messages: &[NewMessage],
        now: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        if messages.is_empty() {
            return Ok(0);
        }
        let now = stamp(now);
        self.count_statement();
        let inserted = match &self.db {
            super::Db::Sqlite(pool) => {
                let rows: Vec<serde_json::Value> = messages
                    .iter()
                    .map(|m| {
                        serde_json::json!({
                            "author_id": m.author_id, "team_id": m.team_id, "user_id": m.user_id,
                            "channel_id": m.channel_id, "text": m.text.as_str(),
                            "rich_text": m.rich_text, "due_at": sqlite_text(m.due.at()),
                            "check_at": check_at(m.due.at(), now).map(sqlite_text),
                        })
                    })
                    .collect();
                sqlx::query(
                    "INSERT INTO scheduled_messages
                         (author_id, team_id, user_id, channel_id, text, rich_text, due_at, status,
                          wake_at, created_at, updated_at, check_at)
                     SELECT value ->> 'author_id', value ->> 'team_id', value ->> 'user_id',
                            value ->> 'channel_id', value ->> 'text', value ->> 'rich_text',
                            value ->> 'due_at', 'pending', value ->> 'due_at', $2, $2,
                            value ->> 'check_at'
                     FROM json_each($1)",
                )
                .bind(serde_json::Value::Array(rows).to_string())
                .bind(now)
                .execute(pool)
                .await?
                .rows_affected()
            }
            super::Db::Postgres(pool) => {
                let mut author = Vec::with_capacity(messages.len());
                let mut team = Vec::with_capacity(messages.len());
                let mut user = Vec::with_capacity(messages.len());
                let mut channel = Vec::with_capacity(messages.len());
                let mut text = Vec::with_capacity(messages.len());
                let mut rich = Vec::with_capacity(messages.len());
                let mut due = Vec::with_capacity(messages.len());
                let mut check = Vec::with_capacity(messages.len());
                for m in messages {
                    author.push(m.author_id);
                    team.push(m.team_id.as_str());
                    user.push(m.user_id.as_str());
                    channel.push(m.channel_id.as_str());
                    text.push(m.text.as_str());
                    rich.push(m.rich_text.as_deref());
                    due.push(stamp(m.due.at()));
                    check.push(check_at(m.due.at(), now));
                }
                sqlx::query(
                    "INSERT INTO scheduled_messages
                         (author_id, team_id, user_id, channel_id, text, rich_text, due_at, status,
                          wake_at, created_at, updated_at, check_at)
                     SELECT a, t, u, c, x, r, d, 'pending', d, $7, $7, k
                     FROM UNNEST($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[],
                                 $6::timestamptz[], $8::text[], $9::timestamptz[])
                          AS m(a, t, u, c, x, d, r, k)",
                )
                .bind(author)
                .bind(team)
                .bind(user)
                .bind(channel)
                .bind(text)
                .bind(due)
                .bind(now)
                .bind(rich)
                .bind(check)
                .execute(pool)
                .await?
                .rows_affected()
            }
        };
        Ok(inserted)
    }

    pub async fn message(&self, id: i64) -> Result<Option<MessageRecord>, StoreError> {
        let sql = sqlx::AssertSqlSafe(format!(
            "SELECT {MESSAGE_COLUMNS} FROM scheduled_messages WHERE id = $1"
        ));
        let row: Option<MessageRow> = on_db!(self, |pool| sqlx::query_as(sql)
            .bind(id)
            .fetch_optional(pool)
            .await)?;
        row.map(MessageRecord::try_from).transpose()
    }

    /// Every message, oldest first: for tests and small tools, not for the app.
    pub async fn all_messages(&self) -> Result<Vec<MessageRecord>, StoreError> {
        let sql = sqlx::AssertSqlSafe(format!(
            "SELECT {MESSAGE_COLUMNS} FROM scheduled_messages ORDER BY id"
        ));
        let rows: Vec<MessageRow> = on_db!(self, |pool| sqlx::query_as(sql).fetch_all(pool).await)?;
        rows.into_iter().map(MessageRecord::try_from).collect()
    }

    /// When the scheduler must next wake up for a row (due, retry or lease
    /// expiry), read off the claim's index.
    pub async fn next_wake_at(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        let at: Option<DateTime<Utc>> = on_db!(self, |pool| sqlx::query_scalar(
            "SELECT MIN(wake_at) FROM scheduled_messages WHERE wake_at IS NOT NULL"
        )
        .fetch_one(pool)
        .await)?;
        Ok(at)
    }

    /// The plan the database chooses for the claim's selection, one line per
    /// plan row: tests and operators check that it reads an index.
    pub async fn explain_claim(
        &self,
        now: DateTime<Utc>,
        limit: i64,
    ) -> Result<String, StoreError> {
        let sql = match self.backend() {
            Backend::Sqlite => format!(
                "EXPLAIN QUERY PLAN SELECT id FROM scheduled_messages WHERE wake_at <= '{}' \
                 ORDER BY wake_at LIMIT {limit}",
                sqlite_text(now)
            ),
            Backend::Postgres => format!(
                "EXPLAIN SELECT id FROM scheduled_messages WHERE wake_at <= '{}'::timestamptz \
                 ORDER BY wake_at LIMIT {limit} FOR UPDATE SKIP LOCKED",
                stamp(now).to_rfc3339()
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
