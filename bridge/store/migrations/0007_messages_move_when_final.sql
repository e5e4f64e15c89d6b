-- smpp-bridge schema, version 7: a message row changes once, when it becomes
-- final, and in place (HOT); the recovery index holds only parts being submitted
-- (docs/pipeline.md "Performance", docs/store.md "States").
--
-- Why: measured with EXPLAIN ANALYZE on 1,000 one-part messages, PostgreSQL
-- spent about 20 us per message moving the message row to `submitted` when its
-- part's submit_sm_resp landed (a row lock and an update). The public status of
-- a message is `pending` for queued and submitted alike (seed 000), and where a
-- message is at the carrier is its parts' state (DESIGN.md "Message lifecycle":
-- the part gets the carrier id, the message stays pending). So messages now
-- stay `queued` until they are final, and finalize_messages moves only messages
-- that become delivered or failed. Rows already `submitted` (written by an
-- older release) are pending too and finish the same way.
--
-- message_parts_inflight indexed parts `submitting` and `submitted` by owner,
-- but only `submitting` parts are looked up by owner (recovery of a dead
-- daemon's parts, bridge/dispatch/sweeper.py). Every accepted part paid an
-- index entry nobody read. On a large table this index build holds a lock
-- that blocks writes to message_parts while it runs: migrate while the
-- daemons are stopped (docs/operations.md "Upgrades").
-- With one update per row, fillfactor 70 (migration 0005) left room on a page for
-- about half of its rows' new versions: in a 30,000-message benchmark run 51% of
-- the updates were HOT and the others wrote an entry into each of the four
-- indexes of messages on another page. At 50 every one was HOT (30,000 of
-- 30,000), and the table ended no larger (10.2 MB against 10.9 MB), since a
-- non-HOT version takes room elsewhere too. Pages written before keep theirs.
ALTER TABLE messages SET (fillfactor = 50);

DROP INDEX message_parts_inflight;
CREATE INDEX message_parts_inflight ON message_parts (owner_instance) WHERE state = 'submitting';

-- As in version 6, with one change: p_one_* entries whose state is not final
-- are ignored, and a message of several parts moves only when a part failed or
-- every part is delivered. The caller passes only messages with a part that
-- became final in its transaction (a message cannot become final otherwise).
CREATE OR REPLACE FUNCTION finalize_messages(
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
        SET state = u.st::message_state, final_at = now(), updated_at = now(),
            error = CASE WHEN u.st = 'failed' THEN coalesce(m.error, u.err) ELSE m.error END
        FROM unnest(p_one_ids, p_one_states, p_one_errors) AS u(id, st, err)
        WHERE m.id = u.id AND u.st IN ('delivered', 'failed')
          AND m.state NOT IN ('delivered', 'failed', 'invalid')
        RETURNING m.id, m.state::text AS st
    )
    SELECT coalesce(array_agg(id) FILTER (WHERE st = 'delivered'), '{}'),
           coalesce(array_agg(id) FILTER (WHERE st = 'failed'), '{}')
    INTO v_sent, v_failed FROM updated;

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
