-- smpp-bridge schema, version 17: the writer's flush takes typed rows, and costs
-- PostgreSQL less per message (docs/pipeline.md "Performance", docs/store.md
-- "The writer's flush").
--
-- 1. apply_flush takes one array of a composite type per kind of row (accepted
--    submits, failed submits, requeued submits, unknown outcomes, late responses,
--    receipts) instead of 39 parallel arrays, one per column: a row's fields are
--    named on both sides (bridge/dispatch/apply.py builds the tuples in the
--    types' field order). asyncpg encodes a composite array in one pass and
--    checks each row once, where it checked each element of each array.
-- 2. A receipt finds its part with one probe of message_parts_id_key: the newest
--    message under the key is picked by a window over the key's rows, where a
--    second probe (max(message_id)) read the same index entries again.
-- 3. finalize_messages learns the accounts from the rows it moves: the outbox
--    INSERT (one probe of messages, campaigns and webhook_endpoints per message)
--    runs only when an account of the batch has an endpoint, and
--    settle_messages gets the accounts instead of looking each message up again.
-- 4. claim_parts: the daemon's claim as a function with the plan settings of
--    apply_flush. As a plain statement its plan followed the table's statistics;
--    on a fresh database filled while the daemon runs, those said "empty" until
--    autovacuum's ANALYZE, and the claim scanned every part meanwhile.

CREATE TYPE flush_accepted AS (
    message_id         bigint,
    seq                int,
    owner_instance     bigint,   -- the claim's daemon_instances.id
    attempt            int,      -- message_parts.attempts after the claim
    carrier            text,
    carrier_message_id text,
    id_key             text,
    riders             boolean,  -- concat "payload": parts 2.. of the message follow this one
    -- The key's first final receipt of this flush, folded into this row (the
    -- key is the flush's only accepted part with it), else all NULL: its
    -- 1-based position in the receipts, its part state, stat and error code.
    -- Carried here so that no statement subscripts the receipts array (an
    -- element of an array of variable-length rows is found by walking it).
    fold_position      int,
    fold_state         text,
    fold_stat          text,
    fold_error_code    int
);

CREATE TYPE flush_failed AS (
    message_id     bigint,
    seq            int,
    owner_instance bigint,
    attempt        int,
    carrier        text,
    error_code     int,    -- the submit_sm_resp command_status, or NULL (not sent)
    reason         text    -- stored as receipt_stat: why it failed
);

CREATE TYPE flush_requeued AS (
    message_id     bigint,
    seq            int,
    owner_instance bigint,
    attempt        int,
    carrier        text,
    not_sent       boolean,  -- a release: nothing was written, the attempt is not counted
    delay_s        float8    -- seconds before it may be claimed again
);

CREATE TYPE flush_unknown AS (
    message_id     bigint,
    seq            int,
    owner_instance bigint,
    attempt        int,
    carrier        text,
    grace_s        float8    -- the carrier's unknown_outcome_grace
);

CREATE TYPE flush_late AS (
    message_id         bigint,
    seq                int,
    attempt            int,  -- the attempt that wrote the submit_sm
    carrier            text,
    carrier_message_id text,
    id_key             text
);

CREATE TYPE flush_receipt AS (
    carrier    text,
    id_key     text,
    part_state text,  -- 'pending' | 'accepted' | 'delivered' | 'failed'
    stat       text,
    error_code int
);

DROP FUNCTION apply_flush(
    bigint[], int[], bigint[], int[], text[], text[], text[], boolean[], int[], text[], text[], int[],
    bigint[], int[], bigint[], int[], text[], int[], text[],
    bigint[], int[], bigint[], int[], text[], int[], float8[],
    bigint[], int[], bigint[], int[], text[], float8[],
    bigint[], int[], int[], text[], text[], text[],
    text[], text[], text[], text[], int[], boolean, text);

-- settle_messages gains p_accounts (the accounts of p_ids, when the caller has them).
DROP FUNCTION settle_messages(bigint[], ledger_kind[]);

-- Charge or refund the reservations of messages, idempotently: a message already
-- settled, or without a reservation (invalid, no route), is skipped
-- (ledger_one_settlement). Accounts are locked in id order first, so concurrent
-- writers cannot deadlock on them; p_accounts names them when the caller knows
-- them (finalize_messages), else they are looked up. Account counters move once
-- per account; the ledger keeps one row per message. Returns how many messages
-- were settled now.
CREATE FUNCTION settle_messages(p_ids bigint[], p_kinds ledger_kind[], p_accounts bigint[] DEFAULT NULL)
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
            -- ledger again.
            SELECT l.account_id, l.message_id, l.amount FROM ledger l
            WHERE l.message_id = w.message_id AND l.kind = 'reservation' LIMIT 1
        ) r
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

