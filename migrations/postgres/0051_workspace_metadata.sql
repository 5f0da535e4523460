-- Slack refused or dropped message metadata on this workspace's user-token
-- posts: every process posts there without it from then on (and matches
-- in-doubt messages by author and text), not only the one that found out.
ALTER TABLE workspaces ADD COLUMN metadata_refused_at TIMESTAMPTZ;
