-- Trigger ledger_append_only (BEFORE UPDATE OR DELETE ON ledger, each row):
-- ledger rows are append-only.
CREATE OR REPLACE FUNCTION ledger_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'ledger rows are append-only (% on ledger id %)', TG_OP, OLD.id
        USING ERRCODE = 'integrity_constraint_violation';
END $$;
