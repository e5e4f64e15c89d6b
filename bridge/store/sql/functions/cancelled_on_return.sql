-- bridge/store/lifecycle.py CANCELLED_ON_RETURN, the one place the rule is
-- written: a part that a statement moves into queued or unknown while its
-- message is already failed is failed and `cancelled` instead. Its message is
-- refunded already, and a handset cannot show a message with a hole in it, so
-- the part never goes back to the queue, nor waits for a grace that can change
-- nothing. Every statement that moves a part into those states takes the three
-- columns from here, so its RETURNING sees the state stored:
--
--   SET (state, receipt_stat, final_at) = (SELECT r.state, r.receipt_stat, r.final_at
--       FROM cancelled_on_return(p.message_id, <the state wanted>, <receipt_stat>, <final_at>) r)
--
-- (apply_flush: requeue and unknown outcome; bridge/dispatch/sweeper.py _RECOVER:
-- recovery and grace ended; tests/store/test_lifecycle.py walks every event of the
-- lifecycle table that moves a part into those states). Any other state wanted,
-- and a message not failed, give back the state, receipt_stat and final_at asked
-- for. It was a BEFORE UPDATE row trigger until migration 0026: any such trigger
-- makes PostgreSQL lock (and write WAL for) every row every UPDATE of the table
-- changes.
--
-- The message row is read, not locked. A message failing in a transaction that
-- has not committed yet is not seen, and that transaction does not see the part
-- as queued either: the part is then sent once more. Locking the message here
-- (FOR SHARE, in part order) would close that window but could deadlock with
-- finalize_messages, which locks messages in id order in another daemon's flush.
--
-- One SELECT, STABLE, not STRICT, no SET clause: PostgreSQL inlines it into the
-- calling statement (a subquery and one probe of messages_pkey, no function call).
CREATE OR REPLACE FUNCTION cancelled_on_return(
    p_message_id bigint, p_state part_state, p_receipt_stat text, p_final_at timestamptz)
RETURNS TABLE (state part_state, receipt_stat text, final_at timestamptz)
LANGUAGE sql STABLE
AS $$
    SELECT CASE WHEN x.cancel THEN 'failed'::part_state ELSE p_state END,
           CASE WHEN x.cancel THEN 'cancelled' ELSE p_receipt_stat END,
           CASE WHEN x.cancel THEN now() ELSE p_final_at END
    FROM (SELECT p_state IN ('queued', 'unknown')
                 AND EXISTS (SELECT 1 FROM messages m WHERE m.id = p_message_id AND m.state = 'failed') AS cancel
          OFFSET 0) x  -- a fence: pulled up, the EXISTS would be copied into each CASE (three probes)
$$;
