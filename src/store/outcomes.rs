//! Writing a batch's outcomes back: one statement for every success, one for
//! every other outcome. If a bulk statement fails, each row is written on
//! its own so one bad row cannot cost the others their record.

use chrono::{DateTime, Utc};

use super::{Db, Store, StoreError, sqlite_text, stamp};
use crate::domain::{Outcome, OutcomeKind};

/// What recording a batch cost and achieved.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecordReport {
    pub statements: u64,
    /// Rows written by the per-row fallback after a bulk statement failed.
    pub fallback_rows: usize,
    /// Rows that could not be written even alone. They stay `sending`; when
    /// their lease runs out the cycle looks for them in Slack before acting.
    pub unwritten: Vec<i64>,
}

const SENT_SQLITE: &str = "
UPDATE scheduled_messages
SET status = 'sent', slack_ts = o.ts, sent_at = o.sent_at, attempts = o.attempts,
    wake_at = NULL, claim_token = NULL, verify_before_post = FALSE, reason = NULL,
    needs_notice = FALSE, updated_at = $2
FROM (SELECT value ->> 'id' AS id, value ->> 'ts' AS ts, value ->> 'sent_at' AS sent_at,
             value ->> 'attempts' AS attempts
      FROM json_each($1)) AS o
WHERE scheduled_messages.id = o.id AND scheduled_messages.status = 'sending'";

const SENT_POSTGRES: &str = "
UPDATE scheduled_messages AS m
SET status = 'sent', slack_ts = o.ts, sent_at = o.sent_at, attempts = o.attempts,
    wake_at = NULL, claim_token = NULL, verify_before_post = FALSE, reason = NULL,
    needs_notice = FALSE, updated_at = $5
FROM UNNEST($1::bigint[], $2::text[], $3::timestamptz[], $4::int[]) AS o(id, ts, sent_at, attempts)
WHERE m.id = o.id AND m.status = 'sending'";

/// Only rows still held under this claim are touched: if the lease ran out
/// and another runner took a row over, its outcome is that runner's to write.
const UNSENT_SQLITE: &str = "
UPDATE scheduled_messages
SET status = o.status, attempts = o.attempts, wake_at = o.wake_at, reason = o.reason,
    verify_before_post = o.verify, needs_notice = o.notice, claim_token = NULL, updated_at = $2
FROM (SELECT value ->> 'id' AS id, value ->> 'status' AS status, value ->> 'attempts' AS attempts,
             value ->> 'wake_at' AS wake_at, value ->> 'reason' AS reason,
             value ->> 'verify' AS verify, value ->> 'notice' AS notice
      FROM json_each($1)) AS o
WHERE scheduled_messages.id = o.id AND scheduled_messages.status = 'sending'
  AND scheduled_messages.claim_token = $3";

const UNSENT_POSTGRES: &str = "
UPDATE scheduled_messages AS m
SET status = o.status, attempts = o.attempts, wake_at = o.wake_at, reason = o.reason,
    verify_before_post = o.verify, needs_notice = o.notice, claim_token = NULL, updated_at = $8
FROM UNNEST($1::bigint[], $2::text[], $3::int[], $4::timestamptz[], $5::text[], $6::bool[], $7::bool[])
     AS o(id, status, attempts, wake_at, reason, verify, notice)
WHERE m.id = o.id AND m.status = 'sending' AND m.claim_token = $9";

impl Store {
    /// Records a batch's outcomes: at most two statements when all goes well.
    pub async fn record_outcomes(
        &self,
        outcomes: &[Outcome],
        claim_token: &str,
        now: DateTime<Utc>,
    ) -> RecordReport {
        let (sent, unsent): (Vec<&Outcome>, Vec<&Outcome>) =
            outcomes.iter().partition(|o| o.is_sent());
        let mut report = RecordReport::default();
        if !sent.is_empty() {
            tracing::debug!(
                count = sent.len(),
                "Bulk updating {} successful messages",
                sent.len()
            );
            self.record_group(&sent, claim_token, now, &mut report, Store::write_sent)
                .await;
        }
        if !unsent.is_empty() {
            tracing::debug!(
                count = unsent.len(),
                "Bulk updating {} unsent messages",
                unsent.len()
            );
            self.record_group(&unsent, claim_token, now, &mut report, Store::write_unsent)
                .await;
        }
        report
    }

