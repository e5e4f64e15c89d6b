-- Triggers ledger_references and webhook_outbox_references (AFTER INSERT, each
-- statement, with the new rows): the account and message a row names exist
-- (the foreign keys they replace were checked once per row; docs/store.md
-- "Referential checks"). Each account once per statement (a flush's rows name
-- the same few), each message by its primary key: the plan settings keep every
-- lookup an index probe whatever the size of messages.
CREATE OR REPLACE FUNCTION references_exist() RETURNS trigger LANGUAGE plpgsql
SET enable_hashjoin = off SET enable_mergejoin = off SET enable_seqscan = off AS $$
DECLARE
    bad record;
BEGIN
    SELECT n.account_id, NULL::bigint AS message_id INTO bad
    FROM (SELECT DISTINCT account_id FROM new_rows) n
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

