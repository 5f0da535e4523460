//! The changes an author makes to a whole series: pause, resume, cancel,
//! skip an occurrence, edit. Each is one transaction, checked in its
//! statements: only the author's own series, and never an occurrence that
//! may already have been posted.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use super::changes::ChangeError;
use super::messages::check_at;
use super::series::SeriesStatus;
use super::{Store, StoreError, in_transaction, stamp};
use crate::domain::recurrence::Recurrence;
use crate::domain::{Conditions, DueTime, MessageText};

/// An author's change to their whole series: what it posts, where, and
/// its rule, which starts again from `anchor` with its first at `first`.
#[derive(Debug, Clone)]
pub struct SeriesEdit {
    pub channel_id: String,
    pub text: MessageText,
    pub rich_text: Option<String>,
    pub recurrence: Recurrence,
    pub tz: Tz,
    pub anchor: DateTime<Utc>,
    pub first: DueTime,
    pub conditions: Conditions,
    pub reply_broadcast: bool,
}

/// Stops the series' waiting occurrence (unless it may be posted already).
const STOP_WAITING: &str = "UPDATE scheduled_messages
     SET status = 'cancelled', wake_at = NULL, reason = $3, needs_notice = FALSE,
         notice_attempts = 0, notice_after = NULL, check_at = NULL, updated_at = $2
     WHERE series_id = $1 AND status IN ('pending', 'held') AND NOT verify_before_post";

impl Store {
    /// Pauses an active series: its waiting occurrence is cancelled, and
    /// none is created until it is resumed.
    pub async fn pause_series(
        &self,
        id: i64,
        author_id: i64,
        now: DateTime<Utc>,
    ) -> Result<(), ChangeError> {
        self.count_statement();
        self.count_statement();
        let paused = in_transaction!(self, |tx| {
            let paused = sqlx::query(
                "UPDATE series SET status = 'paused', wants_next = FALSE, updated_at = $3
                 WHERE id = $1 AND author_id = $2 AND status = 'active'",
            )
            .bind(id)
            .bind(author_id)
            .bind(stamp(now))
            .execute(&mut *tx)
            .await
            .map_err(StoreError::from)?
            .rows_affected();
            if paused == 1 {
                sqlx::query(STOP_WAITING)
                    .bind(id)
                    .bind(stamp(now))
                    .bind("series_paused")
                    .execute(&mut *tx)
                    .await
                    .map_err(StoreError::from)?;
            }
            paused
        });
        self.series_changed(paused, id, author_id, SeriesStatus::Active)
            .await
    }

