-- smpp-bridge schema, version 13: where webhooks go (endpoints with sealed
-- secrets), and what the sender needs in the outbox (lease, outcome, pruning).
-- docs/webhooks.md describes the whole sender.
--
-- 1. webhook_endpoints: the URL and the secret of the seed 000 "Delivery
--    webhook". The seed hangs them on the API key; sends without a key (the
--    CLI) use the account's default, the row whose api_key_id is NULL. A key's
--    row (api_key_id set) wins over the account's: webhook_endpoints_for() is
--    the one place that says so, for the sender and the commands (the outbox
--    trigger asks only whether any of the two exists).
--    api_key_id has no foreign key here because api_keys may not exist yet;
--    the migration that joins the two adds it.
--    The secret is sealed with AES-GCM under the operator's master key
--    (bridge/webhooks/sealing.py): nonce || ciphertext || tag, with the
--    endpoint id as associated data, so a database dump alone cannot sign,
--    and a sealed secret copied onto another endpoint does not open.
--    secret_key_id names the master key that sealed it (a fingerprint).
CREATE TABLE webhook_endpoints (
    id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account_id        bigint NOT NULL REFERENCES accounts(id),
    api_key_id        bigint,
    url               text NOT NULL CHECK (url ~ '^https?://'),
    secret_sealed     bytea,
    secret_key_id     text,
    secret_hint       text,
    secret_rotated_at timestamptz,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT webhook_endpoints_sealed_whole CHECK ((secret_sealed IS NULL) = (secret_key_id IS NULL))
);
CREATE UNIQUE INDEX webhook_endpoints_account ON webhook_endpoints (account_id) WHERE api_key_id IS NULL;
CREATE UNIQUE INDEX webhook_endpoints_key ON webhook_endpoints (api_key_id) WHERE api_key_id IS NOT NULL;

-- URLs set on accounts before this version move over without a secret (the
-- master key is not known to SQL): the sender holds their rows until
-- `smpp-bridge webhooks rotate-secret --account NAME` gives them one.
INSERT INTO webhook_endpoints (account_id, url)
SELECT id, webhook_url FROM accounts WHERE webhook_url ~ '^https?://';
-- accounts.webhook_url stays (NULL) only because finalize_messages (version 7)
-- still names it when it writes outbox rows; nothing reads it any more. A version that redefines
-- finalize_messages can stop naming it and drop it.
UPDATE accounts SET webhook_url = NULL WHERE webhook_url IS NOT NULL;
COMMENT ON COLUMN accounts.webhook_url IS 'unused since version 13: see webhook_endpoints';

-- The endpoint that receives an event of (account, key): the key's, else the account's.
-- A set-returning SQL function of one SELECT: PostgreSQL inlines it into the query that
-- calls it (the sender's claim joins it LATERAL for a batch of rows).
CREATE FUNCTION webhook_endpoints_for(p_account bigint, p_key bigint) RETURNS SETOF webhook_endpoints
LANGUAGE sql STABLE AS $$
    SELECT e.* FROM webhook_endpoints e
    WHERE e.account_id = p_account AND (e.api_key_id IS NULL OR e.api_key_id = p_key)
    ORDER BY e.api_key_id IS NULL LIMIT 1
$$;
CREATE FUNCTION webhook_endpoint_for(p_account bigint, p_key bigint) RETURNS bigint
LANGUAGE sql STABLE AS $$
    SELECT id FROM webhook_endpoints_for(p_account, p_key)
$$;

-- 2. The outbox. The URL is resolved at each attempt (a changed URL applies to
--    pending deliveries): the row's url column is not read any more. New columns:
--    api_key_id   the key of the send (NULL: none, or api_keys not there yet)
--    claimed_by   the sender that holds the row; with next_attempt_at moved to
--                 the end of its lease, no other sender takes it meanwhile
--    last_status  the HTTP status of the last answer (NULL: no answer)
--    finished_at  when it became delivered or dead (pruning)
ALTER TABLE webhook_outbox
    ADD COLUMN api_key_id bigint,
    ADD COLUMN claimed_by bigint,
    ADD COLUMN last_status smallint,
    ADD COLUMN finished_at timestamptz;
UPDATE webhook_outbox SET finished_at = coalesce(delivered_at, created_at) WHERE state <> 'pending';
CREATE INDEX webhook_outbox_finished ON webhook_outbox (finished_at) WHERE state <> 'pending';

-- Rows written before this version for accounts without a URL waited forever:
-- nothing could ever deliver them.
DELETE FROM webhook_outbox o
WHERE o.state = 'pending' AND webhook_endpoint_for(o.account_id, NULL) IS NULL;

-- 3. No row for a message whose key and account have no URL. finalize_messages
--    (and whatever later version of it) inserts one row per final message; this
--    statement trigger deletes, in the same statement, the ones nobody would
--    receive, so the functions that write them need not know where webhooks go.
--    One set-based query per statement: a row trigger (a query per row) made
--    each flush of the writer several times slower.
--    When campaigns carry the key of the send (campaigns.api_key_id), the rows
--    take it first; until then the key part is NULL and only the account's
--    endpoint counts.
DO $do$
BEGIN
    IF EXISTS (SELECT 1 FROM information_schema.columns
               WHERE table_schema = current_schema() AND table_name = 'campaigns'
                 AND column_name = 'api_key_id') THEN
        EXECUTE $f$
        CREATE FUNCTION webhook_outbox_route() RETURNS trigger LANGUAGE plpgsql AS $b$
        BEGIN
            UPDATE webhook_outbox o SET api_key_id = c.api_key_id
            FROM new_rows n JOIN messages m ON m.id = n.message_id JOIN campaigns c ON c.id = m.campaign_id
            WHERE o.id = n.id AND n.api_key_id IS NULL AND c.api_key_id IS NOT NULL;
            DELETE FROM webhook_outbox o USING new_rows n
            WHERE o.id = n.id AND NOT EXISTS (
                SELECT 1 FROM webhook_endpoints e WHERE e.account_id = o.account_id
                  AND (e.api_key_id IS NULL OR e.api_key_id = o.api_key_id));
            RETURN NULL;
        END $b$
        $f$;
    ELSE
        EXECUTE $f$
        CREATE FUNCTION webhook_outbox_route() RETURNS trigger LANGUAGE plpgsql AS $b$
        BEGIN
            DELETE FROM webhook_outbox o USING new_rows n
            WHERE o.id = n.id AND NOT EXISTS (
                SELECT 1 FROM webhook_endpoints e WHERE e.account_id = n.account_id AND e.api_key_id IS NULL);
            RETURN NULL;
        END $b$
        $f$;
    END IF;
END $do$;

CREATE TRIGGER webhook_outbox_route AFTER INSERT ON webhook_outbox
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION webhook_outbox_route();