-- Messages follow their parts (docs/pipeline.md "Messages follow their parts"):
-- p_one_*: messages of one part with that part's final state and error;
-- p_several: messages of several parts, aggregated here (failed as soon as a
-- part failed, sent when every part is delivered). Locks, moves, writes the
-- outbox rows of messages somebody receives and settles the money; returns the
-- messages that became final. p_default_url is not read (endpoints live in
-- webhook_endpoints).
CREATE OR REPLACE FUNCTION finalize_messages(
    p_one_ids bigint[], p_one_states text[], p_one_errors text[], p_several bigint[],
    p_webhooks boolean, p_default_url text
) RETURNS TABLE (message_id bigint, final_state text)
LANGUAGE plpgsql AS $$
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
        RETURNING m.id, m.state::text AS st, m.account_id
    )
    SELECT coalesce(array_agg(id) FILTER (WHERE st = 'delivered'), '{}'),
           coalesce(array_agg(id) FILTER (WHERE st = 'failed'), '{}'),
           coalesce(array_agg(DISTINCT account_id), '{}')
    INTO v_sent, v_failed, v_accounts FROM updated;

    IF cardinality(p_several) > 0 THEN
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
            RETURNING m.id, m.state::text AS st, m.account_id
        )
        SELECT coalesce(array_agg(id) FILTER (WHERE st = 'delivered'), '{}'),
               coalesce(array_agg(id) FILTER (WHERE st = 'failed'), '{}'),
               coalesce(array_agg(DISTINCT account_id), '{}')
        INTO v_sent_several, v_failed_several, v_accounts_several FROM updated;

        -- A failed message is refunded at once: its parts still queued are not sent
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

-- One writer flush (bridge/dispatch/apply.py): submit outcomes, late responses
-- and receipts applied, then the messages they finished moved and settled.
-- Every UPDATE carries the state it expects in its WHERE clause, so a duplicate
-- response or receipt, or a part recovered meanwhile by another daemon, matches
-- nothing. Returns counts, and the positions in p_receipts of receipts whose id
-- is not known yet; the caller parks those before it acknowledges them.
--
-- Plan settings: the arrays are a flush (hundreds to a few thousand rows) and
-- the tables are large; the plans stay driven by the arrays, by index, whatever
-- the statistics say (a fresh database, or one filled faster than autovacuum
-- analyses it), and a generic plan is kept per statement (docs/pipeline.md
-- "Performance").
CREATE FUNCTION apply_flush(
    p_accepted flush_accepted[], p_failed flush_failed[], p_requeued flush_requeued[],
    p_unknown flush_unknown[], p_late flush_late[], p_receipts flush_receipt[],
    p_webhooks boolean, p_default_url text,
    OUT accepted int, OUT rejected int, OUT requeued int, OUT receipts_applied int,
    OUT receipts_duplicate int, OUT parked_applied int, OUT sent int, OUT failed int,
    OUT unmatched int[], OUT late_applied int, OUT unknown int)
LANGUAGE plpgsql
SET plan_cache_mode = force_generic_plan SET enable_seqscan = off SET enable_bitmapscan = off
SET enable_hashjoin = off SET enable_mergejoin = off SET enable_material = off
AS $$
DECLARE
    -- Parts made final in this call: message, parts of the message, state, error.
    t_m bigint[] := '{}';
    t_total int[] := '{}';
    t_st text[] := '{}';
    t_err text[] := '{}';
    v_m bigint[];
    v_total int[];
    v_st text[];
    v_err text[];
    v_folded int[] := '{}';
    v_consumed boolean[];
    v_landed_c text[] := '{}';
    v_landed_k text[] := '{}';
    v_matched int;
    v_applied int;
    v_unmatched int[];
    v_i int;
    -- Parked receipts of the keys that landed here, in arrival order (locked).
    pk_id bigint[] := '{}';
    pk_rows flush_receipt[] := '{}';
    v_one_ids bigint[];
    v_one_st text[];
    v_one_err text[];
    v_several bigint[];
