package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/google/uuid"

	"github.com/phoneauth/phoneauth"
	"github.com/phoneauth/phoneauth/postgres"
	"github.com/phoneauth/phoneauth/sqlite"
)

// The operator's commands: phoneauth users ... and phoneauth sessions ...,
// on the database PHONEAUTH_DATABASE_URL names. Each prints an aligned
// table, or with --json one JSON array, and fails (exit status 1) with a
// message naming what it could not find.

// adminCommand is one operator's command: its name after "users" or
// "sessions", its arguments, and what it does once the database is open.
type adminCommand struct {
	name, args, summary string
	// all adds --all to the flags (sessions revoke).
	all bool
	// nargs is how many arguments it takes.
	nargs int
	do    func(ctx context.Context, a adminEnv, args []string) error
}

// adminEnv is what a command runs with.
type adminEnv struct {
	admin phoneauth.Admin
	// store records the audit events of the commands that change
	// something, and reads them for phoneauth audit.
	store  phoneauth.Store
	region string
	json   bool
	all    bool
	now    time.Time
	stdout io.Writer
}

var userCommands = []adminCommand{
	{name: "list", summary: "list every account", do: usersList},
	{name: "show", args: "PHONE|USER_ID", nargs: 1, summary: "show one account", do: usersShow},
	{name: "delete", args: "PHONE|USER_ID", nargs: 1, summary: "delete an account with its codes and sessions", do: usersDelete},
	{name: "unlock", args: "PHONE|USER_ID", nargs: 1, summary: "clear an account's lockout and failed code checks", do: usersUnlock},
}

var sessionCommands = []adminCommand{
	{name: "list", args: "PHONE|USER_ID", nargs: 1, summary: "list an account's sessions", do: sessionsList},
	{name: "revoke", args: "SESSION_ID | --all PHONE|USER_ID", nargs: 1, all: true,
		summary: "revoke a session, or every live session of an account", do: sessionsRevoke},
}

// admin runs the operator's command args (after "users" or "sessions",
// which group names) from commands.
func admin(ctx context.Context, group string, commands []adminCommand, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("%s: missing command", group)
	}
	var cmd *adminCommand
	for i := range commands {
		if commands[i].name == args[0] {
			cmd = &commands[i]
		}
	}
	if cmd == nil {
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("unknown command %s %s", group, args[0])
	}
	name := group + " " + cmd.name
	fs := newFlagSet(name, fmt.Sprintf("usage: phoneauth %s\n\n  %s\n\nflags:\n", strings.TrimSpace(name+" [--json] "+cmd.args), cmd.summary), stderr)
	env := adminEnv{stdout: stdout}
	fs.BoolVar(&env.json, "json", false, "print one JSON array, for scripts")
	if cmd.all {
		fs.BoolVar(&env.all, "all", false, "revoke every live session of the account PHONE|USER_ID")
	}
	rest, err := parseInterspersed(fs, args[1:])
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	if len(rest) != cmd.nargs {
		fs.Usage()
		return fmt.Errorf("%s: want %d argument(s), got %d", name, cmd.nargs, len(rest))
	}
	c, err := loadConfig(getenv)
	if err != nil {
		return err
	}
	a, s, closeDB, err := openAdmin(ctx, c)
	if err != nil {
		return err
	}
	defer closeDB()
	env.admin, env.store, env.region, env.now = a, s, c.Region, time.Now()
	return cmd.do(ctx, env, rest)
}

// parseInterspersed parses the flags in args wherever they stand, so that
// "sessions revoke 42 --json" works as well as "sessions revoke --json 42",
// and returns the other arguments in order. After "--" every argument is
// one of those.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var rest []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		left := fs.Args()
		if len(left) == 0 {
			return rest, nil
		}
		if consumed := len(args) - len(left); consumed > 0 && args[consumed-1] == "--" {
			return append(rest, left...), nil
		}
		rest = append(rest, left[0])
		args = left[1:]
	}
}

