-- The endpoint that receives an event of (account, key): the key's, else the
-- account's. A set-returning SQL function of one SELECT: PostgreSQL inlines it
-- into the query that calls it (the sender's claim joins it LATERAL for a batch
-- of rows). docs/webhooks.md.
CREATE OR REPLACE FUNCTION webhook_endpoints_for(p_account bigint, p_key bigint) RETURNS SETOF webhook_endpoints
LANGUAGE sql STABLE AS $$
    SELECT e.* FROM webhook_endpoints e
    WHERE e.account_id = p_account AND (e.api_key_id IS NULL OR e.api_key_id = p_key)
    ORDER BY e.api_key_id IS NULL LIMIT 1
$$;
