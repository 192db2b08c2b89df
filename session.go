package phoneauth

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
)

// newSession issues an access and a refresh token for userID in a new
// session.
func (s *Service) newSession(userID string, now time.Time) (Session, TokenPair, []TokenRecord, error) {
	id, err := s.newID()
	if err != nil {
		return Session{}, TokenPair{}, nil, err
	}
	pair, records, err := s.issuePair(userID, now)
	if err != nil {
		return Session{}, TokenPair{}, nil, err
	}
	sess := Session{ID: id, UserID: userID, CreatedAt: now, ExpiresAt: records[1].ExpiresAt}
	return sess, pair, records, nil
}

// issuePair signs an access and a refresh token; records[0] is the access
// token's, records[1] the refresh token's.
func (s *Service) issuePair(userID string, now time.Time) (TokenPair, []TokenRecord, error) {
	access, err := s.tokens.Issue(userID, TokenAccess, now)
	if err != nil {
		return TokenPair{}, nil, fmt.Errorf("issue access token: %w", err)
	}
	refresh, err := s.tokens.Issue(userID, TokenRefresh, now)
	if err != nil {
		return TokenPair{}, nil, fmt.Errorf("issue refresh token: %w", err)
	}
	return TokenPair{Access: access.Raw, Refresh: refresh.Raw},
		[]TokenRecord{access.TokenRecord, refresh.TokenRecord}, nil
}

// parse checks a bearer token and, when want is not empty, its type.
// Errors: ErrTokenMissing, ErrTokenInvalid, ErrTokenExpired,
// ErrNeedAccessToken, ErrNeedRefreshToken.
func (s *Service) parse(raw string, want TokenType, now time.Time) (Claims, error) {
	if raw == "" {
		return Claims{}, ErrTokenMissing
	}
	c, err := s.tokens.Parse(raw, now)
	if err != nil {
		return Claims{}, err
	}
	switch {
	case want == TokenAccess && c.Type != TokenAccess:
		return Claims{}, ErrNeedAccessToken
	case want == TokenRefresh && c.Type != TokenRefresh:
		return Claims{}, ErrNeedRefreshToken
	}
	// Subjects are user IDs, which are UUIDs; anything else names nobody.
	id, err := uuid.Parse(c.Subject)
	if err != nil {
		return Claims{}, ErrTokenUnknownUser
	}
	c.Subject = id.String()
	return c, nil
}

// Refresh spends a refresh token and returns a new pair in the same session
// (rotation). Presenting a spent refresh token again revokes the session.
// Errors: the token errors of parse, ErrTokenReused, ErrTokenRevoked,
// ErrTokenUnknownUser.
func (s *Service) Refresh(ctx context.Context, raw string) (TokenPair, error) {
	now := s.now()
	c, err := s.parse(raw, TokenRefresh, now)
	if err != nil {
		return TokenPair{}, err
	}
	sess, pair, records, err := s.newSession(c.Subject, now)
	if err != nil {
		return TokenPair{}, err
	}
	err = s.store.RotateRefresh(ctx, Rotation{
		UserID:  c.Subject,
		Old:     c.TokenRecord,
		Session: sess,
		Tokens:  records,
		Now:     now,
	})
	if errors.Is(err, ErrUserNotFound) {
		return TokenPair{}, ErrTokenUnknownUser
	}
	if err != nil {
		return TokenPair{}, storeErr("rotate refresh token", err)
	}
	return pair, nil
}

// Logout revokes the session of an access or refresh token: none of its
// tokens is accepted again. Errors: the token errors of parse,
// ErrTokenUnknownUser.
func (s *Service) Logout(ctx context.Context, raw string) error {
	now := s.now()
	c, err := s.parse(raw, "", now)
	if err != nil {
		return err
	}
	// A token this store never saw is recorded, revoked, in a session of
	// its own: the service mints its ID.
	id, err := s.newID()
	if err != nil {
		return err
	}
	err = s.store.RevokeToken(ctx, Revocation{
		Token:   c.TokenRecord,
		Session: Session{ID: id, UserID: c.Subject, CreatedAt: now, ExpiresAt: c.ExpiresAt},
		Now:     now,
	})
	if errors.Is(err, ErrUserNotFound) {
		return ErrTokenUnknownUser
	}
	if err != nil {
		return storeErr("revoke token", err)
	}
	return nil
}

// Me returns the user an access token belongs to. Errors: the token errors
// of parse, ErrTokenRevoked, ErrTokenUnknownUser.
func (s *Service) Me(ctx context.Context, raw string) (User, error) {
	c, err := s.parse(raw, TokenAccess, s.now())
	if err != nil {
		return User{}, err
	}
	u, err := s.store.AccessUser(ctx, c.Subject, c.JTI)
	if errors.Is(err, ErrUserNotFound) {
		return User{}, ErrTokenUnknownUser
	}
	if err != nil {
		return User{}, storeErr("access user", err)
	}
	return u, nil
}
