-- Trigger api_keys_revoked (AFTER UPDATE OF revoked_at, each row, on the first
-- revocation): the revocation reaches every API process at once (they also
-- re-read a key whose cached row is older than a second).
CREATE OR REPLACE FUNCTION api_key_revoked_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('smpp_bridge_api_keys', NEW.prefix);
    RETURN NULL;
END $$;
