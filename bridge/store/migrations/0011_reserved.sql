-- Placeholder on the `outcomes` branch only: version 11 belongs to another branch
-- (migrations must be numbered 1, 2, 3, ...). The coordinator drops this file when
-- merging (or renumbers 0012 to 0011 if that branch adds no migration).
SELECT 1;
