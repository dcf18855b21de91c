-- The brand console (package web): per-brand daily ingestion tallies (accepted and dropped by
-- reason), counted in memory by package ingest and added here periodically. Day is the UTC
-- day's midnight in Unix milliseconds.
CREATE TABLE ingest_daily (
  brand_id BIGINT NOT NULL,
  day      BIGINT NOT NULL,
  outcome  TEXT NOT NULL,
  n        BIGINT NOT NULL,
  PRIMARY KEY (brand_id, day, outcome)
);
