-- An outbox payload is a whole write request's events (a bulk of 500 documents is
-- about 700 kB): PostgreSQL compressed each one with pglz on insert and decompressed it
-- again for the relay, moments before deleting the row. Out of line, uncompressed:
-- the seed's PostgreSQL CPU for the outbox fell to about a third (bench/indexing.py).
-- No rewrite: rows written from now on are stored this way.
ALTER TABLE outbox ALTER COLUMN payload SET STORAGE EXTERNAL;
