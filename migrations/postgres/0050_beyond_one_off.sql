-- Beyond one-off messages (SPEC §7): recurring series, thread replies,
-- several destinations, conditional sends and their `skipped` outcome,
-- delivery records with permalinks, and the checks made ahead of time.

-- A series is the rule; each occurrence is a scheduled message of its own.
-- Only the next occurrence exists (as a waiting message); when it settles,
-- a trigger sets wants_next and the series keeper creates the one after it.
CREATE TABLE series (
    id              BIGSERIAL PRIMARY KEY,
    author_id       BIGINT NOT NULL REFERENCES users (id),
    team_id         TEXT NOT NULL,
    user_id         TEXT NOT NULL,
    channel_id      TEXT NOT NULL,
    thread_ts       TEXT,
    reply_broadcast BOOLEAN NOT NULL DEFAULT FALSE,
    unless_replied  BOOLEAN NOT NULL DEFAULT FALSE,
    unless_posted   BOOLEAN NOT NULL DEFAULT FALSE,
    group_key       TEXT,
    text            TEXT NOT NULL,
    rich_text       TEXT,
    -- The rule (the domain's Recurrence as JSON), the zone its wall-clock
    -- times are read in, where it starts, and the occurrences skipped.
    recurrence      TEXT NOT NULL,
    tz              TEXT NOT NULL,
    anchor_at       TIMESTAMPTZ NOT NULL,
    skipped         TEXT NOT NULL DEFAULT '[]',
    status          TEXT NOT NULL CHECK (status IN ('active', 'paused', 'ended', 'cancelled')),
    -- Occurrences created so far, and the due time of the latest.
    occurrences     INTEGER NOT NULL DEFAULT 0,
    last_due_at     TIMESTAMPTZ,
    wants_next      BOOLEAN NOT NULL DEFAULT FALSE,
    created_at      TIMESTAMPTZ NOT NULL,
    updated_at      TIMESTAMPTZ NOT NULL,
    text_erased_at  TIMESTAMPTZ
);

CREATE INDEX series_wants_next ON series (id) WHERE wants_next;
CREATE INDEX series_author ON series (author_id, status);
-- Series that are over and still hold their text, for retention.
CREATE INDEX series_retention ON series (updated_at)
    WHERE status IN ('ended', 'cancelled') AND text_erased_at IS NULL;

ALTER TABLE scheduled_messages DROP CONSTRAINT scheduled_messages_status_check;
ALTER TABLE scheduled_messages ADD CONSTRAINT scheduled_messages_status_check
    CHECK (status IN ('pending', 'sending', 'sent', 'failed', 'cancelled', 'held', 'skipped'));

-- The series this message is an occurrence of, and which one (from 1).
ALTER TABLE scheduled_messages ADD COLUMN series_id BIGINT REFERENCES series (id);
ALTER TABLE scheduled_messages ADD COLUMN occurrence INTEGER;
-- A reply in this thread, optionally also sent to the channel.
ALTER TABLE scheduled_messages ADD COLUMN thread_ts TEXT;
ALTER TABLE scheduled_messages ADD COLUMN reply_broadcast BOOLEAN NOT NULL DEFAULT FALSE;
-- Conditional send, checked at the due time: skipped if somebody else
-- replied in the thread, or if the author posted in the conversation,
-- since the message was scheduled.
ALTER TABLE scheduled_messages ADD COLUMN unless_replied BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE scheduled_messages ADD COLUMN unless_posted BOOLEAN NOT NULL DEFAULT FALSE;
-- Messages scheduled together into several conversations share a key.
ALTER TABLE scheduled_messages ADD COLUMN group_key TEXT;
ALTER TABLE scheduled_messages ADD COLUMN permalink TEXT;
-- The check an hour before the due time that the author can still post
-- there, and what the last check found.
ALTER TABLE scheduled_messages ADD COLUMN check_at TIMESTAMPTZ;
ALTER TABLE scheduled_messages ADD COLUMN warning TEXT;

-- One row per occurrence of a series, whoever creates it.
CREATE UNIQUE INDEX scheduled_messages_occurrence ON scheduled_messages (series_id, occurrence)
    WHERE series_id IS NOT NULL;
-- The checks due an hour ahead, read off this index.
CREATE INDEX scheduled_messages_check ON scheduled_messages (check_at) WHERE check_at IS NOT NULL;

-- An occurrence that settles (sent, failed, skipped or cancelled) asks its
-- series, if still active, for the next one. A held occurrence holds it.
-- Row-level with a WHEN clause: the bulk outcome writes of one-off
-- messages never enter the function.
CREATE FUNCTION series_occurrence_settled() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE series SET wants_next = TRUE WHERE id = NEW.series_id AND status = 'active';
    RETURN NULL;
END
$$;

CREATE TRIGGER series_occurrence_settled AFTER UPDATE OF status ON scheduled_messages
    FOR EACH ROW
    WHEN (NEW.series_id IS NOT NULL
          AND OLD.status IN ('pending', 'sending', 'held')
          AND NEW.status IN ('sent', 'failed', 'skipped', 'cancelled'))
    EXECUTE FUNCTION series_occurrence_settled();
