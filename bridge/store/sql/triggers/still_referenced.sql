-- Triggers accounts_still_referenced, api_keys_still_referenced,
-- campaigns_still_referenced and messages_still_referenced (AFTER DELETE, each
-- statement): an account that ledger, webhook_outbox, campaigns or messages
-- rows still name, an API key that campaigns name, a campaign that messages
-- name, a message that ledger or webhook_outbox rows name cannot be deleted
-- (the ON DELETE NO ACTION of the foreign keys they replace; docs/store.md
-- "Referential checks"). Messages are found by messages_account_created and
-- messages_campaign; ledger rows by account, and campaigns, by a scan (deletes
-- are on no hot path).
CREATE OR REPLACE FUNCTION still_referenced() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    found_id bigint;
BEGIN
    IF TG_TABLE_NAME = 'accounts' THEN
        SELECT o.id INTO found_id FROM old_rows o
        WHERE EXISTS (SELECT 1 FROM ledger l WHERE l.account_id = o.id)
           OR EXISTS (SELECT 1 FROM webhook_outbox w WHERE w.account_id = o.id)
           OR EXISTS (SELECT 1 FROM campaigns c WHERE c.account_id = o.id)
           OR EXISTS (SELECT 1 FROM messages m WHERE m.account_id = o.id)
        LIMIT 1;
    ELSIF TG_TABLE_NAME = 'api_keys' THEN
        SELECT o.id INTO found_id FROM old_rows o
        WHERE EXISTS (SELECT 1 FROM campaigns c WHERE c.api_key_id = o.id)
        LIMIT 1;
    ELSIF TG_TABLE_NAME = 'campaigns' THEN
        SELECT o.id INTO found_id FROM old_rows o
        WHERE EXISTS (SELECT 1 FROM messages m WHERE m.campaign_id = o.id)
        LIMIT 1;
    ELSE
        SELECT o.id INTO found_id FROM old_rows o
        WHERE EXISTS (SELECT 1 FROM ledger l WHERE l.message_id = o.id)
           OR EXISTS (SELECT 1 FROM webhook_outbox w WHERE w.message_id = o.id)
        LIMIT 1;
    END IF;
    IF FOUND THEN
        RAISE EXCEPTION '% % is still named by other rows', TG_TABLE_NAME, found_id
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    RETURN NULL;
END $$;
