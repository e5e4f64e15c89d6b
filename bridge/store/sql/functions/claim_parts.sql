-- The claim (bridge/dispatch/claim.py): the oldest due queued parts of the routes
-- this daemon serves now, taken FOR UPDATE SKIP LOCKED and marked submitting under
-- p_owner (write ahead), with what their submit_sm needs. Only part 1 of a message
-- on a p_payload_routes route (concat "payload": its riders follow it). Parts are
-- claimed only while the owner's instance row is live in PostgreSQL's eyes (not
-- stopped, lease not expired), checked once per call before anything is picked.
--
-- Three statements, each with one plan that does not depend on the statistics. A
-- daemon started on a new database plans its claim (a generic plan, kept for the
-- connection's life) while the statistics say the tables are empty; as one
-- statement joining parts, messages and campaigns, the planner then saw a one-row
-- messages table and drove the join from it: every message read in campaign
-- order, every part of the primary key filtered by ctid for each, a cost that grew
-- with the square of the queue (2 s a claim at 2,000 messages, past the writer's
-- db_timeout, and the daemon stalled until an ANALYZE). So:
-- 1. the pick walks the claim index in order (the only index of queued parts);
-- 2. the UPDATE finds the picked rows by ctid, a TID scan, with index scans off
--    for that statement alone (on a one-row estimate a full scan of the primary
--    key looked cheaper than fetching the TIDs); a locked row's ctid cannot
--    change before the transaction ends, and the state guard is checked again;
-- 3. each claimed part's message and campaign by primary key, LATERAL, so the
--    parts drive the join whatever the estimates.
-- queued_for is date_part(), a float8 as it is returned: extract() computes in
-- numeric since PostgreSQL 14 (docs, 9.9.1), which cost a conversion per row.
CREATE OR REPLACE FUNCTION claim_parts(p_owner bigint, p_limit int, p_routes text[], p_payload_routes text[])
RETURNS TABLE (
    message_id bigint, seq smallint, total smallint, body text, route text, attempts smallint,
    owner bigint, destination text, sender_id text, sender_ton smallint, sender_npi smallint,
    concat_ref int, campaign_body text, carrier text, queued_for float8)
LANGUAGE plpgsql
SET plan_cache_mode = force_generic_plan SET enable_seqscan = off SET enable_bitmapscan = off
SET enable_hashjoin = off SET enable_mergejoin = off SET enable_material = off
SET enable_indexscan = on
AS $$
#variable_conflict use_column
DECLARE
    v_tids tid[];
    v_ids bigint[];
    v_seqs smallint[];
    v_totals smallint[];
    v_bodies text[];
    v_routes text[];
    v_attempts smallint[];
    v_carriers text[];
BEGIN
    IF NOT EXISTS (SELECT 1 FROM daemon_instances d
                   WHERE d.id = p_owner AND d.stopped_at IS NULL AND d.lease_until > now()) THEN
        RETURN;
    END IF;

    SELECT array_agg(k.ctid) INTO v_tids FROM (
        SELECT q.ctid FROM message_parts q
        WHERE q.state = 'queued' AND q.next_attempt_at <= now() AND q.route = ANY (p_routes)
          AND (q.seq = 1 OR q.route <> ALL (p_payload_routes))
        ORDER BY q.next_attempt_at
        FOR UPDATE SKIP LOCKED
        LIMIT p_limit
    ) k;
    IF v_tids IS NULL THEN
        RETURN;
    END IF;

    -- Local to this function call: its SET clause restores the caller's value.
    PERFORM set_config('enable_indexscan', 'off', true);
    WITH claimed AS (
        UPDATE message_parts p
        SET state = 'submitting', owner_instance = p_owner, attempts = p.attempts + 1, submitted_at = now()
        WHERE p.ctid = ANY (v_tids) AND p.state = 'queued'
        RETURNING p.message_id, p.seq, p.total, p.body, p.route, p.attempts, p.carrier
    )
    SELECT array_agg(c.message_id), array_agg(c.seq), array_agg(c.total), array_agg(c.body),
           array_agg(c.route), array_agg(c.attempts), array_agg(c.carrier)
    INTO v_ids, v_seqs, v_totals, v_bodies, v_routes, v_attempts, v_carriers
    FROM claimed c;
    PERFORM set_config('enable_indexscan', 'on', true);

    RETURN QUERY
    SELECT u.message_id, u.seq, u.total, u.body, u.route, u.attempts, p_owner,
           m.destination, m.sender_id, m.sender_ton, m.sender_npi, m.concat_ref,
           c.body, u.carrier, date_part('epoch', now() - m.created_at)
    FROM unnest(v_ids, v_seqs, v_totals, v_bodies, v_routes, v_attempts, v_carriers)
         AS u(message_id, seq, total, body, route, attempts, carrier)
    CROSS JOIN LATERAL (
        SELECT ms.destination, ms.sender_id, ms.sender_ton, ms.sender_npi, ms.concat_ref,
               ms.created_at, ms.campaign_id
        FROM messages ms WHERE ms.id = u.message_id
    ) m
    CROSS JOIN LATERAL (SELECT cs.body FROM campaigns cs WHERE cs.id = m.campaign_id) c;
END $$;
