package storetest

import (
	"testing"
	"time"

	"github.com/phoneauth/phoneauth"
)

// Legacy is a database as phoneauth kept it before sessions counted
// generations, when every token had a row (SQLite up to migration 0002,
// PostgreSQL up to 0004). A backend's migration test writes it into those
// tables with its own SQL, migrates, and runs CheckLegacy.
type Legacy struct {
	User     phoneauth.User // verified
	Sessions []LegacySession
	Tokens   []LegacyToken
}

// LegacySession is a row of the old sessions table, of Legacy.User.
type LegacySession struct {
	ID                              string
	CreatedAt, ExpiresAt, RevokedAt time.Time // RevokedAt zero: NULL
}

// LegacyToken is a row of the old tokens table.
type LegacyToken struct {
	JTI, SessionID     string
	Type               phoneauth.TokenType
	ExpiresAt, SpentAt time.Time // SpentAt zero: NULL
}

// NewLegacy returns the legacy data CheckLegacy expects: a live session
// that rotated once (under the old rules, which extended its refresh
// token's lifetime past the session's own expiry), a revoked one, and one
// long expired.
func NewLegacy() Legacy {
	u := phoneauth.User{ID: newID(), Phone: phoneN(1), Verified: true, CreatedAt: base.Add(-48 * time.Hour)}
	return Legacy{
		User: u,
		Sessions: []LegacySession{
			{ID: "live", CreatedAt: base.Add(-2 * time.Hour), ExpiresAt: base.Add(-2*time.Hour + refreshTTL)},
			{ID: "revoked", CreatedAt: base.Add(-time.Hour), ExpiresAt: base.Add(-time.Hour + refreshTTL), RevokedAt: base.Add(-30 * time.Minute)},
			{ID: "stale", CreatedAt: base.Add(-2 * refreshTTL), ExpiresAt: base.Add(-refreshTTL)},
		},
		Tokens: []LegacyToken{
			{JTI: newID(), SessionID: "live", Type: phoneauth.TokenRefresh, ExpiresAt: base.Add(-2*time.Hour + refreshTTL), SpentAt: base.Add(-time.Hour)},
			{JTI: newID(), SessionID: "live", Type: phoneauth.TokenRefresh, ExpiresAt: base.Add(-time.Hour + refreshTTL)},
			{JTI: newID(), SessionID: "live", Type: phoneauth.TokenAccess, ExpiresAt: base.Add(10 * time.Minute)},
			{JTI: newID(), SessionID: "revoked", Type: phoneauth.TokenAccess, ExpiresAt: base.Add(5 * time.Minute)},
			{JTI: newID(), SessionID: "revoked", Type: phoneauth.TokenRefresh, ExpiresAt: base.Add(-time.Hour + refreshTTL)},
			{JTI: newID(), SessionID: "stale", Type: phoneauth.TokenRefresh, ExpiresAt: base.Add(-refreshTTL)},
		},
	}
}

// claims returns the claims of legacy token i, as Tokens.Parse reads them:
// a jti that is not the service's own.
func (l Legacy) claims(i int) phoneauth.Claims {
	t := l.Tokens[i]
	return phoneauth.Claims{Subject: l.User.ID, Type: t.Type, ExpiresAt: t.ExpiresAt, Ref: phoneauth.TokenRef{JTI: t.JTI}}
}

// CheckLegacy checks store s, migrated from l, at the time NewLegacy
// counts from: the live session goes on, its refresh token rotating into
// the new scheme and keeping the lifetime it had; its spent token is reuse;
// the revoked session stays revoked; the expired one goes at the next
// Prune.
func CheckLegacy(t *testing.T, s phoneauth.Store, l Legacy) {
	t.Helper()
	ctx := t.Context()
	const liveSpent, liveRefresh, liveAccess, revokedAccess, revokedRefresh = 0, 1, 2, 3, 4

	_, err := s.AccessUser(ctx, l.User.ID, l.claims(liveAccess).Ref)
	wantErr(t, "AccessUser with the live session's access token", err, nil)
	_, err = s.AccessUser(ctx, l.User.ID, l.claims(revokedAccess).Ref)
	wantErr(t, "AccessUser with the revoked session's access token", err, phoneauth.ErrTokenRevoked)
	_, err = s.RotateRefresh(ctx, rotation(l.claims(revokedRefresh), base, grace))
	wantErr(t, "RotateRefresh in the revoked session", err, phoneauth.ErrTokenRevoked)

	sess, err := s.RotateRefresh(ctx, rotation(l.claims(liveRefresh), base, grace))
	wantErr(t, "RotateRefresh of the live session's refresh token", err, nil)
	ms := func(t time.Time) time.Time { return t.Truncate(time.Millisecond) }
	if sess.Generation != 1 || sess.UserID != l.User.ID || !ms(sess.RotatedAt).Equal(ms(base)) {
		t.Errorf("RotateRefresh of the live refresh token: got %+v, want generation 1 of %s rotated at %s", sess, l.User.ID, base)
	}
	if want := ms(l.Tokens[liveRefresh].ExpiresAt); !ms(sess.ExpiresAt).Equal(want) {
		t.Errorf("RotateRefresh of the live refresh token: session ends at %s, want %s, its token's exp", sess.ExpiresAt, want)
	}
	again, err := s.RotateRefresh(ctx, rotation(l.claims(liveRefresh), base.Add(time.Second), grace))
	wantErr(t, "RotateRefresh of the live refresh token again within the grace", err, nil)
	checkSession(t, "RotateRefresh of the live refresh token again within the grace", again, sess)
	_, err = s.AccessUser(ctx, l.User.ID, accessRef(sess))
	wantErr(t, "AccessUser with the successor's access token", err, nil)

	_, err = s.RotateRefresh(ctx, rotation(l.claims(liveSpent), base.Add(time.Second), grace))
	wantErr(t, "RotateRefresh of the token spent before migrating", err, phoneauth.ErrTokenReused)
	_, err = s.RotateRefresh(ctx, rotation(refreshOf(sess), base.Add(time.Second), grace))
	wantErr(t, "RotateRefresh of the successor after the reuse", err, phoneauth.ErrTokenRevoked)
	_, err = s.AccessUser(ctx, l.User.ID, l.claims(liveAccess).Ref)
	wantErr(t, "AccessUser with the live session's access token after the reuse", err, phoneauth.ErrTokenRevoked)

	n, err := s.Prune(ctx, base)
	wantErr(t, "Prune", err, nil)
	if n != 2 {
		t.Errorf("Prune: got %d rows deleted, want 2 (the expired session and its token)", n)
	}
}
