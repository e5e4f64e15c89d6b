-- Triggers webhook_outbox_keys_fixed, messages_id_fixed, messages_keys_fixed,
-- message_parts_keys_fixed and campaigns_keys_fixed (UPDATE OF the key columns,
-- each row, WHEN a key changes; AFTER on messages, message_parts and
-- webhook_outbox, migrations 0025 to 0027, BEFORE on campaigns): keys that others name, and the
-- references checked per statement at insert, never change (docs/store.md
-- "Referential checks"). The row is named by its id, or its message_id for a
-- part (which has no id column).
CREATE OR REPLACE FUNCTION keys_are_fixed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% %: the keys of this row cannot change', TG_TABLE_NAME,
        coalesce(to_jsonb(OLD) ->> 'id', to_jsonb(OLD) ->> 'message_id')
        USING ERRCODE = 'foreign_key_violation';
END $$;
