package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/phoneauth/phoneauth"
)

// Every method is one statement or one short transaction. Where a method
// decides on rows it first locks them, always in the order users,
// challenges, sessions, foreign_tokens (the order of the cascades too), so that two
// transactions never wait on each other in a cycle. A query that must lock a
// parent row before a child row does so in a CTE: its rows are locked while
// the outer query is still being computed, before the outer FOR UPDATE
// locks the child. Times are compared by PostgreSQL, at its microsecond
// precision, and returned in UTC.

// Register implements phoneauth.Store in one statement. The upsert on users
// creates the account or locks the existing one and returns it unless it is
// verified; the upsert on challenges then replaces its registration
// challenge only if that one is not live at now, and the audit event is
// inserted only if it did. A refusal changes nothing.
func (s *Store) Register(ctx context.Context, u phoneauth.User, c phoneauth.Challenge, now time.Time) (time.Time, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	const q = `
WITH account AS (
	INSERT INTO users (id, phone, created_at) VALUES ($1, $2, $3)
	-- A no-op update of a non-key column: locks the existing row and
	-- returns it, without blocking foreign-key checks on it.
	ON CONFLICT (phone) DO UPDATE SET created_at = users.created_at
		WHERE users.verified_at IS NULL
	RETURNING id, locked_until
), challenge AS (
	INSERT INTO challenges (id, user_id, purpose, code_hash, created_at, expires_at)
	SELECT $4, account.id, 'register', $5, $6, $7 FROM account
	WHERE account.locked_until IS NULL OR account.locked_until <= $8
	ON CONFLICT (user_id, purpose) DO UPDATE SET
		id = EXCLUDED.id, code_hash = EXCLUDED.code_hash, created_at = EXCLUDED.created_at,
		expires_at = EXCLUDED.expires_at, consumed_at = NULL, attempts = 0
		WHERE challenges.consumed_at IS NOT NULL OR challenges.expires_at <= $8
	RETURNING id, user_id
), audit AS (
	INSERT INTO audit_events (at, kind, user_id, phone_masked, client_ip, user_agent, outcome)
	SELECT $9, $10, challenge.user_id, $11, $12, $13, $14 FROM challenge WHERE $10 <> ''
)
SELECT EXISTS (SELECT 1 FROM challenge), locked_until FROM account`
	var replaced bool
	var lockedUntil *time.Time
	ev, _ := c.Audit.Decided(now, "", u.Phone, nil)
	err := s.pool.QueryRow(ctx, q, u.ID, u.Phone, u.CreatedAt,
		c.ID, c.CodeHash, c.CreatedAt, c.ExpiresAt, now,
		ev.At, string(ev.Kind), ev.PhoneMasked, ev.ClientIP, ev.UserAgent, string(ev.Outcome)).Scan(&replaced, &lockedUntil)
	switch {
	case errors.Is(err, pgx.ErrNoRows): // the account is verified
		return time.Time{}, phoneauth.ErrUserExists
	case err != nil:
		return time.Time{}, s.fail(ctx, "register", err)
	case lockedUntil != nil && now.Before(*lockedUntil):
		return lockedUntil.UTC(), phoneauth.ErrAccountLocked
	case !replaced: // its registration challenge is live
		return time.Time{}, phoneauth.ErrUserExists
	}
	return time.Time{}, nil
}

// CancelRegistration implements phoneauth.Store in one statement. It locks
// the account before deleting the challenge, and deletes the account only
// if that challenge was still there: if Register replaced it meanwhile, the
// account belongs to the newer registration.
func (s *Store) CancelRegistration(ctx context.Context, challengeID string) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	const q = `
WITH account AS (
	SELECT u.id FROM users u JOIN challenges c ON c.user_id = u.id
	WHERE c.id = $1 AND c.purpose = 'register'
	FOR UPDATE OF u
), challenge AS (
	DELETE FROM challenges WHERE id = $1 AND user_id IN (SELECT id FROM account)
	RETURNING user_id, created_at
)
DELETE FROM users u USING challenge c
WHERE u.id = c.user_id AND u.verified_at IS NULL AND u.created_at = c.created_at`
	if _, err := s.pool.Exec(ctx, q, challengeID); err != nil {
		return s.fail(ctx, "cancel registration", err)
	}
	return nil
}

// UserByPhone implements phoneauth.Store.
func (s *Store) UserByPhone(ctx context.Context, phone string) (phoneauth.User, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	var u phoneauth.User
	var lockedUntil *time.Time
	err := s.pool.QueryRow(ctx,
		`SELECT id, phone, verified_at IS NOT NULL, created_at, locked_until FROM users WHERE phone = $1`,
		phone).Scan(&u.ID, &u.Phone, &u.Verified, &u.CreatedAt, &lockedUntil)
	if errors.Is(err, pgx.ErrNoRows) {
		return phoneauth.User{}, phoneauth.ErrUserNotFound
	}
	if err != nil {
		return phoneauth.User{}, s.fail(ctx, "user by phone", err)
	}
	u.CreatedAt, u.LockedUntil = u.CreatedAt.UTC(), orZero(lockedUntil)
	return u, nil
}

// orZero is *t in UTC, or the zero time for NULL.
func orZero(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.UTC()
}

