-- smpp-bridge schema, version 25: the checks of an UPDATE of messages run as
-- AFTER row triggers instead of BEFORE row triggers.
--
-- Why: PostgreSQL fetches and locks the old row version of every row an UPDATE
-- changes when the table has any BEFORE UPDATE row trigger, before it even
-- reads the trigger's column list or WHEN clause (GetTupleForTrigger: a tuple
-- lock and its WAL record per row). finalize_messages moves each message of one
-- part without taking a row lock first (its comment says why none is needed);
-- the three BEFORE triggers of messages took one all the same. The three only
-- ever refuse (final_state_is_final, keys_are_fixed), so AFTER triggers with the
-- same WHEN clauses hold the same rules: the WHEN is tested on the old and new
-- row as the row is updated and, when true, the function raises at the end of
-- the statement, which fails it as before. Measured on 100,000 rows of a table
-- with one such trigger: 55 bytes of WAL and about 0.5 us less per updated row.
--
-- message_parts keeps its BEFORE triggers: message_parts_requeue_of_failed_message
-- changes the new row (CANCELLED_ON_RETURN), which only a BEFORE trigger can.
DROP TRIGGER messages_final_state ON messages;
DROP TRIGGER messages_id_fixed ON messages;
DROP TRIGGER messages_keys_fixed ON messages;

CREATE TRIGGER messages_final_state AFTER UPDATE OF state ON messages
    FOR EACH ROW WHEN (OLD.state IN ('delivered', 'failed', 'invalid') AND NEW.state IS DISTINCT FROM OLD.state)
    EXECUTE FUNCTION final_state_is_final();
CREATE TRIGGER messages_id_fixed AFTER UPDATE OF id ON messages
    FOR EACH ROW WHEN (NEW.id IS DISTINCT FROM OLD.id) EXECUTE FUNCTION keys_are_fixed();
CREATE TRIGGER messages_keys_fixed AFTER UPDATE OF campaign_id, account_id ON messages
    FOR EACH ROW WHEN (NEW.campaign_id IS DISTINCT FROM OLD.campaign_id
                       OR NEW.account_id IS DISTINCT FROM OLD.account_id)
    EXECUTE FUNCTION keys_are_fixed();
