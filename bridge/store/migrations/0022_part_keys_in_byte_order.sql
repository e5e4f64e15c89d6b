-- smpp-bridge schema, version 22: receipt keys compared as bytes, and room on the
-- index pages of message_parts for the versions of a part (docs/store.md
-- "Storage of message_parts (migration 0022)").
--
-- 1. message_parts.carrier and id_key take the "C" collation, and
--    message_parts_id_key is rebuilt on them. Every receipt probes that index and
--    every accepted part adds one or two entries to it; under a libc collation
--    such as C.UTF-8 or en_US.UTF-8 each comparison of the descent (about twenty)
--    copies both strings to NUL-terminate them and calls strcoll, under "C" it is
--    one memcmp (PostgreSQL 15 docs, 24.2 "Collation Support": "C" and "POSIX"
--    sort by byte values). The keys are identifiers, never shown sorted, and
--    equality is the same under any deterministic collation. Comparisons with
--    text of the database's default collation (parameters, other tables) take
--    "C" (24.2.1: a non-default implicit collation wins over the default), so
--    those statements reach the index as before. The column's type does not
--    change: no table rewrite, only this index is rebuilt.
--
-- 2. Index fillfactor (PostgreSQL 15 docs, CREATE INDEX "Index Storage
--    Parameters": for B-trees it applies when pages are built and on splits at
--    the right end, where these keys arrive). A part's state changes are not HOT
--    updates (the state is in the partial indexes' predicates), so each writes a
--    new entry under the same key into message_parts_pkey (claim, accept,
--    receipt: up to four entries per key before vacuum) and from the accept on
--    into message_parts_id_key (two). With leaf pages filled to 90% at insert,
--    those later entries found their page full and paid for a bottom-up deletion
--    pass (which visits the heap pages of the key's old versions) or a split.
--    40% and 60% leave room for them. Measured on a replay of claim and flush
--    against one backend (20,000 messages, alternating runs): PostgreSQL's CPU
--    per message 38.8-39.6 us before, 35.5-37.1 us with both changes.
--    At rest the pkey ends about as dense as it did: its pages split to half
--    full under the same churn before.
--
-- Rebuilding message_parts_id_key blocks writes to message_parts while it runs:
-- on a large table, migrate in a maintenance window (docs/store.md "Migrations").
-- The pkey's fillfactor applies to pages split from now on (REINDEX applies it
-- to the whole index, at a time of the operator's choosing).

DROP INDEX message_parts_id_key;
ALTER TABLE message_parts
    ALTER COLUMN carrier TYPE text COLLATE "C",
    ALTER COLUMN id_key TYPE text COLLATE "C";
CREATE INDEX message_parts_id_key ON message_parts (carrier, id_key) WITH (fillfactor = 60)
    WHERE id_key IS NOT NULL;
ALTER INDEX message_parts_pkey SET (fillfactor = 40);
