//! An author's own messages: listing and counting them, and the changes
//! an author may make (edit, cancel, send a held one now), each checked in
//! its statement: only the author's own, only while the message waits, never
//! while it may already have been posted.

use chrono::{DateTime, Utc};

use super::messages::check_at;
use super::messages::{MESSAGE_COLUMNS, MessageRecord, MessageRow};
use super::{Store, StoreError, on_db, stamp};
use crate::domain::{Conditions, DueTime, MessageStatus, MessageText};

/// How many messages an author has in each state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MessageCounts {
    pub pending: i64,
    pub held: i64,
    pub sent: i64,
    pub failed: i64,
    pub cancelled: i64,
    pub skipped: i64,
}

/// Why an author's change to a message did not happen.
#[derive(Debug, thiserror::Error)]
pub enum ChangeError {
    /// No such message, or not this author's (the two are not told apart).
    #[error("That message does not exist, or it is not yours.")]
    NotFound,
    /// It was sent, failed or cancelled.
    #[error("That message can no longer be changed: it is {0}.")]
    Settled(MessageStatus),
    /// It is being posted, or a post of it was interrupted and Scheduler
    /// must look in the conversation before doing anything else with it.
    #[error(
        "That message may already have been posted; Scheduler is checking. You can change it again once that is known, in a few minutes."
    )]
    InDoubt,
    /// The series has ended or was cancelled.
    #[error("That series is over: it has ended or was cancelled.")]
    SeriesOver,
    /// A held message can only be sent once its author can post again.
    #[error(
        "Reconnect your account first: Scheduler can no longer post as you. Use the Connect link in the Scheduler Home tab, then press Send now again."
    )]
    NotConnected,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A change an author makes to one of their messages.
#[derive(Debug, Clone)]
pub struct MessageEdit {
    pub channel_id: String,
    pub text: MessageText,
    /// Replaces the stored rich text (see [`super::NewMessage::rich_text`]).
    pub rich_text: Option<String>,
    pub due: DueTime,
    /// The conditions checked at the due time, and whether a thread reply
    /// is also sent to the conversation; the thread itself stays.
    pub conditions: Conditions,
    pub reply_broadcast: bool,
}

impl Store {
    /// An author's messages in the given states: soonest first for waiting
    /// ones, most recent first otherwise.
    pub async fn author_messages(
        &self,
        author_id: i64,
        statuses: &[MessageStatus],
        limit: i64,
        newest_first: bool,
    ) -> Result<Vec<MessageRecord>, StoreError> {
        let wanted = statuses
            .iter()
            .map(|s| format!("'{}'", s.as_str()))
            .collect::<Vec<_>>()
            .join(", ");
        let order = if newest_first { "DESC" } else { "ASC" };
        let sql = sqlx::AssertSqlSafe(format!(
            "SELECT {MESSAGE_COLUMNS} FROM scheduled_messages
             WHERE author_id = $1 AND status IN ({wanted})
             ORDER BY due_at {order}, id {order} LIMIT $2"
        ));
        let rows: Vec<MessageRow> = on_db!(self, |pool| sqlx::query_as(sql)
            .bind(author_id)
            .bind(limit)
            .fetch_all(pool)
            .await)?;
        rows.into_iter().map(MessageRecord::try_from).collect()
    }

    pub async fn author_counts(&self, author_id: i64) -> Result<MessageCounts, StoreError> {
        let rows: Vec<(String, i64)> = on_db!(self, |pool| {
            sqlx::query_as(
            "SELECT status, COUNT(*) FROM scheduled_messages WHERE author_id = $1 GROUP BY status"
        )
        .bind(author_id)
        .fetch_all(pool)
        .await
        })?;
        let mut counts = MessageCounts::default();
        for (status, n) in rows {
            match MessageStatus::parse(&status) {
                Some(MessageStatus::Pending | MessageStatus::Sending) => counts.pending += n,
                Some(MessageStatus::Held) => counts.held += n,
                Some(MessageStatus::Sent) => counts.sent += n,
                Some(MessageStatus::Failed) => counts.failed += n,
                Some(MessageStatus::Cancelled) => counts.cancelled += n,
                Some(MessageStatus::Skipped) => counts.skipped += n,
                None => return Err(StoreError::Corrupt(format!("message status {status:?}"))),
            }
        }
        Ok(counts)
    }

    /// Changes a waiting message of this author; a held one waits again. A
    /// message in doubt (see [`ChangeError::InDoubt`]) keeps its flag and is
    /// not changed.
    pub async fn edit_message(
        &self,
        id: i64,
        author_id: i64,
        edit: &MessageEdit,
        now: DateTime<Utc>,
    ) -> Result<MessageRecord, ChangeError> {
        let due = stamp(edit.due.at());
        let sql = sqlx::AssertSqlSafe(format!(
            "UPDATE scheduled_messages
             SET channel_id = $3, text = $4, rich_text = $7, due_at = $5, wake_at = $5,
                 status = 'pending', unless_replied = $8, unless_posted = $9,
                 reply_broadcast = $10, check_at = $11, warning = NULL,
                 attempts = 0, reason = NULL, needs_notice = FALSE, notice_attempts = 0,
                 notice_after = NULL, updated_at = $6
             WHERE id = $1 AND author_id = $2 AND status IN ('pending', 'held')
               AND NOT verify_before_post
             RETURNING {MESSAGE_COLUMNS}"
        ));
        let row: Option<MessageRow> = on_db!(self, |pool| sqlx::query_as(sql)
            .bind(id)
            .bind(author_id)
            .bind(&edit.channel_id)
            .bind(edit.text.as_str())
            .bind(due)
            .bind(stamp(now))
            .bind(edit.rich_text.as_deref())
            .bind(edit.conditions.unless_replied)
            .bind(edit.conditions.unless_posted)
            .bind(edit.reply_broadcast)
            .bind(check_at(edit.due.at(), now))
            .fetch_optional(pool)
            .await)
        .map_err(StoreError::from)?;
        match row {
            Some(row) => Ok(MessageRecord::try_from(row)?),
            None => Err(self.why_unchanged(id, author_id).await),
        }
    }

