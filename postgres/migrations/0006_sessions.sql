-- Sessions count their rotations instead of recording every token.
--
-- The tokens phoneauth signs carry their session and generation in their
-- jti, so a session is one row that rotation updates in place: its
-- generation, when its current refresh token was issued (rotated_at, the
-- token's iat) and when the one before it was (previous_rotated_at). The
-- session ID is the 64-bit integer the jti carries, stored as the bigint
-- with the same bits.
--
-- foreign_tokens keeps the jtis of tokens that carry no session: minted by
-- another backend with the same secret (at most one per session: the one
-- the session started from, or was recorded revoked for), or issued here
-- before this migration. spent_at is set only on rows from before it.
--
-- Existing sessions are numbered 1, 2, ... and keep every unexpired token
-- they had, as foreign tokens: their live refresh token is generation 0 and
-- rotates as usual; a spent one is reuse; their access tokens stay revocable.
-- A session ends no earlier than the last token it issued.

CREATE TABLE sessions_0006 (
	id                  bigint PRIMARY KEY,
	user_id             text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	created_at          timestamptz NOT NULL,
	expires_at          timestamptz NOT NULL,
	generation          integer NOT NULL CHECK (generation >= 0),
	rotated_at          timestamptz NOT NULL,
	previous_rotated_at timestamptz,
	revoked_at          timestamptz
);

CREATE TABLE foreign_tokens (
	jti        text PRIMARY KEY,
	session_id bigint NOT NULL REFERENCES sessions_0006 (id) ON DELETE CASCADE,
	expires_at timestamptz NOT NULL,
	spent_at   timestamptz
);

INSERT INTO sessions_0006 (id, user_id, created_at, expires_at, generation, rotated_at, revoked_at)
SELECT n.new_id, s.user_id, s.created_at,
	greatest(s.expires_at, (SELECT max(t.expires_at) FROM tokens t WHERE t.session_id = s.id)),
	0, s.created_at, s.revoked_at
FROM sessions s
JOIN (SELECT id, row_number() OVER (ORDER BY id) AS new_id FROM sessions) n ON n.id = s.id;

INSERT INTO foreign_tokens (jti, session_id, expires_at, spent_at)
SELECT t.jti, n.new_id, t.expires_at, t.spent_at
FROM tokens t
JOIN (SELECT id, row_number() OVER (ORDER BY id) AS new_id FROM sessions) n ON n.id = t.session_id;

DROP TABLE tokens;
DROP TABLE sessions;
ALTER TABLE sessions_0006 RENAME TO sessions;
ALTER INDEX sessions_0006_pkey RENAME TO sessions_pkey;
ALTER TABLE sessions RENAME CONSTRAINT sessions_0006_user_id_fkey TO sessions_user_id_fkey;
ALTER TABLE sessions RENAME CONSTRAINT sessions_0006_generation_check TO sessions_generation_check;

-- The cascade from users, and Prune (see 0002).
CREATE INDEX sessions_user_id ON sessions (user_id);
CREATE INDEX sessions_expires_at ON sessions (expires_at);
CREATE INDEX foreign_tokens_session_id ON foreign_tokens (session_id);
CREATE INDEX foreign_tokens_expires_at ON foreign_tokens (expires_at);
