-- Indexes for Prune, which finds each table's dead rows by the time they
-- stopped mattering. A challenge is dead once consumed or expired; since a
-- challenge is consumed only before it expires, the earlier of the two is
-- coalesce(consumed_at, expires_at), and Prune's condition is written with
-- exactly that expression so that this index serves it.
CREATE INDEX challenges_dead_at ON challenges (coalesce(consumed_at, expires_at));
CREATE INDEX sessions_expires_at ON sessions (expires_at);
CREATE INDEX tokens_expires_at ON tokens (expires_at);
