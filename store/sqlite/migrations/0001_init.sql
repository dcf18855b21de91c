-- Symbiont schema, SQLite dialect. Times are Unix milliseconds; booleans are 0/1.
CREATE TABLE brands (
  id          INTEGER PRIMARY KEY,
  public_id   TEXT NOT NULL UNIQUE,
  name        TEXT NOT NULL,
  created_at  INTEGER NOT NULL,
  signing_key BLOB NOT NULL
);

CREATE TABLE api_keys (
  id         TEXT PRIMARY KEY,
  brand_id   INTEGER NOT NULL REFERENCES brands(id),
  kind       TEXT NOT NULL,
  hash       BLOB NOT NULL UNIQUE,
  prefix     TEXT NOT NULL,
  name       TEXT NOT NULL DEFAULT '',
  scopes     TEXT NOT NULL DEFAULT '',
  created_at INTEGER NOT NULL,
  revoked_at INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX api_keys_brand ON api_keys(brand_id);

CREATE TABLE wallet_sessions (
  id          TEXT PRIMARY KEY,
  brand_id    INTEGER NOT NULL,
  consumer_id INTEGER NOT NULL,
  hash        BLOB NOT NULL UNIQUE,
  created_at  INTEGER NOT NULL,
  expires_at  INTEGER NOT NULL,
  revoked_at  INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX wallet_sessions_consumer ON wallet_sessions(consumer_id);

CREATE TABLE settings (
  name  TEXT PRIMARY KEY,
  value BLOB NOT NULL
);

CREATE TABLE idempotency_keys (
  brand_id   INTEGER NOT NULL,
  scope      TEXT NOT NULL,
  key        TEXT NOT NULL,
  result     TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  PRIMARY KEY (brand_id, scope, key)
);

CREATE TABLE vocabulary (
  brand_id    INTEGER NOT NULL,
  kind        TEXT NOT NULL,
  name        TEXT NOT NULL,
  label       TEXT NOT NULL,
  description TEXT NOT NULL,
  dpv         TEXT NOT NULL DEFAULT '',
  sensitive   INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (brand_id, kind, name)
);

CREATE TABLE tracking_plans (
  brand_id   INTEGER PRIMARY KEY,
  version    INTEGER NOT NULL,
  plan       TEXT NOT NULL,
  updated_at INTEGER NOT NULL
);

CREATE TABLE consumers (
  id          INTEGER PRIMARY KEY,
  brand_id    INTEGER NOT NULL,
  created_at  INTEGER NOT NULL,
  merged_into INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX consumers_merged ON consumers(merged_into) WHERE merged_into <> 0;

CREATE TABLE identifiers (
  brand_id    INTEGER NOT NULL,
  kind        TEXT NOT NULL,
  hash        BLOB NOT NULL,
  consumer_id INTEGER NOT NULL,
  key_owner   INTEGER NOT NULL DEFAULT 0,
  sealed      BLOB,
  created_at  INTEGER NOT NULL,
  PRIMARY KEY (brand_id, kind, hash, consumer_id)
);
CREATE INDEX identifiers_consumer ON identifiers(consumer_id);

CREATE TABLE identity_conflicts (
  brand_id   INTEGER NOT NULL,
  kind       TEXT NOT NULL,
  hash       BLOB NOT NULL,
  consumers  INTEGER NOT NULL,
  first_seen INTEGER NOT NULL,
  last_seen  INTEGER NOT NULL,
  PRIMARY KEY (brand_id, kind, hash)
);

CREATE TABLE consent_records (
  id              INTEGER PRIMARY KEY,
  receipt_id      TEXT NOT NULL UNIQUE,
  brand_id        INTEGER NOT NULL,
  consumer_id     INTEGER NOT NULL,
  category        TEXT NOT NULL,
  purpose         TEXT NOT NULL,
  state           TEXT NOT NULL,
  at              INTEGER NOT NULL,
  expires_at      INTEGER NOT NULL DEFAULT 0,
  notice_id       TEXT NOT NULL DEFAULT '',
  notice_version  TEXT NOT NULL DEFAULT '',
  notice_hash     TEXT NOT NULL DEFAULT '',
  notice_language TEXT NOT NULL DEFAULT '',
  notice_url      TEXT NOT NULL DEFAULT '',
  legal_basis     TEXT NOT NULL,
  method          TEXT NOT NULL,
  actor           TEXT NOT NULL,
  jurisdiction    TEXT NOT NULL DEFAULT '',
  explicit        INTEGER NOT NULL DEFAULT 0,
  evidence        TEXT NOT NULL DEFAULT '',
  receipt         TEXT NOT NULL DEFAULT ''
);
CREATE INDEX consent_records_consumer ON consent_records(consumer_id, id);

-- The current state per (consumer, category, purpose): the latest record.
CREATE TABLE consents (
  brand_id    INTEGER NOT NULL,
  consumer_id INTEGER NOT NULL,
  category    TEXT NOT NULL,
  purpose     TEXT NOT NULL,
  state       TEXT NOT NULL,
  expires_at  INTEGER NOT NULL DEFAULT 0,
  updated_at  INTEGER NOT NULL,
  record_id   INTEGER NOT NULL,
  PRIMARY KEY (consumer_id, category, purpose)
);
CREATE INDEX consents_due ON consents(expires_at) WHERE state = 'given' AND expires_at <> 0;

-- Events are placed by consumer and message: the row key is consumer_id << 24 | a slot taken
-- from the messageId digest (linear probing on collisions; see store/sqlstore/placed.go). One
-- consumer's events are contiguous, so a purpose-bound read is one range scan, and the key is
-- also the dedup constraint: a commit dirties about one page per consumer and no index at all.
-- seq is the arrival order (from sequences) and is the event id the API sees.
CREATE TABLE events (
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

CREATE TABLE sequences (
  name  TEXT PRIMARY KEY,
  value INTEGER NOT NULL
);
INSERT INTO sequences (name, value) VALUES ('events', 0);

CREATE TABLE access_log (
  id          INTEGER PRIMARY KEY,
  brand_id    INTEGER NOT NULL,
  consumer_id INTEGER NOT NULL,
  actor       TEXT NOT NULL,
  purpose     TEXT NOT NULL,
  categories  TEXT NOT NULL,
  withheld    TEXT NOT NULL,
  records     INTEGER NOT NULL,
  action      TEXT NOT NULL,
  request_id  TEXT NOT NULL DEFAULT '',
  at          INTEGER NOT NULL
);
CREATE INDEX access_log_consumer ON access_log(consumer_id, id);