// openAdmin opens the database c names, migrated as serve would, for an
// operator's command. Unlike serve it waits for nothing, and it never
// creates a SQLite file: a mistyped path is an error, not an empty list.
// It returns the store's Admin and the store itself, which records and
// reads the audit trail.
func openAdmin(ctx context.Context, c config) (phoneauth.Admin, phoneauth.Store, func(), error) {
	if c.postgres() {
		s, err := postgres.Open(ctx, c.DatabaseURL, c.DB)
		if err != nil {
			return nil, nil, nil, err
		}
		if err := s.Migrate(ctx); err != nil {
			s.Close()
			return nil, nil, nil, fmt.Errorf("migrate: %w", err)
		}
		return s.Admin(), s, s.Close, nil
	}
	path := sqlitePath(c.DatabaseURL)
	if _, err := os.Stat(path); err != nil {
		return nil, nil, nil, fmt.Errorf("PHONEAUTH_DATABASE_URL: no SQLite database at %s: %w", path, err)
	}
	s, err := sqlite.Open(ctx, path)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("open database: %w", err)
	}
	if err := s.Migrate(ctx); err != nil {
		_ = s.Close()
		return nil, nil, nil, fmt.Errorf("migrate: %w", err)
	}
	return s.Admin(), s, func() { _ = s.Close() }, nil
}

// recordAdmin records in the audit trail that the operator did action
// (the command's name, as "users delete") to the account with userID and
// E.164 number phone (empty if unknown).
func (e adminEnv) recordAdmin(ctx context.Context, action, userID, phone string) error {
	ev := phoneauth.Event{At: e.now, Kind: phoneauth.EventAdmin, UserID: userID, Outcome: phoneauth.Outcome(action)}
	if phone != "" {
		ev.PhoneMasked = phoneauth.MaskPhone(phone)
	}
	if err := e.store.RecordEvent(ctx, ev); err != nil {
		return fmt.Errorf("%s of user %s done, but its audit event was not recorded: %w", action, userID, err)
	}
	return nil
}

// findAccount returns the account ref names: a user ID (a UUID), or a
// phone number in any form the API accepts, read in the default region
// when it has no +. Errors: phoneauth.ErrUserNotFound, saying what was
// looked for; phoneauth.ErrInvalidPhone for a ref that is neither.
func (e adminEnv) findAccount(ctx context.Context, ref string) (phoneauth.Account, error) {
	if id, err := uuid.Parse(ref); err == nil {
		a, err := e.admin.Account(ctx, id.String())
		if errors.Is(err, phoneauth.ErrUserNotFound) {
			return a, fmt.Errorf("%w: no user has ID %s", err, id)
		}
		return a, err
	}
	phone, err := phoneauth.ParsePhone(ref, e.region)
	if err != nil {
		return phoneauth.Account{}, fmt.Errorf("%w: %q is neither a user ID nor a phone number", phoneauth.ErrInvalidPhone, ref)
	}
	a, err := e.admin.AccountByPhone(ctx, phone)
	if errors.Is(err, phoneauth.ErrUserNotFound) {
		return a, fmt.Errorf("%w: no user has phone number %s", err, phone)
	}
	return a, err
}

// accountJSON is an account as --json prints it. A lockout that has ended
// is null, as it is "-" in a table.
type accountJSON struct {
	ID           string     `json:"id"`
	Phone        string     `json:"phone"`
	Verified     bool       `json:"verified"`
	CreatedAt    time.Time  `json:"created_at"`
	LockedUntil  *time.Time `json:"locked_until"`
	FailedChecks int        `json:"failed_checks"`
	Lockouts     int        `json:"lockouts"`
}

// sessionJSON is a session as --json prints it. The ID is a string of its
// decimal digits: a 64-bit integer does not survive a JSON number in
// JavaScript or jq.
type sessionJSON struct {
	ID         string     `json:"id"`
	UserID     string     `json:"user_id"`
	Status     string     `json:"status"`
	CreatedAt  time.Time  `json:"created_at"`
	ExpiresAt  time.Time  `json:"expires_at"`
	RevokedAt  *time.Time `json:"revoked_at"`
	Generation uint32     `json:"generation"`
	RotatedAt  time.Time  `json:"rotated_at"`
}

