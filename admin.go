package phoneauth

import (
	"context"
	"errors"
	"time"
)

// ErrSessionNotFound says no session has the ID an operator named. Only
// Admin returns it: the flows never name a session that way, so it is no
// answer of the HTTP API and not among Kinds.
var ErrSessionNotFound = errors.New("session not found")

// Account is a user as an operator sees it: the User, LockedUntil
// included, with its guard against guessing.
type Account struct {
	User
	// FailedChecks counts the failed code checks since the last success
	// or lockout (Guard.Failures).
	FailedChecks int
	// Lockouts counts the lockouts since the last success; each doubles
	// the next one's duration (Guard.Lockouts).
	Lockouts int
}

// Admin is what an operator's tools (the phoneauth users and sessions
// commands) need of the database, beside the flows' Store. Every method is
// atomic: one statement or one transaction, deciding on the data as it is
// at commit. Times are returned in UTC. Errors other than the kinds
// listed are failures of the store; when the database cannot be reached
// they wrap ErrUnavailable. Implementations live in sqlite/ and postgres/;
// all of them pass storetest.RunAdmin.
type Admin interface {
	// Users returns every account, oldest first (ties by ID).
	Users(ctx context.Context) ([]Account, error)

	// Account returns the account with ID userID. Errors: ErrUserNotFound.
	Account(ctx context.Context, userID string) (Account, error)

	// AccountByPhone returns the account with that E.164 number. Errors:
	// ErrUserNotFound.
	AccountByPhone(ctx context.Context, phone string) (Account, error)

	// DeleteUser deletes account userID with its challenges and its
	// sessions (and the foreign token IDs recorded in them), so none of
	// its tokens is accepted again, and returns the account as it was.
	// Errors: ErrUserNotFound.
	DeleteUser(ctx context.Context, userID string) (Account, error)

	// Unlock clears the guard of account userID: its failed checks, its
	// lockouts (so the next lockout is a first one again) and the end of
	// its current lockout. It returns the account as it then is. The
	// tries counted on a code are the code's own and stay. Errors:
	// ErrUserNotFound.
	Unlock(ctx context.Context, userID string) (Account, error)

	// Sessions returns the sessions the store holds for account userID,
	// revoked and ended ones included until Store.Prune deletes them,
	// oldest first (ties by ID). Errors: ErrUserNotFound.
	Sessions(ctx context.Context, userID string) ([]Session, error)

	// RevokeSession revokes session id at now, so none of its tokens is
	// accepted again (Store.AccessUser and Store.RotateRefresh refuse
	// them with ErrTokenRevoked), and returns it. A session revoked
	// already keeps its RevokedAt. Errors: ErrSessionNotFound.
	RevokeSession(ctx context.Context, id uint64, now time.Time) (Session, error)

	// RevokeSessions revokes at now every session of account userID that
	// is neither revoked nor ended at now, and returns how many it
	// revoked. A session a login opens once it has committed is not
	// revoked. Errors: ErrUserNotFound.
	RevokeSessions(ctx context.Context, userID string, now time.Time) (int64, error)
}