// PutLoginChallenge implements phoneauth.Store with putChallenge: the
// account is the verified one of number phone.
func (s *Store) PutLoginChallenge(ctx context.Context, phone string, c phoneauth.Challenge, notBefore time.Time) (phoneauth.User, time.Time, error) {
	c.Purpose, c.NewPhone = phoneauth.PurposeLogin, ""
	u, pendingSince, err := s.putChallenge(ctx, putFor{op: "put login challenge", sql: putByPhone, key: phone, verified: true, pending: phoneauth.ErrLoginPending}, c, notBefore)
	if u.ID != "" {
		u.Phone = phone
	}
	return u, pendingSince, err
}

// putFor says whose challenge putChallenge puts: the account that the
// statements of sql find by key, only if it is verified when verified is
// set, refused with pending while a code is pending.
type putFor struct {
	op       string
	sql      putStatements
	key      string
	verified bool
	pending  error
}

// putStatements are putChallenge's statements for accounts found by one
// column: put, which puts the challenge, and why, which reads why put
// refused it.
type putStatements struct{ put, why string }

// The statements of putChallenge by account ID and by number, built once.
var (
	putByID    = putSQL("id")
	putByPhone = putSQL("phone")
)

// putSQL returns putChallenge's statements for accounts whose column by
// is $1.
func putSQL(by string) putStatements {
	return putStatements{
		put: `
WITH account AS (
	SELECT id, verified_at IS NOT NULL AS verified, created_at FROM users
	WHERE ` + by + ` = $1 AND (verified_at IS NOT NULL OR NOT $15) AND (locked_until IS NULL OR locked_until <= $5)
	FOR SHARE
), put AS (
	INSERT INTO challenges AS ch (id, purpose, user_id, code_hash, created_at, expires_at, new_phone)
	SELECT $2, $3, account.id, $4, $5, $6, $8 FROM account
	ON CONFLICT (user_id, purpose) DO UPDATE SET
		id = EXCLUDED.id, code_hash = EXCLUDED.code_hash, created_at = EXCLUDED.created_at,
		expires_at = EXCLUDED.expires_at, consumed_at = NULL, attempts = 0, new_phone = EXCLUDED.new_phone
		WHERE ch.consumed_at IS NOT NULL OR ch.created_at <= $7
	RETURNING user_id
), audit AS (
	INSERT INTO audit_events (at, kind, user_id, phone_masked, client_ip, user_agent, outcome)
	SELECT $9, $10, put.user_id, $11, $12, $13, $14 FROM put WHERE $10 <> ''
)
SELECT account.id, account.verified, account.created_at FROM put JOIN account ON account.id = put.user_id`,
		why: `
SELECT u.id, u.verified_at IS NOT NULL, u.created_at, u.locked_until,
	c.created_at, coalesce(c.consumed_at IS NULL AND c.created_at > $2, false)
FROM users u LEFT JOIN challenges c ON c.user_id = u.id AND c.purpose = $3
WHERE u.` + by + ` = $1`,
	}
}

// putChallenge puts challenge c for the account of a, in one statement
// when it puts c: the account is read (verified, if a asks) and not locked
// at c.CreatedAt with a share lock, so that a try that is locking it (FOR
// NO KEY UPDATE) is waited for and its lockout seen; the upsert then
// replaces its challenge of c.Purpose unless that one is unconsumed and
// newer than notBefore, and the audit event is inserted if it did. It
// returns the account's ID, Verified and CreatedAt. A refusal reads why
// in a second statement, whose fresh snapshot sees what a concurrent call
// committed while this one waited, and returns, in this order,
// ErrUserNotFound (and the zero User), ErrNotVerified, ErrAccountLocked
// (with the account's LockedUntil) or a.pending with the pending code's
// CreatedAt. If that read finds no reason (the account was verified,
// unlocked, or its pending code used in between), the put is tried again;
// after three such tries it is a.pending with zero: the caller waits a
// whole throttle.
func (s *Store) putChallenge(ctx context.Context, a putFor, c phoneauth.Challenge, notBefore time.Time) (phoneauth.User, time.Time, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	var newPhone *string
	if c.NewPhone != "" {
		newPhone = &c.NewPhone
	}
	ev, _ := c.Audit.Decided(c.CreatedAt, "", "", nil)
	for tries := 1; ; tries++ {
		var u phoneauth.User
		err := s.pool.QueryRow(ctx, a.sql.put, a.key, c.ID, string(c.Purpose), c.CodeHash, c.CreatedAt, c.ExpiresAt, notBefore, newPhone,
			ev.At, string(ev.Kind), ev.PhoneMasked, ev.ClientIP, ev.UserAgent, string(ev.Outcome), a.verified).Scan(&u.ID, &u.Verified, &u.CreatedAt)
		if err == nil {
			u.CreatedAt = u.CreatedAt.UTC()
			return u, time.Time{}, nil
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return phoneauth.User{}, time.Time{}, s.fail(ctx, a.op, err)
		}
		var lockedUntil, pendingSince *time.Time
		var pending bool
		err = s.pool.QueryRow(ctx, a.sql.why, a.key, notBefore, string(c.Purpose)).Scan(&u.ID, &u.Verified, &u.CreatedAt, &lockedUntil, &pendingSince, &pending)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			return phoneauth.User{}, time.Time{}, phoneauth.ErrUserNotFound
		case err != nil:
			return phoneauth.User{}, time.Time{}, s.fail(ctx, a.op, err)
		}
		u.CreatedAt, u.LockedUntil = u.CreatedAt.UTC(), orZero(lockedUntil)
		switch {
		case a.verified && !u.Verified:
			return u, time.Time{}, phoneauth.ErrNotVerified
		case c.CreatedAt.Before(u.LockedUntil):
			return u, time.Time{}, phoneauth.ErrAccountLocked
		case pending:
			return u, orZero(pendingSince), a.pending
		case tries == 3:
			return u, time.Time{}, a.pending
		}
	}
}

