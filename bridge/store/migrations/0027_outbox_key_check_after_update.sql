-- smpp-bridge schema, version 27: webhook_outbox has no BEFORE UPDATE row trigger
-- (migrations 0025 and 0026 did the same for messages and message_parts).
--
-- Why: with any BEFORE UPDATE row trigger on a table, PostgreSQL locks the old
-- version of every row an UPDATE changes (a tuple lock and its WAL record) before
-- it looks at the trigger's columns or WHEN clause. Every outbox row is updated at
-- least twice: the sender's claim (its rows are locked FOR UPDATE SKIP LOCKED by
-- the same statement already, so no second lock) and the outcome of the attempt,
-- which paid the lock. Measured on 20,000 rows (EXPLAIN (ANALYZE, WAL) of the
-- outcome's UPDATE): 100,428 WAL records with the trigger, 80,516 without.
--
-- webhook_outbox_keys_fixed only ever refuses: an AFTER row trigger with the same
-- WHEN clause fails the statement just the same.
DROP TRIGGER webhook_outbox_keys_fixed ON webhook_outbox;
CREATE TRIGGER webhook_outbox_keys_fixed AFTER UPDATE OF account_id, message_id ON webhook_outbox
    FOR EACH ROW WHEN (NEW.account_id IS DISTINCT FROM OLD.account_id OR NEW.message_id IS DISTINCT FROM OLD.message_id)
    EXECUTE FUNCTION keys_are_fixed();
