-- Trigger messages_references (AFTER INSERT, each statement, with the new
-- rows): the campaign and the account a message names exist (the foreign keys
-- it replaces were checked once per row; docs/store.md "Referential checks").
-- A batch's messages name one campaign per send and a few accounts: each is
-- looked up once, by its primary key (the plan settings keep every lookup an
-- index probe whatever the size of the tables).
CREATE OR REPLACE FUNCTION message_references_exist() RETURNS trigger LANGUAGE plpgsql
SET enable_hashjoin = off SET enable_mergejoin = off SET enable_seqscan = off AS $$
DECLARE
    missing bigint;
BEGIN
    SELECT n.campaign_id INTO missing FROM (SELECT DISTINCT campaign_id FROM new_rows) n
    WHERE NOT EXISTS (SELECT 1 FROM campaigns c WHERE c.id = n.campaign_id)
    LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'messages row names campaign % that does not exist', missing
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    SELECT n.account_id INTO missing FROM (SELECT DISTINCT account_id FROM new_rows) n
    WHERE NOT EXISTS (SELECT 1 FROM accounts a WHERE a.id = n.account_id)
    LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'messages row names account % that does not exist', missing
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    RETURN NULL;
END $$;