    async fn record_group<'a, F, Fut>(
        &'a self,
        group: &[&'a Outcome],
        claim_token: &'a str,
        now: DateTime<Utc>,
        report: &mut RecordReport,
        write: F,
    ) where
        F: Fn(&'a Store, Vec<&'a Outcome>, &'a str, DateTime<Utc>) -> Fut,
        Fut: Future<Output = Result<u64, StoreError>>,
    {
        let before = self.statements();
        let bulk = write(self, group.to_vec(), claim_token, now).await;
        if let Err(err) = bulk {
            tracing::warn!(rows = group.len(), error = %err,
                "bulk outcome write failed; writing each row on its own");
            for outcome in group {
                match write(self, vec![*outcome], claim_token, now).await {
                    Ok(_) => report.fallback_rows += 1,
                    Err(err) => {
                        tracing::error!(message_id = outcome.id, status = %outcome.status(), error = %err,
                            "cannot record a message's outcome; it will be verified when its lease runs out");
                        report.unwritten.push(outcome.id);
                    }
                }
            }
        }
        report.statements += self.statements() - before;
    }

    async fn write_sent(
        &self,
        rows: Vec<&Outcome>,
        _claim_token: &str,
        now: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        self.count_statement();
        let written = match &self.db {
            Db::Sqlite(pool) => {
                let json: Vec<serde_json::Value> = rows
                    .iter()
                    .filter_map(|o| match &o.kind {
                        OutcomeKind::Sent { ts, at } => Some(serde_json::json!({
                            "id": o.id, "ts": ts, "sent_at": sqlite_text(*at), "attempts": o.attempts,
                        })),
                        _ => None,
                    })
                    .collect();
                sqlx::query(SENT_SQLITE)
                    .bind(serde_json::Value::Array(json).to_string())
                    .bind(stamp(now))
                    .execute(pool)
                    .await?
                    .rows_affected()
            }
            Db::Postgres(pool) => {
                let (mut ids, mut tss, mut ats, mut attempts) = (vec![], vec![], vec![], vec![]);
                for o in rows {
                    if let OutcomeKind::Sent { ts, at } = &o.kind {
                        ids.push(o.id);
                        tss.push(ts.as_str());
                        ats.push(stamp(*at));
                        attempts.push(o.attempts);
                    }
                }
                sqlx::query(SENT_POSTGRES)
                    .bind(ids)
                    .bind(tss)
                    .bind(ats)
                    .bind(attempts)
                    .bind(stamp(now))
                    .execute(pool)
                    .await?
                    .rows_affected()
            }
        };
        Ok(written)
    }

    async fn write_unsent(
        &self,
        rows: Vec<&Outcome>,
        claim_token: &str,
        now: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        self.count_statement();
        let fields = |o: &Outcome| {
            let (wake_at, verify) = match &o.kind {
                OutcomeKind::Retry {
                    next_at,
                    verify_before_post,
                    ..
                } => (Some(*next_at), *verify_before_post),
                _ => (None, false),
            };
            (
                o.status().as_str(),
                wake_at,
                o.reason().map(str::to_owned),
                verify,
                o.needs_notice(),
            )
        };
        let written = match &self.db {
            Db::Sqlite(pool) => {
                let json: Vec<serde_json::Value> = rows
                    .iter()
                    .map(|o| {
                        let (status, wake_at, reason, verify, notice) = fields(o);
                        serde_json::json!({
                            "id": o.id, "status": status, "attempts": o.attempts,
                            "wake_at": wake_at.map(sqlite_text), "reason": reason,
                            "verify": verify, "notice": notice,
                        })
                    })
                    .collect();
                sqlx::query(UNSENT_SQLITE)
                    .bind(serde_json::Value::Array(json).to_string())
                    .bind(stamp(now))
                    .bind(claim_token)
                    .execute(pool)
                    .await?
                    .rows_affected()
            }
            Db::Postgres(pool) => {
                let mut ids = Vec::with_capacity(rows.len());
                let mut statuses = Vec::with_capacity(rows.len());
                let mut attempts = Vec::with_capacity(rows.len());
                let mut wakes = Vec::with_capacity(rows.len());
                let mut reasons = Vec::with_capacity(rows.len());
                let mut verifies = Vec::with_capacity(rows.len());
                let mut notices = Vec::with_capacity(rows.len());
                for o in rows {
                    let (status, wake_at, reason, verify, notice) = fields(o);
                    ids.push(o.id);
                    statuses.push(status);
                    attempts.push(o.attempts);
                    wakes.push(wake_at.map(stamp));
                    reasons.push(reason);
                    verifies.push(verify);
                    notices.push(notice);
                }
                sqlx::query(UNSENT_POSTGRES)
                    .bind(ids)
                    .bind(statuses)
                    .bind(attempts)
                    .bind(wakes)
                    .bind(reasons)
                    .bind(verifies)
                    .bind(notices)
                    .bind(stamp(now))
                    .bind(claim_token)
                    .execute(pool)
                    .await?
                    .rows_affected()
            }
        };
        Ok(written)
    }
}
