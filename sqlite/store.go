package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"time"

	sqlite3 "modernc.org/sqlite/lib"

	"github.com/phoneauth/phoneauth"
)

// Each write method is one transaction on the single write connection.
// Because _txlock=immediate takes the write lock at BEGIN, what a
// transaction reads cannot change before it commits; the conditional
// statements below still carry their conditions, so the decisions hold
// under any isolation.
//
// Every call is bounded by s.callTimeout (see Store.bound): inTx bounds its
// transaction, and the methods that run a single statement bound
// themselves.

// Register creates u with its registration challenge c, or refreshes the
// challenge of an unverified account that has no live one, as
// phoneauth.Store documents. Errors: phoneauth.ErrUserExists,
// phoneauth.ErrAccountLocked.
func (s *Store) Register(ctx context.Context, u phoneauth.User, c phoneauth.Challenge, now time.Time) (time.Time, error) {
	var lockedUntil time.Time
	err := s.inTx(ctx, "register", func(ctx context.Context, tx tx) error {
		var userID string
		var verifiedAt, locked sql.NullInt64
		var createdAt int64
		err := tx.queryRow(ctx, qUpsertUser, u.ID, u.Phone, ms(u.CreatedAt)).Scan(&userID, &verifiedAt, &createdAt, &locked)
		if err != nil {
			return err
		}
		if verifiedAt.Valid {
			return phoneauth.ErrUserExists
		}
		if lockedUntil = fromNullMS(locked); now.Before(lockedUntil) {
			return phoneauth.ErrAccountLocked
		}
		res, err := tx.exec(ctx, qReplaceDeadRegistration,
			c.ID, userID, c.CodeHash, ms(c.CreatedAt), ms(c.ExpiresAt), ms(now))
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return phoneauth.ErrUserExists
		}
		return record(ctx, tx, c.Audit, now, userID, u.Phone, nil)
	})
	return lockedUntil, err
}

// CancelRegistration deletes registration challenge challengeID and its
// account if unverified. Deleting what does not exist is no error.
func (s *Store) CancelRegistration(ctx context.Context, challengeID string) error {
	return s.inTx(ctx, "cancel registration", func(ctx context.Context, tx tx) error {
		var userID string
		var createdAt int64
		err := tx.queryRow(ctx, qDeleteRegistration, challengeID).Scan(&userID, &createdAt)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		_, err = tx.exec(ctx, qDeleteUnverified, userID, createdAt)
		return err
	})
}

// UserByPhone returns the account with that E.164 number. Errors:
// phoneauth.ErrUserNotFound.
func (s *Store) UserByPhone(ctx context.Context, phone string) (phoneauth.User, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	u, err := scanUserByPhone(s.rs.queryRow(ctx, qUserByPhone, phone), phone)
	if err != nil && !errors.Is(err, phoneauth.ErrUserNotFound) {
		return phoneauth.User{}, wrapErr(ctx, "user by phone", err)
	}
	return u, err
}

// scanUserByPhone reads the account of phone from row, a row of
// qUserByPhone. Errors: phoneauth.ErrUserNotFound, and the row's.
func scanUserByPhone(row *sql.Row, phone string) (phoneauth.User, error) {
	u := phoneauth.User{Phone: phone}
	var verifiedAt, lockedUntil sql.NullInt64
	var createdAt int64
	err := row.Scan(&u.ID, &verifiedAt, &createdAt, &lockedUntil)
	if errors.Is(err, sql.ErrNoRows) {
		return phoneauth.User{}, phoneauth.ErrUserNotFound
	}
	if err != nil {
		return phoneauth.User{}, err
	}
	u.Verified, u.CreatedAt, u.LockedUntil = verifiedAt.Valid, fromMS(createdAt), fromNullMS(lockedUntil)
	return u, nil
}

