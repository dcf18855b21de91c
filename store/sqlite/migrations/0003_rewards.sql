-- Value exchange (package rewards): versioned rate cards, the grants they pay (terms copied at
-- grant time), a double-entry points ledger (journals whose postings sum to zero, balances,
-- lots for first-in-first-out spending and expiry), the catalogue, redemptions and tiers.
CREATE TABLE rate_cards (
  brand_id   INTEGER NOT NULL,
  version    INTEGER NOT NULL,
  card       TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  PRIMARY KEY (brand_id, version)
);

CREATE TABLE reward_grants (
  record_id     INTEGER PRIMARY KEY,
  receipt_id    TEXT NOT NULL,
  brand_id      INTEGER NOT NULL,
  consumer_id   INTEGER NOT NULL,
  category      TEXT NOT NULL,
  purpose       TEXT NOT NULL,
  card_version  INTEGER NOT NULL,
  starts_at     INTEGER NOT NULL,
  ends_at       INTEGER NOT NULL,
  ended_at      INTEGER NOT NULL DEFAULT 0,
  days          INTEGER NOT NULL DEFAULT 0,
  bonus_paid    INTEGER NOT NULL DEFAULT 0,
  settled       INTEGER NOT NULL DEFAULT 0,
  points_per_30 INTEGER NOT NULL,
  bonus         INTEGER NOT NULL,
  factor_milli  INTEGER NOT NULL,
  cap           INTEGER NOT NULL,
  duration_days INTEGER NOT NULL
);
CREATE INDEX reward_grants_consumer ON reward_grants(consumer_id, category, purpose, record_id);
CREATE INDEX reward_grants_unsettled ON reward_grants(record_id) WHERE settled = 0;

CREATE TABLE points_journal (
  id              INTEGER PRIMARY KEY,
  brand_id        INTEGER NOT NULL,
  consumer_id     INTEGER NOT NULL,
  kind            TEXT NOT NULL,
  idempotency_key TEXT NOT NULL,
  at              INTEGER NOT NULL,
  UNIQUE (brand_id, idempotency_key)
);
CREATE INDEX points_journal_consumer ON points_journal(consumer_id, at);

CREATE TABLE points_postings (
  journal_id  INTEGER NOT NULL,
  line        INTEGER NOT NULL,
  account     TEXT NOT NULL,
  amount      INTEGER NOT NULL,
  description TEXT NOT NULL,
  ref         TEXT NOT NULL DEFAULT '',
  PRIMARY KEY (journal_id, line)
);
CREATE INDEX points_postings_account ON points_postings(account, journal_id);

CREATE TABLE points_balances (
  account  TEXT PRIMARY KEY,
  brand_id INTEGER NOT NULL,
  balance  INTEGER NOT NULL
);

CREATE TABLE points_lots (
  id          INTEGER PRIMARY KEY,
  brand_id    INTEGER NOT NULL,
  consumer_id INTEGER NOT NULL,
  amount      INTEGER NOT NULL,
  remaining   INTEGER NOT NULL,
  earned_at   INTEGER NOT NULL,
  expires_at  INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX points_lots_consumer ON points_lots(consumer_id, earned_at) WHERE remaining > 0;
CREATE INDEX points_lots_expiry ON points_lots(expires_at) WHERE remaining > 0 AND expires_at <> 0;

CREATE TABLE reward_catalog (
  brand_id     INTEGER NOT NULL,
  id           TEXT NOT NULL,
  name         TEXT NOT NULL,
  kind         TEXT NOT NULL,
  description  TEXT NOT NULL,
  cost         INTEGER NOT NULL,
  stock        INTEGER NOT NULL,
  per_consumer INTEGER NOT NULL,
  active       INTEGER NOT NULL,
  PRIMARY KEY (brand_id, id)
);

CREATE TABLE redemptions (
  id              INTEGER PRIMARY KEY,
  brand_id        INTEGER NOT NULL,
  consumer_id     INTEGER NOT NULL,
  reward_id       TEXT NOT NULL,
  cost            INTEGER NOT NULL,
  code            TEXT NOT NULL UNIQUE,
  idempotency_key TEXT NOT NULL,
  at              INTEGER NOT NULL,
  UNIQUE (consumer_id, idempotency_key)
);

CREATE TABLE tier_changes (
  id          INTEGER PRIMARY KEY,
  brand_id    INTEGER NOT NULL,
  consumer_id INTEGER NOT NULL,
  tier        TEXT NOT NULL,
  previous    TEXT NOT NULL,
  reason      TEXT NOT NULL,
  at          INTEGER NOT NULL
);
CREATE INDEX tier_changes_consumer ON tier_changes(consumer_id, id);
