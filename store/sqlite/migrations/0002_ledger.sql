-- The verifiable ledger (package ledger). Entries are inserted in the transaction of the act
-- they record; idx (the position in the Merkle log) is assigned by the integrator, in commit
-- order. ledger_hashes holds the tree's stored hashes (golang.org/x/mod/sumdb/tlog indexing),
-- from which tiles and proofs are read.
CREATE TABLE ledger_entries (
  id         INTEGER PRIMARY KEY,
  idx        INTEGER,
  brand_id   INTEGER NOT NULL,
  chain_id   INTEGER NOT NULL,
  n          INTEGER NOT NULL,
  commitment BLOB NOT NULL,
  record     BLOB NOT NULL,
  salt       BLOB NOT NULL,
  at         INTEGER NOT NULL,
  UNIQUE (chain_id, n)
);
CREATE UNIQUE INDEX ledger_entries_idx ON ledger_entries(idx) WHERE idx IS NOT NULL;
CREATE INDEX ledger_entries_pending ON ledger_entries(id) WHERE idx IS NULL;

CREATE TABLE ledger_hashes (
  id   INTEGER PRIMARY KEY,
  hash BLOB NOT NULL
);

CREATE TABLE ledger_checkpoints (
  size INTEGER PRIMARY KEY,
  root BLOB NOT NULL,
  note BLOB NOT NULL,
  at   INTEGER NOT NULL
);
