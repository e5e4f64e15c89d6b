-- smpp-bridge schema, version 26: outbox rows handed to the daemon's own webhook sender.
--
-- The daemon's writer may insert a final message's outbox row already leased to
-- the webhook sender running in the same process (claimed_by set, next_attempt_at
-- at the end of the lease) and hand it over once the flush has committed, so that
-- the first attempt needs no claim (one UPDATE per row less). finalize_messages
-- and apply_flush return those rows as this type, with the endpoint each resolves
-- to (the columns the sender's claim returns: bridge/webhooks/outbox.py). A row
-- that is never handed over (the sender stopped, the process died) comes due
-- when its lease ends and any sender claims it (docs/webhooks.md).
CREATE TYPE webhook_handed AS (
    id            bigint,   -- webhook_outbox.id
    account_id    bigint,
    event         text,
    payload       text,     -- the jsonb as text: asyncpg decodes no composite with a field of
                            -- a text-format codec (the project's jsonb codec is one)
    endpoint_id   bigint,   -- webhook_endpoints_for(account, key); NULL: none any more
    url           text,
    secret_sealed bytea,
    secret_key_id text
);
