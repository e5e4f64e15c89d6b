-- Triggers messages_final_state and message_parts_final_state (AFTER UPDATE OF
-- state: migrations 0025 and 0026), each row, WHEN the old
-- state is final and the new one differs: final states never go back
-- (bridge/store/lifecycle.py FINAL_PART_STATES, FINAL_MESSAGE_STATES). Setting
-- the same final state again is allowed.
CREATE OR REPLACE FUNCTION final_state_is_final() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% % is final (%), cannot become %', TG_TABLE_NAME,
        coalesce(to_jsonb(OLD) ->> 'public_id',
                 (to_jsonb(OLD) ->> 'message_id') || '/' || (to_jsonb(OLD) ->> 'seq')),
        OLD.state, NEW.state
        USING ERRCODE = 'integrity_constraint_violation';
END $$;
