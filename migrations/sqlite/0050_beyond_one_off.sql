-- Beyond one-off messages (SPEC §7): recurring series, thread replies,
-- several destinations, conditional sends and their `skipped` outcome,
-- delivery records with permalinks, and the checks made ahead of time.

-- A series is the rule; each occurrence is a scheduled message of its own.
-- Only the next occurrence exists (as a waiting message); when it settles,
-- a trigger sets wants_next and the series keeper creates the one after it.
CREATE TABLE series (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    author_id       INTEGER NOT NULL REFERENCES users (id),
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
    anchor_at       TEXT NOT NULL,
    skipped         TEXT NOT NULL DEFAULT '[]',
    status          TEXT NOT NULL CHECK (status IN ('active', 'paused', 'ended', 'cancelled')),
    -- Occurrences created so far, and the due time of the latest.
    occurrences     INTEGER NOT NULL DEFAULT 0,
    last_due_at     TEXT,
    wants_next      BOOLEAN NOT NULL DEFAULT FALSE,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    text_erased_at  TEXT
);

CREATE INDEX series_wants_next ON series (id) WHERE wants_next;
CREATE INDEX series_author ON series (author_id, status);
-- Series that are over and still hold their text, for retention.
CREATE INDEX series_retention ON series (updated_at)
    WHERE status IN ('ended', 'cancelled') AND text_erased_at IS NULL;

-- SQLite cannot change a CHECK constraint in place: the table is rebuilt
-- with `skipped` among the statuses (sqlite.org/lang_altertable.html,
-- "Making Other Kinds Of Table Schema Changes"). Nothing references it.
CREATE TABLE scheduled_messages_rebuilt (
    -- AUTOINCREMENT: ids travel in message metadata, so one must never be reused.
    id                  INTEGER PRIMARY KEY AUTOINCREMENT,
    author_id           INTEGER NOT NULL REFERENCES users (id),
    team_id             TEXT NOT NULL,
    user_id             TEXT NOT NULL,
    channel_id          TEXT NOT NULL,
    text                TEXT NOT NULL,
    due_at              TEXT NOT NULL,
    status              TEXT NOT NULL
                        CHECK (status IN ('pending', 'sending', 'sent', 'failed', 'cancelled', 'held', 'skipped')),
    attempts            INTEGER NOT NULL DEFAULT 0,
    -- When the scheduler must next look at the row: the due (or retry) time
    -- while pending, the lease expiry while sending, NULL otherwise.
    wake_at             TEXT,
    claim_token         TEXT,
    first_claimed_at    TEXT,
    verify_before_post  BOOLEAN NOT NULL DEFAULT FALSE,
    slack_ts            TEXT,
    sent_at             TEXT,
    reason              TEXT,
    needs_notice        BOOLEAN NOT NULL DEFAULT FALSE,
    created_at          TEXT NOT NULL,
    updated_at          TEXT NOT NULL,
    in_doubt_since      TEXT,
    text_erased_at      TEXT,
    notice_attempts     INTEGER NOT NULL DEFAULT 0,
    notice_after        TEXT,
    rich_text           TEXT,
    -- The series this message is an occurrence of, and which one (from 1).
    series_id           INTEGER REFERENCES series (id),
    occurrence          INTEGER,
    -- A reply in this thread, optionally also sent to the channel.
    thread_ts           TEXT,
    reply_broadcast     BOOLEAN NOT NULL DEFAULT FALSE,
    -- Conditional send, checked at the due time: skipped if somebody else
    -- replied in the thread, or if the author posted in the conversation,
    -- since the message was scheduled.
    unless_replied      BOOLEAN NOT NULL DEFAULT FALSE,
    unless_posted       BOOLEAN NOT NULL DEFAULT FALSE,
    -- Messages scheduled together into several conversations share a key.
    group_key           TEXT,
    permalink           TEXT,
    -- The check an hour before the due time that the author can still
    -- post there, and what the last check found.
    check_at            TEXT,
    warning             TEXT,
    CHECK ((wake_at IS NOT NULL) = (status IN ('pending', 'sending')))
);

INSERT INTO scheduled_messages_rebuilt
    (id, author_id, team_id, user_id, channel_id, text, due_at, status, attempts, wake_at,
     claim_token, first_claimed_at, verify_before_post, slack_ts, sent_at, reason, needs_notice,
     created_at, updated_at, in_doubt_since, text_erased_at, notice_attempts, notice_after, rich_text)
SELECT id, author_id, team_id, user_id, channel_id, text, due_at, status, attempts, wake_at,
       claim_token, first_claimed_at, verify_before_post, slack_ts, sent_at, reason, needs_notice,
       created_at, updated_at, in_doubt_since, text_erased_at, notice_attempts, notice_after, rich_text
