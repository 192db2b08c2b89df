package phoneauth

import (
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/google/uuid"
)

// Session is a signed-in device: one chain of refresh tokens, revoked as a
// whole on logout or when a spent refresh token is presented again. It is
// all a store keeps of the tokens issued in it: the current refresh token is
// the one of generation Generation, issued at RotatedAt, and can be signed
// again from these fields alone (see Service.pair).
type Session struct {
	// ID is minted by the service and carried in the jti of every token
	// of the session.
	ID        uint64
	UserID    string
	CreatedAt time.Time
	// ExpiresAt is the session's absolute end, fixed at login: every
	// refresh token of the session carries it as exp, so rotation never
	// extends a session.
	ExpiresAt time.Time
	// Generation counts the rotations: the login's refresh token is
	// generation 0, and each rotation issues the next.
	Generation uint32
	// RotatedAt is when the current refresh token was issued (its iat),
	// by the login or the last rotation.
	RotatedAt time.Time
	// PreviousRotatedAt is when the refresh token the last rotation spent
	// was issued; zero before the first rotation.
	PreviousRotatedAt time.Time
	// RevokedAt is when the session was revoked; zero while it lives.
	RevokedAt time.Time
}

// Revoked reports whether the session has been revoked.
func (s Session) Revoked() bool { return !s.RevokedAt.IsZero() }

// Decide is the one rotation rule: every Store calls it inside the
// transaction of RotateRefresh, on the session it has locked for r.Token
// (cur nil if it holds none), and writes what it returns. spent says the
// store holds r.Token's jti as spent, which only rows kept from before
// sessions counted generations do.
//
// It returns the session as the store must leave it, whether that is a
// change to write (for cur nil: the session r.Adopt to create), and the
// answer, which the store returns after committing:
//
//   - r.Token is the session's current refresh token (its generation and,
//     for a token phoneauth signed, its iat to the second): the session
//     moves to the next generation, issued at r.Now. nil.
//   - r.Token is the refresh token the last rotation spent, presented again
//     less than r.Grace after that rotation (two tabs refreshing at once):
//     the session, unchanged, so the same successor is handed out again.
//     nil.
//   - any other refresh token of a live session (spent earlier, past the
//     grace, or one the store never issued: a generation ahead of it or an
//     iat it does not know, as after a restore from an older backup): the
//     session is revoked at r.Now. ErrTokenReused.
//   - the session is revoked: ErrTokenRevoked, nothing written; it has run
//     out of generations (MaxGeneration): it is revoked, ErrTokenRevoked.
//   - the session has ended (a token not phoneauth's own may outlive the
//     session it started): ErrTokenExpired, nothing written.
//   - no session, for a token phoneauth signed: its session has been pruned
//     or was lost with a restore, and the token is refused:
//     ErrTokenRevoked. For any other token: r.Adopt is created. nil.
func (r Rotation) Decide(cur *Session, spent bool) (next Session, write bool, err error) {
	own := r.Token.Ref.Own
	if cur == nil {
		if own {
			return Session{}, false, ErrTokenRevoked
		}
		return r.Adopt, true, nil
	}
	s := *cur
	switch {
	case s.Revoked():
		return s, false, ErrTokenRevoked
	case !r.Now.Before(s.ExpiresAt):
		return s, false, ErrTokenExpired
	}
	// A token not phoneauth's own is generation 0 of the session it
	// started or was recorded in; its jti already names it exactly.
	gen, issued := uint32(0), r.Token.IssuedAt
	if own {
		gen = r.Token.Ref.Generation
	}
	isCurrent := !spent && gen == s.Generation && (!own || sameSecond(issued, s.RotatedAt))
	isPrevious := !spent && gen+1 == s.Generation && (!own || sameSecond(issued, s.PreviousRotatedAt))
	switch {
	case isCurrent && s.Generation == MaxGeneration:
		s.RevokedAt = r.Now
		return s, true, errOutOfGenerations
	case isCurrent:
		s.Generation++
		s.PreviousRotatedAt, s.RotatedAt = s.RotatedAt, r.Now
		return s, true, nil
	case isPrevious && r.Now.Sub(s.RotatedAt) < r.Grace:
		return s, false, nil
	}
	s.RevokedAt = r.Now
	return s, true, ErrTokenReused
}

// errOutOfGenerations is the ErrTokenRevoked of Decide for a session it
// revokes because it has run out of generations. Unlike the ErrTokenRevoked
// of a session revoked before, it is written with its event, so Refresh
// records none of its own; a Store returns it as it is.
var errOutOfGenerations = fmt.Errorf("%w: session out of generations", ErrTokenRevoked)

