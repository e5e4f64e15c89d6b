-- smpp-bridge schema, version 26: message_parts has no BEFORE UPDATE row trigger
-- any more (migration 0025 did the same for messages).
--
-- Why: with any BEFORE UPDATE row trigger on a table, PostgreSQL fetches and
-- locks the old row version of every row an UPDATE changes before it even reads
-- the trigger's column list or WHEN clause (GetTupleForTrigger: a tuple lock and
-- its WAL record per row). A part is updated about three times in its life
-- (claim, submit_sm_resp, final receipt); the claim has the row locked FOR UPDATE
-- already, the other two paid the lock. Measured on 20,000 parts of the
-- benchmark's data (EXPLAIN (ANALYZE, WAL)): the accept UPDATE wrote 121,105 WAL
-- records and 10.8 MB with the triggers, 100,553 and 9.9 MB without; the final
-- UPDATE 100,820 and 9.7 MB against 80,162 and 8.6 MB; the claim the same.
--
-- 1. message_parts_final_state and message_parts_keys_fixed only ever refuse:
--    AFTER row triggers with the same WHEN clauses hold the same rules (the WHEN
--    is tested on the old and new row as the row is updated; when it holds, the
--    function raises at the end of the statement, which fails it as before).
-- 2. message_parts_requeue_of_failed_message rewrote the new row
--    (lifecycle CANCELLED_ON_RETURN: a part moved into queued or unknown while
--    its message is failed is failed and cancelled instead). The rule is now
--    the function cancelled_on_return (sql/functions/cancelled_on_return.sql),
--    which each statement that moves a part into those states uses for the
--    state, receipt_stat and final_at it stores: apply_flush (requeue, unknown
--    outcome) and the sweeper's recovery (bridge/dispatch/sweeper.py _RECOVER).
--    Its function part_of_failed_message_is_cancelled has no file any more: it
--    is dropped here, also from a database whose functions only migrations made
--    (migrate drops only the functions it recorded).
DROP TRIGGER message_parts_final_state ON message_parts;
DROP TRIGGER message_parts_keys_fixed ON message_parts;
DROP TRIGGER message_parts_requeue_of_failed_message ON message_parts;
DROP FUNCTION part_of_failed_message_is_cancelled();

CREATE TRIGGER message_parts_final_state AFTER UPDATE OF state ON message_parts
    FOR EACH ROW WHEN (OLD.state IN ('delivered', 'failed') AND NEW.state IS DISTINCT FROM OLD.state)
    EXECUTE FUNCTION final_state_is_final();
CREATE TRIGGER message_parts_keys_fixed AFTER UPDATE OF message_id ON message_parts
    FOR EACH ROW WHEN (NEW.message_id IS DISTINCT FROM OLD.message_id) EXECUTE FUNCTION keys_are_fixed();
