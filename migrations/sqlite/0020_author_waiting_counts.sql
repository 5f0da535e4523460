-- Each author's waiting messages (pending, sending or held), kept exact by
-- triggers, so the 1,000-message limit is checked against one row instead
-- of counting up to a thousand on every insert.

ALTER TABLE users ADD COLUMN waiting_count INTEGER NOT NULL DEFAULT 0;

UPDATE users SET waiting_count = (
    SELECT COUNT(*) FROM scheduled_messages AS m
    WHERE m.author_id = users.id AND m.status IN ('pending', 'sending', 'held'));

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
