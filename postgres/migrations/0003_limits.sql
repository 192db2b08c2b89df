-- Counters and holds of the phoneauth.Limiter kept in PostgreSQL, shared by
-- a fleet that runs without Redis. A row is dead once expires_at has
-- passed: Hit and Hold start a dead row over in place, and Limiter.Prune
-- deletes the dead rows nobody came back for, found through the index.
CREATE TABLE limits (
	key        text PRIMARY KEY,
	count      bigint NOT NULL CHECK (count >= 0),
	expires_at timestamptz NOT NULL
);

CREATE INDEX limits_expires_at ON limits (expires_at);
