-- What the delivery cycle's statements cost on PostgreSQL, measured with
-- auto_explain during a 20,000-message burst.

-- A claim token lives only on a `sending` row: the claim sets both, and
-- every outcome write clears the token as it moves the row on. Saying so
-- lets the outcome writes find their rows by id and claim alone (see
-- src/store/outcomes.rs): with the status in their condition the planner
-- started from the `sending` rows its statistics expected to be few and
-- compared each with every outcome of the group.
UPDATE scheduled_messages SET claim_token = NULL
WHERE claim_token IS NOT NULL AND status <> 'sending';
ALTER TABLE scheduled_messages ADD CONSTRAINT scheduled_messages_claimed_only_while_sending
    CHECK (claim_token IS NULL OR status = 'sending');

-- Each conversation's pace is rewritten by every claim that posts into it.
-- Without an index on `tat` (nothing reads by it; the retention sweep
-- forgets idle rows by a scan) and with room left on each page, the rewrite
-- stays on its page (a HOT update) and touches no index. The pace is worth
-- nothing after a crash (a conversation idle for a few seconds is back at
-- its full burst anyway), so it is not written to the WAL either.
DROP INDEX conversation_pace_tat;
ALTER TABLE conversation_pace SET (fillfactor = 50);
ALTER TABLE conversation_pace SET UNLOGGED;

-- Each outcome write changes its authors' waiting counts; leaving room on
-- each page of `users` (whose rows hold the sealed tokens and are wide)
-- lets those updates stay on their page too. Applies to pages written from
-- now on.
ALTER TABLE users SET (fillfactor = 80);
