-- Retention (MESSAGE_RETENTION_DAYS): a settled message's text is erased in
-- the background some days after it settled; the row, its outcome and the
-- counts stay. text_erased_at says when (and that the empty text is not
-- what the author wrote).
ALTER TABLE scheduled_messages ADD COLUMN text_erased_at TIMESTAMPTZ;

-- Settled messages that still hold their text, by status and last change:
-- the eraser reads the oldest straight off this index. Rows waiting or being
-- sent (wake_at set) are never in it, so the delivery cycle's claims do not
-- touch it; a row enters once, when it settles, and leaves when erased.
CREATE INDEX scheduled_messages_retention ON scheduled_messages (status, updated_at)
    WHERE wake_at IS NULL AND text_erased_at IS NULL;
