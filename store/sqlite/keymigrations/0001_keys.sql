-- Consumers' data keys, wrapped by the master key. This file (keys.db) is kept apart from the
-- main database so that destroying a key makes the consumer's data unreadable in every copy of
-- the main database, including old backups of it. See docs/operations.md.
CREATE TABLE data_keys (
  consumer_id INTEGER PRIMARY KEY,
  brand_id    INTEGER NOT NULL,
  wrapped     BLOB NOT NULL,
  created_at  INTEGER NOT NULL
);
