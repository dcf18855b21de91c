-- Idempotency records are pruned once they outlive their retention (--idempotency-retention,
-- 30 days by default; symbiont.PruneIdempotency): find the oldest without reading them all.
CREATE INDEX idempotency_keys_created ON idempotency_keys(created_at);
