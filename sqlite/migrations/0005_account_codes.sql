-- Codes a signed-in user asks for: 'delete' confirms the deletion of the
-- account, 'phone' (with the number it is sent to, new_phone) proves a
-- new number. Both come in one migration so that the CHECK, which SQLite cannot
-- alter, is rebuilt once.
--
-- The table is rebuilt the way SQLite documents (create, copy, drop,
-- rename), in this migration's transaction. Nothing references challenges,
-- so dropping it touches no other table.

CREATE TABLE challenges_0005 (
	id          TEXT PRIMARY KEY,
	user_id     TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	purpose     TEXT NOT NULL CHECK (purpose IN ('register', 'login', 'delete', 'phone')),
	code_hash   BLOB NOT NULL,           -- keyed hash, never the code
	created_at  INTEGER NOT NULL,
	expires_at  INTEGER NOT NULL,
	consumed_at INTEGER,
	attempts    INTEGER NOT NULL DEFAULT 0,
	new_phone   TEXT,                    -- E.164; only for 'phone'
	UNIQUE (user_id, purpose),
	CHECK ((purpose = 'phone') = (new_phone IS NOT NULL))
) STRICT;

INSERT INTO challenges_0005 (id, user_id, purpose, code_hash, created_at, expires_at, consumed_at, attempts)
SELECT id, user_id, purpose, code_hash, created_at, expires_at, consumed_at, attempts FROM challenges;

DROP TABLE challenges;
ALTER TABLE challenges_0005 RENAME TO challenges;

-- Prune (see 0002).
CREATE INDEX challenges_dead_at ON challenges (coalesce(consumed_at, expires_at));
