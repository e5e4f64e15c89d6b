-- Charge or refund the reservations of messages, idempotently: a message already
-- settled, or without a reservation (invalid, no route), is skipped. Accounts are
-- locked in id order first, so concurrent writers cannot deadlock on them;
-- p_accounts names them when the caller knows them (finalize_messages), else they
-- are looked up. Account counters move once per account; the ledger keeps one row
-- per message. Returns how many messages were settled now.
--
-- Idempotent by a NOT EXISTS probe of ledger_one_settlement, not ON CONFLICT: the
-- account lock taken first serializes every settlement of the account's messages,
-- and the INSERT runs after it with a snapshot of its own (READ COMMITTED, one per
-- statement), so it sees a settlement committed by a writer it waited for. A
-- speculative insertion (ON CONFLICT) probed the same unique index a second time
-- and wrote a confirmation record per row. The unique index still refuses a
-- second settlement of a message, whatever the caller (an error, never a double
-- charge).
CREATE OR REPLACE FUNCTION settle_messages(p_ids bigint[], p_kinds ledger_kind[], p_accounts bigint[] DEFAULT NULL)
RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    v_settled integer;
BEGIN
    PERFORM 1 FROM accounts
    WHERE id = ANY (coalesce(p_accounts,
                             ARRAY(SELECT DISTINCT m.account_id FROM messages m WHERE m.id = ANY (p_ids))))
    ORDER BY id FOR NO KEY UPDATE;
    WITH wanted AS (
        SELECT DISTINCT ON (o.message_id) o.message_id, o.kind
        FROM unnest(p_ids, p_kinds) AS o(message_id, kind)
        ORDER BY o.message_id
    ), inserted AS (
        INSERT INTO ledger (account_id, message_id, kind, amount)
        SELECT r.account_id, r.message_id, w.kind, r.amount
        FROM wanted w CROSS JOIN LATERAL (
            -- LIMIT 1 (there is one reservation per message at most): without it
            -- the planner flattens the subquery into a join and may drive it from
            -- ledger again, or run the NOT EXISTS as one anti-join over every
            -- settlement row; inside it, it is one index probe per message.
            SELECT l.account_id, l.message_id, l.amount FROM ledger l
            WHERE l.message_id = w.message_id AND l.kind = 'reservation'
              AND NOT EXISTS (SELECT 1 FROM ledger s
                              WHERE s.message_id = w.message_id AND s.kind IN ('charge', 'refund'))
            LIMIT 1
        ) r
        RETURNING account_id, kind, amount
    ), sums AS (
        SELECT account_id,
               coalesce(sum(amount) FILTER (WHERE kind = 'charge'), 0) AS charged,
               sum(amount) AS released,
               count(*) AS settled
        FROM inserted GROUP BY account_id
    ), updated AS (
        UPDATE accounts a
        SET charged = a.charged + s.charged, reserved = a.reserved - s.released
        FROM sums s WHERE a.id = s.account_id
        RETURNING s.settled
    )
    SELECT coalesce(sum(settled), 0) INTO v_settled FROM updated;
    RETURN v_settled;
END $$;
