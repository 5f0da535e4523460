-- Slack gives every user action (a slash command, a modal submission) its
-- own trigger_id. Remembering the ones acted on makes a replayed request,
-- which still carries a valid signature for five minutes, change nothing.

CREATE TABLE slack_triggers (
    trigger_id  TEXT PRIMARY KEY,
    received_at TIMESTAMPTZ NOT NULL
);

CREATE INDEX slack_triggers_received ON slack_triggers (received_at);
