-- smpp-bridge schema, version 16: a webhook endpoint of an API key names a key
-- of its own account (seed 000 hangs the callback URL and secret on the key;
-- docs/webhooks.md "Per API key"). Version 13 left webhook_endpoints.api_key_id
-- without a foreign key because api_keys could be missing; both are here now.
--
-- The foreign key is on (api_key_id, account_id), so an endpoint cannot join
-- an account to another account's key; rows with api_key_id NULL (the
-- account's default endpoint) are not checked (MATCH SIMPLE). Keys are revoked,
-- not deleted; should one be deleted all the same, its endpoint goes with it.

-- Endpoints whose key is gone, or is another account's, could never be
-- reached by webhook_endpoints_for(): they go.
DELETE FROM webhook_endpoints e
WHERE e.api_key_id IS NOT NULL AND NOT EXISTS (
    SELECT 1 FROM api_keys k WHERE k.id = e.api_key_id AND k.account_id = e.account_id);

ALTER TABLE api_keys ADD CONSTRAINT api_keys_id_account UNIQUE (id, account_id);
ALTER TABLE webhook_endpoints
    ADD CONSTRAINT webhook_endpoints_api_key FOREIGN KEY (api_key_id, account_id)
        REFERENCES api_keys (id, account_id) ON DELETE CASCADE;
