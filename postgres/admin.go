package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/phoneauth/phoneauth"
)

var _ phoneauth.Admin = (*Admin)(nil)

// Admin is the operator's view of a Store, as phoneauth.Admin documents:
// every method is one statement, its own transaction, locking rows in the
// order of the Store's methods (users before sessions).
type Admin struct{ s *Store }

// Admin returns the operator's view of s.
func (s *Store) Admin() *Admin { return &Admin{s: s} }

const accountColumns = `id, phone, verified_at IS NOT NULL, created_at, locked_until, failed_checks, lockouts`

// accountRow holds the columns of an account (accountColumns) as read.
type accountRow struct {
	a           phoneauth.Account
	lockedUntil *time.Time
}

func (r *accountRow) dest() []any {
	return []any{&r.a.ID, &r.a.Phone, &r.a.Verified, &r.a.CreatedAt, &r.lockedUntil, &r.a.FailedChecks, &r.a.Lockouts}
}

func (r *accountRow) account() phoneauth.Account {
	a := r.a
	a.CreatedAt, a.LockedUntil = a.CreatedAt.UTC(), orZero(r.lockedUntil)
	return a
}

// Users returns every account, oldest first.
func (a *Admin) Users(ctx context.Context) ([]phoneauth.Account, error) {
	ctx, cancel := a.s.bound(ctx)
	defer cancel()
	rows, err := a.s.pool.Query(ctx, `SELECT `+accountColumns+` FROM users ORDER BY created_at, id`)
	if err != nil {
		return nil, a.s.fail(ctx, "users", err)
	}
	defer rows.Close()
	var accounts []phoneauth.Account
	for rows.Next() {
		var r accountRow
		if err := rows.Scan(r.dest()...); err != nil {
			return nil, a.s.fail(ctx, "users", err)
		}
		accounts = append(accounts, r.account())
	}
	if err := rows.Err(); err != nil {
		return nil, a.s.fail(ctx, "users", err)
	}
	return accounts, nil
}

// Account returns account userID. Errors: phoneauth.ErrUserNotFound.
func (a *Admin) Account(ctx context.Context, userID string) (phoneauth.Account, error) {
	return a.one(ctx, "account", `SELECT `+accountColumns+` FROM users WHERE id = $1`, userID)
}

// AccountByPhone returns the account of E.164 phone. Errors:
// phoneauth.ErrUserNotFound.
func (a *Admin) AccountByPhone(ctx context.Context, phone string) (phoneauth.Account, error) {
	return a.one(ctx, "account by phone", `SELECT `+accountColumns+` FROM users WHERE phone = $1`, phone)
}

// DeleteUser deletes account userID in one statement; the cascades of the
// foreign keys delete its challenges, its sessions and the foreign tokens
// recorded in those, after the account's row is locked. Errors:
// phoneauth.ErrUserNotFound.
func (a *Admin) DeleteUser(ctx context.Context, userID string) (phoneauth.Account, error) {
	return a.one(ctx, "delete user", `DELETE FROM users WHERE id = $1 RETURNING `+accountColumns, userID)
}

// Unlock clears the guard of account userID in one statement. Errors:
// phoneauth.ErrUserNotFound.
func (a *Admin) Unlock(ctx context.Context, userID string) (phoneauth.Account, error) {
	const q = `UPDATE users SET failed_checks = 0, lockouts = 0, locked_until = NULL WHERE id = $1 RETURNING ` + accountColumns
	return a.one(ctx, "unlock", q, userID)
}

// one runs q, which returns at most one account.
func (a *Admin) one(ctx context.Context, op, q, arg string) (phoneauth.Account, error) {
	ctx, cancel := a.s.bound(ctx)
	defer cancel()
	var r accountRow
	err := a.s.pool.QueryRow(ctx, q, arg).Scan(r.dest()...)
	if errors.Is(err, pgx.ErrNoRows) {
		return phoneauth.Account{}, phoneauth.ErrUserNotFound
	}
	if err != nil {
		return phoneauth.Account{}, a.s.fail(ctx, op, err)
	}
	return r.account(), nil
}

// Sessions returns the sessions of account userID in one query: one row
// per session, or one of NULLs for an account with none, and none for an
// unknown account. Errors: phoneauth.ErrUserNotFound.
func (a *Admin) Sessions(ctx context.Context, userID string) ([]phoneauth.Session, error) {
	ctx, cancel := a.s.bound(ctx)
	defer cancel()
	const q = `
SELECT s.id, s.user_id, s.created_at, s.expires_at, s.generation, s.rotated_at, s.previous_rotated_at, s.revoked_at
FROM users u LEFT JOIN sessions s ON s.user_id = u.id
WHERE u.id = $1
ORDER BY s.created_at, s.id`
	rows, err := a.s.pool.Query(ctx, q, userID)
	if err != nil {
		return nil, a.s.fail(ctx, "sessions", err)
	}
	defer rows.Close()
	found := false
	sessions := []phoneauth.Session{}
	for rows.Next() {
		found = true
		var row sessionRow
		if err := rows.Scan(row.dest()...); err != nil {
			return nil, a.s.fail(ctx, "sessions", err)
		}
		if sess := row.session(); sess != nil {
			sessions = append(sessions, *sess)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, a.s.fail(ctx, "sessions", err)
	}
	if !found {
		return nil, phoneauth.ErrUserNotFound
	}
	return sessions, nil
}

// RevokeSession revokes session id at now in one statement. Errors:
// phoneauth.ErrSessionNotFound.
func (a *Admin) RevokeSession(ctx context.Context, id uint64, now time.Time) (phoneauth.Session, error) {
	ctx, cancel := a.s.bound(ctx)
	defer cancel()
	const q = `UPDATE sessions SET revoked_at = coalesce(revoked_at, $2) WHERE id = $1 RETURNING ` + sessionColumns
	var row sessionRow
	err := a.s.pool.QueryRow(ctx, q, int64(id), now).Scan(row.dest()...)
	if errors.Is(err, pgx.ErrNoRows) {
		return phoneauth.Session{}, phoneauth.ErrSessionNotFound
	}
	if err != nil {
		return phoneauth.Session{}, a.s.fail(ctx, "revoke session", err)
	}
	return *row.session(), nil
}

// RevokeSessions revokes the live sessions of account userID at now in one
// statement, which first locks the account's row against deletion, so an
// unknown account is told from one without live sessions. Errors:
// phoneauth.ErrUserNotFound.
func (a *Admin) RevokeSessions(ctx context.Context, userID string, now time.Time) (int64, error) {
	ctx, cancel := a.s.bound(ctx)
	defer cancel()
	const q = `
WITH account AS (
	SELECT id FROM users WHERE id = $1 FOR KEY SHARE
), revoked AS (
	UPDATE sessions SET revoked_at = $2
	WHERE user_id IN (SELECT id FROM account) AND revoked_at IS NULL AND expires_at > $2
	RETURNING 1
)
SELECT EXISTS (SELECT 1 FROM account), (SELECT count(*) FROM revoked)`
	var exists bool
	var n int64
	if err := a.s.pool.QueryRow(ctx, q, userID, now).Scan(&exists, &n); err != nil {
		return 0, a.s.fail(ctx, "revoke sessions", err)
	}
	if !exists {
		return 0, phoneauth.ErrUserNotFound
	}
	return n, nil
}