// DeleteChallenge implements phoneauth.Store.
func (s *Store) DeleteChallenge(ctx context.Context, id string) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	if _, err := s.pool.Exec(ctx, `DELETE FROM challenges WHERE id = $1`, id); err != nil {
		return s.fail(ctx, "delete challenge", err)
	}
	return nil
}

// VerifyRegistration implements phoneauth.Store. The transaction locks the
// account, then its challenge, lets phoneauth.Try.Decide decide the try and
// stores what it decided in one more round trip; a concurrent try waits on
// the locks and then sees this one's count.
func (s *Store) VerifyRegistration(ctx context.Context, challengeID, phone string, t phoneauth.Try) (phoneauth.User, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	const lock = `
WITH account AS (
	SELECT id, verified_at IS NOT NULL AS verified, created_at, failed_checks, lockouts, locked_until
	FROM users WHERE phone = $2 FOR NO KEY UPDATE
)
SELECT a.id, a.verified, a.created_at, a.failed_checks, a.lockouts, a.locked_until,
	c.code_hash, c.created_at, c.expires_at, c.consumed_at IS NOT NULL, c.attempts
FROM account a JOIN challenges c ON c.user_id = a.id
WHERE c.id = $1 AND c.purpose = 'register'
FOR UPDATE OF c`
	u := phoneauth.User{Phone: phone}
	var verdict error
	err := s.lockThenWrite(ctx, lock, []any{challengeID, phone}, func(row pgx.Row) (*pgx.Batch, error) {
		verdict = nil
		c := phoneauth.Challenge{ID: challengeID, Purpose: phoneauth.PurposeRegister}
		var g phoneauth.Guard
		var lockedUntil *time.Time
		err := row.Scan(&u.ID, &u.Verified, &u.CreatedAt,
			&g.Failures, &g.Lockouts, &lockedUntil, &c.CodeHash, &c.CreatedAt, &c.ExpiresAt, &c.Consumed, &c.Attempts)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil, phoneauth.ErrChallengeNotFound
		}
		if err != nil {
			return nil, err
		}
		c.UserID, g.LockedUntil = u.ID, orZero(lockedUntil)
		u.CreatedAt, u.LockedUntil = u.CreatedAt.UTC(), g.LockedUntil
		b := &pgx.Batch{}
		verdict = decide(b, t, &c, &g)
		if verdict == nil {
			b.Queue(`UPDATE users SET verified_at = coalesce(verified_at, $2) WHERE id = $1`, u.ID, t.Now)
			u.Verified = true
		}
		queueEvent(b, t.Audit, t.Now, u.ID, phone, verdict)
		return b, nil
	})
	if err != nil {
		return u, s.fail(ctx, "verify registration", err)
	}
	return u, verdict
}

// VerifyLogin implements phoneauth.Store: one transaction locks the account
// and its login challenge (with BEGIN, in one round trip), lets
// phoneauth.Try.Decide decide the try, then stores what it decided and, if
// the try passed, records the session (with COMMIT, in one more).
func (s *Store) VerifyLogin(ctx context.Context, userID string, t phoneauth.Try, sess phoneauth.Session) (phoneauth.User, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	const lock = `
WITH account AS (
	SELECT id, phone, verified_at IS NOT NULL AS verified, created_at, failed_checks, lockouts, locked_until
	FROM users WHERE id = $1 FOR NO KEY UPDATE
)
SELECT a.phone, a.verified, a.created_at, a.failed_checks, a.lockouts, a.locked_until,
	c.id, c.code_hash, c.created_at, c.expires_at, c.consumed_at IS NOT NULL, c.attempts
FROM account a JOIN challenges c ON c.user_id = a.id
-- The challenge's own user_id predicate: without it a cached generic plan
-- may scan the whole table for the join.
WHERE c.user_id = $1 AND c.purpose = 'login'
FOR UPDATE OF c`
	u := phoneauth.User{ID: userID}
	var verdict error
	err := s.lockThenWrite(ctx, lock, []any{userID}, func(row pgx.Row) (*pgx.Batch, error) {
		verdict = nil
		c := phoneauth.Challenge{UserID: userID, Purpose: phoneauth.PurposeLogin}
		var g phoneauth.Guard
		var lockedUntil *time.Time
		err := row.Scan(&u.Phone, &u.Verified, &u.CreatedAt,
			&g.Failures, &g.Lockouts, &lockedUntil, &c.ID, &c.CodeHash, &c.CreatedAt, &c.ExpiresAt, &c.Consumed, &c.Attempts)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil, phoneauth.ErrNoPendingLogin
		}
		if err != nil {
			return nil, err
		}
		g.LockedUntil = orZero(lockedUntil)
		u.CreatedAt, u.LockedUntil = u.CreatedAt.UTC(), g.LockedUntil
		b := &pgx.Batch{}
		verdict = decide(b, t, &c, &g)
		if verdict == nil {
			b.Queue(qInsertSession, sessionArgs(sess)...)
		}
		queueEvent(b, t.Audit, t.Now, userID, u.Phone, verdict)
		return b, nil
	})
	if err != nil {
		return u, s.fail(ctx, "verify login", err)
	}
	return u, verdict
}