// PutLoginChallenge makes c the login challenge of the account with
// number phone, as phoneauth.Store documents, in one transaction that
// reads the account, checks it is verified and not locked, and replaces
// its login challenge unless an unconsumed one created after notBefore
// exists. Errors: phoneauth.ErrUserNotFound, phoneauth.ErrNotVerified,
// phoneauth.ErrAccountLocked, phoneauth.ErrLoginPending.
func (s *Store) PutLoginChallenge(ctx context.Context, phone string, c phoneauth.Challenge, notBefore time.Time) (phoneauth.User, time.Time, error) {
	var u phoneauth.User
	var pendingSince time.Time
	err := s.inTx(ctx, "put login challenge", func(ctx context.Context, tx tx) error {
		pendingSince = time.Time{}
		var err error
		if u, err = scanUserByPhone(tx.queryRow(ctx, qUserByPhone, phone), phone); err != nil {
			return err
		}
		switch {
		case !u.Verified:
			return phoneauth.ErrNotVerified
		case c.CreatedAt.Before(u.LockedUntil):
			return phoneauth.ErrAccountLocked
		}
		c.UserID, c.Purpose, c.NewPhone = u.ID, phoneauth.PurposeLogin, ""
		pendingSince, err = putChallenge(ctx, tx, c, notBefore, phoneauth.ErrLoginPending)
		return err
	})
	if errors.Is(err, phoneauth.ErrUserNotFound) || err != nil && !phoneauth.IsKind(err) {
		return phoneauth.User{}, time.Time{}, err
	}
	return u, pendingSince, err
}

// DeleteChallenge deletes challenge id if it exists.
func (s *Store) DeleteChallenge(ctx context.Context, id string) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	if _, err := s.ws.exec(ctx, qDeleteChallenge, id); err != nil {
		return wrapErr(ctx, "delete challenge", err)
	}
	return nil
}

// VerifyRegistration decides try t of registration challenge challengeID
// of phone with phoneauth.Try.Decide, stores what it decided and, if the
// try passed, marks the account verified. Errors:
// phoneauth.ErrChallengeNotFound, and those of phoneauth.Try.Decide.
func (s *Store) VerifyRegistration(ctx context.Context, challengeID, phone string, t phoneauth.Try) (phoneauth.User, error) {
	u := phoneauth.User{Phone: phone}
	var verdict error
	err := s.inTx(ctx, "verify registration", func(ctx context.Context, tx tx) error {
		c := phoneauth.Challenge{ID: challengeID, Purpose: phoneauth.PurposeRegister}
		var g phoneauth.Guard
		var r tryRow
		err := tx.queryRow(ctx, qRegistrationTry, challengeID, phone).Scan(&c.UserID, &c.CodeHash, &r.createdAt, &r.expiresAt,
			&c.Consumed, &c.Attempts, &g.Failures, &g.Lockouts, &r.lockedUntil, &r.verifiedAt, &r.userCreatedAt)
		if errors.Is(err, sql.ErrNoRows) {
			return phoneauth.ErrChallengeNotFound
		}
		if err != nil {
			return err
		}
		r.fill(&c, &g, &u)
		u.ID = c.UserID
		if verdict, err = decide(ctx, tx, t, &c, &g, phone); err != nil {
			return err
		}
		if verdict == nil {
			_, err := tx.exec(ctx, qMarkVerified, ms(t.Now), c.UserID)
			u.Verified = true
			return err
		}
		return nil
	})
	if err != nil {
		return u, err
	}
	return u, verdict
}

