-- smpp-bridge schema: SMS Preflight (seed 004, docs/preflight.md). Per network, does
-- a sender id arrive intact, altered or not at all, and how fast.
--
-- Plain tables and indexes only; the rules (plans, matching, verdicts) are Python
-- in bridge/preflight/ issuing plain SQL.

-- Preflight keys (`sp_...`) live in api_keys with their own product: the SMS API
-- refuses them and the preflight API refuses the others. Their public id is the
-- seed's "019d..." (a UUIDv7); SMS keys leave it NULL.
ALTER TYPE api_product ADD VALUE IF NOT EXISTS 'preflight';
ALTER TABLE api_keys ADD COLUMN public_id uuid UNIQUE;

-- A preflight user is an account with a plan (bridge/preflight/plans.py holds the
-- plans' limits) and a profile. Its webhook URL and signing secret are the
-- account's webhook endpoint (webhook_endpoints, `smpp-bridge webhooks set`).
CREATE TABLE preflight_users (
    account_id  bigint PRIMARY KEY REFERENCES accounts(id),
    public_id   uuid NOT NULL UNIQUE,
    plan        text NOT NULL CHECK (plan IN ('free', 'pro', 'team')),
    name        text NOT NULL CHECK (name <> ''),
    email       text NOT NULL CHECK (email <> ''),
    company     text,
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- The probe networks and their numbers, copied from the configuration ([preflight]
-- networks) by every process that starts (bridge/preflight/networks.py). A number
-- stays when its network leaves the configuration (active = false): results keep
-- naming it. last_used_at orders the numbers of a network, least recently used first.
CREATE TABLE preflight_networks (
    slug       text PRIMARY KEY,
    id         uuid NOT NULL UNIQUE,
    name       text NOT NULL,
    carrier    text,
    position   smallint NOT NULL DEFAULT 0,
    is_active  boolean NOT NULL DEFAULT true
);
CREATE TABLE preflight_numbers (
    digits       text PRIMARY KEY CHECK (digits ~ '^[0-9]{3,15}$'),   -- E.164 without '+'
    network      text NOT NULL REFERENCES preflight_networks(slug),
    active       boolean NOT NULL DEFAULT true,
    last_used_at timestamptz
);
CREATE INDEX preflight_numbers_network ON preflight_numbers (network, last_used_at);

-- One test. id is a UUIDv7 (time-ordered); times come from the creating process's
-- clock (injectable in tests), so expiry is exactly expires_at.
CREATE TABLE preflight_sessions (
    id            uuid PRIMARY KEY,
    account_id    bigint NOT NULL REFERENCES accounts(id),
    api_key_id    bigint REFERENCES api_keys(id),
    mode          text NOT NULL DEFAULT 'external' CHECK (mode IN ('external', 'self_test')),
    test_code     text NOT NULL,
    status        text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'complete', 'expired')),
    sender_id     text NOT NULL,
    expected_body text,
    client_ref    text,
    webhook_url   text,
    created_at    timestamptz NOT NULL,
    expires_at    timestamptz NOT NULL,
    finished_at   timestamptz
);
CREATE INDEX preflight_sessions_account ON preflight_sessions (account_id, created_at DESC);
CREATE INDEX preflight_sessions_due ON preflight_sessions (expires_at) WHERE status = 'pending';

-- One network of a session. status pending -> received | expired; verdict NULL
-- while pending, clean / intercepted when received, lost when expired.
CREATE TABLE preflight_results (
    session_id       uuid NOT NULL REFERENCES preflight_sessions(id) ON DELETE CASCADE,
    network          text NOT NULL,
    network_name     text NOT NULL,
    position         smallint NOT NULL,
    digits           text NOT NULL,
    status           text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'received', 'expired')),
    verdict          text CHECK (verdict IN ('clean', 'intercepted', 'lost')),
    latency_ms       integer,
    sender_received  text,
    body_received    text,
    body_matched     boolean,
    received_at      timestamptz,
    ambiguous        boolean NOT NULL DEFAULT false,
    inbound_id       bigint,
    probe_message_id bigint,   -- self-test: the probe's message (latency from its submit)
    PRIMARY KEY (session_id, network)
);
CREATE INDEX preflight_results_waiting ON preflight_results (digits) WHERE status = 'pending';

-- MO to a probe number, copied here by the writer's MO statement in the same
-- statement that stores it in inbound_messages (bridge/dispatch/apply.py), so none
-- is lost between the two; the matcher (bridge/preflight/matcher.py) deletes each
-- row once used. A part of a concatenated MO waits here (waiting = true) for its
-- other parts; housekeeping deletes parts older than the session window.
CREATE TABLE preflight_inbox (
    inbound_id   bigint PRIMARY KEY,
    carrier      text NOT NULL,
    source       text NOT NULL,
    source_ton   smallint,
    digits       text NOT NULL,
    esm_class    smallint NOT NULL,
    data_coding  smallint NOT NULL,
    raw          bytea NOT NULL,
    concat_ref   integer,
    concat_seq   smallint,
    concat_total smallint,
    received_at  timestamptz NOT NULL,
    waiting      boolean NOT NULL DEFAULT false
);
CREATE INDEX preflight_inbox_new ON preflight_inbox (inbound_id) WHERE NOT waiting;
CREATE INDEX preflight_inbox_group ON preflight_inbox (carrier, source, digits, concat_ref) WHERE concat_ref IS NOT NULL;

-- Network health from probe round trips (self-test results), beside the carrier
-- heartbeats of the bind (carrier_heartbeats): a received probe is a success with
-- its latency, a lost one a failure. signal_* and network_type stay NULL unless a
-- probe reports them. GET /api/networks reads the last 24 hours.
CREATE TABLE preflight_heartbeats (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    network      text NOT NULL,
    at           timestamptz NOT NULL,
    success      boolean NOT NULL,
    latency_ms   integer,
    signal_dbm   smallint,
    signal_bars  smallint,
    network_type text,
    session_id   uuid
);
CREATE INDEX preflight_heartbeats_at ON preflight_heartbeats (network, at);
