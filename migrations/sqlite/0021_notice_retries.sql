-- Notices (the DM telling an author a message failed or is held) are
-- delivered at least once. Claiming one leases it until notice_after; a DM
-- that fails is tried again at notice_after; notice_attempts bounds the tries.

ALTER TABLE scheduled_messages ADD COLUMN notice_attempts INTEGER NOT NULL DEFAULT 0;
ALTER TABLE scheduled_messages ADD COLUMN notice_after TEXT;
