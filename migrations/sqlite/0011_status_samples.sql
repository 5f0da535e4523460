-- The status page's 24-hour chart: the message counts sampled every five
-- minutes by a small task in each process (the first to fill a slot wins),
-- kept for two days. Sent and failed are running totals; the page charts
-- their differences. Reading a day is a range of at most 288 rows.
CREATE TABLE status_samples (
    taken_at TEXT PRIMARY KEY,
    pending  INTEGER NOT NULL,
    sent     INTEGER NOT NULL,
    failed   INTEGER NOT NULL,
    held     INTEGER NOT NULL
) WITHOUT ROWID;

-- Held messages by author: held users (status page, metrics) are counted
-- off this index, which holds only the few held rows.
CREATE INDEX scheduled_messages_held ON scheduled_messages (author_id) WHERE status = 'held';
