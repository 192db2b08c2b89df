package sqlite

// The statements of the store, prepared once per connection. Times are
// unix milliseconds.
const (
	// A no-op update on conflict makes RETURNING yield the existing
	// account, so one statement both inserts and looks up.
	qUpsertUser = `
		INSERT INTO users (id, phone, created_at) VALUES (?, ?, ?)
		ON CONFLICT (phone) DO UPDATE SET phone = excluded.phone
		RETURNING id, verified_at, created_at`

	// Replaces only a dead challenge (consumed, or expired at the last
	// parameter): a live one means the number is being registered.
	qReplaceDeadRegistration = `
		INSERT INTO challenges (id, user_id, purpose, code_hash, created_at, expires_at)
		VALUES (?, ?, 'register', ?, ?, ?)
		ON CONFLICT (user_id, purpose) DO UPDATE SET
			id = excluded.id, code_hash = excluded.code_hash,
			created_at = excluded.created_at, expires_at = excluded.expires_at,
			consumed_at = NULL
		WHERE challenges.consumed_at IS NOT NULL OR challenges.expires_at <= ?`

	qDeleteRegistration = `DELETE FROM challenges WHERE id = ? AND purpose = 'register' RETURNING user_id`

	qDeleteUnverified = `DELETE FROM users WHERE id = ? AND verified_at IS NULL`

	qUserByPhone = `SELECT id, verified_at, created_at FROM users WHERE phone = ?`

	// A plain read, on the primary key.
	qRegistrationChallenge = `
		SELECT user_id, code_hash, created_at, expires_at FROM challenges
		WHERE id = ? AND purpose = 'register' AND consumed_at IS NULL`

	// A plain read, on the unique index of (user_id, purpose).
	qLoginChallenge = `
		SELECT id, code_hash, created_at, expires_at FROM challenges
		WHERE user_id = ? AND purpose = 'login' AND consumed_at IS NULL`

	qPutLogin = `
		INSERT INTO challenges (id, user_id, purpose, code_hash, created_at, expires_at)
		VALUES (?, ?, 'login', ?, ?, ?)
		ON CONFLICT (user_id, purpose) DO UPDATE SET
			id = excluded.id, code_hash = excluded.code_hash,
			created_at = excluded.created_at, expires_at = excluded.expires_at,
			consumed_at = NULL`

	qDeleteChallenge = `DELETE FROM challenges WHERE id = ?`

	// The challenge a try is about, consumed or not, for Challenge.Check
	// to decide; the transaction's write lock keeps it as read until
	// commit.
	qRegistrationTry = `
		SELECT user_id, code_hash, created_at, expires_at, consumed_at IS NOT NULL
		FROM challenges
		WHERE id = ? AND purpose = 'register'
			AND user_id = (SELECT id FROM users WHERE phone = ?)`

	qLoginTry = `
		SELECT id, code_hash, created_at, expires_at, consumed_at IS NOT NULL
		FROM challenges WHERE user_id = ? AND purpose = 'login'`

	qConsume = `UPDATE challenges SET consumed_at = ? WHERE id = ?`

	qMarkVerified = `UPDATE users SET verified_at = coalesce(verified_at, ?) WHERE id = ?`

	// The columns of a session, in the order scanSession reads them.
	sessionColumns = `id, user_id, created_at, expires_at, generation, rotated_at, previous_rotated_at, revoked_at`

	qInsertSession = `INSERT INTO sessions (` + sessionColumns + `) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`

	// The transaction's write lock keeps what these read until commit.
	qSession = `SELECT ` + sessionColumns + ` FROM sessions WHERE id = ?`

	qSessionOfForeign = `
		SELECT s.id, s.user_id, s.created_at, s.expires_at, s.generation, s.rotated_at,
			s.previous_rotated_at, s.revoked_at, t.spent_at IS NOT NULL
		FROM foreign_tokens t JOIN sessions s ON s.id = t.session_id
		WHERE t.jti = ?`

	qUpdateSession = `
		UPDATE sessions SET generation = ?, rotated_at = ?, previous_rotated_at = ?, revoked_at = ?
		WHERE id = ?`

	qInsertForeign = `INSERT INTO foreign_tokens (jti, session_id, expires_at) VALUES (?, ?, ?)`

	qRevokeSession = `UPDATE sessions SET revoked_at = coalesce(revoked_at, ?) WHERE id = ?`

	qRevokeSessionOfForeign = `
		UPDATE sessions SET revoked_at = coalesce(revoked_at, ?)
		WHERE id = (SELECT session_id FROM foreign_tokens WHERE jti = ?)`

	// The user, and the session of the access token if the store holds
	// one: by the ID the token carries, or through its recorded jti.
	qAccessOwn = `
		SELECT u.phone, u.verified_at, u.created_at,
			s.id, s.user_id, s.created_at, s.expires_at, s.generation, s.rotated_at, s.previous_rotated_at, s.revoked_at
		FROM users u
		LEFT JOIN sessions s ON s.id = ?
		WHERE u.id = ?`

	qAccessForeign = `
		SELECT u.phone, u.verified_at, u.created_at,
			s.id, s.user_id, s.created_at, s.expires_at, s.generation, s.rotated_at, s.previous_rotated_at, s.revoked_at
		FROM users u
		LEFT JOIN foreign_tokens t ON t.jti = ?
		LEFT JOIN sessions s ON s.id = t.session_id
		WHERE u.id = ?`

	// The prune statements each delete up to a batch (the last parameter)
	// of dead rows, found through the indexes of migrations 0002 and 0004.
	// Foreign tokens go before sessions, and a session only once none of
	// its foreign tokens is left, so that no row goes by cascade,
	// uncounted.
	qPruneChallenges = `
		DELETE FROM challenges WHERE id IN (
			SELECT id FROM challenges WHERE coalesce(consumed_at, expires_at) <= ? LIMIT ?)`

	qPruneForeign = `
		DELETE FROM foreign_tokens WHERE jti IN (
			SELECT jti FROM foreign_tokens WHERE expires_at <= ? LIMIT ?)`

	qPruneSessions = `
		DELETE FROM sessions WHERE id IN (
			SELECT id FROM sessions s WHERE expires_at <= ?
				AND NOT EXISTS (SELECT 1 FROM foreign_tokens t WHERE t.session_id = s.id)
			LIMIT ?)`
)

// writeQueries and readQueries are prepared on the write and read pools.
var (
	writeQueries = []string{
		qUpsertUser, qReplaceDeadRegistration, qDeleteRegistration, qDeleteUnverified,
		qPutLogin, qDeleteChallenge, qRegistrationTry, qLoginTry, qConsume, qMarkVerified,
		qInsertSession, qSession, qSessionOfForeign, qUpdateSession, qInsertForeign,
		qRevokeSession, qRevokeSessionOfForeign,
		qPruneChallenges, qPruneForeign, qPruneSessions,
	}
	readQueries = []string{qUserByPhone, qRegistrationChallenge, qLoginChallenge, qAccessOwn, qAccessForeign}
)
