-- What the delivery pipeline needs besides the core.

-- Every token pair a user's row receives (install, reconnect, refresh) gets
-- the next generation, and the time it was granted. A write based on an
-- older read (a refresh that raced a reconnect, a refusal of a token that
-- was replaced meanwhile, a late `tokens_revoked`) can then tell it is stale
-- and leave the newer pair alone.
ALTER TABLE users ADD COLUMN token_generation BIGINT NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN token_granted_at TIMESTAMPTZ;
ALTER TABLE workspaces ADD COLUMN bot_token_generation BIGINT NOT NULL DEFAULT 0;

-- Each workspace's `conversations.history` budget, shared by every process:
-- the earliest time the next look-up may be made (Slack allows apps outside
-- the Marketplace one a minute), and who took the last one.
CREATE TABLE history_budget (
    team_id     TEXT PRIMARY KEY,
    next_at     TIMESTAMPTZ NOT NULL,
    taker       TEXT NOT NULL
);

-- Since when a message may already have been posted (its lease ran out while
-- it was being sent, or Slack answered ambiguously). The look-up for it is
-- bounded by this time, and after SCHEDULER_VERIFY_WAIT_SECS it is posted
-- again rather than waiting for ever.
ALTER TABLE scheduled_messages ADD COLUMN in_doubt_since TIMESTAMPTZ;

-- Who holds a refresh right (a random token per taking), so that two
-- takers can tell whose it is even when their leases end at the same instant.
ALTER TABLE users ADD COLUMN refresh_lock_owner TEXT;
ALTER TABLE workspaces ADD COLUMN bot_refresh_lock_owner TEXT;

-- Each conversation's posting pace, shared by every process on the
-- database: the theoretical arrival time of its next post (a generic cell
-- rate). The claim gives each message its turn from it, so one channel
-- gets about one post a second however many processes post into it.
-- (SQLite serves one process, which keeps the pace in memory.)
CREATE TABLE conversation_pace (
    team_id     TEXT NOT NULL,
    channel_id  TEXT NOT NULL,
    tat         TIMESTAMPTZ NOT NULL,
    -- Turns the last claim took (the claim derives them from `tat` and this).
    taken       INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (team_id, channel_id)
);
CREATE INDEX conversation_pace_tat ON conversation_pace (tat);
