-- smpp-bridge schema, version 19: the ledger loses its (account_id, created_at)
-- index (docs/store.md "Tables").
--
-- Why: every ledger row written by the pipeline (a reservation per message at
-- enqueue, a charge or refund per message when it becomes final) paid for an
-- entry in this index, and nothing on those paths reads it. Its readers were
-- `reconcile` (an operator's check that sums an account's whole ledger, a scan
-- either way once the account holds most of the rows) and the guard against
-- deleting an account that ledger rows still name (still_referenced: it stops
-- at the account's first row, and deleting accounts is no hot path; the
-- webhook_outbox half of the same check has never had an index).
--
-- The unique partial indexes that prevent double reservations and double
-- settlements (ledger_one_reservation, ledger_one_settlement) are unchanged.

DROP INDEX ledger_account;
