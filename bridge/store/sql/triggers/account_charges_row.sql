-- Trigger accounts_charges_row (AFTER INSERT ON accounts, each row): a new
-- account gets its account_charges row (migration 0028), which settle_messages
-- locks and updates.
CREATE OR REPLACE FUNCTION account_charges_row() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO account_charges (account_id) VALUES (NEW.id);
    RETURN NULL;
END $$;
