//! The claim: one statement takes the earliest due messages, marks them
//! `sending` under a lease and returns them with their author's token data.
//!
//! A row is due when `wake_at <= now`: a pending message whose time (or retry
//! time) has come, or a `sending` one whose lease ran out, which is then in
//! doubt (its earlier attempt may have reached Slack): it is flagged
//! `verify_before_post`, and `in_doubt_since` keeps when its lease ended.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::messages::PostOptions;
use super::users::{Author, TokenStatus, UserCredentials};
use super::{Db, Store, StoreError, stamp};
use crate::domain::Conditions;

#[derive(Debug, Clone)]
pub struct ClaimRequest {
    pub now: DateTime<Utc>,
    pub limit: u32,
    /// Rows stay ours until then; past it, another runner may reclaim them.
    pub lease_until: DateTime<Utc>,
    /// Identifies this claim, so outcomes are written only to rows still ours.
    pub claim_token: String,
    /// Tokens expiring before this are refreshed ahead of use.
    pub refresh_before: DateTime<Utc>,
    /// How long a refresh right taken by the claim (PostgreSQL) lasts.
    pub refresh_lock_until: DateTime<Utc>,
    /// A conversation's pace (PostgreSQL, shared by every process): one
    /// post per `pace_interval`, running ahead by up to `pace_tolerance`.
    pub pace_interval: chrono::Duration,
    pub pace_tolerance: chrono::Duration,
    /// Turns further away than this are not taken.
    pub pace_budget: chrono::Duration,
}

