-- lifecycle: FINALIZE (bridge/store/lifecycle.py MESSAGE_LIFECYCLE), and CANCEL.
-- Messages follow their parts (dlr.message_status in SQL): failed as soon as any
-- part failed, delivered when every part is delivered; a message that is not
-- final stays queued. p_one_* are messages of one part whose part's new state and
-- error the caller knows (they take them as they are; entries whose state is not
-- final are ignored); p_several are the others (aggregated over their parts). The
-- caller passes only messages with a part that became final in its transaction
-- (for p_one_*, the message's one part: their UPDATE takes no lock first, below).
-- In the same transaction: queued parts of failed messages are cancelled, the
-- webhook outbox row is written (seed 000 "Delivery webhook" payload; the sender
-- adds "attempt") for messages whose API key or account has an endpoint, and the
-- money is settled (outbox first: settle locks the accounts' account_charges
-- rows, and the account rows for refunds, which other flushes need, so they are
-- held only for settle and the COMMIT). Returns the
-- messages that became final; settle_messages gets the accounts it already has.
-- p_default_url is not read (endpoints live in
-- webhook_endpoints; docs/webhooks.md). Plan settings as apply_flush's, which
-- called from there it has anyway: the sweeper's calls get the same plans.
CREATE OR REPLACE FUNCTION finalize_messages(
    p_one_ids bigint[], p_one_states text[], p_one_errors text[], p_several bigint[],
    p_webhooks boolean, p_default_url text
) RETURNS TABLE (message_id bigint, final_state text)
LANGUAGE plpgsql
SET plan_cache_mode = force_generic_plan SET enable_seqscan = off SET enable_bitmapscan = off
SET enable_hashjoin = off SET enable_mergejoin = off SET enable_material = off
AS $$
#variable_conflict use_column
DECLARE
    v_sent bigint[];
    v_failed bigint[];
    v_accounts bigint[];
    v_sent_several bigint[];
    v_failed_several bigint[];
    v_accounts_several bigint[];
    v_final bigint[];
BEGIN
    -- A message of one part is moved by the transaction that made its one part
    -- final, and by no other: every move of a part guards the state it leaves and
    -- waits for the part's row lock, and the sweeper finalizes only messages whose
    -- parts it moved itself. Nothing else locks or updates such a message row, so
    -- its UPDATE needs no lock taken beforehand (it waits for nobody): one probe of
    -- messages_pkey and the update, without a row lock and its WAL record first.
    -- The UPDATE returns the state it set (the final-state trigger only ever
    -- refuses), not the row's enum converted back to text.
    WITH updated AS (
        UPDATE messages m
        SET state = u.st::message_state, final_at = now(), updated_at = now(),
            error = CASE WHEN u.st = 'failed' THEN coalesce(m.error, u.err) ELSE m.error END
        FROM unnest(p_one_ids, p_one_states, p_one_errors) AS u(id, st, err)
        WHERE u.st IN ('delivered', 'failed') AND m.id = u.id
          AND m.state NOT IN ('delivered', 'failed', 'invalid')
        RETURNING m.id, u.st, m.account_id
    )
    SELECT coalesce(array_agg(id) FILTER (WHERE st = 'delivered'), '{}'),
           coalesce(array_agg(id) FILTER (WHERE st = 'failed'), '{}'),
           coalesce(array_agg(DISTINCT account_id), '{}')
    INTO v_sent, v_failed, v_accounts FROM updated;

    IF cardinality(p_several) > 0 THEN
        -- Messages of several parts: two flushes (or a flush and the sweeper) may
        -- each have made one of a message's parts final. They are locked in id
        -- order first, so the writers of several daemons and the sweeper always
        -- lock them in the same order and cannot deadlock on them.
        PERFORM 1 FROM messages m
        WHERE m.id = ANY (p_several) AND m.state NOT IN ('delivered', 'failed', 'invalid')
        ORDER BY m.id FOR NO KEY UPDATE OF m;
        WITH agg AS (
            SELECT p.message_id,
                   bool_or(p.state = 'failed') AS any_failed,
                   bool_and(p.state = 'delivered') AS all_delivered,
                   min(p.seq) FILTER (WHERE p.state = 'failed') AS failed_seq
            FROM message_parts p WHERE p.message_id = ANY (p_several) GROUP BY p.message_id
        ), updated AS (
            UPDATE messages m
            SET state = CASE WHEN a.any_failed THEN 'failed' ELSE 'delivered' END::message_state,
                final_at = now(), updated_at = now(),
                error = CASE WHEN a.any_failed THEN coalesce(m.error, (
                    SELECT coalesce(f.receipt_stat, 'submit_error_' || f.error_code::text, 'failed')
                    FROM message_parts f WHERE f.message_id = m.id AND f.seq = a.failed_seq)) ELSE m.error END
            FROM agg a
            WHERE m.id = a.message_id AND m.state NOT IN ('delivered', 'failed', 'invalid')
              AND (a.any_failed OR a.all_delivered)
            RETURNING m.id, CASE WHEN a.any_failed THEN 'failed' ELSE 'delivered' END AS st, m.account_id
        )
        SELECT coalesce(array_agg(id) FILTER (WHERE st = 'delivered'), '{}'),
               coalesce(array_agg(id) FILTER (WHERE st = 'failed'), '{}'),
               coalesce(array_agg(DISTINCT account_id), '{}')
        INTO v_sent_several, v_failed_several, v_accounts_several FROM updated;

        -- lifecycle: CANCEL. A failed message is refunded at once: its parts still queued are not sent
        -- (the handset could not show a message with a hole in it anyway).
        IF cardinality(v_failed_several) > 0 THEN
            UPDATE message_parts SET state = 'failed', final_at = now(), receipt_stat = 'cancelled'
            WHERE message_parts.message_id = ANY (v_failed_several) AND state::text = 'queued';
        END IF;

        v_sent := v_sent || v_sent_several;
        v_failed := v_failed || v_failed_several;
        v_accounts := ARRAY(SELECT DISTINCT a FROM unnest(v_accounts || v_accounts_several) AS a);
    END IF;

    v_final := v_sent || v_failed;
    IF cardinality(v_final) > 0 THEN
        -- One outbox row per final message that somebody receives: an endpoint of
        -- the send's API key, or the account's (the sender picks the key's first:
        -- webhook_endpoints_for). A message whose key and account have no endpoint
        -- gets no row; when no account of the batch has one, nothing is looked up.
        IF p_webhooks AND EXISTS (SELECT 1 FROM webhook_endpoints e WHERE e.account_id = ANY (v_accounts)) THEN
            INSERT INTO webhook_outbox (account_id, message_id, payload, api_key_id)
            SELECT m.account_id, m.id,
                   jsonb_build_object(
                       'event', 'sms.status', 'id', m.public_id, 'campaignId', c.public_id,
                       'to', m.destination,
                       'status', CASE m.state WHEN 'delivered' THEN 'sent' ELSE m.state::text END,
                       'reference', c.reference,
                       'timestamp', (SELECT to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'))),
                   c.api_key_id
            FROM messages m JOIN campaigns c ON c.id = m.campaign_id
            WHERE m.id = ANY (v_final) AND EXISTS (
                SELECT 1 FROM webhook_endpoints e
                WHERE e.account_id = m.account_id AND (e.api_key_id IS NULL OR e.api_key_id = c.api_key_id));
        END IF;
        PERFORM settle_messages(
            v_final,
            array_fill('charge'::ledger_kind, ARRAY[cardinality(v_sent)])
                || array_fill('refund'::ledger_kind, ARRAY[cardinality(v_failed)]),
            v_accounts);
    END IF;

    RETURN QUERY SELECT s, 'delivered'::text FROM unnest(v_sent) AS s
                 UNION ALL SELECT f, 'failed'::text FROM unnest(v_failed) AS f;
END $$;
