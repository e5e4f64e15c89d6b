-- One writer flush (bridge/dispatch/apply.py): submit outcomes, late responses
-- and receipts applied, then the messages they finished moved and settled.
-- Every UPDATE carries the state it expects in its WHERE clause, so a duplicate
-- response or receipt, or a part recovered meanwhile by another daemon, matches
-- nothing (each part move cites its event in bridge/store/lifecycle.py). A move to
-- a final state returns the state it set (no trigger changes a final NEW.state:
-- part_of_failed_message_is_cancelled fires for queued and unknown only), not the
-- row's enum converted back to text. Returns counts, and the positions of receipts whose id
-- is not known yet; the caller parks those before it acknowledges them.
--
-- Positions: the flush's receipts are numbered 1..n in the caller's order. A
-- receipt folded into an accepted row (its fold_position) is not sent again in
-- p_receipts, which holds the others in that order: p_receipts[j] is the j-th
-- position that no accepted row names. Should a fold not apply (a receipt of the
-- key parked earlier, a part no longer ours), its receipt is matched like the
-- others, from the accepted row's fold_* fields, at its own position.
--
-- submitted_at of an accepted part: when its submit_sm was written, submit_age
-- seconds before this call (the daemon's clock; migration 0023), not the flush's time.
--
-- Plan settings: the arrays are a flush (hundreds to a few thousand rows) and
-- the tables are large; the plans stay driven by the arrays, by index, whatever
-- the statistics say (a fresh database, or one filled faster than autovacuum
-- analyses it), and a generic plan is kept per statement (docs/pipeline.md
-- "Performance").
CREATE OR REPLACE FUNCTION apply_flush(
    p_accepted flush_accepted[], p_failed flush_failed[], p_requeued flush_requeued[],
    p_unknown flush_unknown[], p_late flush_late[], p_receipts flush_receipt[],
    p_webhooks boolean, p_default_url text,
    OUT accepted int, OUT rejected int, OUT requeued int, OUT receipts_applied int,
    OUT receipts_duplicate int, OUT parked_applied int, OUT sent int, OUT failed int,
    OUT unmatched int[], OUT late_applied int, OUT unknown int, OUT folded int)
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
    v_fpos int[];         -- the positions named by accepted rows (receipts not in p_receipts)
    v_all int;            -- receipts of the flush: p_receipts and those
    v_isfold boolean[];
    v_pos int[];          -- the position of each element of p_receipts; NULL: 1..n, no fold
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
    unknown := 0; folded := 0;

    -- lifecycle: ACCEPT then RECEIPT. Accepted and its final receipt in the same flush: one UPDATE from
    -- submitting to the final state, instead of two row versions. A key with a
    -- receipt parked earlier is left to the ordinary path, so that receipt wins.
    SELECT coalesce(array_agg(a.fold_position) FILTER (WHERE a.fold_position IS NOT NULL), '{}')
    INTO v_fpos FROM unnest(p_accepted) AS a;
    v_all := coalesce(cardinality(p_receipts), 0) + cardinality(v_fpos);
    IF cardinality(v_fpos) > 0 THEN
        v_isfold := array_fill(false, ARRAY[v_all]);
        FOREACH v_i IN ARRAY v_fpos LOOP
            IF v_i < 1 OR v_i > v_all OR v_isfold[v_i] THEN
                RAISE EXCEPTION 'apply_flush: fold position % out of 1..% or named twice', v_i, v_all;
            END IF;
            v_isfold[v_i] := true;
        END LOOP;
        v_pos := array(SELECT g FROM generate_series(1, v_all) AS g WHERE NOT v_isfold[g] ORDER BY g);
        WITH cand AS (
            SELECT a.* FROM unnest(p_accepted) AS a
            WHERE a.fold_position IS NOT NULL
              AND NOT EXISTS (SELECT 1 FROM parked_receipts pr WHERE pr.carrier = a.carrier AND pr.id_key = a.id_key)
        ), upd AS (
            UPDATE message_parts p
            SET state = cand.fold_state::part_state, carrier = cand.carrier,
                carrier_message_id = cand.carrier_message_id, id_key = cand.id_key,
                submitted_at = now() - make_interval(secs => coalesce(cand.submit_age, 0)), final_at = now(),
                receipt_stat = cand.fold_stat, error_code = cand.fold_error_code
            FROM cand
            WHERE p.message_id = cand.message_id AND p.seq = cand.seq AND p.state::text = 'submitting'
              AND p.owner_instance = cand.owner_instance AND p.attempts = cand.attempt
            RETURNING p.message_id, p.total, cand.fold_state AS st,
                coalesce(p.receipt_stat, 'submit_error_' || p.error_code::text, 'failed') AS err, cand.fold_position
        )
        SELECT coalesce(array_agg(message_id), '{}'), coalesce(array_agg(total), '{}'),
               coalesce(array_agg(st), '{}'), coalesce(array_agg(err), '{}'), coalesce(array_agg(fold_position), '{}')
        INTO v_m, v_total, v_st, v_err, v_folded FROM upd;
        t_m := t_m || v_m; t_total := t_total || v_total; t_st := t_st || v_st; t_err := t_err || v_err;
        accepted := accepted + cardinality(v_folded);
        receipts_applied := receipts_applied + cardinality(v_folded);
        folded := cardinality(v_folded);
    END IF;

    -- Receipts taken by a fold (a boolean array: subscripting it is direct).
    v_consumed := array_fill(false, ARRAY[v_all]);
    FOREACH v_i IN ARRAY v_folded LOOP
        v_consumed[v_i] := true;
    END LOOP;

    -- lifecycle: ACCEPT, and RIDE for the parts 2.. of a payload message.
    IF cardinality(p_accepted) > cardinality(v_folded) THEN
        WITH upd AS (
            UPDATE message_parts p
            SET state = 'submitted', carrier = a.carrier, carrier_message_id = a.carrier_message_id,
                id_key = a.id_key, submitted_at = now() - make_interval(secs => coalesce(a.submit_age, 0))
            FROM unnest(p_accepted) AS a
            WHERE (a.fold_position IS NULL OR NOT v_consumed[a.fold_position])
              AND p.message_id = a.message_id AND p.seq = a.seq AND p.state::text = 'submitting'
              AND p.owner_instance = a.owner_instance AND p.attempts = a.attempt
            RETURNING a.message_id, a.carrier, a.id_key, a.carrier_message_id, a.riders, p.submitted_at
        ), riders AS (
            UPDATE message_parts r
            SET state = 'submitted', carrier = upd.carrier, carrier_message_id = upd.carrier_message_id,
                id_key = upd.id_key, submitted_at = upd.submitted_at
            FROM upd
            WHERE upd.riders AND r.message_id = upd.message_id AND r.seq > 1 AND r.state::text = 'queued'
        )
        SELECT coalesce(array_agg(carrier), '{}'), coalesce(array_agg(id_key), '{}')
        INTO v_landed_c, v_landed_k FROM upd;
        accepted := accepted + cardinality(v_landed_c);
    END IF;

    -- lifecycle: REJECT.
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

    -- lifecycle: REQUEUE. Back to the queue. A release did not send anything: its attempt is not counted.
    IF requeued > 0 THEN
        UPDATE message_parts p
        SET state = 'queued', owner_instance = NULL, carrier = coalesce(q.carrier, p.carrier),
            attempts = p.attempts - CASE WHEN q.not_sent THEN 1 ELSE 0 END,
            next_attempt_at = now() + make_interval(secs => q.delay_s)
        FROM unnest(p_requeued) AS q
        WHERE p.message_id = q.message_id AND p.seq = q.seq AND p.state::text = 'submitting'
          AND p.owner_instance = q.owner_instance AND p.attempts = q.attempt;
    END IF;

    -- lifecycle: UNKNOWN_OUTCOME. Unknown outcomes wait for their grace (a part of a
    -- failed message is cancelled instead: CANCELLED_ON_RETURN).
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

    -- lifecycle: LATE_RESPONSE. Late responses with an id, under the attempt that wrote them: a part still
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

    -- lifecycle: RECEIPT (query_sm answers come as receipts: QUERY_ANSWER), RECEIPT_NOT_FINAL.
    IF cardinality(pk_id) > 0 OR cardinality(p_receipts) > 0 OR cardinality(v_folded) < cardinality(v_fpos) THEN
        -- Positions: parked receipts negative (before the batch), the batch's 1..n
        -- (those of p_receipts, and the folds that did not apply).
        WITH s AS (
            SELECT u.ord - 1 - cardinality(pk_id) AS ord, u.carrier, u.id_key, u.part_state, u.stat, u.error_code
            FROM unnest(pk_rows) WITH ORDINALITY AS u(carrier, id_key, part_state, stat, error_code, ord)
            UNION ALL
            SELECT coalesce(v_pos[u.ord], u.ord), u.carrier, u.id_key, u.part_state, u.stat, u.error_code
            FROM unnest(p_receipts) WITH ORDINALITY AS u(carrier, id_key, part_state, stat, error_code, ord)
            UNION ALL
            SELECT a.fold_position, a.carrier, a.id_key, a.fold_state, a.fold_stat, a.fold_error_code
            FROM unnest(p_accepted) AS a
            WHERE a.fold_position IS NOT NULL AND NOT v_consumed[a.fold_position]
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
            RETURNING p.message_id, p.total, win.part_state AS st,
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

    -- lifecycle: FINALIZE. Messages follow the parts that became final here (a message of one part
    -- takes its part's state as it is; others are aggregated over their parts). A
    -- part becomes final at most once per flush (every move above guards the state
    -- it leaves), so a message of one part is listed once: only the others need
    -- DISTINCT. finalize_messages sorts what it locks itself.
    IF cardinality(t_m) > 0 THEN
        SELECT coalesce(array_agg(t.m) FILTER (WHERE t.total = 1), '{}'),
               coalesce(array_agg(t.st) FILTER (WHERE t.total = 1), '{}'),
               coalesce(array_agg(t.err) FILTER (WHERE t.total = 1), '{}'),
               coalesce(array_agg(DISTINCT t.m) FILTER (WHERE t.total <> 1), '{}')
        INTO v_one_ids, v_one_st, v_one_err, v_several
        FROM unnest(t_m, t_total, t_st, t_err) AS t(m, total, st, err);
        SELECT count(*) FILTER (WHERE f.final_state = 'delivered'),
               count(*) FILTER (WHERE f.final_state = 'failed')
        INTO sent, failed
        FROM finalize_messages(v_one_ids, v_one_st, v_one_err, v_several, p_webhooks, p_default_url) AS f;
    END IF;
END $$;