// VerifyLogin decides try t of the login challenge of userID with
// phoneauth.Try.Decide, stores what it decided and, if the try passed,
// opens session sess. Errors: phoneauth.ErrNoPendingLogin (also for an
// unknown user), and those of phoneauth.Try.Decide.
func (s *Store) VerifyLogin(ctx context.Context, userID string, t phoneauth.Try, sess phoneauth.Session) (phoneauth.User, error) {
	u := phoneauth.User{ID: userID}
	var verdict error
	err := s.inTx(ctx, "verify login", func(ctx context.Context, tx tx) error {
		c := phoneauth.Challenge{UserID: userID, Purpose: phoneauth.PurposeLogin}
		var g phoneauth.Guard
		var r tryRow
		err := tx.queryRow(ctx, qLoginTry, userID).Scan(&c.ID, &c.CodeHash, &r.createdAt, &r.expiresAt,
			&c.Consumed, &c.Attempts, &g.Failures, &g.Lockouts, &r.lockedUntil, &u.Phone, &r.verifiedAt, &r.userCreatedAt)
		if errors.Is(err, sql.ErrNoRows) {
			return phoneauth.ErrNoPendingLogin
		}
		if err != nil {
			return err
		}
		r.fill(&c, &g, &u)
		if verdict, err = decide(ctx, tx, t, &c, &g, u.Phone); err != nil || verdict != nil {
			return err
		}
		_, err = tx.exec(ctx, qInsertSession, sessionArgs(sess)...)
		return err
	})
	if err != nil {
		return u, err
	}
	return u, verdict
}

// PutChallenge makes c the challenge of its purpose, as phoneauth.Store
// documents, in one transaction that reads the account's lock and puts c
// with its audit event unless the account is locked or an unconsumed
// challenge created after notBefore exists. Errors:
// phoneauth.ErrUserNotFound, phoneauth.ErrAccountLocked,
// phoneauth.ErrCodePending.
func (s *Store) PutChallenge(ctx context.Context, c phoneauth.Challenge, notBefore time.Time) (lockedUntil, pendingSince time.Time, err error) {
	err = s.inTx(ctx, "put challenge", func(ctx context.Context, tx tx) (err error) {
		lockedUntil, pendingSince = time.Time{}, time.Time{}
		var until sql.NullInt64
		err = tx.queryRow(ctx, qUserLock, c.UserID).Scan(&until)
		if errors.Is(err, sql.ErrNoRows) {
			return phoneauth.ErrUserNotFound
		}
		if err != nil {
			return err
		}
		if lockedUntil = fromNullMS(until); c.CreatedAt.Before(lockedUntil) {
			return phoneauth.ErrAccountLocked
		}
		pendingSince, err = putChallenge(ctx, tx, c, notBefore, phoneauth.ErrCodePending)
		return err
	})
	if !errors.Is(err, phoneauth.ErrAccountLocked) {
		lockedUntil = time.Time{}
	}
	return lockedUntil, pendingSince, err
}

// putChallenge makes c the challenge of purpose c.Purpose of c.UserID in
// tx unless that one is unconsumed and was created after notBefore, and
// records c.Audit if it did: the write of PutChallenge and
// PutLoginChallenge, each of which has read the account in tx first. When
// it puts nothing it returns pending with the pending challenge's
// CreatedAt, read in tx, where it cannot have gone since.
func putChallenge(ctx context.Context, tx tx, c phoneauth.Challenge, notBefore time.Time, pending error) (time.Time, error) {
	var newPhone any
	if c.NewPhone != "" {
		newPhone = c.NewPhone
	}
	res, err := tx.exec(ctx, qPutChallenge, c.ID, string(c.Purpose), c.UserID, c.CodeHash, ms(c.CreatedAt), ms(c.ExpiresAt), newPhone, ms(notBefore))
	if err != nil {
		return time.Time{}, err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return time.Time{}, err
	}
	if n > 0 {
		return time.Time{}, record(ctx, tx, c.Audit, c.CreatedAt, c.UserID, "", nil)
	}
	var since int64
	if err := tx.queryRow(ctx, qPendingChallenge, c.UserID, string(c.Purpose)).Scan(&since); err != nil {
		return time.Time{}, err
	}
	return fromMS(since), pending
}

