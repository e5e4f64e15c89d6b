-- Trigger message_parts_references (AFTER INSERT, each statement, with the new
-- rows): the message a part names exists (the foreign key it replaces was
-- checked once per row; docs/store.md "Referential checks"). Each message once,
-- by its primary key, whatever the size of messages (the plan settings).
CREATE OR REPLACE FUNCTION part_references_exist() RETURNS trigger LANGUAGE plpgsql
SET enable_hashjoin = off SET enable_mergejoin = off SET enable_seqscan = off AS $$
DECLARE
    missing bigint;
BEGIN
    SELECT n.message_id INTO missing FROM (SELECT DISTINCT message_id FROM new_rows) n
    WHERE NOT EXISTS (SELECT 1 FROM messages m WHERE m.id = n.message_id)
    LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'message_parts row names message % that does not exist', missing
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    RETURN NULL;
END $$;
