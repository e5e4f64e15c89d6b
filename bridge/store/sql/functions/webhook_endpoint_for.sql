-- The id of webhook_endpoints_for(account, key), or NULL.
CREATE OR REPLACE FUNCTION webhook_endpoint_for(p_account bigint, p_key bigint) RETURNS bigint
LANGUAGE sql STABLE AS $$
    SELECT id FROM webhook_endpoints_for(p_account, p_key)
$$;

