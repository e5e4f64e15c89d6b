-- The claim (bridge/dispatch/claim.py): the oldest due queued parts of the routes
-- this daemon serves now, taken FOR UPDATE SKIP LOCKED and marked submitting under
-- p_owner (write ahead), with what their submit_sm needs. Only part 1 of a message
-- on a p_payload_routes route (concat "payload": its riders follow it). Parts are
-- claimed only while the owner's instance row is live in PostgreSQL's eyes (not
-- stopped, lease not expired): an EXISTS that names no column of the parts, so it
-- is checked once per call, before anything is picked or locked (joined, it was an
-- index scan of daemon_instances per claimed part).
--
-- The plan is generic (plan_cache_mode) and kept by each connection until an
-- ANALYZE or VACUUM of one of its tables invalidates it. A daemon usually makes it
-- on an empty database (it polls before any send arrives), where every table is
-- one row to the planner and every join order costs the same: one such plan walked
-- every message and, for each, every part (a full scan of message_parts_pkey
-- filtered by ctid), and a claim of 6 parts with 3,000 messages queued took seconds
-- (past the claimer's db_timeout: "claim failed") until autovacuum or the bench's
-- ANALYZE replaced it. So the statement leaves the planner one way to run it,
-- whatever the sizes it believed (tests/store/test_claim_plans.py):
--   - picked: the claim index, in next_attempt_at order, stopping at the limit;
--   - the UPDATE names no other table and finds the picked rows by ctid. Its state
--     guard compares the state as text: written `p.state = 'queued'` it implies the
--     claim index's predicate, and a full scan of that index filtered by ctid (every
--     queued part for each claim) was the other plan it could get;
--   - messages and campaigns are looked up per claimed part, by primary key, in
--     LATERAL subqueries kept apart by OFFSET 0 (pulled up into the join, their
--     order would be the planner's again). LEFT: a part is never left submitting
--     unseen by the pipeline (a missing message fails the part in the dispatcher;
--     enqueue's reference checks make it impossible anyway).
-- A locked row's ctid cannot change before the statement ends, and the state guard
-- is checked again anyway (the UPDATE's own recheck of a row updated meanwhile).
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
    ), claimed AS (
        UPDATE message_parts p
        SET state = 'submitting', owner_instance = p_owner, attempts = p.attempts + 1, submitted_at = now()
        WHERE EXISTS (SELECT 1 FROM daemon_instances d
                      WHERE d.id = p_owner AND d.stopped_at IS NULL AND d.lease_until > now())
          AND p.ctid = ANY (ARRAY(SELECT picked.ctid FROM picked)) AND p.state::text = 'queued'
        RETURNING p.message_id, p.seq, p.total, p.body, p.route, p.attempts, p.carrier
    )
    SELECT k.message_id, k.seq, k.total, k.body, k.route, k.attempts, p_owner,
           m.destination, m.sender_id, m.sender_ton, m.sender_npi, m.concat_ref,
           c.body, k.carrier, date_part('epoch', now() - m.created_at)
    FROM claimed k
    LEFT JOIN LATERAL (
        SELECT m.destination, m.sender_id, m.sender_ton, m.sender_npi, m.concat_ref, m.created_at,
               m.campaign_id
        FROM messages m WHERE m.id = k.message_id OFFSET 0
    ) m ON true
    LEFT JOIN LATERAL (SELECT c.body FROM campaigns c WHERE c.id = m.campaign_id OFFSET 0) c ON true;
END $$;