    /// Resumes a paused series from now: the occurrences it missed are not
    /// posted; the keeper creates the next one.
    pub async fn resume_series(
        &self,
        id: i64,
        author_id: i64,
        now: DateTime<Utc>,
    ) -> Result<(), ChangeError> {
        let resumed = super::on_db!(self, |pool| sqlx::query(
            "UPDATE series SET status = 'active', updated_at = $3,
                 wants_next = NOT EXISTS (SELECT 1 FROM scheduled_messages
                                          WHERE series_id = $1
                                            AND status IN ('pending', 'sending', 'held'))
             WHERE id = $1 AND author_id = $2 AND status = 'paused'"
        )
        .bind(id)
        .bind(author_id)
        .bind(stamp(now))
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))
        .map_err(StoreError::from)?;
        self.series_changed(resumed, id, author_id, SeriesStatus::Paused)
            .await
    }

    /// Cancels a series and its waiting occurrence.
    pub async fn cancel_series(
        &self,
        id: i64,
        author_id: i64,
        now: DateTime<Utc>,
    ) -> Result<(), ChangeError> {
        self.count_statement();
        self.count_statement();
        let cancelled = in_transaction!(self, |tx| {
            let cancelled = sqlx::query(
                "UPDATE series SET status = 'cancelled', wants_next = FALSE, updated_at = $3
                 WHERE id = $1 AND author_id = $2 AND status IN ('active', 'paused')",
            )
            .bind(id)
            .bind(author_id)
            .bind(stamp(now))
            .execute(&mut *tx)
            .await
            .map_err(StoreError::from)?
            .rows_affected();
            if cancelled == 1 {
                sqlx::query(STOP_WAITING)
                    .bind(id)
                    .bind(stamp(now))
                    .bind("series_cancelled")
                    .execute(&mut *tx)
                    .await
                    .map_err(StoreError::from)?;
            }
            cancelled
        });
        self.series_changed(cancelled, id, author_id, SeriesStatus::Active)
            .await
    }

    /// Skips the occurrence due at `at`: the waiting one is marked
    /// `skipped` (and the next is created), a later one is remembered and
    /// never created. Skipped occurrences count towards `for N times`.
    pub async fn skip_occurrence(
        &self,
        id: i64,
        author_id: i64,
        at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<(), ChangeError> {
        self.skip_occurrence_once(id, author_id, at, now, true)
            .await
    }

    async fn skip_occurrence_once(
        &self,
        id: i64,
        author_id: i64,
        at: DateTime<Utc>,
        now: DateTime<Utc>,
        retry: bool,
    ) -> Result<(), ChangeError> {
        let Some(series) = self.series(id).await? else {
            return Err(ChangeError::NotFound);
        };
        if series.author_id != author_id {
            return Err(ChangeError::NotFound);
        }
        if !matches!(series.status, SeriesStatus::Active | SeriesStatus::Paused) {
            return Err(ChangeError::SeriesOver);
        }
        let at = stamp(at);
        let skipped_now = super::on_db!(self, |pool| sqlx::query(
            "UPDATE scheduled_messages
             SET status = 'skipped', wake_at = NULL, reason = 'skipped_by_author',
                 needs_notice = FALSE, check_at = NULL, updated_at = $3
             WHERE series_id = $1 AND due_at = $2 AND status IN ('pending', 'held')
               AND NOT verify_before_post"
        )
        .bind(id)
        .bind(at)
        .bind(stamp(now))
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))
        .map_err(StoreError::from)?;
        if skipped_now == 1 {
            return Ok(());
        }
        if series.last_due_at.is_some_and(|last| at <= last) {
            // That occurrence exists already and is being sent or settled.
            return Err(ChangeError::InDoubt);
        }
        let mut skipped = series.skipped.clone();
        if !skipped.contains(&at) {
            skipped.push(at);
            skipped.sort();
        }
        let before = serde_json::to_string(&series.skipped)
            .map_err(|e| StoreError::Corrupt(format!("skips: {e}")))?;
        let after = serde_json::to_string(&skipped)
            .map_err(|e| StoreError::Corrupt(format!("skips: {e}")))?;
        let written = super::on_db!(self, |pool| sqlx::query(
            "UPDATE series SET skipped = $3, updated_at = $4
             WHERE id = $1 AND skipped = $2 AND status IN ('active', 'paused')"
        )
        .bind(id)
        .bind(&before)
        .bind(&after)
        .bind(stamp(now))
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))
        .map_err(StoreError::from)?;
        if written == 1 {
            return Ok(());
        }
        // Changed meanwhile (another skip, an edit): once more, on what is there now.
        if retry {
            Box::pin(self.skip_occurrence_once(id, author_id, at, now, false)).await
        } else {
            Err(ChangeError::InDoubt)
        }
    }

    /// Changes a whole series: what it posts, where, and its rule. Its
    /// waiting occurrence becomes the new rule's first; one being sent
    /// keeps what it had, and the change applies from the next.
    pub async fn edit_series(
        &self,
        id: i64,
        author_id: i64,
        edit: &SeriesEdit,
        now: DateTime<Utc>,
    ) -> Result<(), ChangeError> {
        let rule = serde_json::to_string(&edit.recurrence)
            .map_err(|e| StoreError::Corrupt(format!("a rule: {e}")))?;
        let first = stamp(edit.first.at());
        self.count_statement();
        self.count_statement();
        let edited = in_transaction!(self, |tx| {
            let edited = sqlx::query(
                "UPDATE series
                 SET channel_id = $3, text = $4, rich_text = $5, recurrence = $6, tz = $7,
                     anchor_at = $8, skipped = '[]', unless_replied = $9, unless_posted = $10,
                     reply_broadcast = $11, updated_at = $12
                 WHERE id = $1 AND author_id = $2 AND status IN ('active', 'paused')",
            )
            .bind(id)
            .bind(author_id)
            .bind(&edit.channel_id)
            .bind(edit.text.as_str())
            .bind(edit.rich_text.as_deref())
            .bind(&rule)
            .bind(edit.tz.name())
            .bind(stamp(edit.anchor))
            .bind(edit.conditions.unless_replied)
            .bind(edit.conditions.unless_posted)
            .bind(edit.reply_broadcast)
            .bind(stamp(now))
            .execute(&mut *tx)
            .await
            .map_err(StoreError::from)?
            .rows_affected();
            if edited == 1 {
                sqlx::query(
                    "UPDATE scheduled_messages
                     SET channel_id = $2, text = $3, rich_text = $4, due_at = $5, wake_at = $5,
                         status = 'pending', unless_replied = $6, unless_posted = $7,
                         reply_broadcast = $8, check_at = $9, warning = NULL, attempts = 0,
                         reason = NULL, needs_notice = FALSE, notice_attempts = 0,
                         notice_after = NULL, updated_at = $10
                     WHERE series_id = $1 AND status IN ('pending', 'held') AND NOT verify_before_post",
                )
                .bind(id)
                .bind(&edit.channel_id)
                .bind(edit.text.as_str())
                .bind(edit.rich_text.as_deref())
                .bind(first)
                .bind(edit.conditions.unless_replied)
                .bind(edit.conditions.unless_posted)
                .bind(edit.reply_broadcast)
                .bind(check_at(first, now))
                .bind(stamp(now))
                .execute(&mut *tx)
                .await
                .map_err(StoreError::from)?;
                sqlx::query(
                    "UPDATE series SET last_due_at = $2
                     WHERE id = $1 AND EXISTS (SELECT 1 FROM scheduled_messages
                                               WHERE series_id = $1 AND status = 'pending'
                                                 AND due_at = $2)",
                )
                .bind(id)
                .bind(first)
                .execute(&mut *tx)
                .await
                .map_err(StoreError::from)?;
            }
            edited
        });
        self.series_changed(edited, id, author_id, SeriesStatus::Active)
            .await
    }

    /// `Ok` when one series changed; else why not.
    async fn series_changed(
        &self,
        changed: u64,
        id: i64,
        author_id: i64,
        wanted: SeriesStatus,
    ) -> Result<(), ChangeError> {
        if changed == 1 {
            return Ok(());
        }
        match self.series(id).await? {
            Some(s) if s.author_id == author_id => match s.status {
                SeriesStatus::Ended | SeriesStatus::Cancelled => Err(ChangeError::SeriesOver),
                // Already paused (or active): nothing to do, and nothing wrong.
                status if status != wanted => Ok(()),
                _ => Err(ChangeError::SeriesOver),
            },
            _ => Err(ChangeError::NotFound),
        }
    }
}