// PutChallenge implements phoneauth.Store with putChallenge: the account
// is the one of ID c.UserID.
func (s *Store) PutChallenge(ctx context.Context, c phoneauth.Challenge, notBefore time.Time) (lockedUntil, pendingSince time.Time, err error) {
	u, pendingSince, err := s.putChallenge(ctx, putFor{op: "put challenge", sql: putByID, key: c.UserID, pending: phoneauth.ErrCodePending}, c, notBefore)
	if errors.Is(err, phoneauth.ErrAccountLocked) {
		return u.LockedUntil, time.Time{}, err
	}
	return time.Time{}, pendingSince, err
}

// DeleteAccount implements phoneauth.Store in the transaction of
// accountCode; if the try passed, the account goes and its challenges,
// sessions and foreign tokens with it, by cascade. A concurrent deletion
// waits on the account's lock and then finds no account.
func (s *Store) DeleteAccount(ctx context.Context, userID string, access phoneauth.TokenRef, t phoneauth.Try) (phoneauth.User, error) {
	return s.accountCode(ctx, "delete account", phoneauth.PurposeDelete, userID, access, t,
		func(*pgx.Batch, *phoneauth.User, phoneauth.Challenge, *phoneauth.Session) *pgx.Batch {
			// The account goes, and with it what decide queued for it.
			b := &pgx.Batch{}
			b.Queue(`DELETE FROM users WHERE id = $1`, userID)
			return b
		})
}

// ChangePhone implements phoneauth.Store in the transaction of
// accountCode; if the try passed, the account takes the new number (a
// unique violation, when another account took it, rolls everything back
// as ErrUserExists), its other challenges go and its other sessions are
// revoked, in the round trip that stores the try.
func (s *Store) ChangePhone(ctx context.Context, userID string, access phoneauth.TokenRef, t phoneauth.Try) (phoneauth.User, error) {
	var moved string
	u, err := s.accountCode(ctx, "change phone", phoneauth.PurposePhone, userID, access, t,
		func(b *pgx.Batch, _ *phoneauth.User, c phoneauth.Challenge, keep *phoneauth.Session) *pgx.Batch {
			var keepID *int64
			if keep != nil {
				id := int64(keep.ID)
				keepID = &id
			}
			b.Queue(`UPDATE users SET phone = $2 WHERE id = $1`, userID, c.NewPhone)
			b.Queue(`DELETE FROM challenges WHERE user_id = $1 AND purpose <> 'phone'`, userID)
			b.Queue(`UPDATE sessions SET revoked_at = coalesce(revoked_at, $2) WHERE user_id = $1 AND id IS DISTINCT FROM $3`,
				userID, t.Now, keepID)
			moved = c.NewPhone
			return b
		})
	if err == nil {
		u.Phone = moved
	}
	return u, err
}

// accountCode is the transaction of a code of purpose p sent to signed-in
// account userID. It locks the account and reads the access token's
// session (by the ID the token carries, or through its recorded jti) in
// one statement, lets phoneauth.CheckAccess admit the token, locks the
// challenge, lets phoneauth.Try.Decide decide, and sends what it decided
// in one more round trip: if the try passed, the batch effect returns,
// given the account, the challenge and the token's session (nil if none).
func (s *Store) accountCode(ctx context.Context, op string, p phoneauth.Purpose, userID string, access phoneauth.TokenRef, t phoneauth.Try,
	effect func(b *pgx.Batch, u *phoneauth.User, c phoneauth.Challenge, sess *phoneauth.Session) *pgx.Batch) (phoneauth.User, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	const lockUser = `
SELECT u.phone, u.verified_at IS NOT NULL, u.created_at, u.failed_checks, u.lockouts, u.locked_until,
	s.id, s.user_id, s.created_at, s.expires_at, s.generation, s.rotated_at, s.previous_rotated_at, s.revoked_at
FROM users u
LEFT JOIN sessions s ON s.id = coalesce($2, (SELECT session_id FROM foreign_tokens WHERE jti = $3))
WHERE u.id = $1
FOR UPDATE OF u`
	const lockChallenge = `
SELECT id, code_hash, created_at, expires_at, consumed_at IS NOT NULL, attempts, coalesce(new_phone, '')
FROM challenges WHERE user_id = $1 AND purpose = $2
FOR UPDATE`
	var sessionID, jti any
	if access.Own {
		sessionID = int64(access.Session)
	} else {
		jti = access.JTI
	}
	var u phoneauth.User
	var verdict error
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		u, verdict = phoneauth.User{ID: userID}, nil
		var g phoneauth.Guard
		var lockedUntil *time.Time
		var row sessionRow
		err := tx.QueryRow(ctx, lockUser, userID, sessionID, jti).Scan(append([]any{&u.Phone, &u.Verified, &u.CreatedAt,
			&g.Failures, &g.Lockouts, &lockedUntil}, row.dest()...)...)
		if errors.Is(err, pgx.ErrNoRows) {
			return phoneauth.ErrUserNotFound
		}
		if err != nil {
			return err
		}
		g.LockedUntil = orZero(lockedUntil)
		u.CreatedAt, u.LockedUntil = u.CreatedAt.UTC(), g.LockedUntil
		sess := row.session()
		if err := phoneauth.CheckAccess(access, sess); err != nil {
			return err
		}
		c := phoneauth.Challenge{UserID: userID, Purpose: p}
		err = tx.QueryRow(ctx, lockChallenge, userID, string(p)).Scan(&c.ID, &c.CodeHash, &c.CreatedAt, &c.ExpiresAt,
			&c.Consumed, &c.Attempts, &c.NewPhone)
		if errors.Is(err, pgx.ErrNoRows) {
			return phoneauth.ErrNoPendingCode
		}
		if err != nil {
			return err
		}
		b := &pgx.Batch{}
		if verdict = decide(b, t, &c, &g); verdict == nil {
			b = effect(b, &u, c, sess)
		}
		queueEvent(b, t.Audit, t.Now, userID, u.Phone, verdict)
		if b.Len() == 0 {
			return nil
		}
		err = tx.SendBatch(ctx, b).Close()
		if hasCode(err, codeUnique) { // the only unique key an effect writes: users.phone
			return phoneauth.ErrUserExists
		}
		return err
	})
	if err != nil {
		return u, s.fail(ctx, op, err)
	}
	return u, verdict
}