#[derive(Debug, Clone)]
pub struct ClaimedMessage {
    pub id: i64,
    pub author: Author,
    pub channel_id: String,
    pub text: String,
    /// The message as rich text (Slack's JSON), posted in `blocks` with
    /// `text` as its fallback; `None` for text alone.
    pub rich_text: Option<String>,
    pub due_at: DateTime<Utc>,
    pub attempts: i32,
    pub first_claimed_at: DateTime<Utc>,
    pub verify_before_post: bool,
    /// When the message came into doubt (see the module doc), if it is.
    pub in_doubt_since: Option<DateTime<Utc>>,
    /// Why it was not posted last time it was claimed, if it was claimed.
    pub last_reason: Option<String>,
    pub token_status: TokenStatus,
    pub credentials: Option<UserCredentials>,
    /// The generation of `credentials` (see [`super::tokens`]).
    pub token_generation: i64,
    /// This runner may refresh the author's token (it holds the refresh
    /// right). On SQLite, one process owns the file and always may.
    pub refresh_lock_held: bool,
    /// The claim that holds the row, and until when.
    pub claim_token: Arc<str>,
    pub lease_until: DateTime<Utc>,
    /// The message's turn in its conversation, when the database keeps the
    /// pace (PostgreSQL); `None` when the process does. A turn not taken
    /// lay beyond the pacing budget: the message waits until about then.
    pub turn_at: Option<DateTime<Utc>>,
    pub turn_taken: bool,
    /// Thread, conditions and group (see [`PostOptions`]).
    pub options: PostOptions,
    /// When it was scheduled: conditions look at what happened since.
    pub scheduled_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct ClaimRow {
    id: i64,
    author_id: i64,
    team_id: String,
    user_id: String,
    channel_id: String,
    text: String,
    rich_text: Option<String>,
    due_at: DateTime<Utc>,
    attempts: i32,
    first_claimed_at: DateTime<Utc>,
    verify_before_post: bool,
    in_doubt_since: Option<DateTime<Utc>>,
    reason: Option<String>,
    access_token: Option<Vec<u8>>,
    refresh_token: Option<Vec<u8>>,
    token_expires_at: Option<DateTime<Utc>>,
    token_status: Option<String>,
    token_generation: Option<i64>,
    refresh_lock_held: bool,
    turn_at: Option<DateTime<Utc>>,
    turn_taken: bool,
    thread_ts: Option<String>,
    reply_broadcast: bool,
    unless_replied: bool,
    unless_posted: bool,
    created_at: DateTime<Utc>,
}

/// SQLite has no DML in CTEs, but RETURNING may hold scalar subqueries: each
/// reads one `users` row by primary key. All SET expressions see the row as
/// it was, so `in_doubt_since` takes the lease that just ran out.
const CLAIM_SQLITE: &str = "
UPDATE scheduled_messages
SET status = 'sending',
    wake_at = $3,
    claim_token = $4,
    first_claimed_at = COALESCE(first_claimed_at, $1),
    verify_before_post = (verify_before_post OR status = 'sending'),
    in_doubt_since = CASE WHEN status = 'sending' THEN COALESCE(in_doubt_since, wake_at)
                          ELSE in_doubt_since END,
    updated_at = $1
WHERE id IN (SELECT id FROM scheduled_messages
             WHERE wake_at <= $1
             ORDER BY wake_at
             LIMIT $2)
RETURNING id, author_id, team_id, user_id, channel_id, text, rich_text, due_at, attempts,
          first_claimed_at, verify_before_post, in_doubt_since, reason, thread_ts,
          reply_broadcast, unless_replied, unless_posted, created_at,
          (SELECT access_token FROM users WHERE users.id = author_id) AS access_token,
          (SELECT refresh_token FROM users WHERE users.id = author_id) AS refresh_token,
          (SELECT token_expires_at FROM users WHERE users.id = author_id) AS token_expires_at,
          (SELECT token_status FROM users WHERE users.id = author_id) AS token_status,
          (SELECT token_generation FROM users WHERE users.id = author_id) AS token_generation,
          TRUE AS refresh_lock_held, NULL AS turn_at, FALSE AS turn_taken";

/// SKIP LOCKED lets several runners claim side by side without waiting for
/// or double-taking each other's rows. The same statement takes the refresh
/// right for authors whose token is expiring (again skipping rows another
/// runner holds, so two claims never wait on each other), which serializes
/// refreshes across processes at no extra round trip.
///
/// It also gives each message its turn in its conversation from the shared
/// pace (`conversation_pace`): the messages of one conversation, in due
/// order, get the next turns of its cell rate (a burst of `tolerance` ahead,
/// then one per `interval`). Only the turns within the pacing budget are
/// taken; the messages after them are sent back until about their turn, and
/// paced again when they return. The upsert computes how many turns it takes
/// from the row as it finds it, under the row's lock, so two claims racing
/// for one conversation take consecutive turns; rows are upserted in a fixed
/// order, so they never deadlock.
const CLAIM_POSTGRES: &str = "
WITH due AS (
    SELECT id FROM scheduled_messages
    WHERE wake_at <= $1
    ORDER BY wake_at
    LIMIT $2
    FOR UPDATE SKIP LOCKED
), claimed AS (
    UPDATE scheduled_messages AS m
    SET status = 'sending',
        wake_at = $3,
        claim_token = $4,
        first_claimed_at = COALESCE(m.first_claimed_at, $1),
        verify_before_post = (m.verify_before_post OR m.status = 'sending'),
        in_doubt_since = CASE WHEN m.status = 'sending' THEN COALESCE(m.in_doubt_since, m.wake_at)
                              ELSE m.in_doubt_since END,
        updated_at = $1
    FROM due
    WHERE m.id = due.id
    RETURNING m.id, m.author_id, m.team_id, m.user_id, m.channel_id, m.text, m.rich_text,
              m.due_at, m.attempts, m.first_claimed_at, m.verify_before_post, m.in_doubt_since, m.reason,
              m.thread_ts, m.reply_broadcast, m.unless_replied, m.unless_posted, m.created_at
), expiring AS (
    SELECT u.id FROM users AS u
    WHERE u.id IN (SELECT author_id FROM claimed)
      AND u.token_status = 'active'
      AND u.refresh_token IS NOT NULL
      AND u.token_expires_at <= $5
      AND (u.refresh_lock_until IS NULL OR u.refresh_lock_until <= $1)
    ORDER BY u.id
    FOR UPDATE SKIP LOCKED
), refresh_locks AS (
    UPDATE users AS u SET refresh_lock_until = $6, refresh_lock_owner = $4
    FROM expiring
    WHERE u.id = expiring.id
    RETURNING u.id
), ranked AS (
    SELECT c.id, c.team_id, c.channel_id,
           row_number() OVER (PARTITION BY c.team_id, c.channel_id ORDER BY c.due_at, c.id) - 1 AS pos,
           count(*) OVER (PARTITION BY c.team_id, c.channel_id) AS k
    FROM claimed AS c
    WHERE NOT c.verify_before_post
), paces AS (
    INSERT INTO conversation_pace AS p (team_id, channel_id, tat, taken)
    SELECT team_id, channel_id,
           $1 + LEAST(k, (($9 + $8) / $7) + 1) * $7 * interval '1 microsecond',
           LEAST(k, (($9 + $8) / $7) + 1)
    FROM (SELECT DISTINCT team_id, channel_id, k FROM ranked) AS lanes
    ORDER BY team_id, channel_id
    ON CONFLICT (team_id, channel_id) DO UPDATE SET
        taken = LEAST(excluded.taken, GREATEST(0, FLOOR(
            (EXTRACT(EPOCH FROM ($1 - GREATEST(p.tat, $1))) * 1000000 + $9 + $8) / $7) + 1)),
        tat = GREATEST(p.tat, $1) + LEAST(excluded.taken, GREATEST(0, FLOOR(
            (EXTRACT(EPOCH FROM ($1 - GREATEST(p.tat, $1))) * 1000000 + $9 + $8) / $7) + 1))
            * $7 * interval '1 microsecond'
    RETURNING p.team_id, p.channel_id, p.taken,
              p.tat - p.taken * $7 * interval '1 microsecond' AS tat0
), turns AS (
    SELECT r.id, r.pos < pc.taken AS taken,
           GREATEST($1, pc.tat0 + (r.pos * $7 - $8) * interval '1 microsecond') AS turn
    FROM ranked AS r
    JOIN paces AS pc ON pc.team_id = r.team_id AND pc.channel_id = r.channel_id
)
SELECT c.id, c.author_id, c.team_id, c.user_id, c.channel_id, c.text, c.rich_text, c.due_at,
       c.attempts, c.first_claimed_at, c.verify_before_post, c.in_doubt_since, c.reason,
       c.thread_ts, c.reply_broadcast, c.unless_replied, c.unless_posted, c.created_at,
       u.access_token, u.refresh_token, u.token_expires_at, u.token_status, u.token_generation,
       (rl.id IS NOT NULL) AS refresh_lock_held,
       t.turn AS turn_at, COALESCE(t.taken, FALSE) AS turn_taken
FROM claimed AS c
LEFT JOIN users AS u ON u.id = c.author_id
LEFT JOIN refresh_locks AS rl ON rl.id = c.author_id
LEFT JOIN turns AS t ON t.id = c.id";

/// A pace row this far behind the clock says nothing any more: the
/// conversation is back at its full burst.
const PACE_MEMORY: chrono::Duration = chrono::Duration::hours(1);

fn micros(span: chrono::Duration) -> i64 {
    span.num_microseconds().unwrap_or(i64::MAX).max(0)
}

impl Store {
    /// Claims up to `limit` due messages, oldest first, in one statement.
    /// The claim commits before any Slack call is made.
    pub async fn claim_due(
        &self,
        request: &ClaimRequest,
    ) -> Result<Vec<ClaimedMessage>, StoreError> {
        self.count_statement();
        let rows: Vec<ClaimRow> = match &self.db {
            Db::Sqlite(pool) => {
                sqlx::query_as(CLAIM_SQLITE)
                    .bind(stamp(request.now))
                    .bind(i64::from(request.limit))
                    .bind(stamp(request.lease_until))
                    .bind(&request.claim_token)
                    .fetch_all(pool)
                    .await?
            }
            Db::Postgres(pool) => {
                sqlx::query_as(CLAIM_POSTGRES)
                    .bind(stamp(request.now))
                    .bind(i64::from(request.limit))
                    .bind(stamp(request.lease_until))
                    .bind(&request.claim_token)
                    .bind(stamp(request.refresh_before))
                    .bind(stamp(request.refresh_lock_until))
                    .bind(micros(request.pace_interval).max(1))
                    .bind(micros(request.pace_tolerance))
                    .bind(micros(request.pace_budget))
                    .fetch_all(pool)
                    .await?
            }
        };
        let claim_token: Arc<str> = Arc::from(request.claim_token.as_str());
        let mut claimed: Vec<ClaimedMessage> = rows
            .into_iter()
            .map(|row| self.claimed(row, &claim_token, request.lease_until))
            .collect();
        // RETURNING promises no order; deliver oldest first.
        claimed.sort_by_key(|m| (m.due_at, m.id));
        Ok(claimed)
    }

