-- smpp-bridge schema, version 3: the references of ledger and webhook_outbox
-- checked once per statement instead of once per row (docs/store.md
-- "Referential checks").
--
-- Why: every flush of the writer inserts one ledger row (charge or refund) and
-- one webhook_outbox row per final message. Their four foreign keys ran one
-- lookup with a FOR KEY SHARE row lock per row and key; measured with
-- auto_explain in the end-to-end benchmark, those checks took about 60% of the
-- time of the settle and outbox statements (about 20 us each, 744 messages:
-- 40 ms of triggers around 8 ms of inserts), close to half of PostgreSQL's
-- CPU per message.
--
-- What replaces them, enforced by the database all the same:
-- - AFTER INSERT ... FOR EACH STATEMENT triggers with a transition table: one
--   anti-join per statement rejects any new row whose account or message does
--   not exist (SQLSTATE 23503 foreign_key_violation, as before).
-- - The key columns cannot be changed afterwards: the ledger is append-only
--   (0001); for the outbox a BEFORE UPDATE OF account_id, message_id trigger
--   refuses it.
-- - Deleting an account or a message that a ledger or outbox row still names
--   is refused by AFTER DELETE statement triggers on accounts and messages (the
--   ON DELETE NO ACTION of the old keys).
-- What the old keys did that these do not: the FOR KEY SHARE lock that makes a
-- concurrent DELETE of the parent wait. The writer inserts these rows for
-- messages it has locked FOR NO KEY UPDATE in the same transaction (so such a
-- DELETE waits anyway and its trigger then sees the new rows), enqueue for the
-- account it has just updated; nothing in the bridge deletes accounts or
-- messages.
--
-- Not touched: ledger_one_reservation and ledger_one_settlement (no double
-- charge, no double refund, not both), the append-only ledger, the final-state
-- triggers, message_parts -> messages (ON DELETE CASCADE; parts are inserted at
-- enqueue only and their keys never change, so it costs the writer nothing).

ALTER TABLE ledger DROP CONSTRAINT ledger_account_id_fkey;
ALTER TABLE ledger DROP CONSTRAINT ledger_message_id_fkey;
ALTER TABLE webhook_outbox DROP CONSTRAINT webhook_outbox_account_id_fkey;
ALTER TABLE webhook_outbox DROP CONSTRAINT webhook_outbox_message_id_fkey;

CREATE FUNCTION references_exist() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    bad record;
BEGIN
    SELECT n.account_id, n.message_id INTO bad FROM new_rows n
    WHERE NOT EXISTS (SELECT 1 FROM accounts a WHERE a.id = n.account_id)
       OR (n.message_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.id = n.message_id))
    LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION '% row names account % / message % that does not exist',
            TG_TABLE_NAME, bad.account_id, bad.message_id
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER ledger_references AFTER INSERT ON ledger
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION references_exist();
CREATE TRIGGER webhook_outbox_references AFTER INSERT ON webhook_outbox
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION references_exist();

-- Keys that others name never change (accounts.id is GENERATED ALWAYS, which
-- refuses such an UPDATE by itself; messages.id is BY DEFAULT).
CREATE FUNCTION keys_are_fixed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% %: the keys of this row cannot change', TG_TABLE_NAME, OLD.id
        USING ERRCODE = 'foreign_key_violation';
END $$;
CREATE TRIGGER webhook_outbox_keys_fixed BEFORE UPDATE OF account_id, message_id ON webhook_outbox
    FOR EACH ROW WHEN (NEW.account_id IS DISTINCT FROM OLD.account_id
                       OR NEW.message_id IS DISTINCT FROM OLD.message_id)
    EXECUTE FUNCTION keys_are_fixed();
CREATE TRIGGER messages_id_fixed BEFORE UPDATE OF id ON messages
    FOR EACH ROW WHEN (NEW.id IS DISTINCT FROM OLD.id) EXECUTE FUNCTION keys_are_fixed();

CREATE FUNCTION still_referenced() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    found_id bigint;
BEGIN
    IF TG_TABLE_NAME = 'accounts' THEN
        SELECT o.id INTO found_id FROM old_rows o
        WHERE EXISTS (SELECT 1 FROM ledger l WHERE l.account_id = o.id)
           OR EXISTS (SELECT 1 FROM webhook_outbox w WHERE w.account_id = o.id)
        LIMIT 1;
    ELSE
        SELECT o.id INTO found_id FROM old_rows o
        WHERE EXISTS (SELECT 1 FROM ledger l WHERE l.message_id = o.id)
           OR EXISTS (SELECT 1 FROM webhook_outbox w WHERE w.message_id = o.id)
        LIMIT 1;
    END IF;
    IF FOUND THEN
        RAISE EXCEPTION '% % is still named by ledger or webhook_outbox rows', TG_TABLE_NAME, found_id
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    RETURN NULL;
END $$;

-- No index on webhook_outbox (account_id) or (message_id) for these lookups:
-- the old keys had none either, and deletes are not on any hot path.
CREATE TRIGGER accounts_still_referenced AFTER DELETE ON accounts
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION still_referenced();
CREATE TRIGGER messages_still_referenced AFTER DELETE ON messages
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION still_referenced();
