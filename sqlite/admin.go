package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/phoneauth/phoneauth"
)

var _ phoneauth.Admin = (*Admin)(nil)

// Admin is the operator's view of a Store, as phoneauth.Admin documents:
// every method is one statement, its own transaction. Reads go to the read
// pool, writes to the write connection.
type Admin struct{ s *Store }

// Admin returns the operator's view of s.
func (s *Store) Admin() *Admin { return &Admin{s: s} }

const (
	accountColumns = `id, phone, verified_at, created_at, locked_until, failed_checks, lockouts`

	qAdminUsers          = `SELECT ` + accountColumns + ` FROM users ORDER BY created_at, id`
	qAdminAccount        = `SELECT ` + accountColumns + ` FROM users WHERE id = ?`
	qAdminAccountByPhone = `SELECT ` + accountColumns + ` FROM users WHERE phone = ?`

	// The cascades of the foreign keys delete the account's challenges,
	// sessions and the foreign tokens recorded in those.
	qAdminDeleteUser = `DELETE FROM users WHERE id = ? RETURNING ` + accountColumns

	qAdminUnlock = `
		UPDATE users SET failed_checks = 0, lockouts = 0, locked_until = NULL
		WHERE id = ? RETURNING ` + accountColumns

	// One row per session, or one of NULLs for an account with none; no
	// row for an unknown account.
	qAdminSessions = `
		SELECT s.id, s.user_id, s.created_at, s.expires_at, s.generation, s.rotated_at, s.previous_rotated_at, s.revoked_at
		FROM users u LEFT JOIN sessions s ON s.user_id = u.id
		WHERE u.id = ?
		ORDER BY s.created_at, s.id`

	qAdminRevokeSession = `
		UPDATE sessions SET revoked_at = coalesce(revoked_at, ?)
		WHERE id = ? RETURNING ` + sessionColumns

	qAdminUserExists = `SELECT 1 FROM users WHERE id = ?`

	qAdminRevokeSessions = `
		UPDATE sessions SET revoked_at = ?1
		WHERE user_id = ?2 AND revoked_at IS NULL AND expires_at > ?1`
)

// accountRow holds the columns of an account (accountColumns) as read.
type accountRow struct {
	a                       phoneauth.Account
	verifiedAt, lockedUntil sql.NullInt64
	createdAt               int64
}

func (r *accountRow) dest() []any {
	return []any{&r.a.ID, &r.a.Phone, &r.verifiedAt, &r.createdAt, &r.lockedUntil, &r.a.FailedChecks, &r.a.Lockouts}
}

func (r *accountRow) account() phoneauth.Account {
	a := r.a
	a.Verified, a.CreatedAt, a.LockedUntil = r.verifiedAt.Valid, fromMS(r.createdAt), fromNullMS(r.lockedUntil)
	return a
}

// Users returns every account, oldest first.
func (a *Admin) Users(ctx context.Context) ([]phoneauth.Account, error) {
	ctx, cancel := a.s.bound(ctx)
	defer cancel()
	rows, err := a.s.read.QueryContext(ctx, qAdminUsers)
	if err != nil {
		return nil, wrapErr(ctx, "users", err)
	}
	defer rows.Close()
	var accounts []phoneauth.Account
	for rows.Next() {
		var r accountRow
		if err := rows.Scan(r.dest()...); err != nil {
			return nil, wrapErr(ctx, "users", err)
		}
		accounts = append(accounts, r.account())
	}
	if err := rows.Err(); err != nil {
		return nil, wrapErr(ctx, "users", err)
	}
	return accounts, nil
}

// Account returns account userID. Errors: phoneauth.ErrUserNotFound.
func (a *Admin) Account(ctx context.Context, userID string) (phoneauth.Account, error) {
	return a.one(ctx, "account", a.s.read, qAdminAccount, userID)
}

// AccountByPhone returns the account of E.164 phone. Errors:
// phoneauth.ErrUserNotFound.
func (a *Admin) AccountByPhone(ctx context.Context, phone string) (phoneauth.Account, error) {
	return a.one(ctx, "account by phone", a.s.read, qAdminAccountByPhone, phone)
}

// DeleteUser deletes account userID, its challenges and sessions in one
// statement. Errors: phoneauth.ErrUserNotFound.
func (a *Admin) DeleteUser(ctx context.Context, userID string) (phoneauth.Account, error) {
	return a.one(ctx, "delete user", a.s.write, qAdminDeleteUser, userID)
}

// Unlock clears the guard of account userID in one statement. Errors:
// phoneauth.ErrUserNotFound.
func (a *Admin) Unlock(ctx context.Context, userID string) (phoneauth.Account, error) {
	return a.one(ctx, "unlock", a.s.write, qAdminUnlock, userID)
}

// one runs q, which returns at most one account, on db.
func (a *Admin) one(ctx context.Context, op string, db *sql.DB, q string, arg string) (phoneauth.Account, error) {
	ctx, cancel := a.s.bound(ctx)
	defer cancel()
	var r accountRow
	err := db.QueryRowContext(ctx, q, arg).Scan(r.dest()...)
	if errors.Is(err, sql.ErrNoRows) {
		return phoneauth.Account{}, phoneauth.ErrUserNotFound
	}
	if err != nil {
		return phoneauth.Account{}, wrapErr(ctx, op, err)
	}
	return r.account(), nil
}

// Sessions returns the sessions of account userID in one query. Errors:
// phoneauth.ErrUserNotFound.
func (a *Admin) Sessions(ctx context.Context, userID string) ([]phoneauth.Session, error) {
	ctx, cancel := a.s.bound(ctx)
	defer cancel()
	rows, err := a.s.read.QueryContext(ctx, qAdminSessions, userID)
	if err != nil {
		return nil, wrapErr(ctx, "sessions", err)
	}
	defer rows.Close()
	found := false
	sessions := []phoneauth.Session{}
	for rows.Next() {
		found = true
		var row sessionRow
		if err := rows.Scan(row.dest()...); err != nil {
			return nil, wrapErr(ctx, "sessions", err)
		}
		if sess := row.session(); sess != nil {
			sessions = append(sessions, *sess)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, wrapErr(ctx, "sessions", err)
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
	var row sessionRow
	err := a.s.write.QueryRowContext(ctx, qAdminRevokeSession, ms(now), int64(id)).Scan(row.dest()...)
	if errors.Is(err, sql.ErrNoRows) {
		return phoneauth.Session{}, phoneauth.ErrSessionNotFound
	}
	if err != nil {
		return phoneauth.Session{}, wrapErr(ctx, "revoke session", err)
	}
	return *row.session(), nil
}

// RevokeSessions revokes the live sessions of account userID at now, in
// one transaction: the write lock it takes at BEGIN keeps the account as
// read until the revocation commits. Errors: phoneauth.ErrUserNotFound.
func (a *Admin) RevokeSessions(ctx context.Context, userID string, now time.Time) (int64, error) {
	var n int64
	err := a.s.inTx(ctx, "revoke sessions", func(ctx context.Context, tx tx) error {
		var one int
		err := tx.queryRow(ctx, qAdminUserExists, userID).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return phoneauth.ErrUserNotFound
		}
		if err != nil {
			return err
		}
		res, err := tx.exec(ctx, qAdminRevokeSessions, ms(now), userID)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return 0, err
	}
	return n, nil
}
