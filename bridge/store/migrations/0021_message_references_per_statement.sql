-- smpp-bridge schema, version 21: the references of messages and message_parts
-- checked once per statement instead of once per row, as migration 0003 did for
-- ledger and webhook_outbox (docs/store.md "Referential checks").
--
-- Why: enqueue inserts a message and its parts per recipient, in one statement
-- per batch (bridge/store/enqueue.py). Their three foreign keys (messages ->
-- campaigns, messages -> accounts, message_parts -> messages) each ran one
-- lookup with a FOR KEY SHARE row lock per row: three queries and three row
-- locks per recipient, on parents that a batch names a few times over (one
-- campaign per send, one account per key) or that the same statement has just
-- inserted (the message of a part).
--
-- What replaces them, enforced by the database all the same:
-- - AFTER INSERT ... FOR EACH STATEMENT triggers with a transition table
--   (message_references_exist, part_references_exist): every campaign,
--   account and message that the new rows name is looked up once by its
--   primary key, and a missing one fails the statement with SQLSTATE 23503
--   (foreign_key_violation), as before.
-- - The key columns cannot change afterwards: messages.campaign_id and
--   account_id, message_parts.message_id, and campaigns.id (GENERATED ALWAYS
--   still takes UPDATE ... SET id = DEFAULT) are refused by keys_are_fixed, as
--   messages.id already is (0003). Nothing in the bridge updates them.
-- - Deleting a campaign or an account that a message still names is refused
--   (campaigns_still_referenced, and accounts_still_referenced now looks at
--   messages too), through the indexes messages_campaign and
--   messages_account_created.
-- - Deleting messages deletes their parts (the ON DELETE CASCADE of the old
--   key), by an AFTER DELETE statement trigger.
-- What the keys did that these do not: lock the parent against a concurrent
-- DELETE. Enqueue inserts a campaign, its messages and their parts in one
-- statement (no other transaction sees them before the commit), and the
-- campaign's own key to accounts (kept) still locks the account FOR KEY SHARE;
-- nothing in the bridge deletes accounts, campaigns or messages.

ALTER TABLE messages DROP CONSTRAINT messages_campaign_id_fkey;
ALTER TABLE messages DROP CONSTRAINT messages_account_id_fkey;
ALTER TABLE message_parts DROP CONSTRAINT message_parts_message_id_fkey;

-- Placeholder bodies: the files in bridge/store/sql/triggers/ replace them in
-- the same migrate run (docs/store.md "Functions as code").
CREATE FUNCTION message_references_exist() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NULL; END $$;
CREATE FUNCTION part_references_exist() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NULL; END $$;
CREATE FUNCTION parts_go_with_their_message() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NULL; END $$;

CREATE TRIGGER messages_references AFTER INSERT ON messages
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION message_references_exist();
CREATE TRIGGER message_parts_references AFTER INSERT ON message_parts
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION part_references_exist();

CREATE TRIGGER messages_keys_fixed BEFORE UPDATE OF campaign_id, account_id ON messages
    FOR EACH ROW WHEN (NEW.campaign_id IS DISTINCT FROM OLD.campaign_id
                       OR NEW.account_id IS DISTINCT FROM OLD.account_id)
    EXECUTE FUNCTION keys_are_fixed();
CREATE TRIGGER message_parts_keys_fixed BEFORE UPDATE OF message_id ON message_parts
    FOR EACH ROW WHEN (NEW.message_id IS DISTINCT FROM OLD.message_id) EXECUTE FUNCTION keys_are_fixed();
CREATE TRIGGER campaigns_id_fixed BEFORE UPDATE OF id ON campaigns
    FOR EACH ROW WHEN (NEW.id IS DISTINCT FROM OLD.id) EXECUTE FUNCTION keys_are_fixed();

CREATE TRIGGER campaigns_still_referenced AFTER DELETE ON campaigns
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION still_referenced();
CREATE TRIGGER messages_delete_parts AFTER DELETE ON messages
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION parts_go_with_their_message();
