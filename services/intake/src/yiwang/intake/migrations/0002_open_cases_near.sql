-- Candidate masters for duplicate linking, found by category and a small lat/lon box: a
-- batch of submissions looks up all its points at once (LATERAL per point), and the
-- (category, received_at) index scanned a whole day's cases of the category per point.
CREATE INDEX cases_open_near ON cases (category, lat, lon) INCLUDE (received_at)
    WHERE master_case_id IS NULL AND state NOT IN ('resolved', 'evaluated', 'closed', 'rejected', 'duplicate');
DROP INDEX cases_open_by_category;
