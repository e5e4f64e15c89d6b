-- smpp-bridge schema, version 10: a part of a failed message never goes back to
-- the queue (docs/pipeline.md "Messages follow their parts").
--
-- A message fails as soon as one of its parts fails, and finalize_messages
-- (migration 0007) then cancels its parts still `queued`: the handset could not
-- show a message with a hole in it, and the customer is refunded already. A part
-- that was in flight at that moment (`submitting`) escaped: when its submit
-- ended Unknown under the "resubmit" policy, or was released, or a dead
-- daemon's parts were recovered, it went back to `queued` and was sent later,
-- a fragment nobody pays for. Seen in the two-daemon chaos test (one part in
-- about 25 runs, found `queued` under a failed message after both daemons had
-- stopped).
--
-- Every path back to the queue is an UPDATE of message_parts to `queued`
-- (apply_flush's requeue, the sweeper, recovery), so one row trigger covers
-- them all: such a part of a failed message is failed and `cancelled` instead.
-- The WHEN clause keeps the trigger off every other update (claims, accepts,
-- receipts): requeues are the rare path.
--
-- The message row is read, not locked. A message failing in a transaction that
-- has not committed yet is not seen, and that transaction does not see the
-- part as queued either: the part is then sent once more, as before this
-- version. Locking the message here (FOR SHARE, in part order) would close that
-- window but could deadlock with finalize_messages, which locks messages in id
-- order in another daemon's flush.
CREATE FUNCTION part_of_failed_message_is_cancelled() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM messages m WHERE m.id = NEW.message_id AND m.state = 'failed') THEN
        NEW.state := 'failed';
        NEW.receipt_stat := 'cancelled';
        NEW.final_at := now();
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER message_parts_requeue_of_failed_message BEFORE UPDATE OF state ON message_parts
    FOR EACH ROW WHEN (NEW.state = 'queued' AND OLD.state <> 'queued')
    EXECUTE FUNCTION part_of_failed_message_is_cancelled();
