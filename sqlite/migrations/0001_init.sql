-- Accounts, SMS challenges, sessions and the tokens issued in them.
-- Times are INTEGER unix milliseconds, UTC.

CREATE TABLE users (
	id          TEXT PRIMARY KEY,        -- public UUID
	phone       TEXT NOT NULL UNIQUE,    -- E.164
	verified_at INTEGER,
	created_at  INTEGER NOT NULL
) STRICT;

-- A user has at most one challenge per purpose; a new one replaces the old
-- in place (upsert on user_id, purpose).
CREATE TABLE challenges (
	id          TEXT PRIMARY KEY,
	user_id     TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	purpose     TEXT NOT NULL CHECK (purpose IN ('register', 'login')),
	code_hash   BLOB NOT NULL,           -- keyed hash, never the code
	created_at  INTEGER NOT NULL,
	expires_at  INTEGER NOT NULL,
	consumed_at INTEGER,
	UNIQUE (user_id, purpose)
) STRICT;

CREATE TABLE sessions (
	id         TEXT PRIMARY KEY,
	user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	created_at INTEGER NOT NULL,
	expires_at INTEGER NOT NULL,
	revoked_at INTEGER
) STRICT;

-- Serves the cascade when an unverified account is deleted.
CREATE INDEX sessions_user_id ON sessions (user_id);

-- Only the ID and lifetime of a token, never the token itself.
CREATE TABLE tokens (
	jti        TEXT PRIMARY KEY,
	session_id TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
	type       TEXT NOT NULL CHECK (type IN ('access', 'refresh')),
	expires_at INTEGER NOT NULL,
	spent_at   INTEGER
) STRICT;

CREATE INDEX tokens_session_id ON tokens (session_id);