FROM scheduled_messages;

-- Ids are never reused: the new table continues the old one's sequence
-- (copying the rows set it to the highest id; the old one may be higher).
UPDATE sqlite_sequence
SET seq = MAX(seq, COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'scheduled_messages'), 0))
WHERE name = 'scheduled_messages_rebuilt';

DROP TABLE scheduled_messages;
ALTER TABLE scheduled_messages_rebuilt RENAME TO scheduled_messages;

CREATE INDEX scheduled_messages_wake ON scheduled_messages (wake_at) WHERE wake_at IS NOT NULL;
CREATE INDEX scheduled_messages_author ON scheduled_messages (author_id, status, due_at);
CREATE INDEX scheduled_messages_pending ON scheduled_messages (team_id, due_at) WHERE status = 'pending';
CREATE INDEX scheduled_messages_notice ON scheduled_messages (id) WHERE needs_notice;
CREATE INDEX scheduled_messages_pending_due ON scheduled_messages (due_at) WHERE status = 'pending';
CREATE INDEX scheduled_messages_retention ON scheduled_messages (status, updated_at)
    WHERE wake_at IS NULL AND text_erased_at IS NULL;
CREATE INDEX scheduled_messages_held ON scheduled_messages (author_id) WHERE status = 'held';

-- One row per occurrence of a series, whoever creates it.
CREATE UNIQUE INDEX scheduled_messages_occurrence ON scheduled_messages (series_id, occurrence)
    WHERE series_id IS NOT NULL;
-- The checks due an hour ahead, read off this index.
CREATE INDEX scheduled_messages_check ON scheduled_messages (check_at) WHERE check_at IS NOT NULL;

CREATE TRIGGER message_counts_insert AFTER INSERT ON scheduled_messages
BEGIN
    INSERT INTO message_counts (team_id, status, n) VALUES (NEW.team_id, NEW.status, 1)
    ON CONFLICT (team_id, status) DO UPDATE SET n = n + 1;
END;

CREATE TRIGGER message_counts_update AFTER UPDATE OF status, team_id ON scheduled_messages
WHEN OLD.status <> NEW.status OR OLD.team_id <> NEW.team_id
BEGIN
    UPDATE message_counts SET n = n - 1 WHERE team_id = OLD.team_id AND status = OLD.status;
    INSERT INTO message_counts (team_id, status, n) VALUES (NEW.team_id, NEW.status, 1)
    ON CONFLICT (team_id, status) DO UPDATE SET n = n + 1;
END;

CREATE TRIGGER message_counts_delete AFTER DELETE ON scheduled_messages
BEGIN
    UPDATE message_counts SET n = n - 1 WHERE team_id = OLD.team_id AND status = OLD.status;
END;

CREATE TRIGGER message_authors_waiting_insert AFTER INSERT ON scheduled_messages
WHEN NEW.status IN ('pending', 'sending', 'held')
BEGIN
    UPDATE users SET waiting_count = waiting_count + 1 WHERE id = NEW.author_id;
END;

CREATE TRIGGER message_authors_waiting_update AFTER UPDATE OF status, author_id ON scheduled_messages
WHEN (OLD.status IN ('pending', 'sending', 'held')) <> (NEW.status IN ('pending', 'sending', 'held'))
  OR OLD.author_id <> NEW.author_id
BEGIN
    UPDATE users SET waiting_count = waiting_count - 1
    WHERE id = OLD.author_id AND OLD.status IN ('pending', 'sending', 'held');
    UPDATE users SET waiting_count = waiting_count + 1
    WHERE id = NEW.author_id AND NEW.status IN ('pending', 'sending', 'held');
END;

CREATE TRIGGER message_authors_waiting_delete AFTER DELETE ON scheduled_messages
WHEN OLD.status IN ('pending', 'sending', 'held')
BEGIN
    UPDATE users SET waiting_count = waiting_count - 1 WHERE id = OLD.author_id;
END;

-- An occurrence that settles (sent, failed, skipped or cancelled) asks its
-- series, if still active, for the next one. A held occurrence holds it.
CREATE TRIGGER series_occurrence_settled AFTER UPDATE OF status ON scheduled_messages
WHEN NEW.series_id IS NOT NULL
  AND OLD.status IN ('pending', 'sending', 'held')
  AND NEW.status IN ('sent', 'failed', 'skipped', 'cancelled')
BEGIN
    UPDATE series SET wants_next = TRUE WHERE id = NEW.series_id AND status = 'active';
END;
