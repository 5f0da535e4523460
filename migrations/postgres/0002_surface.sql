-- What the Slack surface needs besides the core: single-use OAuth states and
-- the ids of Events API deliveries already handled (Slack retries them).

CREATE TABLE oauth_states (
    -- SHA-256 of the state; the state itself lives only in the browser's cookie and the URL.
    state_hash  TEXT PRIMARY KEY,
    created_at  TIMESTAMPTZ NOT NULL,
    expires_at  TIMESTAMPTZ NOT NULL
);

CREATE TABLE slack_events (
    event_id    TEXT PRIMARY KEY,
    received_at TIMESTAMPTZ NOT NULL
);

CREATE INDEX slack_events_received ON slack_events (received_at);
