-- Carrier health kept across restarts (bridge/ops/sampler.py): each daemon writes one
-- row per carrier it runs every sample interval. /health computes uptime_24h (share of
-- the sampled time with a bind bound) and recent_heartbeats from them. Rows older than
-- two days are deleted by the daemons.
CREATE TABLE carrier_heartbeats (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    carrier    text NOT NULL,
    instance   text NOT NULL,
    at         timestamptz NOT NULL DEFAULT now(),
    period     real NOT NULL,       -- seconds this sample stands for
    binds      smallint NOT NULL,   -- bind slots this instance runs for the carrier
    bound      smallint NOT NULL,   -- of those, bound when sampled
    success    boolean NOT NULL,    -- a bind bound and answering (the SMSC answered within the period)
    latency_ms real                 -- submit_sm_resp round trip (or enquire_link when idle)
);
CREATE INDEX carrier_heartbeats_at ON carrier_heartbeats (carrier, at);