// DeleteAccount admits access token access to account userID, decides try
// t of the account's deletion challenge with phoneauth.Try.Decide, stores
// what it decided and, if the try passed, deletes the account, its
// challenges, sessions and their foreign tokens (by cascade), all in one
// transaction. Errors: phoneauth.ErrUserNotFound, phoneauth.ErrTokenRevoked,
// phoneauth.ErrNoPendingCode, and those of phoneauth.Try.Decide.
func (s *Store) DeleteAccount(ctx context.Context, userID string, access phoneauth.TokenRef, t phoneauth.Try) (phoneauth.User, error) {
	return s.accountCode(ctx, "delete account", phoneauth.PurposeDelete, userID, access, t,
		func(ctx context.Context, tx tx, _ *phoneauth.User, _ phoneauth.Challenge, _ *phoneauth.Session) error {
			_, err := tx.exec(ctx, qDeleteUser, userID)
			return err
		})
}

// ChangePhone admits access token access to account userID, decides try t
// of the account's phone-change challenge with phoneauth.Try.Decide,
// stores what it decided and, if the try passed, moves the account to the
// challenge's number, deletes its other challenges and revokes its other
// sessions, all in one transaction. Errors: phoneauth.ErrUserNotFound,
// phoneauth.ErrTokenRevoked, phoneauth.ErrNoPendingCode,
// phoneauth.ErrUserExists (the number was taken; the transaction is rolled
// back), and those of phoneauth.Try.Decide.
func (s *Store) ChangePhone(ctx context.Context, userID string, access phoneauth.TokenRef, t phoneauth.Try) (phoneauth.User, error) {
	return s.accountCode(ctx, "change phone", phoneauth.PurposePhone, userID, access, t,
		func(ctx context.Context, tx tx, u *phoneauth.User, c phoneauth.Challenge, keep *phoneauth.Session) error {
			_, err := tx.exec(ctx, qMovePhone, c.NewPhone, userID)
			if isConstraint(err, sqlite3.SQLITE_CONSTRAINT_UNIQUE) {
				return phoneauth.ErrUserExists
			}
			if err != nil {
				return err
			}
			if _, err := tx.exec(ctx, qDeleteOtherChallenges, userID); err != nil {
				return err
			}
			var keepID any
			if keep != nil {
				keepID = int64(keep.ID)
			}
			if _, err = tx.exec(ctx, qRevokeOtherSessions, ms(t.Now), userID, keepID); err != nil {
				return err
			}
			u.Phone = c.NewPhone
			return nil
		})
}

// accountCode is the transaction of a code of purpose p sent to signed-in
// account userID: it admits access token access, decides try t of the
// code and stores what it decided, and if the try passed runs effect with
// the account, the challenge and the token's session (nil if the store
// holds none), in the same transaction.
func (s *Store) accountCode(ctx context.Context, op string, p phoneauth.Purpose, userID string, access phoneauth.TokenRef, t phoneauth.Try,
	effect func(ctx context.Context, tx tx, u *phoneauth.User, c phoneauth.Challenge, sess *phoneauth.Session) error) (phoneauth.User, error) {
	u := phoneauth.User{ID: userID}
	var verdict error
	err := s.inTx(ctx, op, func(ctx context.Context, tx tx) error {
		var verifiedAt sql.NullInt64
		var createdAt int64
		var row sessionRow
		dest := append([]any{&u.Phone, &verifiedAt, &createdAt}, row.dest()...)
		var err error
		if access.Own {
			err = tx.queryRow(ctx, qAccessOwn, int64(access.Session), userID).Scan(dest...)
		} else {
			err = tx.queryRow(ctx, qAccessForeign, access.JTI, userID).Scan(dest...)
		}
		if errors.Is(err, sql.ErrNoRows) {
			return phoneauth.ErrUserNotFound
		}
		if err != nil {
			return err
		}
		u.Verified, u.CreatedAt = verifiedAt.Valid, fromMS(createdAt)
		sess := row.session()
		if err := phoneauth.CheckAccess(access, sess); err != nil {
			return err
		}
		c := phoneauth.Challenge{UserID: userID, Purpose: p}
		var g phoneauth.Guard
		var r tryRow
		err = tx.queryRow(ctx, qAccountTry, userID, string(p)).Scan(&c.ID, &c.CodeHash, &r.createdAt, &r.expiresAt,
			&c.Consumed, &c.Attempts, &c.NewPhone, &g.Failures, &g.Lockouts, &r.lockedUntil)
		if errors.Is(err, sql.ErrNoRows) {
			return phoneauth.ErrNoPendingCode
		}
		if err != nil {
			return err
		}
		r.verifiedAt, r.userCreatedAt = verifiedAt, createdAt
		r.fill(&c, &g, &u)
		if verdict, err = decide(ctx, tx, t, &c, &g, u.Phone); err != nil || verdict != nil {
			return err
		}
		return effect(ctx, tx, &u, c, sess)
	})
	if err != nil {
		return u, err
	}
	return u, verdict
}

