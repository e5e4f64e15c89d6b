-- Placeholder on the `ops` branch only: version 12 belongs to another branch
-- (migrations must be numbered 1, 2, 3, ...). The coordinator drops this file when
-- merging.
SELECT 1;
