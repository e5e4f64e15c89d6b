-- One writer flush in one call (bridge/dispatch/apply.py packs the arrays): the
-- daemon is one thread, and a flush of about ten statements waited for it
-- between each two of them; here the writer sends one statement, which commits
-- on its own. Each part move cites its event in bridge/store/lifecycle.py.
--
-- Arguments, one array per column:
--   a_*: accepted submit outcomes (message, seq, owner, attempts, carrier, carrier
--        message id, id_key, riders = concat "payload" parts 2.. ride along; fold =
--        the 1-based position in r_* of this key's first final receipt, when the
--        key is this batch's only accepted part with it, else NULL, and that
--        receipt's state, stat and error code, passed along so that no statement
--        subscripts r_*: an element of a text array, or of one with NULLs, is
--        found by walking it from the start);
--   f_*: permanent failures (..., error code, reason);  q_*: back to the queue
--        (..., attempt to undo 0/1, delay s);
--   u_*: unknown outcomes (message, seq, owner, attempt, carrier, grace in s);
--   l_*: late responses with an id (message, seq, attempt that wrote it, carrier,
--        carrier message id, id_key): a submit_sm_resp ESME_ROK that came after
--        its submit had ended unknown (DESIGN.md "Reliability rules": "a late
--        resp is still applied");
--   r_*: receipts in arrival order (carrier, id_key, 'pending' | 'accepted' |
--        'delivered' | 'failed', stat, error code).
-- Every UPDATE carries the state it expects, as the lifecycle table says: a
-- duplicate, or a part recovered meanwhile by another daemon, matches nothing.
-- Returns the counts, and the positions in r_* of receipts whose id is not known
-- yet; the caller parks those (it has their parsed form) before it acknowledges
-- them. `unknown`: the parts that became unknown (not those cancelled).
--
-- Plan settings: each batch key looked up through an index, whatever the
-- statistics: no sequential, bitmap, hash, merge or materialize plans (on freshly
-- loaded tables PostgreSQL chose whole-index scans that cost 150-750 ms per
-- flush, docs/pipeline.md "Performance"); receipt matching and settlement are
-- LATERAL lookups. With the plan shapes pinned like this the generic plans are
-- the same index probes, and planning about fifteen statements per call was most
-- of a call's fixed cost (2.2-2.8 ms of PostgreSQL CPU with custom plans, 0.5-0.7
-- ms with generic ones). Generic plans are rebuilt when ANALYZE changes a table's
-- statistics.
CREATE OR REPLACE FUNCTION apply_flush(
    a_m bigint[], a_s int[], a_o bigint[], a_a int[], a_c text[], a_cid text[], a_k text[],
    a_riders boolean[], a_fold int[], a_fold_st text[], a_fold_stat text[], a_fold_e int[],
    f_m bigint[], f_s int[], f_o bigint[], f_a int[], f_c text[], f_e int[], f_why text[],
    q_m bigint[], q_s int[], q_o bigint[], q_a int[], q_c text[], q_undo int[], q_d float8[],
    u_m bigint[], u_s int[], u_o bigint[], u_a int[], u_c text[], u_d float8[],
    l_m bigint[], l_s int[], l_a int[], l_c text[], l_cid text[], l_k text[],
    r_c text[], r_k text[], r_st text[], r_stat text[], r_e int[],
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
    pk_c text[];
    pk_k text[];
    pk_st text[];
    pk_stat text[];
    pk_e int[];
    v_one_ids bigint[];
    v_one_st text[];
    v_one_err text[];
    v_several bigint[];
BEGIN
    accepted := 0; rejected := 0; requeued := coalesce(cardinality(q_m), 0); late_applied := 0;
    receipts_applied := 0; receipts_duplicate := 0; parked_applied := 0; sent := 0; failed := 0;
    unknown := 0;

    -- lifecycle: ACCEPT then RECEIPT. Accepted and its final receipt in the same
    -- flush: one UPDATE from submitting to the final state, instead of two row
    -- versions. A key with a receipt parked earlier is left to the ordinary path,
    -- so that receipt wins.
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

    v_consumed := array_fill(false, ARRAY[coalesce(cardinality(r_c), 0)]);
    FOREACH v_i IN ARRAY v_folded LOOP
        v_consumed[v_i] := true;
    END LOOP;

    -- lifecycle: ACCEPT, and RIDE for the parts 2.. of a payload message.
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

    -- lifecycle: REJECT.
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

    -- lifecycle: REQUEUE. Back to the queue. A release did not send anything: its attempt is not counted.
    IF requeued > 0 THEN
        UPDATE message_parts p
        SET state = 'queued', owner_instance = NULL, carrier = coalesce(u.c, p.carrier),
            attempts = p.attempts - u.undo, next_attempt_at = now() + make_interval(secs => u.d)
        FROM unnest(q_m, q_s, q_o, q_a, q_c, q_undo, q_d) AS u(m, s, o, at, c, undo, d)
        WHERE p.message_id = u.m AND p.seq = u.s AND p.state::text = 'submitting'
          AND p.owner_instance = u.o AND p.attempts = u.at;
    END IF;

    -- lifecycle: UNKNOWN_OUTCOME. Unknown outcomes wait for their grace (a part of a
    -- failed message is cancelled instead: CANCELLED_ON_RETURN).
    IF cardinality(u_m) > 0 THEN
        -- Counted as they are stored: not those the trigger cancelled.
        WITH upd AS (
            UPDATE message_parts p
            SET state = 'unknown', carrier = u.c, next_attempt_at = now() + make_interval(secs => u.d),
                unknown_at = now()
            FROM unnest(u_m, u_s, u_o, u_a, u_c, u_d) AS u(m, s, o, at, c, d)
            WHERE p.message_id = u.m AND p.seq = u.s AND p.state::text = 'submitting'
              AND p.owner_instance = u.o AND p.attempts = u.at
            RETURNING p.state::text AS st
        )
        SELECT count(*) FILTER (WHERE st = 'unknown') INTO unknown FROM upd;
    END IF;

    -- lifecycle: LATE_RESPONSE. Late responses with an id, under the attempt that wrote them: a part still
    -- unknown or back in the queue becomes submitted; one failed for its unknown
    -- outcome keeps the id (its receipt is then recognised).
    IF cardinality(l_m) > 0 THEN
        WITH upd AS (
            UPDATE message_parts p
            SET state = CASE WHEN p.state::text IN ('queued', 'unknown') THEN 'submitted'
                             ELSE p.state::text END::part_state,
                submitted_at = CASE WHEN p.state::text IN ('queued', 'unknown') THEN now() ELSE p.submitted_at END,
                carrier = u.c, carrier_message_id = u.cid, id_key = u.k
            FROM unnest(l_m, l_s, l_a, l_c, l_cid, l_k) AS u(m, s, at, c, cid, k)
            WHERE p.message_id = u.m AND p.seq = u.s AND p.attempts = u.at AND p.carrier_message_id IS NULL
              AND (p.state::text IN ('queued', 'unknown')
                   OR (p.state::text = 'failed' AND p.receipt_stat = 'unknown_outcome'))
            RETURNING u.c, u.k
        )
        SELECT v_landed_c || coalesce(array_agg(c), '{}'), v_landed_k || coalesce(array_agg(k), '{}'),
               count(*)
        INTO v_landed_c, v_landed_k, late_applied FROM upd;
    END IF;

    -- Receipts parked for the keys that just landed come first, in arrival order.
    IF cardinality(v_landed_c) > 0 THEN
        SELECT coalesce(array_agg(id ORDER BY id), '{}'), array_agg(carrier ORDER BY id),
               array_agg(id_key ORDER BY id), array_agg(status ORDER BY id), array_agg(stat ORDER BY id),
               array_agg(error_code ORDER BY id)
        INTO pk_id, pk_c, pk_k, pk_st, pk_stat, pk_e
        FROM (SELECT r.* FROM parked_receipts r, unnest(v_landed_c, v_landed_k) AS k(c, key)
              WHERE r.carrier = k.c AND r.id_key = k.key AND r.status IS NOT NULL
              FOR UPDATE OF r) x;
    END IF;

    -- lifecycle: RECEIPT (query_sm answers come as receipts: QUERY_ANSWER), RECEIPT_NOT_FINAL.
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
        ), pend AS (
            -- Not final (ENROUTE, ACCEPTD): the last one is recorded on a part that
            -- has no final receipt here; ACCEPTED starts its accepted_timeout.
            SELECT DISTINCT ON (m.message_id, m.seq) m.*,
                   bool_or(m.st = 'accepted') OVER (PARTITION BY m.message_id, m.seq) AS any_accepted,
                   count(*) OVER (PARTITION BY m.message_id, m.seq) AS n
            FROM m WHERE m.st IN ('pending', 'accepted')
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

    -- lifecycle: FINALIZE. Messages follow the parts that became final here (a message of one part
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