// tryRow holds the columns of a try's row that need converting.
type tryRow struct {
	createdAt, expiresAt, userCreatedAt int64
	lockedUntil, verifiedAt             sql.NullInt64
}

func (r tryRow) fill(c *phoneauth.Challenge, g *phoneauth.Guard, u *phoneauth.User) {
	c.CreatedAt, c.ExpiresAt = fromMS(r.createdAt), fromMS(r.expiresAt)
	g.LockedUntil = fromNullMS(r.lockedUntil)
	u.Verified, u.CreatedAt, u.LockedUntil = r.verifiedAt.Valid, fromMS(r.userCreatedAt), g.LockedUntil
}

// decide lets t.Decide decide the try of c by the account guarded by g and
// stores what changed, the failure of a wrong try included, with the try's
// audit event (t.Audit, about the account of phone). It returns Decide's
// answer, and the store's failure to record it, which must roll the
// transaction back.
func decide(ctx context.Context, tx tx, t phoneauth.Try, c *phoneauth.Challenge, g *phoneauth.Guard, phone string) (verdict, err error) {
	attempts, guard := c.Attempts, *g
	verdict = t.Decide(c, g)
	if c.Attempts != attempts {
		var consumedAt any
		if c.Consumed {
			consumedAt = ms(t.Now)
		}
		if _, err := tx.exec(ctx, qSaveTry, c.Attempts, consumedAt, c.ID); err != nil {
			return nil, err
		}
	}
	if *g != guard {
		var lockedUntil any
		if !g.LockedUntil.IsZero() {
			lockedUntil = ms(g.LockedUntil)
		}
		if _, err := tx.exec(ctx, qSaveGuard, g.Failures, g.Lockouts, lockedUntil, c.UserID); err != nil {
			return nil, err
		}
	}
	if err := record(ctx, tx, t.Audit, t.Now, c.UserID, phone, verdict); err != nil {
		return nil, err
	}
	return verdict, nil
}

// record inserts audit event e as e.Decided makes it, unless e is not to
// be recorded.
func record(ctx context.Context, tx tx, e phoneauth.Event, at time.Time, userID, phone string, outcome error) error {
	ev, ok := e.Decided(at, userID, phone, outcome)
	if !ok {
		return nil
	}
	_, err := tx.exec(ctx, qInsertEvent, eventArgs(ev)...)
	return err
}

// eventArgs are the values of qInsertEvent for e.
func eventArgs(e phoneauth.Event) []any {
	var userID any
	if e.UserID != "" {
		userID = e.UserID
	}
	return []any{ms(e.At), string(e.Kind), userID, e.PhoneMasked, e.ClientIP, e.UserAgent, string(e.Outcome)}
}

