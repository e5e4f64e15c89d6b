-- smpp-bridge schema, version 9: three costs per message less in PostgreSQL
-- (docs/store.md "The claim names its owner without a foreign key"), and late
-- submit_sm_resp applied (section 3; docs/pipeline.md "Late responses").
-- Measured on 20,000 messages claimed and flushed by one backend (its CPU,
-- alternating runs): about 6 us per message of the 60-65 that claim and flush
-- cost.
--
-- 1. The foreign key message_parts.owner_instance -> daemon_instances goes.
--    Its check ran once per claimed part (a row lock on the instance row
--    through a query of its own): the claim took 14.6-15.5 us per part with
--    it, 11.1-12.3 without. What it guaranteed stays guaranteed:
--    - the claim (bridge/dispatch/claim.py) joins the owner's instance row and
--      takes parts only while that row is live (not stopped, lease not
--      expired), so a part can only be claimed under an existing instance, and
--      now also never under a lease PostgreSQL already considers expired;
--    - the claim is the only statement that sets owner_instance to a value
--      (recovery and requeues set NULL or keep it);
--    - an instance row still named by a part cannot be deleted (the trigger
--      below; nothing deletes instance rows today). Like the key's own check
--      on delete, it reads message_parts without an index on owner_instance
--      for all parts: a scan, for an operator's rare clean-up.
ALTER TABLE message_parts DROP CONSTRAINT message_parts_owner;

CREATE FUNCTION instance_still_owns_parts() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    found_id bigint;
BEGIN
    SELECT o.id INTO found_id FROM old_rows o
    WHERE EXISTS (SELECT 1 FROM message_parts p WHERE p.owner_instance = o.id)
    LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'daemon_instances % is still named by message_parts rows', found_id
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER daemon_instances_still_referenced AFTER DELETE ON daemon_instances
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION instance_still_owns_parts();

-- 2. The statement-level reference check of ledger and webhook_outbox rows
--    (migrations 0003, 0004) looks each account up once per statement, not
--    once per row: a flush's rows all name the same few accounts (0.67 ms per
--    1,000 rows before, per table, auto_explain). Messages are still looked up
--    per row (each row names its own). What is checked is unchanged; the
--    error for a missing account no longer names one of its rows' messages.
CREATE OR REPLACE FUNCTION references_exist() RETURNS trigger LANGUAGE plpgsql
SET enable_hashjoin = off SET enable_mergejoin = off SET enable_seqscan = off AS $$
DECLARE
    bad record;
BEGIN
    SELECT n.account_id, NULL::bigint AS message_id INTO bad
    FROM (SELECT DISTINCT account_id FROM new_rows) n
    WHERE NOT EXISTS (SELECT 1 FROM accounts a WHERE a.id = n.account_id)
    LIMIT 1;
    IF NOT FOUND THEN
        SELECT n.account_id, n.message_id INTO bad FROM new_rows n
        WHERE n.message_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.id = n.message_id)
        LIMIT 1;
    END IF;
    IF FOUND THEN
        RAISE EXCEPTION '% row names account % / message % that does not exist',
            TG_TABLE_NAME, bad.account_id, bad.message_id
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    RETURN NULL;
END $$;

-- 2a. settle_messages as in version 6, with both lookups driven by the batch,
--    whatever the statistics say. On tables that grew since their last
--    ANALYZE (a daemon started on an empty database, then loaded: autovacuum
--    analyzes a minute later at best), PostgreSQL took ledger for one row and
--    messages for a few: it scanned every reservation for each message being
--    settled (5.5 million rows filtered for 1,000: 513 ms) and every message
--    of the account to find its id (412 ms). Flushes passed the writer's
--    db_timeout, and their receipts were refused as if the database were down.
--    Now the account ids come from an array built once (messages by primary
--    key), and each reservation is a LATERAL lookup by message id (kept a
--    subquery by its LIMIT).
CREATE OR REPLACE FUNCTION settle_messages(p_ids bigint[], p_kinds ledger_kind[]) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    v_settled integer;
BEGIN
    PERFORM 1 FROM accounts
    WHERE id = ANY (ARRAY(SELECT DISTINCT m.account_id FROM messages m WHERE m.id = ANY (p_ids)))
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

