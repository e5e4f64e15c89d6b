-- Triggers webhook_outbox_keys_fixed and messages_id_fixed: keys that others
-- name never change.
CREATE OR REPLACE FUNCTION keys_are_fixed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% %: the keys of this row cannot change', TG_TABLE_NAME, OLD.id
        USING ERRCODE = 'foreign_key_violation';
END $$;
