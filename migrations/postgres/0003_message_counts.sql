-- Counts of messages per workspace and status, kept exact by statement-level
-- triggers (one upsert per workspace and status a statement touched, in a
-- fixed order so concurrent statements never deadlock on them), so the stats
-- API answers in constant time however many messages there are. Also an
-- index for the earliest and latest pending due time overall.

CREATE TABLE message_counts (
    team_id TEXT NOT NULL,
    status  TEXT NOT NULL,
    n       BIGINT NOT NULL,
    PRIMARY KEY (team_id, status)
);

INSERT INTO message_counts (team_id, status, n)
SELECT team_id, status, COUNT(*) FROM scheduled_messages GROUP BY team_id, status;

CREATE FUNCTION message_counts_apply() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO message_counts (team_id, status, n)
        SELECT team_id, status, COUNT(*) FROM new_rows
        GROUP BY team_id, status ORDER BY team_id, status
        ON CONFLICT (team_id, status) DO UPDATE SET n = message_counts.n + excluded.n;
    ELSIF TG_OP = 'UPDATE' THEN
        INSERT INTO message_counts (team_id, status, n)
        SELECT team_id, status, SUM(delta) FROM (
            SELECT team_id, status, 1 AS delta FROM new_rows
            UNION ALL
            SELECT team_id, status, -1 AS delta FROM old_rows
        ) AS changes
        GROUP BY team_id, status HAVING SUM(delta) <> 0 ORDER BY team_id, status
        ON CONFLICT (team_id, status) DO UPDATE SET n = message_counts.n + excluded.n;
    ELSE
        INSERT INTO message_counts (team_id, status, n)
        SELECT team_id, status, -COUNT(*) FROM old_rows
        GROUP BY team_id, status ORDER BY team_id, status
        ON CONFLICT (team_id, status) DO UPDATE SET n = message_counts.n + excluded.n;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER message_counts_insert AFTER INSERT ON scheduled_messages
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION message_counts_apply();
CREATE TRIGGER message_counts_update AFTER UPDATE ON scheduled_messages
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION message_counts_apply();
CREATE TRIGGER message_counts_delete AFTER DELETE ON scheduled_messages
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION message_counts_apply();

CREATE INDEX scheduled_messages_pending_due ON scheduled_messages (due_at) WHERE status = 'pending';