// decide lets t.Decide decide the try of c by the account guarded by g,
// queues on b the updates of what changed (the count of a wrong try
// included), and returns Decide's answer. The caller queues the try's
// audit event last (queueEvent), after the effect of a passed try.
func decide(b *pgx.Batch, t phoneauth.Try, c *phoneauth.Challenge, g *phoneauth.Guard) error {
	attempts, guard := c.Attempts, *g
	verdict := t.Decide(c, g)
	if c.Attempts != attempts {
		var consumedAt *time.Time
		if c.Consumed {
			consumedAt = &t.Now
		}
		b.Queue(`UPDATE challenges SET attempts = $2, consumed_at = $3 WHERE id = $1`, c.ID, c.Attempts, consumedAt)
	}
	if *g != guard {
		var lockedUntil *time.Time
		if !g.LockedUntil.IsZero() {
			lockedUntil = &g.LockedUntil
		}
		b.Queue(`UPDATE users SET failed_checks = $2, lockouts = $3, locked_until = $4 WHERE id = $1`,
			c.UserID, g.Failures, g.Lockouts, lockedUntil)
	}
	return verdict
}

const qInsertEvent = `
INSERT INTO audit_events (at, kind, user_id, phone_masked, client_ip, user_agent, outcome)
VALUES ($1, $2, $3, $4, $5, $6, $7)`

// queueEvent queues on b the insert of audit event e as e.Decided makes
// it, unless e is not to be recorded.
func queueEvent(b *pgx.Batch, e phoneauth.Event, at time.Time, userID, phone string, outcome error) {
	if ev, ok := e.Decided(at, userID, phone, outcome); ok {
		b.Queue(qInsertEvent, eventArgs(ev)...)
	}
}

// eventArgs are the parameters of qInsertEvent for e.
func eventArgs(e phoneauth.Event) []any {
	var userID *string
	if e.UserID != "" {
		userID = &e.UserID
	}
	return []any{e.At, string(e.Kind), userID, e.PhoneMasked, e.ClientIP, e.UserAgent, string(e.Outcome)}
}

// RecordEvent implements phoneauth.Store in one statement.
func (s *Store) RecordEvent(ctx context.Context, e phoneauth.Event) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	if _, err := s.pool.Exec(ctx, qInsertEvent, eventArgs(e)...); err != nil {
		return s.fail(ctx, "record event", err)
	}
	return nil
}

// Events implements phoneauth.Store in one query.
func (s *Store) Events(ctx context.Context, userID string, kind phoneauth.EventKind, since time.Time, limit int) ([]phoneauth.Event, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	rows, err := s.pool.Query(ctx, `
SELECT id, at, kind, coalesce(user_id, ''), phone_masked, client_ip, user_agent, outcome
FROM audit_events WHERE ($1 = '' OR user_id = $1) AND ($4 = '' OR kind = $4) AND at >= $2
ORDER BY at DESC, id DESC LIMIT $3`, userID, since, limit, string(kind))
	if err != nil {
		return nil, s.fail(ctx, "events", err)
	}
	events, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (phoneauth.Event, error) {
		var e phoneauth.Event
		err := row.Scan(&e.ID, &e.At, &e.Kind, &e.UserID, &e.PhoneMasked, &e.ClientIP, &e.UserAgent, &e.Outcome)
		e.At = e.At.UTC()
		return e, err
	})
	if err != nil {
		return nil, s.fail(ctx, "events", err)
	}
	return events, nil
}

// The columns of a session, in the order sessionRow reads them.
const sessionColumns = `id, user_id, created_at, expires_at, generation, rotated_at, previous_rotated_at, revoked_at`

