-- The status page's 24-hour chart: the message counts sampled every five
-- minutes by a small task in each process (the first to fill a slot wins),
-- kept for two days. Sent and failed are running totals; the page charts
-- their differences. Reading a day is a range of at most 288 rows.
CREATE TABLE status_samples (
    taken_at TIMESTAMPTZ PRIMARY KEY,
    pending  BIGINT NOT NULL,
    sent     BIGINT NOT NULL,
    failed   BIGINT NOT NULL,
    held     BIGINT NOT NULL
);

-- Held messages by author: held users (status page, metrics) are counted
-- off this index, which holds only the few held rows.
CREATE INDEX scheduled_messages_held ON scheduled_messages (author_id) WHERE status = 'held';
