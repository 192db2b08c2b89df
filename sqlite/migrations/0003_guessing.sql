-- Guessing is bounded in the database, so no restart or limiter flush
-- gives a code or an account fresh tries. A challenge counts the tries
-- decided against it; an account counts its consecutive failed code checks
-- across codes and flows, its lockouts since its last success, and when
-- the current lockout ends (unix milliseconds).
ALTER TABLE challenges ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN failed_checks INTEGER NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN lockouts INTEGER NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN locked_until INTEGER;

-- Prune deletes unverified accounts a day after their code died.
CREATE INDEX users_unverified ON users (created_at) WHERE verified_at IS NULL;
