-- Accounts, SMS challenges, sessions and the tokens issued in them.
-- IDs are text, not uuid: an ID from outside (a token's subject) that is not
-- a UUID must be "not found", not a type error.

CREATE TABLE users (
	id          text PRIMARY KEY,        -- public UUID
	phone       text NOT NULL UNIQUE,    -- E.164
	verified_at timestamptz,
	created_at  timestamptz NOT NULL
);

-- A user has at most one challenge per purpose; a new one replaces the old
-- in place (upsert on user_id, purpose). The unique index also serves the
-- cascade from users.
CREATE TABLE challenges (
	id          text PRIMARY KEY,
	user_id     text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	purpose     text NOT NULL CHECK (purpose IN ('register', 'login')),
	code_hash   bytea NOT NULL,          -- keyed hash, never the code
	created_at  timestamptz NOT NULL,
	expires_at  timestamptz NOT NULL,
	consumed_at timestamptz,
	UNIQUE (user_id, purpose)
);

CREATE TABLE sessions (
	id         text PRIMARY KEY,
	user_id    text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	created_at timestamptz NOT NULL,
	expires_at timestamptz NOT NULL,
	revoked_at timestamptz
);

CREATE INDEX sessions_user_id ON sessions (user_id);

-- Only the ID and lifetime of a token, never the token itself.
CREATE TABLE tokens (
	jti        text PRIMARY KEY,
	session_id text NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
	type       text NOT NULL CHECK (type IN ('access', 'refresh')),
	expires_at timestamptz NOT NULL,
	spent_at   timestamptz
);

CREATE INDEX tokens_session_id ON tokens (session_id);