    /// Cancels a waiting message of this author, unless it may already be posted.
    pub async fn cancel_message(
        &self,
        id: i64,
        author_id: i64,
        now: DateTime<Utc>,
    ) -> Result<(), ChangeError> {
        self.change_own_message(
            "UPDATE scheduled_messages
             SET status = 'cancelled', wake_at = NULL, reason = 'cancelled_by_author',
                 needs_notice = FALSE, notice_attempts = 0, notice_after = NULL, updated_at = $3
             WHERE id = $1 AND author_id = $2 AND status IN ('pending', 'held')
               AND NOT verify_before_post",
            id,
            author_id,
            now,
        )
        .await
    }

    /// A waiting message the author wants sent now, through the same
    /// delivery path: due now. A held one only once their account is
    /// connected again (their token active), or the post would fail at
    /// once. One that may already have been posted stays in doubt: it is
    /// looked for before it is posted, as always.
    pub async fn send_now(
        &self,
        id: i64,
        author_id: i64,
        now: DateTime<Utc>,
    ) -> Result<(), ChangeError> {
        let sent = self
            .change_own_message(
                "UPDATE scheduled_messages
                 SET status = 'pending', due_at = $3, wake_at = $3, reason = NULL,
                     needs_notice = FALSE, notice_attempts = 0, notice_after = NULL,
                     check_at = NULL, updated_at = $3
                 WHERE id = $1 AND author_id = $2
                   AND (status = 'pending'
                        OR (status = 'held'
                            AND EXISTS (SELECT 1 FROM users
                                        WHERE users.id = $2 AND token_status = 'active')))",
                id,
                author_id,
                now,
            )
            .await;
        match sent {
            Err(ChangeError::Settled(MessageStatus::Held)) => Err(ChangeError::NotConnected),
            other => other,
        }
    }

    /// [`Store::send_now`] for a held message (its author reconnected).
    pub async fn send_held_now(
        &self,
        id: i64,
        author_id: i64,
        now: DateTime<Utc>,
    ) -> Result<(), ChangeError> {
        self.send_now(id, author_id, now).await
    }

    /// Runs a one-row change bound to `(id, author_id, now)` that only
    /// touches the author's own message; says why when nothing changed.
    async fn change_own_message(
        &self,
        sql: &'static str,
        id: i64,
        author_id: i64,
        now: DateTime<Utc>,
    ) -> Result<(), ChangeError> {
        let done = on_db!(self, |pool| sqlx::query(sql)
            .bind(id)
            .bind(author_id)
            .bind(stamp(now))
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))
        .map_err(StoreError::from)?;
        if done == 1 {
            Ok(())
        } else {
            Err(self.why_unchanged(id, author_id).await)
        }
    }

    async fn why_unchanged(&self, id: i64, author_id: i64) -> ChangeError {
        match self.message(id).await {
            Ok(Some(m)) if m.author_id == author_id => match m.status {
                MessageStatus::Sending => ChangeError::InDoubt,
                MessageStatus::Pending | MessageStatus::Held if m.verify_before_post => {
                    ChangeError::InDoubt
                }
                status => ChangeError::Settled(status),
            },
            Ok(_) => ChangeError::NotFound,
            Err(err) => ChangeError::Store(err),
        }
    }

    /// The author reconnected: held messages still ahead wait again; overdue
    /// ones stay held for the author to send, reschedule or cancel.
    pub async fn resume_held(&self, author_id: i64, now: DateTime<Utc>) -> Result<u64, StoreError> {
        let resumed = on_db!(self, |pool| {
            sqlx::query(
                "UPDATE scheduled_messages
             SET status = 'pending', wake_at = due_at, reason = NULL, needs_notice = FALSE,
                 notice_attempts = 0, notice_after = NULL, updated_at = $2
             WHERE author_id = $1 AND status = 'held' AND due_at > $2",
            )
            .bind(author_id)
            .bind(stamp(now))
            .execute(pool)
            .await
            .map(|r| r.rows_affected())
        })?;
        Ok(resumed)
    }

    /// Cancels every waiting message of a workspace (`author_id: None`) or of
    /// one author, keeping `reason`. Returns how many.
    pub async fn cancel_waiting(
        &self,
        team_id: &str,
        author_id: Option<i64>,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        let cancelled = on_db!(self, |pool| {
            sqlx::query(
            "UPDATE scheduled_messages
             SET status = 'cancelled', wake_at = NULL, reason = $3, needs_notice = FALSE,
                 notice_attempts = 0, notice_after = NULL, updated_at = $4
             WHERE team_id = $1 AND ($2 IS NULL OR author_id = $2) AND status IN ('pending', 'held')"
        )
        .bind(team_id)
        .bind(author_id)
        .bind(reason)
        .bind(stamp(now))
        .execute(pool)
        .await
        .map(|r| r.rows_affected())
        })?;
        Ok(cancelled)
    }
}