// RecordEvent records audit event e in a transaction of its own.
func (s *Store) RecordEvent(ctx context.Context, e phoneauth.Event) error {
	return s.inTx(ctx, "record event", func(ctx context.Context, tx tx) error {
		_, err := tx.exec(ctx, qInsertEvent, eventArgs(e)...)
		return err
	})
}

// Events returns the audit events of userID (everyone's when empty) of
// kind (every kind when empty) recorded at since or later, newest first,
// at most limit.
func (s *Store) Events(ctx context.Context, userID string, kind phoneauth.EventKind, since time.Time, limit int) ([]phoneauth.Event, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	rows, err := s.rs.query(ctx, qEvents, userID, ms(since), limit, string(kind))
	if err != nil {
		return nil, wrapErr(ctx, "events", err)
	}
	defer rows.Close()
	var events []phoneauth.Event
	for rows.Next() {
		var e phoneauth.Event
		var at int64
		var uid sql.NullString
		if err := rows.Scan(&e.ID, &at, &e.Kind, &uid, &e.PhoneMasked, &e.ClientIP, &e.UserAgent, &e.Outcome); err != nil {
			return nil, wrapErr(ctx, "events", err)
		}
		e.At, e.UserID = fromMS(at), uid.String
		events = append(events, e)
	}
	if err := rows.Err(); err != nil {
		return nil, wrapErr(ctx, "events", err)
	}
	return events, nil
}

// RotateRefresh decides refresh token r.Token with phoneauth.Rotation.Decide
// on the session it belongs to, read inside the transaction, and writes the
// outcome, as phoneauth.Store documents. Errors: those of Decide,
// phoneauth.ErrUserNotFound.
func (s *Store) RotateRefresh(ctx context.Context, r phoneauth.Rotation) (phoneauth.Session, error) {
	var next phoneauth.Session
	var decided error
	err := s.inTx(ctx, "rotate refresh", func(ctx context.Context, tx tx) error {
		cur, spent, err := sessionOf(ctx, tx, r.Token.Ref)
		if err != nil {
			return err
		}
		var write bool
		next, write, decided = r.Decide(cur, spent)
		switch {
		case !write:
			return decided // nothing to commit
		case cur != nil:
			if _, err = tx.exec(ctx, qUpdateSession, updateArgs(next)...); err != nil {
				return err
			}
			return record(ctx, tx, r.Audit, r.Now, next.UserID, "", decided)
		}
		_, err = tx.exec(ctx, qInsertSession, sessionArgs(next)...)
		if isConstraint(err, sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY) {
			return phoneauth.ErrUserNotFound
		}
		if err != nil {
			return err
		}
		if _, err = tx.exec(ctx, qInsertForeign, r.Token.Ref.JTI, int64(next.ID), ms(r.Token.ExpiresAt)); err != nil {
			return err
		}
		return record(ctx, tx, r.Audit, r.Now, next.UserID, "", decided)
	})
	if err != nil {
		return phoneauth.Session{}, err
	}
	if decided != nil {
		return phoneauth.Session{}, decided
	}
	return stored(next), nil
}

// sessionOf reads the session that the token of ref belongs to, nil if the
// store holds none, and whether the store holds its jti as spent.
func sessionOf(ctx context.Context, tx tx, ref phoneauth.TokenRef) (*phoneauth.Session, bool, error) {
	var row sessionRow
	var spent bool
	var err error
	if ref.Own {
		err = tx.queryRow(ctx, qSession, int64(ref.Session)).Scan(row.dest()...)
	} else {
		err = tx.queryRow(ctx, qSessionOfForeign, ref.JTI).Scan(append(row.dest(), &spent)...)
	}
	if errors.Is(err, sql.ErrNoRows) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	return row.session(), spent, nil
}

