-- smpp-bridge schema, version 28: an account's charges are counted in a row of
-- their own (account_charges); the account row keeps its credits and what its
-- sends hold, `committed` (open reservations plus charges), which is all that
-- the overdraft check reads: credits - committed >= 0, as credits - charged -
-- reserved >= 0 was.
--
-- Why: a charge moves money from reserved to charged and leaves the balance as
-- it was, yet it updated the account row, which every send of the account
-- updates too (its reservation). Every flush of the daemon that settled a
-- delivered message of an account locked that row until its commit, and the
-- account's sends waited for it (and the other way round), one WAL flush after
-- another: with one busy account, the API's intake statements spent about a
-- third of their time waiting on that row lock. A charge now updates
-- account_charges only; a refund (which does give money back) still updates
-- the account row. Reserved is committed - charged (bridge/store/accounts.py).
CREATE TABLE account_charges (
    account_id bigint PRIMARY KEY REFERENCES accounts(id) ON DELETE CASCADE,
    charged    numeric(16,4) NOT NULL DEFAULT 0 CHECK (charged >= 0)
);
INSERT INTO account_charges (account_id, charged) SELECT id, charged FROM accounts;

ALTER TABLE accounts DROP CONSTRAINT accounts_no_overdraft;
ALTER TABLE accounts RENAME COLUMN reserved TO committed;
ALTER TABLE accounts RENAME CONSTRAINT accounts_reserved_check TO accounts_committed_check;
UPDATE accounts SET committed = committed + charged;
ALTER TABLE accounts DROP COLUMN charged;
ALTER TABLE accounts ADD CONSTRAINT accounts_no_overdraft CHECK (credits - committed >= 0);

-- Every account has its row, however it was inserted. The function's body is
-- sql/triggers/account_charges_row.sql, applied after the migrations.
CREATE FUNCTION account_charges_row() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NULL; END $$;
CREATE TRIGGER accounts_charges_row AFTER INSERT ON accounts
    FOR EACH ROW EXECUTE FUNCTION account_charges_row();