const qInsertSession = `INSERT INTO sessions (` + sessionColumns + `) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`

// RotateRefresh implements phoneauth.Store. One transaction locks the
// token's session (found by the ID the token carries, or through its
// recorded jti), lets phoneauth.Rotation.Decide decide, and writes the
// outcome: an update of the session row in place, or for a foreign token
// never seen the adopted session and its jti. If a concurrent call
// recorded that jti first, the transaction starts over and decides against
// that call's session.
func (s *Store) RotateRefresh(ctx context.Context, r phoneauth.Rotation) (phoneauth.Session, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	var next phoneauth.Session
	var decided error
	if r.Token.Ref.Own {
		// A token of ours names its session: one locking read, then the
		// one update (see lockThenWrite).
		err := s.lockThenWrite(ctx, `SELECT `+sessionColumns+` FROM sessions WHERE id = $1 FOR NO KEY UPDATE`,
			[]any{int64(r.Token.Ref.Session)}, func(row pgx.Row) (*pgx.Batch, error) {
				var sr sessionRow
				var cur *phoneauth.Session
				switch err := row.Scan(sr.dest()...); {
				case err == nil:
					cur = sr.session()
				case !errors.Is(err, pgx.ErrNoRows):
					return nil, err
				}
				var write bool
				next, write, decided = r.Decide(cur, false)
				if !write {
					return nil, nil
				}
				b := &pgx.Batch{}
				queueRotation(b, next)
				queueEvent(b, r.Audit, r.Now, next.UserID, "", decided)
				return b, nil
			})
		if err != nil {
			return phoneauth.Session{}, s.fail(ctx, "rotate refresh token", err)
		}
		if decided != nil {
			return phoneauth.Session{}, decided
		}
		return stored(next), nil
	}
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		cur, spent, err := lockSession(ctx, tx, r.Token.Ref)
		if err != nil {
			return err
		}
		var write bool
		next, write, decided = r.Decide(cur, spent)
		switch {
		case !write:
			return decided // nothing to commit
		case cur != nil:
			b := &pgx.Batch{}
			queueRotation(b, next)
			queueEvent(b, r.Audit, r.Now, next.UserID, "", decided)
			return tx.SendBatch(ctx, b).Close()
		}
		return recordForeign(ctx, tx, next, r.Token, func(b *pgx.Batch) { queueEvent(b, r.Audit, r.Now, next.UserID, "", decided) })
	})
	if err != nil {
		return phoneauth.Session{}, s.fail(ctx, "rotate refresh token", err)
	}
	if decided != nil {
		return phoneauth.Session{}, decided
	}
	return stored(next), nil
}

// queueRotation queues on b the update of session next's row to what
// phoneauth.Rotation.Decide made it.
func queueRotation(b *pgx.Batch, next phoneauth.Session) {
	b.Queue(`
UPDATE sessions SET generation = $2, rotated_at = $3, previous_rotated_at = $4, revoked_at = $5
WHERE id = $1`, int64(next.ID), int64(next.Generation), next.RotatedAt, nullTime(next.PreviousRotatedAt), nullTime(next.RevokedAt))
}

