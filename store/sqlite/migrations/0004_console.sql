-- The brand console (package web): per-brand daily ingestion tallies (accepted and dropped by
-- reason), counted in memory by package ingest and added here periodically. Day is the UTC
-- day's midnight in Unix milliseconds.
CREATE TABLE ingest_daily (
  brand_id INTEGER NOT NULL,
  day      INTEGER NOT NULL,
  outcome  TEXT NOT NULL,
  n        INTEGER NOT NULL,
  PRIMARY KEY (brand_id, day, outcome)
);
