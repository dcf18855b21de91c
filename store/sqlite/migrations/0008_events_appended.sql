-- Events appended in arrival order (issue 14). Until now the row key was
-- consumer_id << 24 | a slot from the message digest: one consumer's events were contiguous
-- and the key was the dedup constraint, but a commit wrote about 1.7 pages per event into the
-- middle of the tree (each full page split, rewriting its neighbours), and the WAL, the
-- statement journal and the checkpoints all scaled with that. Now:
--   - id (the arrival sequence from the sequences table, the event id the API returns) is the
--     key, so a commit appends to the table's last pages;
--   - events_consumer (consumer_id, id) finds a consumer's events in arrival order; its
--     entries are small, so a commit writes about one index page per consumer it touches;
--   - deduplication of (consumer, mid) is done by the single writer from its in-memory MID
--     sets (store/sqlstore/dedup.go), so there is no unique index written at random places.
CREATE TABLE events_appended (
  id          INTEGER PRIMARY KEY,
  brand_id    INTEGER NOT NULL,
  consumer_id INTEGER NOT NULL,
  category    TEXT NOT NULL,
  mid         BLOB NOT NULL,
  ts          INTEGER NOT NULL,
  received_at INTEGER NOT NULL,
  key_owner   INTEGER NOT NULL,
  payload     BLOB NOT NULL
);

INSERT INTO events_appended (id, brand_id, consumer_id, category, mid, ts, received_at, key_owner, payload)
SELECT seq, brand_id, consumer_id, category, mid, ts, received_at, key_owner, payload FROM events ORDER BY seq;

DROP TABLE events;
ALTER TABLE events_appended RENAME TO events;
CREATE INDEX events_consumer ON events(consumer_id);
