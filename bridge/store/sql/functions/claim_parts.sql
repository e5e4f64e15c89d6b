-- The claim (bridge/dispatch/claim.py): the oldest due queued parts of the routes
-- this daemon serves now, taken FOR UPDATE SKIP LOCKED and marked submitting under
-- p_owner (write ahead), with what their submit_sm needs. Only part 1 of a message
-- on a p_payload_routes route (concat "payload": its riders follow it). Parts are
-- claimed only while the owner's instance row is live in PostgreSQL's eyes (not
-- stopped, lease not expired): an EXISTS that names no column of the parts, so it
-- is checked once per call, before anything is picked or locked (joined, it was an
-- index scan of daemon_instances per claimed part).
--
-- The UPDATE finds the picked rows by ctid (a TID scan): joined on (message_id,
-- seq) instead, the planner hashed every queued part on each claim, a cost that
-- grew with the queue. A locked row's ctid cannot change before the statement
-- ends, and the state guard is checked again anyway. Plan settings as
-- apply_flush's: the claim follows the claim index whatever the statistics say.
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
    )
    UPDATE message_parts p
    SET state = 'submitting', owner_instance = p_owner, attempts = p.attempts + 1, submitted_at = now()
    FROM messages m, campaigns c
    WHERE EXISTS (SELECT 1 FROM daemon_instances d
                  WHERE d.id = p_owner AND d.stopped_at IS NULL AND d.lease_until > now())
      AND p.ctid = ANY (ARRAY(SELECT picked.ctid FROM picked)) AND p.state = 'queued'
      AND m.id = p.message_id AND c.id = m.campaign_id
    RETURNING p.message_id, p.seq, p.total, p.body, p.route, p.attempts, p_owner,
              m.destination, m.sender_id, m.sender_ton, m.sender_npi, m.concat_ref,
              c.body, p.carrier, date_part('epoch', now() - m.created_at);
END $$;
