-- smpp-bridge schema, version 24: message and campaign public ids compared as bytes.
--
-- messages.public_id and campaigns.public_id take the "C" collation, and their
-- unique indexes are rebuilt on it (ALTER COLUMN ... TYPE with the same type and
-- another collation rebuilds the column's indexes, not the table). Every
-- message the API accepts adds an entry to messages_public_id_key, and every
-- status read probes it: under a libc collation such as C.UTF-8 or en_US.UTF-8
-- each comparison of the descent and of the uniqueness check copies both strings
-- to NUL-terminate them and calls strcoll, under "C" it is one memcmp
-- (PostgreSQL 15 docs, 24.2 "Collation Support": "C" and "POSIX" sort by byte
-- values). The ids are identifiers ("msg_" and 26 Crockford base32 characters),
-- never shown sorted, and equality is the same under any deterministic
-- collation. Text of the database's default collation compared with these
-- columns (parameters, other tables) takes "C" (24.2.1: a non-default implicit
-- collation wins over the default), so every statement reaches the indexes as
-- before. The same was done for the receipt keys of message_parts (0022).
--
-- Rebuilding the indexes blocks writes to messages and campaigns while it runs:
-- on a large table, migrate in a maintenance window (docs/store.md "Migrations").

ALTER TABLE messages ALTER COLUMN public_id TYPE text COLLATE "C";
ALTER TABLE campaigns ALTER COLUMN public_id TYPE text COLLATE "C";
