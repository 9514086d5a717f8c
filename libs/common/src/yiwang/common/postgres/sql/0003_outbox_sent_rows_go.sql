-- The relay deletes the rows it has sent: the topic is the record of what was published.
-- Marking them instead rewrote each whole row (value, headers) and its index entries, the
-- most WAL of any statement, only for a housekeeping job to delete it a week later.
DELETE FROM outbox WHERE published_at IS NOT NULL;
DROP INDEX outbox_published_at;
DROP INDEX outbox_unpublished;
ALTER TABLE outbox DROP COLUMN published_at;