    /// Forgets the pace of conversations nobody posted to for an hour
    /// (PostgreSQL; SQLite keeps the pace in memory). Returns how many.
    pub async fn forget_idle_paces(&self, now: DateTime<Utc>) -> Result<u64, StoreError> {
        let Db::Postgres(pool) = &self.db else {
            return Ok(0);
        };
        let forgotten = sqlx::query("DELETE FROM conversation_pace WHERE tat < $1")
            .bind(stamp(now - PACE_MEMORY))
            .execute(pool)
            .await?
            .rows_affected();
        Ok(forgotten)
    }

    fn claimed(
        &self,
        row: ClaimRow,
        claim_token: &Arc<str>,
        lease_until: DateTime<Utc>,
    ) -> ClaimedMessage {
        let mut token_status = match row.token_status.as_deref().map(TokenStatus::parse) {
            Some(Ok(status)) => status,
            _ => TokenStatus::None,
        };
        // One author's unreadable token must not sink the whole batch: the
        // message is held like any other whose credentials do not work.
        let credentials = match self.open_user_credentials(
            &row.team_id,
            &row.user_id,
            row.access_token.as_deref(),
            row.refresh_token.as_deref(),
            row.token_expires_at,
        ) {
            Ok(credentials) => credentials,
            Err(err) => {
                tracing::error!(message_id = row.id, author_id = row.author_id, error = %err,
                    "cannot open the author's stored token");
                token_status = TokenStatus::Invalid;
                None
            }
        };
        ClaimedMessage {
            id: row.id,
            author: Author {
                id: row.author_id,
                team_id: row.team_id,
                user_id: row.user_id,
            },
            channel_id: row.channel_id,
            text: row.text,
            rich_text: row.rich_text,
            due_at: row.due_at,
            attempts: row.attempts,
            first_claimed_at: row.first_claimed_at,
            verify_before_post: row.verify_before_post,
            in_doubt_since: row.in_doubt_since.filter(|_| row.verify_before_post),
            last_reason: row.reason,
            token_status,
            credentials,
            token_generation: row.token_generation.unwrap_or_default(),
            refresh_lock_held: row.refresh_lock_held,
            claim_token: claim_token.clone(),
            lease_until,
            turn_at: row.turn_at,
            turn_taken: row.turn_taken,
            options: PostOptions {
                thread_ts: row.thread_ts,
                reply_broadcast: row.reply_broadcast,
                conditions: Conditions {
                    unless_replied: row.unless_replied,
                    unless_posted: row.unless_posted,
                },
                group_key: None,
            },
            scheduled_at: row.created_at,
        }
    }
}