// earlier returns the earlier of a and b.
func earlier(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

// sameSecond reports whether a and b fall in the same Unix second, the
// precision of iat.
func sameSecond(a, b time.Time) bool { return a.Unix() == b.Unix() }

// CheckAccess is the one access-token rule: every Store's AccessUser calls
// it on the session it holds for access token t (nil if none). A token
// phoneauth signed is refused (ErrTokenRevoked) when its session is gone
// (pruned, or lost with a restore), revoked, or behind the token's
// generation (the store lost rotations to a restore). Another token is
// refused only if its session is revoked; one the store never saw is
// accepted.
func CheckAccess(t TokenRef, cur *Session) error {
	switch {
	case cur == nil && t.Own:
		return ErrTokenRevoked
	case cur == nil:
		return nil
	case cur.Revoked():
		return ErrTokenRevoked
	case t.Own && t.Generation > cur.Generation:
		return ErrTokenRevoked
	}
	return nil
}

// newSession opens session state for userID at now: generation 0, issued
// now, ending Policy.RefreshTTL after now (in whole seconds, as exp is).
func (s *Service) newSession(userID string, now time.Time) (Session, error) {
	id, err := s.newSessionID()
	if err != nil {
		return Session{}, err
	}
	return Session{
		ID:        id,
		UserID:    userID,
		CreatedAt: now,
		ExpiresAt: now.Truncate(time.Second).Add(s.policy.RefreshTTL.Truncate(time.Second)),
		RotatedAt: now,
	}, nil
}

// newSessionID mints a random 64-bit session ID.
func (s *Service) newSessionID() (uint64, error) {
	var b [8]byte
	if _, err := io.ReadFull(s.random, b[:]); err != nil {
		return 0, fmt.Errorf("generate session id: %w", err)
	}
	return binary.BigEndian.Uint64(b[:]), nil
}

// pair signs the tokens a client holds in session sess at now: the
// session's current refresh token, exactly as the login or rotation that
// made it current issued it, and a fresh access token of the same
// generation, which ends with the session if not before.
func (s *Service) pair(sess Session, now time.Time) (TokenPair, error) {
	ref := TokenRef{Session: sess.ID, Generation: sess.Generation}
	refresh, err := s.tokens.Sign(Claims{
		Subject: sess.UserID, Type: TokenRefresh,
		IssuedAt: sess.RotatedAt, ExpiresAt: sess.ExpiresAt, Ref: ref,
	})
	if err != nil {
		return TokenPair{}, fmt.Errorf("sign refresh token: %w", err)
	}
	exp := earlier(now.Truncate(time.Second).Add(s.policy.AccessTTL.Truncate(time.Second)), sess.ExpiresAt)
	access, err := s.tokens.Sign(Claims{
		Subject: sess.UserID, Type: TokenAccess,
		IssuedAt: now, ExpiresAt: exp, Ref: ref,
	})
	if err != nil {
		return TokenPair{}, fmt.Errorf("sign access token: %w", err)
	}
	return TokenPair{Access: access, Refresh: refresh}, nil
}

// parse checks a bearer token and, when want is not empty, its type.
// Errors: ErrTokenMissing, ErrTokenInvalid, ErrTokenExpired,
// ErrNeedAccessToken, ErrNeedRefreshToken, ErrTokenUnknownUser. With
// ErrTokenExpired it returns the claims too when the token would
// otherwise have passed (of the type wanted, naming a user ID), so that
// the refusal can be recorded with its user; with any other error, none.
func (s *Service) parse(raw string, want TokenType, now time.Time) (Claims, error) {
	if raw == "" {
		return Claims{}, ErrTokenMissing
	}
	c, err := s.tokens.Parse(raw, now)
	expired := errors.Is(err, ErrTokenExpired)
	if err != nil && !expired {
		return Claims{}, err
	}
	switch {
	case want == TokenAccess && c.Type != TokenAccess:
		return Claims{}, cmp.Or(err, ErrNeedAccessToken)
	case want == TokenRefresh && c.Type != TokenRefresh:
		return Claims{}, cmp.Or(err, ErrNeedRefreshToken)
	}
	// Subjects are user IDs, which are UUIDs; anything else names nobody.
	id, perr := uuid.Parse(c.Subject)
	if perr != nil {
		return Claims{}, cmp.Or(err, ErrTokenUnknownUser)
	}
	c.Subject = id.String()
	return c, err
}

// TokenRequest is the input of Service.Refresh and Service.Logout.
type TokenRequest struct {
	Token     string // the bearer token presented
	ClientIP  string // recorded in the audit trail
	UserAgent string // recorded, truncated, in the audit trail
}

// Refresh presents a refresh token and returns the session's tokens: a new
// refresh token (rotation), or, for the token the last rotation spent
// presented again within Policy.RefreshReuseGrace, the same successor that
// rotation returned. Any other spent refresh token revokes the session. A
// refresh token phoneauth did not sign starts a session of its own, which
// ends when that token expires or RefreshTTL from now, whichever is
// sooner. Errors: the token errors of parse, ErrTokenReused,
// ErrTokenRevoked, ErrTokenExpired. Besides the rotations and reuses the
// store records, the audit trail gets a refresh event for a token refused
// as expired, revoked, of a session not held or of a user gone, with the
// token's user; not for a token that is not validly signed.
func (s *Service) Refresh(ctx context.Context, req TokenRequest) (TokenPair, error) {
	now := s.now()
	ev := s.event(EventRefresh, req.ClientIP, req.UserAgent)
	c, err := s.parse(req.Token, TokenRefresh, now)
	if err != nil {
		if c.Subject != "" { // expired, but validly signed
			s.recordTokenRefusal(ctx, ev, req.Token, c.Subject, err)
		}
		return TokenPair{}, err
	}
	r := Rotation{Token: c, Now: now, Grace: s.policy.RefreshReuseGrace, Audit: ev}
	if !c.Ref.Own {
		if r.Adopt, err = s.newSession(c.Subject, now); err != nil {
			return TokenPair{}, err
		}
		// The presented token is generation 0, spent by this rotation.
		r.Adopt.Generation, r.Adopt.PreviousRotatedAt = 1, c.IssuedAt
		r.Adopt.ExpiresAt = earlier(r.Adopt.ExpiresAt, c.ExpiresAt)
	}
	sess, err := s.store.RotateRefresh(ctx, r)
	if errors.Is(err, ErrTokenReused) {
		s.metrics.RefreshReused()
		s.metrics.SessionRevoked(RevokedReuse)
	}
	if errors.Is(err, ErrUserNotFound) {
		err = ErrTokenUnknownUser
	}
	// A refusal that wrote nothing recorded nothing: a reuse and a session
	// out of generations are written with their event.
	if errors.Is(err, ErrTokenUnknownUser) || errors.Is(err, ErrTokenExpired) ||
		(errors.Is(err, ErrTokenRevoked) && !errors.Is(err, errOutOfGenerations)) {
		s.recordTokenRefusal(ctx, ev, req.Token, c.Subject, err)
	}
	if errors.Is(err, ErrTokenUnknownUser) {
		return TokenPair{}, err
	}
	if err != nil {
		return TokenPair{}, storeErr("rotate refresh token", err)
	}
	return s.pair(sess, now)
}

// Logout revokes the session of an access or refresh token: none of its
// tokens is accepted again. Errors: the token errors of parse,
// ErrTokenUnknownUser. A token refused as expired or as one of a user
// gone is recorded in the audit trail, with its user.
func (s *Service) Logout(ctx context.Context, req TokenRequest) error {
	now := s.now()
	ev := s.event(EventLogout, req.ClientIP, req.UserAgent)
	c, err := s.parse(req.Token, "", now)
	if err != nil {
		if c.Subject != "" { // expired, but validly signed
			s.recordTokenRefusal(ctx, ev, req.Token, c.Subject, err)
		}
		return err
	}
	r := Revocation{Token: c, Now: now, Audit: ev}
	if !c.Ref.Own {
		// A token the store never saw is recorded, revoked, in a session
		// of its own, which lasts as long as the token.
		id, err := s.newSessionID()
		if err != nil {
			return err
		}
		r.Record = Session{ID: id, UserID: c.Subject, CreatedAt: now, ExpiresAt: c.ExpiresAt, RotatedAt: now, RevokedAt: now}
	}
	err = s.store.RevokeToken(ctx, r)
	if errors.Is(err, ErrUserNotFound) {
		// Nothing was revoked, nothing recorded.
		s.recordTokenRefusal(ctx, ev, req.Token, c.Subject, ErrTokenUnknownUser)
		return ErrTokenUnknownUser
	}
	if err != nil {
		return storeErr("revoke token", err)
	}
	s.metrics.SessionRevoked(RevokedLogout)
	return nil
}

// Me returns the user an access token belongs to. Errors: the token errors
// of parse, ErrTokenRevoked, ErrTokenUnknownUser.
func (s *Service) Me(ctx context.Context, raw string) (User, error) {
	return s.accessUser(ctx, raw, s.now())
}
