-- smpp-bridge schema, version 21: the references of campaigns, messages and
-- message_parts checked once per statement instead of once per row, as
-- migration 0003 did for ledger and webhook_outbox (docs/store.md "Referential
-- checks").
--
-- Why: enqueue inserts a campaign per send and a message and its parts per
-- recipient, in one statement per batch (bridge/store/enqueue.py). Their five
-- foreign keys (campaigns -> accounts and api_keys, messages -> campaigns and
-- accounts, message_parts -> messages) each ran one lookup with a FOR KEY
-- SHARE row lock per row, on parents that a batch names a few times over (one
-- campaign per send, one account and key per caller) or that the same
-- statement has just inserted (the campaign of a message, the message of a
-- part). Measured on the benchmark's PostgreSQL (its backend's CPU, 100-
-- recipient sends and batches of 32 single sends through enqueue_many,
-- alternated): 31-33 us per recipient before, 21-23 after the keys of
-- messages and parts went; the key campaigns -> accounts cost another 4-5 us
-- per single send.
--
-- What replaces them, enforced by the database all the same:
-- - AFTER INSERT ... FOR EACH STATEMENT triggers with a transition table
--   (campaign_references_exist, message_references_exist,
--   part_references_exist): every account, API key, campaign and message that
--   the new rows name is looked up once, by its primary key, and a missing one
--   fails the statement with SQLSTATE 23503 (foreign_key_violation), as before.
-- - The key columns cannot change afterwards: campaigns.id (GENERATED ALWAYS
--   still takes UPDATE ... SET id = DEFAULT), account_id and api_key_id,
--   messages.campaign_id and account_id, message_parts.message_id are refused
--   by keys_are_fixed, as messages.id already is (0003). Nothing in the bridge
--   updates them.
-- - Deleting an account that campaigns or messages still name, an API key
--   that campaigns name, or a campaign that messages name is refused
--   (still_referenced: accounts_still_referenced now looks at campaigns and
--   messages too; campaigns_still_referenced, api_keys_still_referenced).
--   Messages are found through messages_campaign and messages_account_created;
--   campaigns by a scan, as the old keys' own checks did (no index on
--   campaigns (account_id) or (api_key_id)): deletes are on no hot path.
-- - Deleting messages deletes their parts (the ON DELETE CASCADE of the old
--   key), by an AFTER DELETE statement trigger.
-- What the keys did that these do not: lock the parent against a concurrent
-- DELETE. Enqueue inserts a campaign, its messages and their parts in one
-- statement (no other transaction sees them before the commit), and nothing
-- in the bridge deletes accounts, API keys, campaigns or messages (keys are
-- revoked, not deleted).

ALTER TABLE campaigns DROP CONSTRAINT campaigns_account_id_fkey;
ALTER TABLE campaigns DROP CONSTRAINT campaigns_api_key_id_fkey;
ALTER TABLE messages DROP CONSTRAINT messages_campaign_id_fkey;
ALTER TABLE messages DROP CONSTRAINT messages_account_id_fkey;
ALTER TABLE message_parts DROP CONSTRAINT message_parts_message_id_fkey;

-- Placeholder bodies: the files in bridge/store/sql/triggers/ replace them in
-- the same migrate run (docs/store.md "Functions as code").
CREATE FUNCTION campaign_references_exist() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NULL; END $$;
CREATE FUNCTION message_references_exist() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NULL; END $$;
CREATE FUNCTION part_references_exist() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NULL; END $$;
CREATE FUNCTION parts_go_with_their_message() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NULL; END $$;

CREATE TRIGGER campaigns_references AFTER INSERT ON campaigns
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION campaign_references_exist();
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
CREATE TRIGGER campaigns_keys_fixed BEFORE UPDATE OF id, account_id, api_key_id ON campaigns
    FOR EACH ROW WHEN (NEW.id IS DISTINCT FROM OLD.id OR NEW.account_id IS DISTINCT FROM OLD.account_id
                       OR NEW.api_key_id IS DISTINCT FROM OLD.api_key_id)
    EXECUTE FUNCTION keys_are_fixed();

CREATE TRIGGER campaigns_still_referenced AFTER DELETE ON campaigns
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION still_referenced();
CREATE TRIGGER api_keys_still_referenced AFTER DELETE ON api_keys
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION still_referenced();
CREATE TRIGGER messages_delete_parts AFTER DELETE ON messages
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION parts_go_with_their_message();
