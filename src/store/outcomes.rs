//! Writing outcomes back: one statement for every success of a group, one
//! for every other outcome. Each row is written only while the claim that
//! produced the outcome still holds it: if its lease ran out and another
//! runner took it over, its outcome is that runner's to write.
//!
//! If a bulk statement fails because of a row (a constraint, a trigger),
//! each row is written on its own so one bad row cannot cost the others
//! their record. If it fails because the database cannot be reached, no row
//! is tried alone (each would wait out the pool's timeout): the group is
//! handed back whole, to be written again when the database is back.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::{Backend, Db, Store, StoreError, sqlite_text, stamp};
use crate::domain::{Outcome, OutcomeKind};

/// An outcome and the claim it belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutcomeRecord {
    pub outcome: Outcome,
    pub claim_token: Arc<str>,
}

/// What recording a group cost and achieved.
#[derive(Debug, Default)]
pub struct RecordReport {
    pub statements: u64,
    /// Rows written by the per-row fallback after a bulk statement failed.
    pub fallback_rows: usize,
    /// Rows refused even alone. They stay `sending`; when their lease runs
    /// out the cycle looks for them in Slack before acting.
    pub unwritten: Vec<i64>,
    /// Records not written because the database could not be reached, to
    /// be written again (indexes into the records given).
    pub unreachable: Vec<usize>,
    /// Why the database could not be reached, if it could not.
    pub connection_error: Option<StoreError>,
}

const SENT_SQLITE: &str = "
UPDATE scheduled_messages
SET status = 'sent', slack_ts = o.ts, sent_at = o.sent_at, attempts = o.attempts,
    wake_at = NULL, claim_token = NULL, verify_before_post = FALSE, in_doubt_since = NULL,
    reason = NULL, needs_notice = FALSE, updated_at = $2
FROM (SELECT value ->> 'id' AS id, value ->> 'ts' AS ts, value ->> 'sent_at' AS sent_at,
             value ->> 'attempts' AS attempts, value ->> 'claim' AS claim
      FROM json_each($1)) AS o
WHERE scheduled_messages.id = o.id AND scheduled_messages.status = 'sending'
  AND scheduled_messages.claim_token = o.claim";

/// PostgreSQL finds each row by its id and claim alone: a claim token is
/// only ever set on a `sending` row (a constraint says so), so the claim
/// check is the status check. Naming the status too would let the planner
/// start from the few `sending` rows its statistics expect and compare
/// each with every outcome of the group, which took a second per write
/// with a thousand messages in flight.
const SENT_POSTGRES: &str = "
UPDATE scheduled_messages AS m
SET status = 'sent', slack_ts = o.ts, sent_at = o.sent_at, attempts = o.attempts,
    wake_at = NULL, claim_token = NULL, verify_before_post = FALSE, in_doubt_since = NULL,
    reason = NULL, needs_notice = FALSE, updated_at = $6
FROM UNNEST($1::bigint[], $2::text[], $3::timestamptz[], $4::int[], $5::text[])
     AS o(id, ts, sent_at, attempts, claim)
WHERE m.id = o.id AND m.claim_token = o.claim";

/// A message that stays in doubt keeps the time it came into doubt; one
/// that comes into doubt now (an ambiguous answer) starts counting now.
const UNSENT_SQLITE: &str = "
UPDATE scheduled_messages
SET status = o.status, attempts = o.attempts, wake_at = o.wake_at, reason = o.reason,
    verify_before_post = o.verify,
    in_doubt_since = CASE WHEN o.verify THEN COALESCE(in_doubt_since, $2) ELSE NULL END,
    needs_notice = o.notice, claim_token = NULL, updated_at = $2
FROM (SELECT value ->> 'id' AS id, value ->> 'status' AS status, value ->> 'attempts' AS attempts,
             value ->> 'wake_at' AS wake_at, value ->> 'reason' AS reason,
             value ->> 'verify' AS verify, value ->> 'notice' AS notice,
             value ->> 'claim' AS claim
      FROM json_each($1)) AS o
WHERE scheduled_messages.id = o.id AND scheduled_messages.status = 'sending'
  AND scheduled_messages.claim_token = o.claim";