-- 2b. Receipts parked by releases before migration 0008 have no status; the
--    sweeper applies them when their id lands, and looked only at those of the
--    last 10 minutes: an older one waited for the TTL. It now looks at every
--    row without a status through this index (new rows always have one).
CREATE INDEX parked_receipts_without_status ON parked_receipts (id) WHERE status IS NULL;

-- 3. apply_flush as in version 8, with three changes (the third, generic
--    plans, is explained at its SET clause):
--    - the UPDATE of accepted outcomes that did not fold no longer looks up
--      the folded ones too (it found them final and skipped them, at about
--      3 us each: 4.5 ms for a flush of 947 folded outcomes, auto_explain);
--    - late responses are applied (DESIGN.md "Reliability rules": "a late
--      resp is still applied"), from the new l_* arrays: a submit_sm_resp
--      ESME_ROK that came after its submit had ended Unknown (timeout), under
--      the attempt that wrote it. A part the unknown-outcome policy put back
--      in the queue ("resubmit") and not claimed again since becomes submitted
--      under the late id, so no second copy is sent. A part that failed for
--      the unknown outcome ("fail") stays failed (a final state) and keeps the
--      id, so that its receipt is recognised (a duplicate) instead of parked
--      until the TTL. Anything else (claimed again, sent again) is left alone.
--      The keys that land here unpark their receipts as accepted ones do.
--      New arguments and a new OUT column: the function is replaced.
DROP FUNCTION apply_flush(
    bigint[], int[], bigint[], int[], text[], text[], text[], boolean[], int[], text[], text[], int[],
    bigint[], int[], bigint[], int[], text[], int[], text[],
    bigint[], int[], bigint[], int[], text[], int[], float8[],
    text[], text[], text[], text[], int[], boolean, text);

-- l_*: late responses with an id (message, seq, attempt that wrote it, carrier,
-- carrier message id, id_key); the other arguments as in version 8.
CREATE FUNCTION apply_flush(
    a_m bigint[], a_s int[], a_o bigint[], a_a int[], a_c text[], a_cid text[], a_k text[],
    a_riders boolean[], a_fold int[], a_fold_st text[], a_fold_stat text[], a_fold_e int[],
    f_m bigint[], f_s int[], f_o bigint[], f_a int[], f_c text[], f_e int[], f_why text[],
    q_m bigint[], q_s int[], q_o bigint[], q_a int[], q_c text[], q_undo int[], q_d float8[],
    l_m bigint[], l_s int[], l_a int[], l_c text[], l_cid text[], l_k text[],
    r_c text[], r_k text[], r_st text[], r_stat text[], r_e int[],
    p_webhooks boolean, p_default_url text,
    OUT accepted int, OUT rejected int, OUT requeued int, OUT receipts_applied int,
    OUT receipts_duplicate int, OUT parked_applied int, OUT sent int, OUT failed int,
    OUT unmatched int[], OUT late_applied int)
LANGUAGE plpgsql
-- Each batch key looked up through an index, whatever the statistics: no
-- sequential, bitmap, hash, merge or materialize plans (on freshly loaded
-- tables PostgreSQL chose whole-index scans that cost 150-750 ms per flush,
-- docs/pipeline.md "Performance"); receipt matching and settlement are LATERAL
-- lookups. Version 8 also asked for a custom plan of every statement at every
-- call. With the plan shapes pinned like this the generic plans are the same
-- index probes, and planning about fifteen statements per call was most of a
-- call's fixed cost: 2.2-2.8 ms of PostgreSQL CPU with custom plans, 0.5-0.7
-- ms with generic ones (one backend, calls of 1 and 10 rows), that is about
-- 5 us per message at the benchmark's flush sizes. Generic plans are
-- rebuilt when ANALYZE (autovacuum's too) changes a table's statistics.
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
    -- Parked receipts taken out for the keys that landed here, in arrival order.
    pk_id bigint[] := '{}';
    pk_c text[];
    pk_k text[];
    pk_st text[];
    pk_stat text[];
    pk_e int[];
    pk_receipt jsonb[];
    pk_raw bytea[];
    pk_at timestamptz[];
    v_one_ids bigint[];
    v_one_st text[];
    v_one_err text[];
    v_several bigint[];
BEGIN
    accepted := 0; rejected := 0; requeued := coalesce(cardinality(q_m), 0); late_applied := 0;
    receipts_applied := 0; receipts_duplicate := 0; parked_applied := 0; sent := 0; failed := 0;

    -- Accepted and its final receipt in the same flush: one UPDATE from
    -- submitting to the final state, instead of two row versions. A key with a
    -- receipt parked earlier is left to the ordinary path, so that receipt wins.
    IF cardinality(array_remove(a_fold, NULL)) > 0 THEN
        WITH cand AS (
            SELECT u.* FROM unnest(a_m, a_s, a_o, a_a, a_c, a_cid, a_k, a_fold, a_fold_st, a_fold_stat, a_fold_e)
                AS u(m, s, o, at, c, cid, k, fi, st, stat, e)
            WHERE u.fi IS NOT NULL
              AND NOT EXISTS (SELECT 1 FROM parked_receipts pr WHERE pr.carrier = u.c AND pr.id_key = u.k)
        ), upd AS (
            UPDATE message_parts p
            SET state = cand.st::part_state, carrier = cand.c, carrier_message_id = cand.cid,
                id_key = cand.k, submitted_at = now(), final_at = now(),
                receipt_stat = cand.stat, error_code = cand.e
            FROM cand
            WHERE p.message_id = cand.m AND p.seq = cand.s AND p.state::text = 'submitting'
              AND p.owner_instance = cand.o AND p.attempts = cand.at
            RETURNING p.message_id, p.total, p.state::text AS st,
                coalesce(p.receipt_stat, 'submit_error_' || p.error_code::text, 'failed') AS err, cand.fi
        )
        SELECT coalesce(array_agg(message_id), '{}'), coalesce(array_agg(total), '{}'),
               coalesce(array_agg(st), '{}'), coalesce(array_agg(err), '{}'), coalesce(array_agg(fi), '{}')
        INTO v_m, v_total, v_st, v_err, v_folded FROM upd;
        t_m := t_m || v_m; t_total := t_total || v_total; t_st := t_st || v_st; t_err := t_err || v_err;
        accepted := accepted + cardinality(v_folded);
        receipts_applied := receipts_applied + cardinality(v_folded);
    END IF;

    -- The receipts a fold consumed are done; the others of their key are
    -- matched below and count as duplicates (their part is final).
    v_consumed := array_fill(false, ARRAY[coalesce(cardinality(r_c), 0)]);
    FOREACH v_i IN ARRAY v_folded LOOP
        v_consumed[v_i] := true;
    END LOOP;

    -- The other accepted parts: those that did not fold (a boolean array is
    -- subscripted in constant time). Looking the folded ones up again only to
    -- find them final cost about 2.4 us per message.
    -- concat "payload": parts 2.. ride along under part 1's carrier id.
    IF cardinality(a_m) > cardinality(v_folded) THEN
        WITH upd AS (
            UPDATE message_parts p
            SET state = 'submitted', carrier = u.c, carrier_message_id = u.cid, id_key = u.k,
                submitted_at = now()
            FROM unnest(a_m, a_s, a_o, a_a, a_c, a_cid, a_k, a_riders, a_fold)
                AS u(m, s, o, at, c, cid, k, riders, fi)
            WHERE (u.fi IS NULL OR NOT v_consumed[u.fi])
              AND p.message_id = u.m AND p.seq = u.s AND p.state::text = 'submitting'
              AND p.owner_instance = u.o AND p.attempts = u.at
            RETURNING u.m, u.c, u.k, u.cid, u.riders
        ), riders AS (
            UPDATE message_parts r
            SET state = 'submitted', carrier = upd.c, carrier_message_id = upd.cid, id_key = upd.k,
                submitted_at = now()
            FROM upd
            WHERE upd.riders AND r.message_id = upd.m AND r.seq > 1 AND r.state::text = 'queued'
        )
        SELECT coalesce(array_agg(c), '{}'), coalesce(array_agg(k), '{}') INTO v_landed_c, v_landed_k FROM upd;
        accepted := accepted + cardinality(v_landed_c);
    END IF;

    IF cardinality(f_m) > 0 THEN
        WITH upd AS (
            UPDATE message_parts p
            SET state = 'failed', carrier = coalesce(u.c, p.carrier), error_code = u.e,
                receipt_stat = u.why, final_at = now()
            FROM unnest(f_m, f_s, f_o, f_a, f_c, f_e, f_why) AS u(m, s, o, at, c, e, why)
            WHERE p.message_id = u.m AND p.seq = u.s AND p.state::text = 'submitting'
              AND p.owner_instance = u.o AND p.attempts = u.at
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
        SET state = 'queued', owner_instance = NULL, carrier = coalesce(u.c, p.carrier),
            attempts = p.attempts - u.undo, next_attempt_at = now() + make_interval(secs => u.d)
        FROM unnest(q_m, q_s, q_o, q_a, q_c, q_undo, q_d) AS u(m, s, o, at, c, undo, d)
        WHERE p.message_id = u.m AND p.seq = u.s AND p.state::text = 'submitting'
          AND p.owner_instance = u.o AND p.attempts = u.at;
    END IF;

    -- Late responses with an id, under the attempt that wrote them (see above).
    -- The daemon passes none for a message sent as one PDU (concat "payload"):
    -- its riders would need the id too; its receipt is parked as before.
    IF cardinality(l_m) > 0 THEN
        WITH upd AS (
            UPDATE message_parts p
            SET state = CASE WHEN p.state::text = 'queued' THEN 'submitted' ELSE p.state::text END::part_state,
                submitted_at = CASE WHEN p.state::text = 'queued' THEN now() ELSE p.submitted_at END,
                carrier = u.c, carrier_message_id = u.cid, id_key = u.k
            FROM unnest(l_m, l_s, l_a, l_c, l_cid, l_k) AS u(m, s, at, c, cid, k)
            WHERE p.message_id = u.m AND p.seq = u.s AND p.attempts = u.at AND p.carrier_message_id IS NULL
              AND (p.state::text = 'queued' OR (p.state::text = 'failed' AND p.receipt_stat = 'unknown_outcome'))
            RETURNING u.c, u.k
        )
        SELECT v_landed_c || coalesce(array_agg(c), '{}'), v_landed_k || coalesce(array_agg(k), '{}'),
               count(*)
        INTO v_landed_c, v_landed_k, late_applied FROM upd;
    END IF;

    -- Receipts parked for the keys that just landed come first, in arrival order.
    IF cardinality(v_landed_c) > 0 THEN
        WITH gone AS (
            DELETE FROM parked_receipts r USING unnest(v_landed_c, v_landed_k) AS k(c, key)
            WHERE r.carrier = k.c AND r.id_key = k.key AND r.status IS NOT NULL
            RETURNING r.*
        )
        SELECT coalesce(array_agg(id ORDER BY id), '{}'), array_agg(carrier ORDER BY id),
               array_agg(id_key ORDER BY id), array_agg(status ORDER BY id), array_agg(stat ORDER BY id),
               array_agg(error_code ORDER BY id), array_agg(receipt ORDER BY id),
               array_agg(raw ORDER BY id), array_agg(received_at ORDER BY id)
        INTO pk_id, pk_c, pk_k, pk_st, pk_stat, pk_e, pk_receipt, pk_raw, pk_at FROM gone;
        parked_applied := cardinality(pk_id);
    END IF;

    IF cardinality(pk_id) > 0 OR cardinality(r_c) > 0 THEN
        -- Positions: parked receipts negative (before the batch), the batch's 1..n.
        WITH s AS (
            SELECT u.ord - 1 - cardinality(pk_id) AS ord, u.c, u.k, u.st, u.stat, u.e
            FROM unnest(pk_c, pk_k, pk_st, pk_stat, pk_e) WITH ORDINALITY AS u(c, k, st, stat, e, ord)
            UNION ALL
            SELECT u.ord, u.c, u.k, u.st, u.stat, u.e
            FROM unnest(r_c, r_k, r_st, r_stat, r_e) WITH ORDINALITY AS u(c, k, st, stat, e, ord)
            WHERE NOT v_consumed[u.ord]
        ), m AS (
            -- The newest part under the key (carriers reuse ids over months:
            -- docs/store.md); a payload message's riders share part 1's key.
            SELECT s.ord, s.st, s.stat, s.e, p.message_id, p.seq
            FROM s CROSS JOIN LATERAL (
                SELECT q.message_id, q.seq FROM message_parts q
                WHERE q.carrier = s.c AND q.id_key = s.k
                  AND q.message_id = (SELECT max(r.message_id) FROM message_parts r
                                      WHERE r.carrier = s.c AND r.id_key = s.k)
            ) p
        ), win AS (
            -- The first final receipt of a part wins.
            SELECT DISTINCT ON (m.message_id, m.seq) m.*
            FROM m WHERE m.st IN ('delivered', 'failed') ORDER BY m.message_id, m.seq, m.ord
        ), upd AS (
            UPDATE message_parts p
            SET state = win.st::part_state, receipt_stat = win.stat, error_code = win.e, final_at = now()
            FROM win
            WHERE p.message_id = win.message_id AND p.seq = win.seq
              AND p.state::text IN ('submitting', 'submitted')
            RETURNING p.message_id, p.total, p.state::text AS st,
                coalesce(p.receipt_stat, 'submit_error_' || p.error_code::text, 'failed') AS err, win.ord
        )
        SELECT (SELECT coalesce(array_agg(message_id), '{}') FROM upd),
               (SELECT coalesce(array_agg(total), '{}') FROM upd),
               (SELECT coalesce(array_agg(st), '{}') FROM upd),
               (SELECT coalesce(array_agg(err), '{}') FROM upd),
               (SELECT count(DISTINCT ord) FROM upd),
               (SELECT count(DISTINCT ord) FROM m),
               (SELECT coalesce(array_agg(s.ord ORDER BY s.ord), '{}') FROM s
                WHERE s.ord NOT IN (SELECT m.ord FROM m))
        INTO v_m, v_total, v_st, v_err, v_applied, v_matched, v_unmatched;
        t_m := t_m || v_m; t_total := t_total || v_total; t_st := t_st || v_st; t_err := t_err || v_err;
        receipts_applied := receipts_applied + v_applied;
        receipts_duplicate := receipts_duplicate + v_matched - v_applied;
        unmatched := array(SELECT o FROM unnest(v_unmatched) AS o WHERE o > 0);
        -- A parked receipt whose key landed always matches that part; should it
        -- not (the part changed under us), it goes back to the parking as it was.
        INSERT INTO parked_receipts (carrier, id_key, receipt, raw, received_at, status, stat, error_code)
        SELECT pk_c[i], pk_k[i], pk_receipt[i], pk_raw[i], pk_at[i], pk_st[i], pk_stat[i], pk_e[i]
        FROM unnest(v_unmatched) AS o, LATERAL (SELECT o + 1 + cardinality(pk_id) AS i) x
        WHERE o <= 0;
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
