-- Trigger daemon_instances_still_referenced (AFTER DELETE, each statement): an
-- instance row still named by message_parts.owner_instance cannot be deleted
-- (the claim names its owner without a foreign key; docs/store.md).
CREATE OR REPLACE FUNCTION instance_still_owns_parts() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    found_id bigint;
BEGIN
    SELECT o.id INTO found_id FROM old_rows o
    WHERE EXISTS (SELECT 1 FROM message_parts p WHERE p.owner_instance = o.id)
    LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'daemon_instances % is still named by message_parts rows', found_id
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    RETURN NULL;
END $$;

