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
// phoneauth.Store documents. Errors: phoneauth.ErrUserExists.
func (s *Store) Register(ctx context.Context, u phoneauth.User, c phoneauth.Challenge, now time.Time) error {
	return s.inTx(ctx, "register", func(ctx context.Context, tx tx) error {
		var userID string
		var verifiedAt sql.NullInt64
		var createdAt int64
		err := tx.queryRow(ctx, qUpsertUser, u.ID, u.Phone, ms(u.CreatedAt)).Scan(&userID, &verifiedAt, &createdAt)
		if err != nil {
			return err
		}
		if verifiedAt.Valid {
			return phoneauth.ErrUserExists
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
		return nil
	})
}

// CancelRegistration deletes registration challenge challengeID and its
// account if unverified. Deleting what does not exist is no error.
func (s *Store) CancelRegistration(ctx context.Context, challengeID string) error {
	return s.inTx(ctx, "cancel registration", func(ctx context.Context, tx tx) error {
		var userID string
		err := tx.queryRow(ctx, qDeleteRegistration, challengeID).Scan(&userID)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		_, err = tx.exec(ctx, qDeleteUnverified, userID)
		return err
	})
}

// UserByPhone returns the account with that E.164 number. Errors:
// phoneauth.ErrUserNotFound.
func (s *Store) UserByPhone(ctx context.Context, phone string) (phoneauth.User, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	u := phoneauth.User{Phone: phone}
	var verifiedAt, lockedUntil sql.NullInt64
	var createdAt int64
	err := s.rs.queryRow(ctx, qUserByPhone, phone).
		Scan(&u.ID, &verifiedAt, &createdAt, &lockedUntil)
	if errors.Is(err, sql.ErrNoRows) {
		return phoneauth.User{}, phoneauth.ErrUserNotFound
	}
	if err != nil {
		return phoneauth.User{}, wrapErr(ctx, "user by phone", err)
	}
	u.Verified, u.CreatedAt, u.LockedUntil = verifiedAt.Valid, fromMS(createdAt), fromNullMS(lockedUntil)
	return u, nil
}

// PutLoginChallenge makes c the login challenge of c.UserID unless an
// unconsumed one created after notBefore exists, as phoneauth.Store
// documents. Errors: phoneauth.ErrLoginPending, phoneauth.ErrUserNotFound.
func (s *Store) PutLoginChallenge(ctx context.Context, c phoneauth.Challenge, notBefore time.Time) (time.Time, error) {
	var pendingSince time.Time
	err := s.inTx(ctx, "put login challenge", func(ctx context.Context, tx tx) error {
		res, err := tx.exec(ctx, qPutLogin, c.ID, c.UserID, c.CodeHash, ms(c.CreatedAt), ms(c.ExpiresAt), ms(notBefore))
		if isConstraint(err, sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY) {
			return phoneauth.ErrUserNotFound
		}
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n > 0 {
			return err
		}
		var createdAt int64
		if err := tx.queryRow(ctx, qPendingLogin, c.UserID).Scan(&createdAt); err != nil {
			return err
		}
		pendingSince = fromMS(createdAt)
		return phoneauth.ErrLoginPending
	})
	return pendingSince, err
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
		if verdict, err = decide(ctx, tx, t, &c, &g); err != nil {
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
// opens session sess with tokens. Errors: phoneauth.ErrNoPendingLogin
// (also for an unknown user), and those of phoneauth.Try.Decide.
func (s *Store) VerifyLogin(ctx context.Context, userID string, t phoneauth.Try, sess phoneauth.Session, tokens []phoneauth.TokenRecord) (phoneauth.User, error) {
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
		if verdict, err = decide(ctx, tx, t, &c, &g); err != nil || verdict != nil {
			return err
		}
		if _, err := tx.exec(ctx, qInsertSession, sess.ID, userID, ms(sess.CreatedAt), ms(sess.ExpiresAt)); err != nil {
			return err
		}
		return insertTokens(ctx, tx, sess.ID, tokens, nil)
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
// stores what changed, the failure of a wrong try included. It returns
// Decide's answer, and the store's failure to record it, which must roll
// the transaction back.
func decide(ctx context.Context, tx tx, t phoneauth.Try, c *phoneauth.Challenge, g *phoneauth.Guard) (verdict, err error) {
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
	return verdict, nil
}

// RotateRefresh spends refresh token r.Old and records r.Tokens in its
// session; a token never seen starts session r.Session. A spent token
// revokes its session. Errors: phoneauth.ErrTokenReused (the token was
// spent; this one is committed with the revocation), phoneauth.ErrTokenRevoked,
// phoneauth.ErrUserNotFound.
func (s *Store) RotateRefresh(ctx context.Context, r phoneauth.Rotation) error {
	now := ms(r.Now)
	var reused bool
	err := s.inTx(ctx, "rotate refresh", func(ctx context.Context, tx tx) error {
		var sessionID string
		var revokedAt sql.NullInt64
		err := tx.queryRow(ctx, qSpendToken, now, r.Old.JTI).Scan(&sessionID, &revokedAt)
		switch {
		case err == nil && revokedAt.Valid:
			return phoneauth.ErrTokenRevoked
		case err == nil:
			return insertTokens(ctx, tx, sessionID, r.Tokens, nil)
		case !errors.Is(err, sql.ErrNoRows):
			return err
		}
		// Spent before, or never seen. A spent token presented again
		// may have been stolen: end its session.
		res, err := tx.exec(ctx, qRevokeSessionOf, now, r.Old.JTI)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n > 0 {
			reused = true
			return nil
		}
		res, err = tx.exec(ctx, qInsertSessionOfUser,
			r.Session.ID, ms(r.Session.CreatedAt), ms(r.Session.ExpiresAt), nil, r.UserID)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return phoneauth.ErrUserNotFound
		}
		// Old is a refresh token whatever its record says: RotateRefresh
		// is only ever given one.
		old := spentToken{r.Old, now}
		old.Type = phoneauth.TokenRefresh
		return insertTokens(ctx, tx, r.Session.ID, r.Tokens, &old)
	})
	if err == nil && reused {
		return phoneauth.ErrTokenReused
	}
	return err
}

// RevokeToken revokes the session that token r.Token belongs to; a token
// never seen is recorded as revoked in session r.Session. Revoking twice is
// no error. Errors: phoneauth.ErrUserNotFound, when the token is unknown
// and so is its user.
func (s *Store) RevokeToken(ctx context.Context, r phoneauth.Revocation) error {
	return s.inTx(ctx, "revoke token", func(ctx context.Context, tx tx) error {
		res, err := tx.exec(ctx, qRevokeSessionOf, ms(r.Now), r.Token.JTI)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n > 0 {
			return err
		}
		res, err = tx.exec(ctx, qInsertSessionOfUser,
			r.Session.ID, ms(r.Session.CreatedAt), ms(r.Session.ExpiresAt), ms(r.Now), r.Session.UserID)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return phoneauth.ErrUserNotFound
		}
		return insertTokens(ctx, tx, r.Session.ID, []phoneauth.TokenRecord{r.Token}, nil)
	})
}

// AccessUser returns user userID for a request bearing access token jti;
// a token never seen is accepted. Errors: phoneauth.ErrUserNotFound,
// phoneauth.ErrTokenRevoked.
func (s *Store) AccessUser(ctx context.Context, userID, jti string) (phoneauth.User, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	u := phoneauth.User{ID: userID}
	var verifiedAt, revokedAt sql.NullInt64
	var createdAt int64
	err := s.rs.queryRow(ctx, qAccessUser, jti, userID).Scan(&u.Phone, &verifiedAt, &createdAt, &revokedAt)
	if errors.Is(err, sql.ErrNoRows) {
		return phoneauth.User{}, phoneauth.ErrUserNotFound
	}
	if err != nil {
		return phoneauth.User{}, wrapErr(ctx, "access user", err)
	}
	if revokedAt.Valid {
		return phoneauth.User{}, phoneauth.ErrTokenRevoked
	}
	u.Verified, u.CreatedAt = verifiedAt.Valid, fromMS(createdAt)
	return u, nil
}

// Prune deletes the dead challenges, tokens and sessions at now, as
// phoneauth.Store documents, in transactions of at most s.pruneBatch rows
// per table, so that other writers get the write connection between them;
// each transaction, not the whole Prune, is bounded by the call timeout.
// It stops after a transaction in which every statement deleted less than
// a full batch: tokens go before sessions in each, so by then no session
// waits for its expired tokens to go.
func (s *Store) Prune(ctx context.Context, now time.Time) (int64, error) {
	var total int64
	for {
		var n int64
		var more bool
		err := s.inTx(ctx, "prune", func(ctx context.Context, tx tx) error {
			n, more = 0, false
			for _, q := range []string{qPruneChallenges, qPruneTokens, qPruneSessions, qPruneUnverified} {
				res, err := tx.exec(ctx, q, ms(now), s.pruneBatch, ms(now.Add(-phoneauth.UnverifiedRetention)))
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

// inTx runs f in one write transaction, bounded by the call timeout, and
// commits unless f fails. f gets the bounded context. The error kinds of
// phoneauth (phoneauth.IsKind) pass through unwrapped; others are wrapped
// with op.
func (s *Store) inTx(ctx context.Context, op string, f func(context.Context, tx) error) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	s.ws.prepare(ctx) // before BeginTx takes the only write connection
	sqlTx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return wrapErr(ctx, op, err)
	}
	if err := f(ctx, tx{sqlTx, s.ws}); err != nil {
		if rerr := sqlTx.Rollback(); rerr != nil && !errors.Is(rerr, sql.ErrTxDone) {
			err = errors.Join(err, rerr)
		}
		if phoneauth.IsKind(err) {
			return err
		}
		return wrapErr(ctx, op, err)
	}
	if err := sqlTx.Commit(); err != nil {
		return wrapErr(ctx, op+": commit", err)
	}
	return nil
}

// spentToken is a token recorded as already spent at spentAt.
type spentToken struct {
	phoneauth.TokenRecord
	spentAt int64
}

// insertTokens records ts, and spent if not nil, in session sessionID with
// one statement.
func insertTokens(ctx context.Context, tx tx, sessionID string, ts []phoneauth.TokenRecord, spent *spentToken) error {
	n := len(ts)
	if spent != nil {
		n++
	}
	if n == 0 {
		return nil
	}
	args := make([]any, 0, 5*n)
	for _, t := range ts {
		args = append(args, t.JTI, sessionID, string(t.Type), ms(t.ExpiresAt), nil)
	}
	if spent != nil {
		args = append(args, spent.JTI, sessionID, string(spent.Type), ms(spent.ExpiresAt), spent.spentAt)
	}
	_, err := tx.exec(ctx, qInsertTokens(n), args...)
	return err
}

// ms is how times are stored: unix milliseconds, UTC.
func ms(t time.Time) int64 { return t.UnixMilli() }

func fromMS(v int64) time.Time { return time.UnixMilli(v).UTC() }

// fromNullMS is fromMS of a nullable column; NULL is the zero time.
func fromNullMS(v sql.NullInt64) time.Time {
	if !v.Valid {
		return time.Time{}
	}
	return fromMS(v.Int64)
}
