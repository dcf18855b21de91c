-- Idempotency records, re-keyed (issue 14). The old rows named the consumer in clear (their
-- scope was e.g. "consent/brand/user_id:<the brand's user id>/0") and kept the client's key as
-- sent, and nothing deleted them at erasure. Records are now kept per brand and consumer (one
-- key space across endpoints) under an HMAC of the key, with an HMAC of the request, and are
-- deleted with the consumer.
--
-- The old rows are dropped, not converted: SQL cannot compute the new HMACs (they need the
-- master key), and a record only ever serves a client's retry of a recent request. A consent
-- request retried across this upgrade is applied again, which ends in the same state (a grant
-- is a grant; a second receipt is recorded). Redemptions are not affected: each keeps its own
-- client key, and a retried redemption still finds it (rewards.Service.Redeem).
DROP TABLE idempotency_keys;

CREATE TABLE idempotency_keys (
  brand_id    BIGINT NOT NULL,
  consumer_id BIGINT NOT NULL,
  key         BYTEA NOT NULL,   -- HMAC-SHA-256 of the client's Idempotency-Key (brand's key)
  request     BYTEA NOT NULL,   -- HMAC-SHA-256 of the canonical request
  result      TEXT COLLATE "C" NOT NULL,   -- what a replay answers from (receipt ids; "redemption")
  created_at  BIGINT NOT NULL,
  PRIMARY KEY (brand_id, consumer_id, key)
);