BEGIN
    accepted := 0; rejected := 0; requeued := coalesce(cardinality(p_requeued), 0); late_applied := 0;
    receipts_applied := 0; receipts_duplicate := 0; parked_applied := 0; sent := 0; failed := 0;
    unknown := 0;

    -- Accepted and its final receipt in the same flush: one UPDATE from
    -- submitting to the final state, instead of two row versions. A key with a
    -- receipt parked earlier is left to the ordinary path, so that receipt wins.
    IF EXISTS (SELECT 1 FROM unnest(p_accepted) AS a WHERE a.fold_position IS NOT NULL) THEN
        WITH cand AS (
            SELECT a.* FROM unnest(p_accepted) AS a
            WHERE a.fold_position IS NOT NULL
              AND NOT EXISTS (SELECT 1 FROM parked_receipts pr WHERE pr.carrier = a.carrier AND pr.id_key = a.id_key)
        ), upd AS (
            UPDATE message_parts p
            SET state = cand.fold_state::part_state, carrier = cand.carrier,
                carrier_message_id = cand.carrier_message_id, id_key = cand.id_key,
                submitted_at = now(), final_at = now(),
                receipt_stat = cand.fold_stat, error_code = cand.fold_error_code
            FROM cand
            WHERE p.message_id = cand.message_id AND p.seq = cand.seq AND p.state::text = 'submitting'
              AND p.owner_instance = cand.owner_instance AND p.attempts = cand.attempt
            RETURNING p.message_id, p.total, p.state::text AS st,
                coalesce(p.receipt_stat, 'submit_error_' || p.error_code::text, 'failed') AS err, cand.fold_position
        )
        SELECT coalesce(array_agg(message_id), '{}'), coalesce(array_agg(total), '{}'),
               coalesce(array_agg(st), '{}'), coalesce(array_agg(err), '{}'), coalesce(array_agg(fold_position), '{}')
        INTO v_m, v_total, v_st, v_err, v_folded FROM upd;
        t_m := t_m || v_m; t_total := t_total || v_total; t_st := t_st || v_st; t_err := t_err || v_err;
        accepted := accepted + cardinality(v_folded);
        receipts_applied := receipts_applied + cardinality(v_folded);
    END IF;

    -- Receipts taken by a fold (a boolean array: subscripting it is direct).
    v_consumed := array_fill(false, ARRAY[coalesce(cardinality(p_receipts), 0)]);
    FOREACH v_i IN ARRAY v_folded LOOP
        v_consumed[v_i] := true;
    END LOOP;

    IF cardinality(p_accepted) > cardinality(v_folded) THEN
        WITH upd AS (
            UPDATE message_parts p
            SET state = 'submitted', carrier = a.carrier, carrier_message_id = a.carrier_message_id,
                id_key = a.id_key, submitted_at = now()
            FROM unnest(p_accepted) AS a
            WHERE (a.fold_position IS NULL OR NOT v_consumed[a.fold_position])
              AND p.message_id = a.message_id AND p.seq = a.seq AND p.state::text = 'submitting'
              AND p.owner_instance = a.owner_instance AND p.attempts = a.attempt
            RETURNING a.message_id, a.carrier, a.id_key, a.carrier_message_id, a.riders
        ), riders AS (
            UPDATE message_parts r
            SET state = 'submitted', carrier = upd.carrier, carrier_message_id = upd.carrier_message_id,
                id_key = upd.id_key, submitted_at = now()
            FROM upd
            WHERE upd.riders AND r.message_id = upd.message_id AND r.seq > 1 AND r.state::text = 'queued'
        )
        SELECT coalesce(array_agg(carrier), '{}'), coalesce(array_agg(id_key), '{}')
        INTO v_landed_c, v_landed_k FROM upd;
        accepted := accepted + cardinality(v_landed_c);
    END IF;

    IF cardinality(p_failed) > 0 THEN
        WITH upd AS (
            UPDATE message_parts p
            SET state = 'failed', carrier = coalesce(f.carrier, p.carrier), error_code = f.error_code,
                receipt_stat = f.reason, final_at = now()
            FROM unnest(p_failed) AS f
            WHERE p.message_id = f.message_id AND p.seq = f.seq AND p.state::text = 'submitting'
              AND p.owner_instance = f.owner_instance AND p.attempts = f.attempt
            RETURNING p.message_id, p.total, 'failed'::text AS st,
                coalesce(p.receipt_stat, 'submit_error_' || p.error_code::text, 'failed') AS err
        )
        SELECT coalesce(array_agg(message_id), '{}'), coalesce(array_agg(total), '{}'),
               coalesce(array_agg(st), '{}'), coalesce(array_agg(err), '{}')
        INTO v_m, v_total, v_st, v_err FROM upd;
        t_m := t_m || v_m; t_total := t_total || v_total; t_st := t_st || v_st; t_err := t_err || v_err;
        rejected := cardinality(v_m);
    END IF;

    -- Back to the queue. A release did not send anything: its attempt is not counted.
    IF requeued > 0 THEN
        UPDATE message_parts p
        SET state = 'queued', owner_instance = NULL, carrier = coalesce(q.carrier, p.carrier),
            attempts = p.attempts - CASE WHEN q.not_sent THEN 1 ELSE 0 END,
            next_attempt_at = now() + make_interval(secs => q.delay_s)
        FROM unnest(p_requeued) AS q
        WHERE p.message_id = q.message_id AND p.seq = q.seq AND p.state::text = 'submitting'
          AND p.owner_instance = q.owner_instance AND p.attempts = q.attempt;
    END IF;

    -- Unknown outcomes wait for their grace (a part of a failed message is
    -- cancelled instead, by the trigger part_of_failed_message_is_cancelled).
    IF cardinality(p_unknown) > 0 THEN
        -- Counted as they are stored: not those the trigger cancelled.
        WITH upd AS (
            UPDATE message_parts p
            SET state = 'unknown', carrier = u.carrier, next_attempt_at = now() + make_interval(secs => u.grace_s),
                unknown_at = now()
            FROM unnest(p_unknown) AS u
            WHERE p.message_id = u.message_id AND p.seq = u.seq AND p.state::text = 'submitting'
              AND p.owner_instance = u.owner_instance AND p.attempts = u.attempt
            RETURNING p.state::text AS st
        )
        SELECT count(*) FILTER (WHERE st = 'unknown') INTO unknown FROM upd;
    END IF;

    -- Late responses with an id, under the attempt that wrote them: a part still
    -- unknown or back in the queue becomes submitted; one failed for its unknown
    -- outcome keeps the id (its receipt is then recognised).
    IF cardinality(p_late) > 0 THEN
        WITH upd AS (
            UPDATE message_parts p
            SET state = CASE WHEN p.state::text IN ('queued', 'unknown') THEN 'submitted'
                             ELSE p.state::text END::part_state,
                submitted_at = CASE WHEN p.state::text IN ('queued', 'unknown') THEN now() ELSE p.submitted_at END,
                carrier = l.carrier, carrier_message_id = l.carrier_message_id, id_key = l.id_key
            FROM unnest(p_late) AS l
            WHERE p.message_id = l.message_id AND p.seq = l.seq AND p.attempts = l.attempt
              AND p.carrier_message_id IS NULL
              AND (p.state::text IN ('queued', 'unknown')
                   OR (p.state::text = 'failed' AND p.receipt_stat = 'unknown_outcome'))
            RETURNING l.carrier, l.id_key
        )
        SELECT v_landed_c || coalesce(array_agg(carrier), '{}'), v_landed_k || coalesce(array_agg(id_key), '{}'),
               count(*)
        INTO v_landed_c, v_landed_k, late_applied FROM upd;
    END IF;

    -- Receipts parked for the keys that just landed come first, in arrival order.
    IF cardinality(v_landed_c) > 0 THEN
        SELECT coalesce(array_agg(id ORDER BY id), '{}'),
               coalesce(array_agg((carrier, id_key, status, stat, error_code)::flush_receipt ORDER BY id), '{}')
        INTO pk_id, pk_rows
        FROM (SELECT r.* FROM parked_receipts r, unnest(v_landed_c, v_landed_k) AS k(c, key)
              WHERE r.carrier = k.c AND r.id_key = k.key AND r.status IS NOT NULL
              FOR UPDATE OF r) x;
    END IF;

    IF cardinality(pk_id) > 0 OR cardinality(p_receipts) > 0 THEN
        -- Positions: parked receipts negative (before the batch), the batch's 1..n.
        WITH s AS (
            SELECT u.ord - 1 - cardinality(pk_id) AS ord, u.carrier, u.id_key, u.part_state, u.stat, u.error_code
            FROM unnest(pk_rows) WITH ORDINALITY AS u(carrier, id_key, part_state, stat, error_code, ord)
            UNION ALL
            SELECT u.ord, u.carrier, u.id_key, u.part_state, u.stat, u.error_code
            FROM unnest(p_receipts) WITH ORDINALITY AS u(carrier, id_key, part_state, stat, error_code, ord)
            WHERE NOT v_consumed[u.ord]
        ), m AS (
            -- The newest message under the key (carriers reuse ids over months:
            -- docs/store.md), all its parts: a payload message's riders share
            -- part 1's key. One probe of the key's index entries.
            SELECT s.ord, s.part_state, s.stat, s.error_code, p.message_id, p.seq
            FROM s CROSS JOIN LATERAL (
                SELECT k.message_id, k.seq FROM (
                    SELECT q.message_id, q.seq, max(q.message_id) OVER () AS newest
                    FROM message_parts q WHERE q.carrier = s.carrier AND q.id_key = s.id_key
                ) k WHERE k.message_id = k.newest
            ) p
        ), win AS (
            -- The first final receipt of a part wins.
            SELECT DISTINCT ON (m.message_id, m.seq) m.*
            FROM m WHERE m.part_state IN ('delivered', 'failed') ORDER BY m.message_id, m.seq, m.ord
        ), upd AS (
            UPDATE message_parts p
            SET state = win.part_state::part_state, receipt_stat = win.stat, error_code = win.error_code,
                final_at = now()
            FROM win
            WHERE p.message_id = win.message_id AND p.seq = win.seq
              AND p.state::text IN ('submitting', 'submitted')
            RETURNING p.message_id, p.total, p.state::text AS st,
                coalesce(p.receipt_stat, 'submit_error_' || p.error_code::text, 'failed') AS err, win.ord
        ), pend AS (
            -- Not final (ENROUTE, ACCEPTD): the last one is recorded on a part that
            -- has no final receipt here; ACCEPTED starts its accepted_timeout.
            SELECT DISTINCT ON (m.message_id, m.seq) m.*,
                   bool_or(m.part_state = 'accepted') OVER (PARTITION BY m.message_id, m.seq) AS any_accepted,
                   count(*) OVER (PARTITION BY m.message_id, m.seq) AS n
            FROM m WHERE m.part_state IN ('pending', 'accepted')
              AND NOT EXISTS (SELECT 1 FROM win WHERE win.message_id = m.message_id AND win.seq = m.seq)
            ORDER BY m.message_id, m.seq, m.ord DESC
        ), updp AS (
            UPDATE message_parts p
            SET receipt_stat = pend.stat,
                accepted_at = CASE WHEN pend.any_accepted THEN coalesce(p.accepted_at, now()) ELSE p.accepted_at END
            FROM pend
            WHERE p.message_id = pend.message_id AND p.seq = pend.seq AND p.state::text = 'submitted'
            RETURNING pend.n
        )
        SELECT (SELECT coalesce(array_agg(message_id), '{}') FROM upd),
               (SELECT coalesce(array_agg(total), '{}') FROM upd),
               (SELECT coalesce(array_agg(st), '{}') FROM upd),
               (SELECT coalesce(array_agg(err), '{}') FROM upd),
               (SELECT count(DISTINCT ord) FROM upd) + (SELECT coalesce(sum(n), 0) FROM updp)::int,
               (SELECT count(DISTINCT ord) FROM m),
               (SELECT coalesce(array_agg(s.ord ORDER BY s.ord), '{}') FROM s
                WHERE s.ord NOT IN (SELECT m.ord FROM m))
        INTO v_m, v_total, v_st, v_err, v_applied, v_matched, v_unmatched;
        t_m := t_m || v_m; t_total := t_total || v_total; t_st := t_st || v_st; t_err := t_err || v_err;
        receipts_applied := receipts_applied + v_applied;
        receipts_duplicate := receipts_duplicate + v_matched - v_applied;
        unmatched := array(SELECT o FROM unnest(v_unmatched) AS o WHERE o > 0);
        -- A parked receipt whose key landed always matches that part; should it
        -- not (the part changed under us), it stays parked as it was.
        IF cardinality(pk_id) > 0 THEN
            DELETE FROM parked_receipts r
            WHERE r.id = ANY (pk_id)
              AND r.id <> ALL (array(SELECT pk_id[o + 1 + cardinality(pk_id)] FROM unnest(v_unmatched) AS o
                                     WHERE o <= 0));
            parked_applied := cardinality(pk_id)
                - (SELECT count(*) FROM unnest(v_unmatched) AS o WHERE o <= 0);
        END IF;
    ELSE
        unmatched := '{}';
    END IF;

    -- Messages follow the parts that became final here (a message of one part
    -- takes its part's state as it is; others are aggregated over their parts).
    IF cardinality(t_m) > 0 THEN
        SELECT coalesce(array_agg(x.m) FILTER (WHERE x.total = 1), '{}'),
               coalesce(array_agg(x.st) FILTER (WHERE x.total = 1), '{}'),
               coalesce(array_agg(x.err) FILTER (WHERE x.total = 1), '{}'),
               coalesce(array_agg(x.m) FILTER (WHERE x.total <> 1), '{}')
        INTO v_one_ids, v_one_st, v_one_err, v_several
        FROM (SELECT DISTINCT ON (t.m) t.m, t.total, t.st, t.err
              FROM unnest(t_m, t_total, t_st, t_err) AS t(m, total, st, err) ORDER BY t.m) x;
        SELECT count(*) FILTER (WHERE f.final_state = 'delivered'),
               count(*) FILTER (WHERE f.final_state = 'failed')
        INTO sent, failed
        FROM finalize_messages(v_one_ids, v_one_st, v_one_err, v_several, p_webhooks, p_default_url) AS f;
    END IF;
END $$;

-- The claim (bridge/dispatch/claim.py): the oldest due queued parts of the routes
-- this daemon serves now, taken FOR UPDATE SKIP LOCKED and marked submitting under
-- p_owner (write ahead), with what their submit_sm needs. Only part 1 of a message
-- on a p_payload_routes route (concat "payload": its riders follow it). Parts are
-- claimed only while the owner's instance row is live in PostgreSQL's eyes (not
-- stopped, lease not expired).
--
-- The UPDATE finds the picked rows by ctid (a TID scan): joined on (message_id,
-- seq) instead, the planner hashed every queued part on each claim, a cost that
-- grew with the queue. A locked row's ctid cannot change before the statement
-- ends, and the state guard is checked again anyway. Plan settings as
-- apply_flush's: the claim follows the claim index whatever the statistics say.
CREATE FUNCTION claim_parts(p_owner bigint, p_limit int, p_routes text[], p_payload_routes text[])
RETURNS TABLE (
    message_id bigint, seq smallint, total smallint, body text, route text, attempts smallint,
    owner bigint, destination text, sender_id text, sender_ton smallint, sender_npi smallint,
    concat_ref int, campaign_body text, carrier text, queued_for float8)
LANGUAGE plpgsql
SET plan_cache_mode = force_generic_plan SET enable_seqscan = off SET enable_bitmapscan = off
SET enable_hashjoin = off SET enable_mergejoin = off SET enable_material = off
AS $$
#variable_conflict use_column
BEGIN
    RETURN QUERY
    WITH picked AS MATERIALIZED (
        SELECT q.ctid FROM message_parts q
        WHERE q.state = 'queued' AND q.next_attempt_at <= now() AND q.route = ANY (p_routes)
          AND (q.seq = 1 OR q.route <> ALL (p_payload_routes))
        ORDER BY q.next_attempt_at
        FOR UPDATE SKIP LOCKED
        LIMIT p_limit
    )
    UPDATE message_parts p
    SET state = 'submitting', owner_instance = d.id, attempts = p.attempts + 1, submitted_at = now()
    FROM daemon_instances d, messages m, campaigns c
    WHERE d.id = p_owner AND d.stopped_at IS NULL AND d.lease_until > now()
      AND p.ctid = ANY (ARRAY(SELECT picked.ctid FROM picked)) AND p.state = 'queued'
      AND m.id = p.message_id AND c.id = m.campaign_id
    RETURNING p.message_id, p.seq, p.total, p.body, p.route, p.attempts, d.id,
              m.destination, m.sender_id, m.sender_ton, m.sender_npi, m.concat_ref,
              c.body, p.carrier, extract(epoch FROM now() - m.created_at)::float8;
END $$;
