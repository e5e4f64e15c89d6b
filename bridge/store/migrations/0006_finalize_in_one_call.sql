-- smpp-bridge schema, version 6: settling money and moving messages after their
-- parts, each one call (docs/pipeline.md "Performance", docs/store.md "Money").
--
-- Why: the writer's flush was about twelve statements, each a round trip from
-- the daemon's one thread (trio -> trio-asyncio -> asyncpg -> PostgreSQL and
-- back). Sampling pg_stat_activity during the end-to-end benchmark, a writer
-- transaction spent about half of its time "idle in transaction", waiting for
-- the daemon to send its next statement, against a third executing. Moving a
-- message after its parts took seven of those statements (lock, one-part
-- update, aggregation, cancelling queued parts, outbox, account lock, settle);
-- here they are one call, with the same statements in the same order.
--
-- settle_messages is the one place of the money rules: bridge.store.accounts.settle
-- calls it too (it held this statement before).

-- Charge or refund the reservations of messages, idempotently: a message already
-- settled, or without a reservation (invalid, no route), is skipped
-- (ledger_one_settlement). Accounts are locked in id order first, so concurrent
-- writers cannot deadlock on them. Returns how many messages were settled now.
CREATE FUNCTION settle_messages(p_ids bigint[], p_kinds ledger_kind[]) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    v_settled integer;
BEGIN
    PERFORM 1 FROM accounts WHERE id IN (SELECT account_id FROM messages WHERE id = ANY (p_ids))
        ORDER BY id FOR NO KEY UPDATE;
    WITH wanted AS (
        SELECT DISTINCT ON (o.message_id) o.message_id, o.kind
        FROM unnest(p_ids, p_kinds) AS o(message_id, kind)
        ORDER BY o.message_id
    ), inserted AS (
        INSERT INTO ledger (account_id, message_id, kind, amount)
        SELECT r.account_id, r.message_id, w.kind, r.amount
        FROM wanted w JOIN ledger r ON r.message_id = w.message_id AND r.kind = 'reservation'
        ON CONFLICT (message_id) WHERE kind IN ('charge', 'refund') DO NOTHING
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

-- Messages follow their parts (dlr.message_status in SQL): failed as soon as any
-- part failed, delivered when every part is delivered, otherwise submitted once a
-- part has a carrier id. p_one_* are messages of one part whose part's new state
-- and error the caller knows (they take them as they are); p_several are the
-- others (aggregated over their parts). In the same transaction: queued parts of
-- failed messages are cancelled, the webhook outbox row is written (seed 000
-- "Delivery webhook" payload; the sender adds "attempt"), and the money is settled
-- (outbox first: settle locks the account rows, which every flush needs, so they
-- are held only for settle and the COMMIT). Returns the messages that became final.
CREATE FUNCTION finalize_messages(
    p_one_ids bigint[], p_one_states text[], p_one_errors text[], p_several bigint[],
    p_webhooks boolean, p_default_url text
) RETURNS TABLE (message_id bigint, final_state text)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    v_sent bigint[];
    v_failed bigint[];
    v_sent_several bigint[];
    v_failed_several bigint[];
    v_final bigint[];
BEGIN
    -- Lock in id order first: the writers of several daemons and the sweeper then
    -- always lock in the same order and cannot deadlock on them.
    PERFORM 1 FROM messages WHERE id = ANY (p_one_ids || p_several)
        AND state NOT IN ('delivered', 'failed', 'invalid') ORDER BY id FOR NO KEY UPDATE;

    WITH updated AS (
        UPDATE messages m
        SET state = u.st::message_state,
            final_at = CASE WHEN u.st IN ('delivered', 'failed') THEN now() END,
            updated_at = now(),
            error = CASE WHEN u.st = 'failed' THEN coalesce(m.error, u.err) ELSE m.error END
        FROM unnest(p_one_ids, p_one_states, p_one_errors) AS u(id, st, err)
        WHERE m.id = u.id AND m.state NOT IN ('delivered', 'failed', 'invalid') AND m.state::text <> u.st
        RETURNING m.id, m.state::text AS st
    )
    SELECT coalesce(array_agg(id) FILTER (WHERE st = 'delivered'), '{}'),
           coalesce(array_agg(id) FILTER (WHERE st = 'failed'), '{}')
    INTO v_sent, v_failed FROM updated;

    WITH agg AS (
        SELECT p.message_id,
               bool_or(p.state = 'failed') AS any_failed,
               bool_and(p.state = 'delivered') AS all_delivered,
               bool_or(p.state IN ('submitted', 'delivered')) AS any_submitted,
               min(p.seq) FILTER (WHERE p.state = 'failed') AS failed_seq
        FROM message_parts p WHERE p.message_id = ANY (p_several) GROUP BY p.message_id
    ), updated AS (
        UPDATE messages m
        SET state = CASE WHEN a.any_failed THEN 'failed' WHEN a.all_delivered THEN 'delivered'
                         ELSE 'submitted' END::message_state,
            final_at = CASE WHEN a.any_failed OR a.all_delivered THEN now() END,
            updated_at = now(),
            error = CASE WHEN a.any_failed THEN coalesce(m.error, (
                SELECT coalesce(f.receipt_stat, 'submit_error_' || f.error_code::text, 'failed')
                FROM message_parts f WHERE f.message_id = m.id AND f.seq = a.failed_seq)) ELSE m.error END
        FROM agg a
        WHERE m.id = a.message_id AND m.state NOT IN ('delivered', 'failed', 'invalid')
          AND (a.any_failed OR a.all_delivered OR (a.any_submitted AND m.state <> 'submitted'))
        RETURNING m.id, m.state::text AS st
    )
    SELECT coalesce(array_agg(id) FILTER (WHERE st = 'delivered'), '{}'),
           coalesce(array_agg(id) FILTER (WHERE st = 'failed'), '{}')
    INTO v_sent_several, v_failed_several FROM updated;

    -- A failed message is refunded at once: its parts still queued are not sent
    -- (the handset could not show a message with a hole in it anyway).
    IF cardinality(v_failed_several) > 0 THEN
        UPDATE message_parts SET state = 'failed', final_at = now(), receipt_stat = 'cancelled'
        WHERE message_parts.message_id = ANY (v_failed_several) AND state::text = 'queued';
    END IF;

    v_sent := v_sent || v_sent_several;
    v_failed := v_failed || v_failed_several;
    v_final := v_sent || v_failed;
    IF cardinality(v_final) > 0 THEN
        IF p_webhooks THEN
            INSERT INTO webhook_outbox (account_id, message_id, url, payload)
            SELECT m.account_id, m.id, coalesce(a.webhook_url, p_default_url),
                   jsonb_build_object(
                       'event', 'sms.status', 'id', m.public_id, 'campaignId', c.public_id,
                       'to', m.destination,
                       'status', CASE m.state WHEN 'delivered' THEN 'sent' ELSE m.state::text END,
                       'reference', c.reference,
                       'timestamp', (SELECT to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')))
            FROM messages m JOIN campaigns c ON c.id = m.campaign_id JOIN accounts a ON a.id = m.account_id
            WHERE m.id = ANY (v_final);
        END IF;
        PERFORM settle_messages(
            v_final,
            array_fill('charge'::ledger_kind, ARRAY[cardinality(v_sent)])
                || array_fill('refund'::ledger_kind, ARRAY[cardinality(v_failed)]));
    END IF;

    RETURN QUERY SELECT s, 'delivered'::text FROM unnest(v_sent) AS s
                 UNION ALL SELECT f, 'failed'::text FROM unnest(v_failed) AS f;
END $$;