// RevokeToken revokes the session of token r.Token; a token not the
// service's own that the store never saw is recorded in session r.Record.
// Revoking twice is no error. Errors: phoneauth.ErrUserNotFound, when
// r.Record is to be created and its user does not exist, or when the
// session of a token of the service's own is not held and its subject is
// no user.
func (s *Store) RevokeToken(ctx context.Context, r phoneauth.Revocation) error {
	if r.Token.Ref.Own {
		// The revocation and its event are one transaction; a session the
		// store does not hold needs nothing, unless its user is gone too.
		var n int64
		err := s.inTx(ctx, "revoke token", func(ctx context.Context, tx tx) error {
			res, err := tx.exec(ctx, qRevokeSession, ms(r.Now), int64(r.Token.Ref.Session))
			if err != nil {
				return err
			}
			if n, err = res.RowsAffected(); err != nil || n == 0 {
				return err
			}
			return record(ctx, tx, r.Audit, r.Now, r.Token.Subject, "", nil)
		})
		if err != nil || n > 0 {
			return err
		}
		ctx, cancel := s.bound(ctx)
		defer cancel()
		var exists bool
		if err := s.rs.queryRow(ctx, qUserExists, r.Token.Subject).Scan(&exists); err != nil {
			return wrapErr(ctx, "revoke token", err)
		}
		if !exists {
			return phoneauth.ErrUserNotFound
		}
		return nil
	}
	return s.inTx(ctx, "revoke token", func(ctx context.Context, tx tx) error {
		res, err := tx.exec(ctx, qRevokeSessionOfForeign, ms(r.Now), r.Token.Ref.JTI)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			_, err = tx.exec(ctx, qInsertSession, sessionArgs(r.Record)...)
			if isConstraint(err, sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY) {
				return phoneauth.ErrUserNotFound
			}
			if err != nil {
				return err
			}
			if _, err = tx.exec(ctx, qInsertForeign, r.Token.Ref.JTI, int64(r.Record.ID), ms(r.Token.ExpiresAt)); err != nil {
				return err
			}
		}
		return record(ctx, tx, r.Audit, r.Now, r.Token.Subject, "", nil)
	})
}

// AccessUser reads user userID and the session of access token t in one
// query on the read pool and lets phoneauth.CheckAccess decide. Errors:
// phoneauth.ErrUserNotFound, phoneauth.ErrTokenRevoked.
func (s *Store) AccessUser(ctx context.Context, userID string, t phoneauth.TokenRef) (phoneauth.User, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	u := phoneauth.User{ID: userID}
	var verifiedAt sql.NullInt64
	var createdAt int64
	var row sessionRow
	dest := append([]any{&u.Phone, &verifiedAt, &createdAt}, row.dest()...)
	var err error
	if t.Own {
		err = s.rs.queryRow(ctx, qAccessOwn, int64(t.Session), userID).Scan(dest...)
	} else {
		err = s.rs.queryRow(ctx, qAccessForeign, t.JTI, userID).Scan(dest...)
	}
	if errors.Is(err, sql.ErrNoRows) {
		return phoneauth.User{}, phoneauth.ErrUserNotFound
	}
	if err != nil {
		return phoneauth.User{}, wrapErr(ctx, "access user", err)
	}
	if err := phoneauth.CheckAccess(t, row.session()); err != nil {
		return phoneauth.User{}, err
	}
	u.Verified, u.CreatedAt = verifiedAt.Valid, fromMS(createdAt)
	return u, nil
}

// Prune deletes the dead challenges, foreign tokens and sessions at now, as
// phoneauth.Store documents, in transactions of at most s.pruneBatch rows
// per table, so that other writers get the write connection between them;
// each transaction, not the whole Prune, is bounded by the call timeout.
// It stops after a transaction in which every statement deleted less than
// a full batch: foreign tokens go before sessions in each, so by then no
// session waits for its expired foreign tokens to go.
func (s *Store) Prune(ctx context.Context, now time.Time) (int64, error) {
	var total int64
	for {
		var n int64
		var more bool
		err := s.inTx(ctx, "prune", func(ctx context.Context, tx tx) error {
			n, more = 0, false
			for _, q := range []string{qPruneChallenges, qPruneForeign, qPruneSessions, qPruneUnverified, qPruneAudit} {
				res, err := tx.exec(ctx, q, ms(now), s.pruneBatch, ms(now.Add(-phoneauth.UnverifiedRetention)), ms(now.Add(-s.auditRetention)))
				if err != nil {
					return err
				}
				deleted, err := res.RowsAffected()
				if err != nil {
					return err
				}
				n += deleted
				more = more || deleted >= int64(s.pruneBatch)
			}
			return nil
		})
		if err != nil {
			return total, err
		}
		total += n
		if !more {
			return total, nil
		}
	}
}

