-- smpp-bridge schema, version 18: the writer's flush takes typed rows
-- (docs/store.md "The writer's flush").
--
-- apply_flush takes one array of a composite type per kind of row (accepted
-- submits, failed submits, requeued submits, unknown outcomes, late responses,
-- receipts) instead of 39 parallel arrays, one per column: a row's fields are
-- named on both sides (bridge/dispatch/apply.py builds the tuples in the types'
-- field order). asyncpg encodes a composite array in one pass and checks each
-- row once, where it checked each element of each array. The functions that take
-- these types live in bridge/store/sql/functions (apply_flush.sql; also
-- claim_parts.sql and settle_messages.sql, changed in the same step).

CREATE TYPE flush_accepted AS (
    message_id         bigint,
    seq                int,
    owner_instance     bigint,   -- the claim's daemon_instances.id
    attempt            int,      -- message_parts.attempts after the claim
    carrier            text,
    carrier_message_id text,
    id_key             text,
    riders             boolean,  -- concat "payload": parts 2.. of the message follow this one
    -- The key's first final receipt of this flush, folded into this row (the
    -- key is the flush's only accepted part with it), else all NULL: its
    -- 1-based position in the receipts, its part state, stat and error code.
    -- Carried here so that no statement subscripts the receipts array (an
    -- element of an array of variable-length rows is found by walking it).
    fold_position      int,
    fold_state         text,
    fold_stat          text,
    fold_error_code    int
);

CREATE TYPE flush_failed AS (
    message_id     bigint,
    seq            int,
    owner_instance bigint,
    attempt        int,
    carrier        text,
    error_code     int,    -- the submit_sm_resp command_status, or NULL (not sent)
    reason         text    -- stored as receipt_stat: why it failed
);

CREATE TYPE flush_requeued AS (
    message_id     bigint,
    seq            int,
    owner_instance bigint,
    attempt        int,
    carrier        text,
    not_sent       boolean,  -- a release: nothing was written, the attempt is not counted
    delay_s        float8    -- seconds before it may be claimed again
);

CREATE TYPE flush_unknown AS (
    message_id     bigint,
    seq            int,
    owner_instance bigint,
    attempt        int,
    carrier        text,
    grace_s        float8    -- the carrier's unknown_outcome_grace
);

CREATE TYPE flush_late AS (
    message_id         bigint,
    seq                int,
    attempt            int,  -- the attempt that wrote the submit_sm
    carrier            text,
    carrier_message_id text,
    id_key             text
);

CREATE TYPE flush_receipt AS (
    carrier    text,
    id_key     text,
    part_state text,  -- 'pending' | 'accepted' | 'delivered' | 'failed'
    stat       text,
    error_code int
);
