-- smpp-bridge schema, version 4: the statement-level reference check of
-- migration 0003 looks the new rows up through the primary keys, whatever the
-- size of messages (docs/store.md "Referential checks").
--
-- Why: written as one query with NOT EXISTS ... OR NOT EXISTS, the check of
-- references_exist() was planned as a hashed subplan: every INSERT into ledger
-- or webhook_outbox read the whole messages table into a hash (auto_explain,
-- 100,000 messages: 50 ms per 1,000-row statement, 0.9 ms now), so the
-- writer's settle and outbox statements slowed down as the table grew (about
-- 50 us per message at 100,000 messages, against 10-17 us at 20,000).
--
-- Now: two anti-joins without OR, and the function runs with hash joins,
-- merge joins and sequential scans off (CREATE FUNCTION ... SET applies them
-- for the function's own queries only), so each new row is one index probe.
-- What is checked, and the error, are unchanged.

CREATE OR REPLACE FUNCTION references_exist() RETURNS trigger LANGUAGE plpgsql
SET enable_hashjoin = off SET enable_mergejoin = off SET enable_seqscan = off AS $$
DECLARE
    bad record;
BEGIN
    SELECT n.account_id, n.message_id INTO bad FROM new_rows n
    WHERE NOT EXISTS (SELECT 1 FROM accounts a WHERE a.id = n.account_id)
    LIMIT 1;
    IF NOT FOUND THEN
        SELECT n.account_id, n.message_id INTO bad FROM new_rows n
        WHERE n.message_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.id = n.message_id)
        LIMIT 1;
    END IF;
    IF FOUND THEN
        RAISE EXCEPTION '% row names account % / message % that does not exist',
            TG_TABLE_NAME, bad.account_id, bad.message_id
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    RETURN NULL;
END $$;
