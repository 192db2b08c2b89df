package sqlite

// The statements of the store, prepared once per connection. Times are
// unix milliseconds.
const (
	// A no-op update on conflict makes RETURNING yield the existing
	// account, so one statement both inserts and looks up.
	qUpsertUser = `
		INSERT INTO users (id, phone, created_at) VALUES (?, ?, ?)
		ON CONFLICT (phone) DO UPDATE SET phone = excluded.phone
		RETURNING id, verified_at, created_at, locked_until`

	// Replaces only a dead challenge (consumed, or expired at the last
	// parameter): a live one means the number is being registered.
	qReplaceDeadRegistration = `
		INSERT INTO challenges (id, user_id, purpose, code_hash, created_at, expires_at)
		VALUES (?, ?, 'register', ?, ?, ?)
		ON CONFLICT (user_id, purpose) DO UPDATE SET
			id = excluded.id, code_hash = excluded.code_hash,
			created_at = excluded.created_at, expires_at = excluded.expires_at,
			consumed_at = NULL, attempts = 0
		WHERE challenges.consumed_at IS NOT NULL OR challenges.expires_at <= ?`

	qDeleteRegistration = `DELETE FROM challenges WHERE id = ? AND purpose = 'register' RETURNING user_id, created_at`

	// Only an account the registration created: one that existed before
	// keeps its record (its failed checks and lockouts above all).
	qDeleteUnverified = `DELETE FROM users WHERE id = ? AND verified_at IS NULL AND created_at = ?`

	qUserByPhone = `SELECT id, verified_at, created_at, locked_until FROM users WHERE phone = ?`

	qUserExists = `SELECT EXISTS (SELECT 1 FROM users WHERE id = ?)`

	qUserLock = `SELECT locked_until FROM users WHERE id = ?`

	qDeleteChallenge = `DELETE FROM challenges WHERE id = ?`

	// Replaces the challenge of the purpose given as the second parameter
	// unless it is unconsumed and newer than the last parameter: for a
	// login, that one is the login throttle.
	qPutChallenge = `
		INSERT INTO challenges (id, purpose, user_id, code_hash, created_at, expires_at, new_phone)
		VALUES (?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (user_id, purpose) DO UPDATE SET
			id = excluded.id, code_hash = excluded.code_hash,
			created_at = excluded.created_at, expires_at = excluded.expires_at,
			consumed_at = NULL, attempts = 0, new_phone = excluded.new_phone
		WHERE challenges.consumed_at IS NOT NULL OR challenges.created_at <= ?`

	qPendingChallenge = `SELECT created_at FROM challenges WHERE user_id = ? AND purpose = ?`

	// The account code of a purpose (delete, phone) a try is about.
	qAccountTry = `
		SELECT c.id, c.code_hash, c.created_at, c.expires_at, c.consumed_at IS NOT NULL, c.attempts,
			coalesce(c.new_phone, ''), u.failed_checks, u.lockouts, u.locked_until
		FROM challenges c JOIN users u ON u.id = c.user_id
		WHERE c.user_id = ? AND c.purpose = ?`

	qMovePhone = `UPDATE users SET phone = ? WHERE id = ?`

	// The codes sent to the old number die with it.
	qDeleteOtherChallenges = `DELETE FROM challenges WHERE user_id = ? AND purpose <> 'phone'`

	// Every session of the account but the one of the third parameter
	// (NULL: every session).
	qRevokeOtherSessions = `UPDATE sessions SET revoked_at = coalesce(revoked_at, ?) WHERE user_id = ? AND id IS NOT ?`

	// Its challenges, sessions and their foreign tokens go by cascade.
	qDeleteUser = `DELETE FROM users WHERE id = ?`

	// The challenge a try is about, consumed or not, and its account's
	// guard, for phoneauth.Try.Decide to decide; the transaction's write
	// lock keeps them as read until commit.
	qRegistrationTry = `
		SELECT c.user_id, c.code_hash, c.created_at, c.expires_at, c.consumed_at IS NOT NULL, c.attempts,
			u.failed_checks, u.lockouts, u.locked_until, u.verified_at, u.created_at
		FROM challenges c JOIN users u ON u.id = c.user_id
		WHERE c.id = ? AND c.purpose = 'register' AND u.phone = ?`

	qLoginTry = `
		SELECT c.id, c.code_hash, c.created_at, c.expires_at, c.consumed_at IS NOT NULL, c.attempts,
			u.failed_checks, u.lockouts, u.locked_until, u.phone, u.verified_at, u.created_at
		FROM challenges c JOIN users u ON u.id = c.user_id
		WHERE c.user_id = ? AND c.purpose = 'login'`

	qSaveTry = `UPDATE challenges SET attempts = ?, consumed_at = ? WHERE id = ?`

	qSaveGuard = `UPDATE users SET failed_checks = ?, lockouts = ?, locked_until = ? WHERE id = ?`

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
	// of dead rows, found through the indexes of migrations 0002, 0003 and
	// 0004. Foreign tokens go before sessions, and a session only once none
	// of its foreign tokens is left, so that no row goes by cascade,
	// uncounted.
	//
	// The parameters are numbered: ?1 is now, ?2 the batch, ?3 the time
	// before which an unverified account's code must have died for the
	// account to go (now - phoneauth.UnverifiedRetention). The unconsumed
	// registration code of an unverified account stays until then, and the
	// account goes after it, in the same transaction.
	qPruneChallenges = `
		DELETE FROM challenges WHERE id IN (
			SELECT id FROM challenges WHERE coalesce(consumed_at, expires_at) <= ?1
				AND (consumed_at IS NOT NULL OR purpose <> 'register' OR expires_at <= ?3)
			LIMIT ?2)`

	qPruneUnverified = `
		DELETE FROM users WHERE id IN (
			SELECT id FROM users u WHERE verified_at IS NULL AND created_at <= ?3
				AND NOT EXISTS (SELECT 1 FROM challenges c WHERE c.user_id = u.id)
				AND NOT EXISTS (SELECT 1 FROM sessions s WHERE s.user_id = u.id)
			LIMIT ?2)`

	qPruneForeign = `
		DELETE FROM foreign_tokens WHERE jti IN (
			SELECT jti FROM foreign_tokens WHERE expires_at <= ?1 LIMIT ?2)`

	qPruneAudit = `
		DELETE FROM audit_events WHERE id IN (
			SELECT id FROM audit_events WHERE at < ?4 LIMIT ?2)`

	qInsertEvent = `
		INSERT INTO audit_events (at, kind, user_id, phone_masked, client_ip, user_agent, outcome)
		VALUES (?, ?, ?, ?, ?, ?, ?)`

	qEvents = `
		SELECT id, at, kind, user_id, phone_masked, client_ip, user_agent, outcome
		FROM audit_events WHERE (?1 = '' OR user_id = ?1) AND (?4 = '' OR kind = ?4) AND at >= ?2
		ORDER BY at DESC, id DESC LIMIT ?3`

	qPruneSessions = `
		DELETE FROM sessions WHERE id IN (
			SELECT id FROM sessions s WHERE expires_at <= ?1
				AND NOT EXISTS (SELECT 1 FROM foreign_tokens t WHERE t.session_id = s.id)
			LIMIT ?2)`
)

// writeQueries and readQueries are prepared on the write and read pools.
var (
	writeQueries = []string{
		qUpsertUser, qReplaceDeadRegistration, qDeleteRegistration, qDeleteUnverified,
		qDeleteChallenge, qUserLock, qPutChallenge, qAccountTry, qDeleteUser, qMovePhone, qDeleteOtherChallenges, qRevokeOtherSessions, qAccessOwn, qAccessForeign,
		qRegistrationTry, qLoginTry, qSaveTry, qSaveGuard, qMarkVerified,
		qInsertSession, qSession, qSessionOfForeign, qUpdateSession, qInsertForeign,
		qRevokeSession, qRevokeSessionOfForeign,
		qPruneChallenges, qPruneForeign, qPruneSessions, qPruneUnverified, qPruneAudit,
		qInsertEvent, qUserByPhone, qPendingChallenge,
	}
	readQueries = []string{qEvents, qUserByPhone, qUserExists, qAccessOwn, qAccessForeign}
)
