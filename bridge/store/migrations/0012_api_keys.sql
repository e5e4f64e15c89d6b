-- smpp-bridge schema: API keys of the REST API (seed 000 "Authentication"),
-- their per-minute request windows and the answers kept for Idempotency-Key
-- (docs/api.md).
--
-- A key is `psk_live_<32 base32 chars>` (or `psk_test_...`): 160 random bits.
-- Only its SHA-256 is stored; `prefix` (the first 8 random characters) finds
-- the row and the digest is compared in constant time by the API process.
CREATE TYPE api_product AS ENUM ('live', 'test');

CREATE TABLE api_keys (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account_id      bigint NOT NULL REFERENCES accounts(id),
    product         api_product NOT NULL DEFAULT 'live',
    prefix          text NOT NULL UNIQUE CHECK (prefix ~ '^[0-9a-z]{8}$'),
    hash            bytea NOT NULL CHECK (length(hash) = 32),
    name            text NOT NULL CHECK (name <> ''),
    -- seed 000 "Rate limits": 60 requests a minute, 100 recipients a call.
    -- NULL requests_per_minute: no limit (benchmarks, trusted back ends).
    requests_per_minute integer DEFAULT 60 CHECK (requests_per_minute > 0),
    max_recipients  integer NOT NULL DEFAULT 100 CHECK (max_recipients BETWEEN 1 AND 1000),
    created_at      timestamptz NOT NULL DEFAULT now(),
    -- Written at most once a minute per key and API process (docs/api.md).
    last_used_at    timestamptz,
    revoked_at      timestamptz
);
CREATE INDEX api_keys_account ON api_keys (account_id);

-- The key each campaign was sent with (NULL: `smpp-bridge send`, older rows).
ALTER TABLE campaigns ADD COLUMN api_key_id bigint REFERENCES api_keys(id);

-- Per-key request counters, one row per key for the current minute. API
-- processes take tokens from it in small batches (api_take_tokens), so the
-- limit holds across processes without a round trip per request.
CREATE TABLE api_rate_windows (
    key_id       bigint PRIMARY KEY REFERENCES api_keys(id),
    window_start timestamptz NOT NULL,
    used         integer NOT NULL CHECK (used >= 0)
);

-- Take up to p_want requests of the key's current one-minute window (the
-- database's clock, so API processes on several hosts agree). Returns how many
-- were granted (0 when the window is used up) and the seconds left in the
-- window. The row lock serialises concurrent takers; a window never grants more
-- than p_limit in total.
CREATE FUNCTION api_take_tokens(p_key bigint, p_want integer, p_limit integer,
                                OUT granted integer, OUT seconds_left double precision)
LANGUAGE plpgsql AS $$
DECLARE
    w timestamptz := date_trunc('minute', now());
    ws timestamptz;
    u integer;
BEGIN
    INSERT INTO api_rate_windows (key_id, window_start, used) VALUES (p_key, w, 0)
    ON CONFLICT (key_id) DO NOTHING;
    SELECT window_start, used INTO ws, u FROM api_rate_windows WHERE key_id = p_key FOR UPDATE;
    IF ws < w THEN
        u := 0;
    END IF;
    granted := greatest(0, least(p_want, p_limit - u));
    UPDATE api_rate_windows SET window_start = w, used = u + granted WHERE key_id = p_key;
    seconds_left := extract(epoch FROM (w + interval '1 minute') - now());
END $$;

-- Idempotency-Key (docs/api.md): the first answer to a key's Idempotency-Key,
-- stored in the transaction of the send itself, so a retry after a lost
-- answer gets the same campaign and never a second one.
CREATE TABLE api_idempotency (
    key_id       bigint NOT NULL REFERENCES api_keys(id),
    idem_key     text NOT NULL,
    request_hash bytea NOT NULL,
    status       smallint,
    body         bytea,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (key_id, idem_key)
);
CREATE INDEX api_idempotency_created ON api_idempotency (created_at);

-- Revocation reaches every API process at once (they also re-read a key
-- whose cached row is older than a second).
CREATE FUNCTION api_key_revoked_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('smpp_bridge_api_keys', NEW.prefix);
    RETURN NULL;
END $$;
CREATE TRIGGER api_keys_revoked AFTER UPDATE OF revoked_at ON api_keys
    FOR EACH ROW WHEN (NEW.revoked_at IS NOT NULL AND OLD.revoked_at IS NULL)
    EXECUTE FUNCTION api_key_revoked_notify();