/// By id and claim alone, as [`SENT_POSTGRES`].
const UNSENT_POSTGRES: &str = "
UPDATE scheduled_messages AS m
SET status = o.status, attempts = o.attempts, wake_at = o.wake_at, reason = o.reason,
    verify_before_post = o.verify,
    in_doubt_since = CASE WHEN o.verify THEN COALESCE(m.in_doubt_since, $9) ELSE NULL END,
    needs_notice = o.notice, claim_token = NULL, updated_at = $9
FROM UNNEST($1::bigint[], $2::text[], $3::int[], $4::timestamptz[], $5::text[], $6::bool[],
            $7::bool[], $8::text[])
     AS o(id, status, attempts, wake_at, reason, verify, notice, claim)
WHERE m.id = o.id AND m.claim_token = o.claim";

/// Whether a failed statement says nothing about its rows: the database was
/// not reached, or the connection broke.
fn is_connection_error(err: &StoreError) -> bool {
    match err {
        StoreError::Database(err) => !matches!(err, sqlx::Error::Database(_)),
        _ => false,
    }
}

impl Store {
    /// Records a group of outcomes: two statements when all goes well.
    pub async fn record_outcomes(
        &self,
        records: &[OutcomeRecord],
        now: DateTime<Utc>,
    ) -> RecordReport {
        let (sent, unsent): (Vec<usize>, Vec<usize>) =
            (0..records.len()).partition(|&i| records[i].outcome.is_sent());
        let mut report = RecordReport::default();
        for (group, sent) in [(sent, true), (unsent, false)] {
            if group.is_empty() {
                continue;
            }
            if report.connection_error.is_some() {
                report.unreachable.extend(group);
                continue;
            }
            tracing::debug!(
                count = group.len(),
                sent,
                "Bulk updating {} {} messages",
                group.len(),
                if sent { "successful" } else { "unsent" }
            );
            self.record_group(records, &group, sent, now, &mut report)
                .await;
        }
        report
    }

    async fn record_group(
        &self,
        records: &[OutcomeRecord],
        group: &[usize],
        sent: bool,
        now: DateTime<Utc>,
        report: &mut RecordReport,
    ) {
        let before = self.statements();
        let rows: Vec<&OutcomeRecord> = group.iter().map(|&i| &records[i]).collect();
        let bulk = self.write(&rows, sent, now).await;
        match bulk {
            Ok(_) => {}
            Err(err) if is_connection_error(&err) => {
                tracing::warn!(rows = group.len(), error = %err,
                    "cannot reach the database to record outcomes; keeping them to write again");
                report.unreachable.extend_from_slice(group);
                report.connection_error = Some(err);
            }
            Err(err) => {
                tracing::warn!(rows = group.len(), error = %err,
                    "bulk outcome write failed; writing each row on its own");
                for (at, &index) in group.iter().enumerate() {
                    let record = &records[index];
                    match self.write(&[record], sent, now).await {
                        Ok(_) => report.fallback_rows += 1,
                        Err(err) if is_connection_error(&err) => {
                            report.unreachable.extend_from_slice(&group[at..]);
                            report.connection_error = Some(err);
                            break;
                        }
                        Err(err) => {
                            tracing::error!(message_id = record.outcome.id,
                                status = %record.outcome.status(), error = %err,
                                "cannot record a message's outcome; it will be verified when its lease runs out");
                            report.unwritten.push(record.outcome.id);
                        }
                    }
                }
            }
        }
        report.statements += self.statements() - before;
    }

    async fn write(
        &self,
        rows: &[&OutcomeRecord],
        sent: bool,
        now: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        if sent {
            self.write_sent(rows, now).await
        } else {
            self.write_unsent(rows, now).await
        }
    }

