-- Trigger messages_delete_parts (AFTER DELETE, each statement, with the old
-- rows): the parts of deleted messages are deleted with them (the ON DELETE
-- CASCADE of the foreign key it replaces; docs/store.md "Referential checks").
-- A message still named by ledger or webhook_outbox rows cannot be deleted at
-- all (still_referenced), which rolls this back too.
CREATE OR REPLACE FUNCTION parts_go_with_their_message() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM message_parts p USING old_rows o WHERE p.message_id = o.id;
    RETURN NULL;
END $$;
