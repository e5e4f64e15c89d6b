-- Trigger message_parts_requeue_of_failed_message (BEFORE UPDATE OF state, each
-- row, WHEN the new state is queued or unknown and differs from the old one):
-- bridge/store/lifecycle.py CANCELLED_ON_RETURN. A part of a failed message
-- never goes back to the queue, nor waits for a grace that can change nothing:
-- it is failed and `cancelled` instead (its message is refunded already, and a
-- handset cannot show a message with a hole in it). Every path back to the queue
-- is such an UPDATE (apply_flush's requeue and unknown outcomes, the sweeper,
-- recovery), so this one trigger covers them all.
--
-- The message row is read, not locked. A message failing in a transaction that
-- has not committed yet is not seen, and that transaction does not see the part
-- as queued either: the part is then sent once more. Locking the message here
-- (FOR SHARE, in part order) would close that window but could deadlock with
-- finalize_messages, which locks messages in id order in another daemon's flush.
CREATE OR REPLACE FUNCTION part_of_failed_message_is_cancelled() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM messages m WHERE m.id = NEW.message_id AND m.state = 'failed') THEN
        NEW.state := 'failed';
        NEW.receipt_stat := 'cancelled';
        NEW.final_at := now();
    END IF;
    RETURN NEW;
END $$;

