-- The brand console's overview reads aggregates, never scans (issue 14): console_counts holds
-- per-brand counters kept by the store in the transaction of the act that changes them, and
-- this migration backfills them from the rows an upgraded deployment already has.
--
-- A row is a change of a counter (n, a delta) on a day (the UTC midnight in Unix
-- milliseconds); a counter's value at a time is the sum of its rows up to then. Metrics:
--   consent          k1 category, k2 purpose: consumers whose grant of the pair is active.
--                    A decision counts on the day whose end-of-day checkpoint first includes
--                    it: day = ((t - 1) / 86400000) * 86400000, so a change at exactly
--                    midnight belongs to the day before (the chart reads "at the end of the
--                    day"). A grant adds 1 when given and, when it has an expiry, schedules -1
--                    on its expiry's day; a later decision of the pair ends it earlier. Every
--                    record adds a row (n may be 0), so every pair ever decided is listed.
--   consumers        live (not merged) consumers, on the day of their creation (same rule).
--   events           stored events, on the UTC day they were received.
--   grants           k1, k2: paid reward grants not ended, +1 on day 0 and -1 scheduled on
--                    the day of their end (same rule).
--   points, holders  points held by the brand's consumers, and how many hold any (day 0).
--   redemptions, redeemed_points  k1 reward id: redemptions and the points they cost (day 0).
-- shard spreads one counter over several rows (summed when read) so that concurrent
-- PostgreSQL transactions do not queue on one row lock; SQLite has one writer and uses 0.
CREATE TABLE console_counts (
  brand_id INTEGER NOT NULL,
  metric   TEXT NOT NULL,
  day      INTEGER NOT NULL,
  k1       TEXT NOT NULL DEFAULT '',
  k2       TEXT NOT NULL DEFAULT '',
  n        INTEGER NOT NULL,
  shard    INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (brand_id, metric, day, k1, k2, shard)
) WITHOUT ROWID;

-- Due expiries: the overview counts, per brand and pair, the grants that expire later today
-- from this index alone (the expiry sweep reads it by expires_at as before).
DROP INDEX consents_due;
CREATE INDEX consents_due ON consents(expires_at, brand_id, category, purpose) WHERE state = 'given' AND expires_at <> 0;

-- Paid grants whose end is still ahead of the accrual: the overview adds back those that
-- end later today (their -1 sits on today's row but has not happened yet).
CREATE INDEX reward_grants_open_ends ON reward_grants(ends_at, brand_id, category, purpose) WHERE ended_at = 0;

INSERT INTO console_counts (brand_id, metric, day, k1, k2, n)
SELECT brand_id, metric, day, k1, k2, SUM(n) FROM (
  -- consent: each record's interval [at, end), end = the next record of the pair or its expiry.
  WITH iv AS (
    SELECT brand_id, category, purpose, state, at,
      CASE WHEN nxt IS NULL THEN NULLIF(expires_at, 0)
           WHEN expires_at = 0 OR nxt < expires_at THEN nxt
           ELSE expires_at END AS fin
    FROM (SELECT brand_id, category, purpose, state, at, expires_at,
            LEAD(at) OVER (PARTITION BY consumer_id, category, purpose ORDER BY at, id) AS nxt
          FROM consent_records)
  )
  SELECT brand_id, 'consent' AS metric, ((at - 1) / 86400000) * 86400000 AS day, category AS k1, purpose AS k2,
    CASE WHEN state = 'given' AND (fin IS NULL OR at < fin) THEN 1 ELSE 0 END AS n FROM iv
  UNION ALL
  SELECT brand_id, 'consent', ((fin - 1) / 86400000) * 86400000, category, purpose, -1 FROM iv
    WHERE state = 'given' AND fin IS NOT NULL AND at < fin
  UNION ALL
  SELECT brand_id, 'consumers', ((created_at - 1) / 86400000) * 86400000, '', '', 1 FROM consumers WHERE merged_into = 0
  UNION ALL
  SELECT brand_id, 'events', (received_at / 86400000) * 86400000, '', '', 1 FROM events
  UNION ALL
  SELECT brand_id, 'grants', 0, category, purpose, 1 FROM reward_grants WHERE ended_at = 0
  UNION ALL
  SELECT brand_id, 'grants', ((ends_at - 1) / 86400000) * 86400000, category, purpose, -1 FROM reward_grants WHERE ended_at = 0
  UNION ALL
  SELECT brand_id, 'points', 0, '', '', balance FROM points_balances WHERE account LIKE 'consumer:%' AND balance > 0
  UNION ALL
  SELECT brand_id, 'holders', 0, '', '', 1 FROM points_balances WHERE account LIKE 'consumer:%' AND balance > 0
  UNION ALL
  SELECT brand_id, 'redemptions', 0, reward_id, '', 1 FROM redemptions
  UNION ALL
  SELECT brand_id, 'redeemed_points', 0, reward_id, '', cost FROM redemptions
) GROUP BY brand_id, metric, day, k1, k2;

-- Statement lines carry what they are for as data (rewards.Detail, JSON), so pages say them in
-- the consumer's language with the brand's labels; lines written before have '' and are read
-- back from their English description.
ALTER TABLE points_postings ADD COLUMN detail TEXT NOT NULL DEFAULT '';