// inTx runs f in a write transaction, bounded by the call timeout, and
// commits unless f fails; the transaction may be shared with other calls
// (see committer), each in a savepoint of its own. The error kinds of
// phoneauth (phoneauth.IsKind) pass through unwrapped; others are wrapped
// with op.
func (s *Store) inTx(ctx context.Context, op string, f func(context.Context, tx) error) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	return s.committer.do(ctx, op, f)
}

// sessionRow holds the columns of a session (sessionColumns) as read,
// all NULL when a LEFT JOIN found none.
type sessionRow struct {
	id, createdAt, expiresAt, generation, rotatedAt, previous, revoked sql.NullInt64
	userID                                                             sql.NullString
}

func (r *sessionRow) dest() []any {
	return []any{&r.id, &r.userID, &r.createdAt, &r.expiresAt, &r.generation, &r.rotatedAt, &r.previous, &r.revoked}
}

// session returns the session read, or nil if there was none.
func (r *sessionRow) session() *phoneauth.Session {
	if !r.id.Valid {
		return nil
	}
	return &phoneauth.Session{
		ID:                uint64(r.id.Int64),
		UserID:            r.userID.String,
		CreatedAt:         fromMS(r.createdAt.Int64),
		ExpiresAt:         fromMS(r.expiresAt.Int64),
		Generation:        uint32(r.generation.Int64),
		RotatedAt:         fromMS(r.rotatedAt.Int64),
		PreviousRotatedAt: fromNullMS(r.previous),
		RevokedAt:         fromNullMS(r.revoked),
	}
}

// stored returns sess as a read hands it back: times in UTC, at
// millisecond precision.
func stored(sess phoneauth.Session) phoneauth.Session {
	for _, t := range []*time.Time{&sess.CreatedAt, &sess.ExpiresAt, &sess.RotatedAt, &sess.PreviousRotatedAt, &sess.RevokedAt} {
		if !t.IsZero() {
			*t = fromMS(ms(*t))
		}
	}
	return sess
}

// sessionArgs are the values of sessionColumns for s. Session IDs are
// stored as the signed integer with the same bits.
func sessionArgs(s phoneauth.Session) []any {
	return []any{int64(s.ID), s.UserID, ms(s.CreatedAt), ms(s.ExpiresAt), int64(s.Generation),
		ms(s.RotatedAt), nullMS(s.PreviousRotatedAt), nullMS(s.RevokedAt)}
}

// updateArgs are the arguments of qUpdateSession for s.
func updateArgs(s phoneauth.Session) []any {
	return []any{int64(s.Generation), ms(s.RotatedAt), nullMS(s.PreviousRotatedAt), nullMS(s.RevokedAt), int64(s.ID)}
}

// ms is how times are stored: unix milliseconds, UTC.
func ms(t time.Time) int64 { return t.UnixMilli() }

func fromMS(v int64) time.Time { return time.UnixMilli(v).UTC() }

// nullMS stores the zero time as NULL.
func nullMS(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return ms(t)
}

// fromNullMS is fromMS of a nullable column; NULL is the zero time.
func fromNullMS(v sql.NullInt64) time.Time {
	if !v.Valid {
		return time.Time{}
	}
	return fromMS(v.Int64)
}
