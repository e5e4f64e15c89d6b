-- Trigger campaigns_references (AFTER INSERT, each statement, with the new
-- rows): the account and the API key (when there is one) a campaign names
-- exist (the foreign keys it replaces were checked once per row; docs/store.md
-- "Referential checks"). A batch's campaigns name a few accounts and keys: each
-- is looked up once, by its primary key (the plan settings keep every lookup
-- an index probe).
CREATE OR REPLACE FUNCTION campaign_references_exist() RETURNS trigger LANGUAGE plpgsql
SET enable_hashjoin = off SET enable_mergejoin = off SET enable_seqscan = off AS $$
DECLARE
    missing bigint;
BEGIN
    SELECT n.account_id INTO missing FROM (SELECT DISTINCT account_id FROM new_rows) n
    WHERE NOT EXISTS (SELECT 1 FROM accounts a WHERE a.id = n.account_id)
    LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'campaigns row names account % that does not exist', missing
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    SELECT n.api_key_id INTO missing FROM (SELECT DISTINCT api_key_id FROM new_rows) n
    WHERE n.api_key_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM api_keys k WHERE k.id = n.api_key_id)
    LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'campaigns row names API key % that does not exist', missing
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    RETURN NULL;
END $$;
