-- Counts of messages per workspace and status, kept exact by triggers, so
-- the stats API answers in constant time however many messages there are.
-- Also an index for the earliest and latest pending due time overall.

CREATE TABLE message_counts (
    team_id TEXT NOT NULL,
    status  TEXT NOT NULL,
    n       INTEGER NOT NULL,
    PRIMARY KEY (team_id, status)
) WITHOUT ROWID;

INSERT INTO message_counts (team_id, status, n)
SELECT team_id, status, COUNT(*) FROM scheduled_messages GROUP BY team_id, status;

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

CREATE INDEX scheduled_messages_pending_due ON scheduled_messages (due_at) WHERE status = 'pending';