// printAccounts prints accounts as a table, or as one JSON array.
func (e adminEnv) printAccounts(accounts []phoneauth.Account) error {
	if e.json {
		out := make([]accountJSON, 0, len(accounts))
		for _, a := range accounts {
			out = append(out, accountJSON{
				ID: a.ID, Phone: a.Phone, Verified: a.Verified, CreatedAt: a.CreatedAt.UTC(),
				LockedUntil: e.lockedUntil(a), FailedChecks: a.FailedChecks, Lockouts: a.Lockouts,
			})
		}
		return e.printJSON(out)
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tPHONE\tVERIFIED\tCREATED\tLOCKED UNTIL\tFAILED CHECKS\tLOCKOUTS")
	for _, a := range accounts {
		locked := "-"
		if t := e.lockedUntil(a); t != nil {
			locked = stamp(*t)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%d\n", a.ID, a.Phone, yesNo(a.Verified), stamp(a.CreatedAt), locked, a.FailedChecks, a.Lockouts)
	}
	return tw.Flush()
}

// lockedUntil is when a's lockout ends, or nil if it is not locked now.
func (e adminEnv) lockedUntil(a phoneauth.Account) *time.Time {
	if !e.now.Before(a.LockedUntil) {
		return nil
	}
	t := a.LockedUntil.UTC()
	return &t
}

// printSessions prints sessions as a table, or as one JSON array.
func (e adminEnv) printSessions(sessions []phoneauth.Session) error {
	if e.json {
		out := make([]sessionJSON, 0, len(sessions))
		for _, s := range sessions {
			var revoked *time.Time
			if s.Revoked() {
				t := s.RevokedAt.UTC()
				revoked = &t
			}
			out = append(out, sessionJSON{
				ID: strconv.FormatUint(s.ID, 10), UserID: s.UserID, Status: e.status(s),
				CreatedAt: s.CreatedAt.UTC(), ExpiresAt: s.ExpiresAt.UTC(), RevokedAt: revoked,
				Generation: s.Generation, RotatedAt: s.RotatedAt.UTC(),
			})
		}
		return e.printJSON(out)
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSTATUS\tCREATED\tEXPIRES\tREVOKED\tGENERATION\tLAST ROTATION")
	for _, s := range sessions {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%d\t%s\n", s.ID, e.status(s), stamp(s.CreatedAt), stamp(s.ExpiresAt), stamp(s.RevokedAt), s.Generation, stamp(s.RotatedAt))
	}
	return tw.Flush()
}

// status says whether s is revoked, has ended, or is active now.
func (e adminEnv) status(s phoneauth.Session) string {
	switch {
	case s.Revoked():
		return "revoked"
	case !e.now.Before(s.ExpiresAt):
		return "ended"
	}
	return "active"
}

func (e adminEnv) printJSON(v any) error { return printJSON(e.stdout, v) }

// printJSON writes v to w as indented JSON: what every command's --json
// prints.
func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// stamp is how a table shows a time: RFC 3339 in UTC to the second, "-"
// for none.
func stamp(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func usersList(ctx context.Context, e adminEnv, _ []string) error {
	accounts, err := e.admin.Users(ctx)
	if err != nil {
		return err
	}
	return e.printAccounts(accounts)
}

func usersShow(ctx context.Context, e adminEnv, args []string) error {
	a, err := e.findAccount(ctx, args[0])
	if err != nil {
		return err
	}
	return e.printAccounts([]phoneauth.Account{a})
}

func usersDelete(ctx context.Context, e adminEnv, args []string) error {
	a, err := e.findAccount(ctx, args[0])
	if err != nil {
		return err
	}
	deleted, err := e.admin.DeleteUser(ctx, a.ID)
	if errors.Is(err, phoneauth.ErrUserNotFound) { // deleted meanwhile
		return fmt.Errorf("%w: no user has ID %s", err, a.ID)
	}
	if err != nil {
		return err
	}
	if err := e.recordAdmin(ctx, "users delete", deleted.ID, deleted.Phone); err != nil {
		return err
	}
	if e.json {
		return e.printAccounts([]phoneauth.Account{deleted})
	}
	fmt.Fprintf(e.stdout, "deleted user %s (%s) with its codes and sessions\n", deleted.ID, deleted.Phone)
	return nil
}

func usersUnlock(ctx context.Context, e adminEnv, args []string) error {
	a, err := e.findAccount(ctx, args[0])
	if err != nil {
		return err
	}
	unlocked, err := e.admin.Unlock(ctx, a.ID)
	if errors.Is(err, phoneauth.ErrUserNotFound) {
		return fmt.Errorf("%w: no user has ID %s", err, a.ID)
	}
	if err != nil {
		return err
	}
	if err := e.recordAdmin(ctx, "users unlock", unlocked.ID, unlocked.Phone); err != nil {
		return err
	}
	if e.json {
		return e.printAccounts([]phoneauth.Account{unlocked})
	}
	fmt.Fprintf(e.stdout, "unlocked user %s (%s): failed checks and lockouts cleared\n", unlocked.ID, unlocked.Phone)
	return nil
}

func sessionsList(ctx context.Context, e adminEnv, args []string) error {
	a, err := e.findAccount(ctx, args[0])
	if err != nil {
		return err
	}
	sessions, err := e.admin.Sessions(ctx, a.ID)
	if errors.Is(err, phoneauth.ErrUserNotFound) {
		return fmt.Errorf("%w: no user has ID %s", err, a.ID)
	}
	if err != nil {
		return err
	}
	return e.printSessions(sessions)
}

// revokedJSON is what sessions revoke --all --json prints.
type revokedJSON struct {
	UserID  string `json:"user_id"`
	Phone   string `json:"phone"`
	Revoked int64  `json:"revoked"`
}

func sessionsRevoke(ctx context.Context, e adminEnv, args []string) error {
	if e.all {
		a, err := e.findAccount(ctx, args[0])
		if err != nil {
			return err
		}
		n, err := e.admin.RevokeSessions(ctx, a.ID, e.now)
		if errors.Is(err, phoneauth.ErrUserNotFound) {
			return fmt.Errorf("%w: no user has ID %s", err, a.ID)
		}
		if err != nil {
			return err
		}
		if err := e.recordAdmin(ctx, "sessions revoke --all", a.ID, a.Phone); err != nil {
			return err
		}
		if e.json {
			return e.printJSON([]revokedJSON{{UserID: a.ID, Phone: a.Phone, Revoked: n}})
		}
		plural := "s"
		if n == 1 {
			plural = ""
		}
		fmt.Fprintf(e.stdout, "revoked %d session%s of user %s (%s)\n", n, plural, a.ID, a.Phone)
		return nil
	}
	id, err := strconv.ParseUint(args[0], 10, 64)
	if err != nil {
		return fmt.Errorf("%w: %q is not a session ID (the decimal number sessions list shows)", phoneauth.ErrSessionNotFound, args[0])
	}
	s, err := e.admin.RevokeSession(ctx, id, e.now)
	if errors.Is(err, phoneauth.ErrSessionNotFound) {
		return fmt.Errorf("%w: no session has ID %d", err, id)
	}
	if err != nil {
		return err
	}
	already := s.RevokedAt.Before(e.now.Truncate(time.Millisecond)) // not by this call
	if !already {
		var phone string
		if a, err := e.admin.Account(ctx, s.UserID); err == nil {
			phone = a.Phone
		}
		if err := e.recordAdmin(ctx, "sessions revoke", s.UserID, phone); err != nil {
			return err
		}
	}
	if e.json {
		return e.printSessions([]phoneauth.Session{s})
	}
	if already {
		fmt.Fprintf(e.stdout, "session %d of user %s was revoked already, at %s\n", s.ID, s.UserID, stamp(s.RevokedAt))
		return nil
	}
	fmt.Fprintf(e.stdout, "revoked session %d of user %s\n", s.ID, s.UserID)
	return nil
}