// lockSession locks and returns the session that the token of ref belongs
// to, nil if there is none, and whether its jti is recorded as spent.
func lockSession(ctx context.Context, tx pgx.Tx, ref phoneauth.TokenRef) (*phoneauth.Session, bool, error) {
	var row sessionRow
	var spent bool
	var err error
	if ref.Own {
		err = tx.QueryRow(ctx, `SELECT `+sessionColumns+` FROM sessions WHERE id = $1 FOR NO KEY UPDATE`,
			int64(ref.Session)).Scan(row.dest()...)
	} else {
		err = tx.QueryRow(ctx, `
SELECT s.id, s.user_id, s.created_at, s.expires_at, s.generation, s.rotated_at,
	s.previous_rotated_at, s.revoked_at, t.spent_at IS NOT NULL
FROM foreign_tokens t JOIN sessions s ON s.id = t.session_id
WHERE t.jti = $1
FOR NO KEY UPDATE OF s`, ref.JTI).Scan(append(row.dest(), &spent)...)
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	return row.session(), spent, nil
}

// recordForeign creates session sess and records in it the jti of t, a
// token not the service's own, in one round trip, with what audit queues.
// errRace if a concurrent call recorded the jti first; ErrUserNotFound if
// the user does not exist.
func recordForeign(ctx context.Context, tx pgx.Tx, sess phoneauth.Session, t phoneauth.Claims, audit func(*pgx.Batch)) error {
	b := &pgx.Batch{}
	b.Queue(qInsertSession, sessionArgs(sess)...)
	b.Queue(`INSERT INTO foreign_tokens (jti, session_id, expires_at) VALUES ($1, $2, $3) ON CONFLICT (jti) DO NOTHING`,
		t.Ref.JTI, int64(sess.ID), t.ExpiresAt).Exec(recordedHere)
	audit(b)
	err := tx.SendBatch(ctx, b).Close()
	if hasCode(err, codeForeignKey) {
		return phoneauth.ErrUserNotFound
	}
	return err
}

// recordedHere turns an INSERT ... ON CONFLICT DO NOTHING that inserted
// nothing into errRace.
func recordedHere(ct pgconn.CommandTag) error {
	if ct.RowsAffected() == 0 {
		return errRace
	}
	return nil
}

// RevokeToken implements phoneauth.Store. The session of a token the
// service signed is revoked in one statement (a session it does not hold
// needs nothing); so is that of a recorded foreign jti. An unknown foreign
// token is recorded in r.Record, revoked from the start, in the same
// transaction. An unknown user is ErrUserNotFound, for the token of a
// session not held too.
func (s *Store) RevokeToken(ctx context.Context, r phoneauth.Revocation) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	ev, audited := r.Audit.Decided(r.Now, r.Token.Subject, "", nil)
	if r.Token.Ref.Own {
		// The revocation and its event are one statement.
		const revoke = `
WITH revoked AS (
	UPDATE sessions SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL RETURNING id
), audit AS (
	INSERT INTO audit_events (at, kind, user_id, phone_masked, client_ip, user_agent, outcome)
	SELECT $3, $4, $5, $6, $7, $8, $9 FROM revoked WHERE $4 <> ''
)
SELECT count(*) FROM revoked`
		var n int64
		err := s.pool.QueryRow(ctx, revoke, append([]any{int64(r.Token.Ref.Session), r.Now}, eventArgs(ev)...)...).Scan(&n)
		if err != nil {
			return s.fail(ctx, "revoke token", err)
		}
		if n > 0 {
			return nil
		}
		// Revoked already, or not held: no error while the user exists.
		var exists bool
		err = s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM users WHERE id = $1)`, r.Token.Subject).Scan(&exists)
		if err != nil {
			return s.fail(ctx, "revoke token", err)
		}
		if !exists {
			return phoneauth.ErrUserNotFound
		}
		return nil
	}
	const revoke = `
WITH token AS (
	SELECT session_id FROM foreign_tokens WHERE jti = $1
), revoked AS (
	UPDATE sessions SET revoked_at = $2
	WHERE id IN (SELECT session_id FROM token) AND revoked_at IS NULL
	RETURNING id
), audit AS (
	INSERT INTO audit_events (at, kind, user_id, phone_masked, client_ip, user_agent, outcome)
	SELECT $3, $4, $5, $6, $7, $8, $9 FROM revoked WHERE $4 <> ''
)
SELECT EXISTS (SELECT 1 FROM token)`
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var known bool
		if err := tx.QueryRow(ctx, revoke, append([]any{r.Token.Ref.JTI, r.Now}, eventArgs(ev)...)...).Scan(&known); err != nil || known {
			return err
		}
		return recordForeign(ctx, tx, r.Record, r.Token, func(b *pgx.Batch) {
			if audited {
				b.Queue(qInsertEvent, eventArgs(ev)...)
			}
		})
	})
	if err != nil {
		return s.fail(ctx, "revoke token", err)
	}
	return nil
}

// AccessUser implements phoneauth.Store in one query, which reads the user
// and the token's session; phoneauth.CheckAccess decides.
func (s *Store) AccessUser(ctx context.Context, userID string, t phoneauth.TokenRef) (phoneauth.User, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	// The session by the ID the token carries, or through its recorded
	// jti; $2 and $3 are NULL for the way not taken.
	const q = `
SELECT u.id, u.phone, u.verified_at IS NOT NULL, u.created_at,
	s.id, s.user_id, s.created_at, s.expires_at, s.generation, s.rotated_at, s.previous_rotated_at, s.revoked_at
FROM users u
LEFT JOIN sessions s ON s.id = coalesce($2, (SELECT session_id FROM foreign_tokens WHERE jti = $3))
WHERE u.id = $1`
	var sessionID, jti any
	if t.Own {
		sessionID = int64(t.Session)
	} else {
		jti = t.JTI
	}
	var u phoneauth.User
	var row sessionRow
	err := s.pool.QueryRow(ctx, q, userID, sessionID, jti).
		Scan(append([]any{&u.ID, &u.Phone, &u.Verified, &u.CreatedAt}, row.dest()...)...)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return phoneauth.User{}, phoneauth.ErrUserNotFound
	case err != nil:
		return phoneauth.User{}, s.fail(ctx, "access user", err)
	}
	if err := phoneauth.CheckAccess(t, row.session()); err != nil {
		return phoneauth.User{}, err
	}
	u.CreatedAt = u.CreatedAt.UTC()
	return u, nil
}

// sessionRow holds the columns of a session (sessionColumns) as read, all
// NULL when a LEFT JOIN found none.
type sessionRow struct {
	id, generation                                            *int64
	userID                                                    *string
	createdAt, expiresAt, rotatedAt, previousRotated, revoked *time.Time
}

func (r *sessionRow) dest() []any {
	return []any{&r.id, &r.userID, &r.createdAt, &r.expiresAt, &r.generation, &r.rotatedAt, &r.previousRotated, &r.revoked}
}

// session returns the session read, or nil if there was none.
func (r *sessionRow) session() *phoneauth.Session {
	if r.id == nil {
		return nil
	}
	utc := func(t *time.Time) time.Time {
		if t == nil {
			return time.Time{}
		}
		return t.UTC()
	}
	return &phoneauth.Session{
		ID:                uint64(*r.id),
		UserID:            *r.userID,
		CreatedAt:         utc(r.createdAt),
		ExpiresAt:         utc(r.expiresAt),
		Generation:        uint32(*r.generation),
		RotatedAt:         utc(r.rotatedAt),
		PreviousRotatedAt: utc(r.previousRotated),
		RevokedAt:         utc(r.revoked),
	}
}

// stored returns sess as a read hands it back: times in UTC, at
// PostgreSQL's microsecond precision.
func stored(sess phoneauth.Session) phoneauth.Session {
	for _, t := range []*time.Time{&sess.CreatedAt, &sess.ExpiresAt, &sess.RotatedAt, &sess.PreviousRotatedAt, &sess.RevokedAt} {
		if !t.IsZero() {
			*t = t.UTC().Truncate(time.Microsecond)
		}
	}
	return sess
}

// sessionArgs are the values of sessionColumns for sess. Session IDs are
// stored as the bigint with the same bits.
func sessionArgs(sess phoneauth.Session) []any {
	return []any{int64(sess.ID), sess.UserID, sess.CreatedAt, sess.ExpiresAt, int64(sess.Generation),
		sess.RotatedAt, nullTime(sess.PreviousRotatedAt), nullTime(sess.RevokedAt)}
}

// nullTime stores the zero time as NULL.
func nullTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t
}

// pruneQueries each delete up to a batch ($2) of rows dead at $1, found
// through the indexes of migrations 0002, 0005 and 0006, in the lock order
// of the other methods except that foreign tokens go before sessions: a
// session goes only once none of its foreign tokens is left, so that no
// row goes by cascade, uncounted. SKIP LOCKED passes over rows a live flow
// holds, so Prune never waits on one and never deadlocks with one; a later
// Prune takes them.
//
// The time before which an unverified account's code must have died for
// the account to go is now - phoneauth.UnverifiedRetention: its
// unconsumed registration code stays until then, and the account goes
// after it, last, in the same transaction.
var pruneQueries = []string{`
DELETE FROM challenges WHERE id IN (
	SELECT id FROM challenges WHERE coalesce(consumed_at, expires_at) <= $1
		AND (consumed_at IS NOT NULL OR purpose <> 'register' OR expires_at <= $3)
	LIMIT $2 FOR UPDATE SKIP LOCKED
)`, `
DELETE FROM foreign_tokens WHERE jti IN (
	SELECT jti FROM foreign_tokens WHERE expires_at <= $1
	LIMIT $2 FOR UPDATE SKIP LOCKED
)`, `
DELETE FROM sessions WHERE id IN (
	SELECT id FROM sessions s WHERE expires_at <= $1
		AND NOT EXISTS (SELECT 1 FROM foreign_tokens t WHERE t.session_id = s.id)
	LIMIT $2 FOR UPDATE SKIP LOCKED
)`, `
DELETE FROM users WHERE id IN (
	SELECT id FROM users u WHERE verified_at IS NULL AND created_at <= $1
		AND NOT EXISTS (SELECT 1 FROM challenges c WHERE c.user_id = u.id)
		AND NOT EXISTS (SELECT 1 FROM sessions s WHERE s.user_id = u.id)
	LIMIT $2 FOR UPDATE SKIP LOCKED
)`, `
DELETE FROM audit_events WHERE id IN (
	SELECT id FROM audit_events WHERE at < $1
	LIMIT $2 FOR UPDATE SKIP LOCKED
)`}

// pruneArgs are the parameters of query i of pruneQueries: the first
// takes the unverified accounts' cut-off as $3, the accounts as $1, the
// audit events the cut-off of the audit retention as $1.
func (s *Store) pruneArgs(i int, now time.Time, batch int) []any {
	day := now.Add(-phoneauth.UnverifiedRetention)
	switch i {
	case 0:
		return []any{now, batch, day}
	case 3:
		return []any{day, batch}
	case 4:
		return []any{now.Add(-s.auditRetention), batch}
	}
	return []any{now, batch}
}

// Prune implements phoneauth.Store in transactions of one round trip each,
// deleting at most s.pruneBatch rows per table, each bounded like any other
// call. It stops after a transaction in which every statement deleted less
// than a full batch: foreign tokens go before sessions in each, so by then
// no session waits for its expired foreign tokens to go.
func (s *Store) Prune(ctx context.Context, now time.Time) (int64, error) {
	var total int64
	for {
		n, more, err := s.pruneOnce(ctx, now)
		if err != nil {
			return total, err
		}
		total += n
		if !more {
			return total, nil
		}
	}
}

// pruneOnce runs one transaction of Prune and returns the rows it deleted
// and whether any statement filled its batch.
func (s *Store) pruneOnce(ctx context.Context, now time.Time) (n int64, more bool, err error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		n, more = 0, false
		b := &pgx.Batch{}
		for i, q := range pruneQueries {
			b.Queue(q, s.pruneArgs(i, now, s.pruneBatch)...).Exec(func(ct pgconn.CommandTag) error {
				n += ct.RowsAffected()
				more = more || ct.RowsAffected() >= int64(s.pruneBatch)
				return nil
			})
		}
		return tx.SendBatch(ctx, b).Close()
	})
	if err != nil {
		return 0, false, s.fail(ctx, "prune", err)
	}
	return n, more, nil
}
