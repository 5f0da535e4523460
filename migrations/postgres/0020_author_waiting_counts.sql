-- Each author's waiting messages (pending, sending or held), kept exact by
-- statement-level triggers, so the 1,000-message limit is checked against
-- one row, locked by the insert, instead of counting up to a thousand on
-- every insert (which races under READ COMMITTED: two inserts both see 999).
--
-- Lock order: these triggers sort before message_counts_* (triggers of one
-- kind fire in name order), and lock the authors' rows in id order, so every
-- statement takes users rows first, then message_counts rows, and no two
-- statements deadlock on them.

ALTER TABLE users ADD COLUMN waiting_count INTEGER NOT NULL DEFAULT 0;

UPDATE users SET waiting_count = counted.n
FROM (SELECT author_id, COUNT(*) AS n FROM scheduled_messages
      WHERE status IN ('pending', 'sending', 'held') GROUP BY author_id) AS counted
WHERE users.id = counted.author_id;

CREATE FUNCTION message_authors_waiting_apply() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    authors BIGINT[];
    deltas BIGINT[];
BEGIN
    IF TG_OP = 'INSERT' THEN
        SELECT array_agg(author_id ORDER BY author_id), array_agg(n ORDER BY author_id)
        INTO authors, deltas
        FROM (SELECT author_id, COUNT(*) AS n FROM new_rows
              WHERE status IN ('pending', 'sending', 'held') GROUP BY author_id) AS d;
    ELSIF TG_OP = 'UPDATE' THEN
        SELECT array_agg(author_id ORDER BY author_id), array_agg(n ORDER BY author_id)
        INTO authors, deltas
        FROM (SELECT author_id, SUM(delta) AS n FROM (
                  SELECT author_id, 1 AS delta FROM new_rows
                  WHERE status IN ('pending', 'sending', 'held')
                  UNION ALL
                  SELECT author_id, -1 AS delta FROM old_rows
                  WHERE status IN ('pending', 'sending', 'held')
              ) AS changes
              GROUP BY author_id HAVING SUM(delta) <> 0) AS d;
    ELSE
        SELECT array_agg(author_id ORDER BY author_id), array_agg(-n ORDER BY author_id)
        INTO authors, deltas
        FROM (SELECT author_id, COUNT(*) AS n FROM old_rows
              WHERE status IN ('pending', 'sending', 'held') GROUP BY author_id) AS d;
    END IF;
    IF authors IS NULL THEN
        RETURN NULL;
    END IF;
    PERFORM 1 FROM users WHERE id = ANY (authors) ORDER BY id FOR NO KEY UPDATE;
    UPDATE users AS u SET waiting_count = u.waiting_count + d.n
    FROM UNNEST(authors, deltas) AS d(author_id, n)
    WHERE u.id = d.author_id;
    RETURN NULL;
END
$$;

CREATE TRIGGER message_authors_waiting_insert AFTER INSERT ON scheduled_messages
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION message_authors_waiting_apply();
CREATE TRIGGER message_authors_waiting_update AFTER UPDATE ON scheduled_messages
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION message_authors_waiting_apply();
CREATE TRIGGER message_authors_waiting_delete AFTER DELETE ON scheduled_messages
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION message_authors_waiting_apply();
