-- Events of a consumer in arrival order (issue 14): slot = consumer_id << 24 | n, n the
-- consumer's own count of events (0, 1, 2, …), instead of a position taken from the message
-- digest. A commit then appends to the last page of each consumer it writes to instead of
-- dirtying about one page per event (the WAL bytes, the statement journal and the checkpoints
-- all scaled with that), and deduplication of (consumer, mid) moves from the key to the
-- writer's in-memory MID sets, loaded from each consumer's range (store/sqlstore/placed.go).
--
-- Existing rows are renumbered in each consumer's range in the order they arrived (seq); a
-- consumer's range is still slot >> 24, so reads, erasure and merge stay one range each, and
-- seq (the id the API returns) is kept.
CREATE TABLE events_arrival (
  slot        INTEGER PRIMARY KEY,
  seq         INTEGER NOT NULL,
  brand_id    INTEGER NOT NULL,
  consumer_id INTEGER NOT NULL,
  category    TEXT NOT NULL,
  mid         BLOB NOT NULL,
  ts          INTEGER NOT NULL,
  received_at INTEGER NOT NULL,
  key_owner   INTEGER NOT NULL,
  payload     BLOB NOT NULL
);

INSERT INTO events_arrival (slot, seq, brand_id, consumer_id, category, mid, ts, received_at, key_owner, payload)
SELECT ((slot >> 24) << 24) + ROW_NUMBER() OVER (PARTITION BY slot >> 24 ORDER BY seq) - 1,
       seq, brand_id, consumer_id, category, mid, ts, received_at, key_owner, payload
FROM events ORDER BY slot >> 24, seq;

DROP TABLE events;
ALTER TABLE events_arrival RENAME TO events;