    async fn write_sent(
        &self,
        rows: &[&OutcomeRecord],
        now: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        self.count_statement();
        let written = match &self.db {
            Db::Sqlite(pool) => {
                let json: Vec<serde_json::Value> = rows
                    .iter()
                    .filter_map(|r| match &r.outcome.kind {
                        OutcomeKind::Sent { ts, at } => Some(serde_json::json!({
                            "id": r.outcome.id, "ts": ts, "sent_at": sqlite_text(*at),
                            "attempts": r.outcome.attempts, "claim": &*r.claim_token,
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
                let mut ids = Vec::with_capacity(rows.len());
                let mut tss = Vec::with_capacity(rows.len());
                let mut ats = Vec::with_capacity(rows.len());
                let mut attempts = Vec::with_capacity(rows.len());
                let mut claims = Vec::with_capacity(rows.len());
                for r in rows {
                    if let OutcomeKind::Sent { ts, at } = &r.outcome.kind {
                        ids.push(r.outcome.id);
                        tss.push(ts.as_str());
                        ats.push(stamp(*at));
                        attempts.push(r.outcome.attempts);
                        claims.push(&*r.claim_token);
                    }
                }
                sqlx::query(SENT_POSTGRES)
                    .bind(ids)
                    .bind(tss)
                    .bind(ats)
                    .bind(attempts)
                    .bind(claims)
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
        rows: &[&OutcomeRecord],
        now: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        self.count_statement();
        let fields = |o: &Outcome| {
            let wake_at = match &o.kind {
                OutcomeKind::Retry { next_at, .. } => Some(*next_at),
                _ => None,
            };
            (
                o.status().as_str(),
                wake_at,
                o.reason().map(str::to_owned),
                o.stays_in_doubt(),
                o.needs_notice(),
            )
        };
        let written = match &self.db {
            Db::Sqlite(pool) => {
                let json: Vec<serde_json::Value> = rows
                    .iter()
                    .map(|r| {
                        let (status, wake_at, reason, verify, notice) = fields(&r.outcome);
                        serde_json::json!({
                            "id": r.outcome.id, "status": status, "attempts": r.outcome.attempts,
                            "wake_at": wake_at.map(sqlite_text), "reason": reason,
                            "verify": verify, "notice": notice, "claim": &*r.claim_token,
                        })
                    })
                    .collect();
                sqlx::query(UNSENT_SQLITE)
                    .bind(serde_json::Value::Array(json).to_string())
                    .bind(stamp(now))
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
                let mut claims = Vec::with_capacity(rows.len());
                for r in rows {
                    let (status, wake_at, reason, verify, notice) = fields(&r.outcome);
                    ids.push(r.outcome.id);
                    statuses.push(status);
                    attempts.push(r.outcome.attempts);
                    wakes.push(wake_at.map(stamp));
                    reasons.push(reason);
                    verifies.push(verify);
                    notices.push(notice);
                    claims.push(&*r.claim_token);
                }
                sqlx::query(UNSENT_POSTGRES)
                    .bind(ids)
                    .bind(statuses)
                    .bind(attempts)
                    .bind(wakes)
                    .bind(reasons)
                    .bind(verifies)
                    .bind(notices)
                    .bind(claims)
                    .bind(stamp(now))
                    .execute(pool)
                    .await?
                    .rows_affected()
            }
        };
        Ok(written)
    }

    /// The plan of the successes' write for `ids` of one claim, one line
    /// per plan row: a test checks that it finds the rows by id, however
    /// few `sending` rows the statistics expect.
    pub async fn explain_sent_write(&self, ids: &[i64], claim: &str) -> Result<String, StoreError> {
        let now = stamp(Utc::now());
        let sql = match self.backend() {
            Backend::Sqlite => {
                let json: Vec<serde_json::Value> = ids
                    .iter()
                    .map(|id| {
                        serde_json::json!({"id": id, "ts": "1.0", "sent_at": sqlite_text(now),
                                                 "attempts": 1, "claim": claim})
                    })
                    .collect();
                format!(
                    "EXPLAIN QUERY PLAN {}",
                    SENT_SQLITE
                        .replace("$1", &quoted(&serde_json::Value::Array(json).to_string()))
                        .replace("$2", &quoted(&sqlite_text(now)))
                )
            }
            Backend::Postgres => {
                let ids = ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",");
                let n = ids.split(',').count();
                let repeat = |value: &str| vec![value; n].join(",");
                format!(
                    "EXPLAIN {}",
                    SENT_POSTGRES
                        .replace("$1::", &format!("'{{{ids}}}'::"))
                        .replace("$2::", &format!("'{{{}}}'::", repeat("1.0")))
                        .replace("$3::", &format!("'{{{}}}'::", repeat(&now.to_rfc3339())))
                        .replace("$4::", &format!("'{{{}}}'::", repeat("1")))
                        .replace("$5::", &format!("'{{{}}}'::", repeat(claim)))
                        .replace("$6", &format!("'{}'::timestamptz", now.to_rfc3339()))
                )
            }
        };
        let rows = self.query_text_raw(&sql).await?;
        Ok(rows
            .into_iter()
            .map(|r| r.join(" "))
            .collect::<Vec<_>>()
            .join("\n"))
    }
}

/// A string as an SQL literal.
fn quoted(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}
