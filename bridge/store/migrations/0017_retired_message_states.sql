-- smpp-bridge schema: the message states `submitting` and `submitted` are retired
-- (bridge/store/lifecycle.py): messages stay `queued` until they are final, and
-- where a message is at the carrier is its parts' state. Nothing has written them
-- since migration 0007; this makes the database refuse them from now on. The
-- values stay in the enum (PostgreSQL cannot drop an enum value without
-- rewriting every column that uses it).
--
-- NOT VALID: rows already there are not checked (no scan of messages, no
-- rewrite). Rows written by releases before 0007 may still hold `submitted`;
-- they are pending and finish like `queued` ones (their new state is checked,
-- and it is a final one).
ALTER TABLE messages ADD CONSTRAINT messages_state_not_retired
    CHECK (state NOT IN ('submitting', 'submitted')) NOT VALID;
