-- Core schema: workspaces, their users (with sealed tokens) and scheduled messages.

CREATE TABLE workspaces (
    team_id                 TEXT PRIMARY KEY,
    team_name               TEXT NOT NULL,
    bot_user_id             TEXT,
    bot_access_token        BYTEA,
    bot_refresh_token       BYTEA,
    bot_token_expires_at    TIMESTAMPTZ,
    bot_refresh_lock_until  TIMESTAMPTZ,
    installed_by            TEXT,
    installed_at            TIMESTAMPTZ NOT NULL,
    updated_at              TIMESTAMPTZ NOT NULL,
    uninstalled_at          TIMESTAMPTZ
);

CREATE TABLE users (
    id                  BIGSERIAL PRIMARY KEY,
    team_id             TEXT NOT NULL,
    user_id             TEXT NOT NULL,
    tz                  TEXT,
    tz_checked_at       TIMESTAMPTZ,
    access_token        BYTEA,
    refresh_token       BYTEA,
    token_expires_at    TIMESTAMPTZ,
    token_status        TEXT NOT NULL DEFAULT 'none'
                        CHECK (token_status IN ('none', 'active', 'invalid')),
    token_problem       TEXT,
    refresh_lock_until  TIMESTAMPTZ,
    created_at          TIMESTAMPTZ NOT NULL,
    updated_at          TIMESTAMPTZ NOT NULL,
    UNIQUE (team_id, user_id)
);

CREATE TABLE scheduled_messages (
    id                  BIGSERIAL PRIMARY KEY,
    author_id           BIGINT NOT NULL REFERENCES users (id),
    team_id             TEXT NOT NULL,
    user_id             TEXT NOT NULL,
    channel_id          TEXT NOT NULL,
    text                TEXT NOT NULL,
    due_at              TIMESTAMPTZ NOT NULL,
    status              TEXT NOT NULL
                        CHECK (status IN ('pending', 'sending', 'sent', 'failed', 'cancelled', 'held')),
    attempts            INTEGER NOT NULL DEFAULT 0,
    -- When the scheduler must next look at the row: the due (or retry) time
    -- while pending, the lease expiry while sending, NULL otherwise.
    wake_at             TIMESTAMPTZ,
    claim_token         TEXT,
    first_claimed_at    TIMESTAMPTZ,
    verify_before_post  BOOLEAN NOT NULL DEFAULT FALSE,
    slack_ts            TEXT,
    sent_at             TIMESTAMPTZ,
    reason              TEXT,
    needs_notice        BOOLEAN NOT NULL DEFAULT FALSE,
    created_at          TIMESTAMPTZ NOT NULL,
    updated_at          TIMESTAMPTZ NOT NULL,
    CHECK ((wake_at IS NOT NULL) = (status IN ('pending', 'sending')))
);

-- The claim: the earliest rows needing attention, read straight off this index.
CREATE INDEX scheduled_messages_wake ON scheduled_messages (wake_at) WHERE wake_at IS NOT NULL;
-- A user's own messages (lists, App Home, the pending limit).
CREATE INDEX scheduled_messages_author ON scheduled_messages (author_id, status, due_at);
-- Pending messages per workspace (stats, uninstall).
CREATE INDEX scheduled_messages_pending ON scheduled_messages (team_id, due_at) WHERE status = 'pending';
-- Failed and held messages whose author has not been told yet.
CREATE INDEX scheduled_messages_notice ON scheduled_messages (id) WHERE needs_notice;
