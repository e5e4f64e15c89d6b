-- Charge or refund the reservations of messages, idempotently: a message already
-- settled, or without a reservation (invalid, no route), is skipped. The
-- accounts' account_charges rows are locked in id order first, so concurrent
-- settlements cannot deadlock on them; p_accounts names the accounts when the
-- caller knows them (finalize_messages), else they are looked up. Counters move
-- once per account; the ledger keeps one row per message. Returns how many
-- messages were settled now.
--
-- Where the money moves (migration 0028): a charge adds to account_charges.charged
-- and leaves the account row alone (what the account's sends hold, `committed`,
-- stays the same: the reservation becomes a charge), so a settlement of
-- delivered messages never waits for, nor holds up, the account's sends, which
-- update the account row; a refund takes the amount off accounts.committed,
-- those rows locked in id order first (as the intake locks them).
--
-- Idempotent by a NOT EXISTS probe of ledger_one_settlement, not ON CONFLICT: the
-- account_charges lock taken first serializes every settlement of the account's
-- messages, and the INSERT runs after it with a snapshot of its own (READ
-- COMMITTED, one per statement), so it sees a settlement committed by a writer it
-- waited for. A speculative insertion (ON CONFLICT) probed the same unique index a
-- second time and wrote a confirmation record per row. The unique index still
-- refuses a second settlement of a message, whatever the caller (an error, never
-- a double charge).
CREATE OR REPLACE FUNCTION settle_messages(p_ids bigint[], p_kinds ledger_kind[], p_accounts bigint[] DEFAULT NULL)
RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    v_settled integer;
    v_accounts bigint[];
    v_charged numeric[];
    v_refunded numeric[];
BEGIN
    PERFORM 1 FROM account_charges
    WHERE account_id = ANY (coalesce(p_accounts,
                                     ARRAY(SELECT DISTINCT m.account_id FROM messages m WHERE m.id = ANY (p_ids))))
    ORDER BY account_id FOR NO KEY UPDATE;
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
               coalesce(sum(amount) FILTER (WHERE kind = 'refund'), 0) AS refunded,
               count(*) AS settled
        FROM inserted GROUP BY account_id
    )
    SELECT coalesce(sum(settled), 0), array_agg(account_id ORDER BY account_id),
           array_agg(charged ORDER BY account_id), array_agg(refunded ORDER BY account_id)
    INTO v_settled, v_accounts, v_charged, v_refunded FROM sums;
    IF v_settled = 0 THEN
        RETURN 0;
    END IF;

    UPDATE account_charges c SET charged = c.charged + s.charged
    FROM unnest(v_accounts, v_charged) AS s(account_id, charged)
    WHERE c.account_id = s.account_id AND s.charged > 0;

    IF EXISTS (SELECT 1 FROM unnest(v_refunded) AS r WHERE r > 0) THEN
        PERFORM 1 FROM accounts a
        WHERE a.id IN (SELECT s.account_id FROM unnest(v_accounts, v_refunded) AS s(account_id, refunded)
                       WHERE s.refunded > 0)
        ORDER BY a.id FOR NO KEY UPDATE;
        UPDATE accounts a SET committed = a.committed - s.refunded
        FROM unnest(v_accounts, v_refunded) AS s(account_id, refunded)
        WHERE a.id = s.account_id AND s.refunded > 0;
    END IF;
    RETURN v_settled;
END $$;
