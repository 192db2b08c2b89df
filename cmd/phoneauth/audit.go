package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/google/uuid"

	"github.com/phoneauth/phoneauth"
)

// eventKinds are the kinds phoneauth audit --kind takes.
var eventKinds = []phoneauth.EventKind{
	phoneauth.EventRegister, phoneauth.EventVerify, phoneauth.EventLoginRequest, phoneauth.EventLogin,
	phoneauth.EventDeleteRequest, phoneauth.EventPhoneRequest, phoneauth.EventRefresh, phoneauth.EventLogout, phoneauth.EventDeleteAccount, phoneauth.EventChangePhone,
	phoneauth.EventAdmin,
}

const auditUsage = "usage: phoneauth audit [--json] [--user PHONE|USER_ID] [--since DURATION] [--kind KIND] [--limit N]\n\n" +
	"  list the audit trail, newest first\n\nflags:\n"

// auditCommand runs phoneauth audit with args (after "audit"): it prints
// the events of the audit trail that the flags select, newest first.
func auditCommand(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := newFlagSet("audit", auditUsage, stderr)
	env := adminEnv{stdout: stdout}
	var user, kind string
	var since time.Duration
	var limit int
	fs.BoolVar(&env.json, "json", false, "print one JSON array, for scripts")
	fs.StringVar(&user, "user", "", "only the events of the account `PHONE|USER_ID`")
	fs.DurationVar(&since, "since", 0, "only the events of this `DURATION` back from now, as 24h (default: all retained)")
	fs.StringVar(&kind, "kind", "", "only the events of this `KIND`: "+kindList())
	fs.IntVar(&limit, "limit", 100, "print at most `N` events, the newest")
	rest, err := parseInterspersed(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	if len(rest) != 0 {
		fs.Usage()
		return fmt.Errorf("audit: want no argument, got %d", len(rest))
	}
	if kind != "" && !validKind(phoneauth.EventKind(kind)) {
		return fmt.Errorf("audit: unknown kind %q: want one of %s", kind, kindList())
	}
	if since < 0 {
		return fmt.Errorf("audit: --since %s: want a positive duration", since)
	}
	if limit < 1 {
		return fmt.Errorf("audit: --limit %d: want at least 1", limit)
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
	var from time.Time
	if since > 0 {
		from = env.now.Add(-since)
	}
	var userID string
	if user != "" {
		if userID, err = env.auditUser(ctx, user); err != nil {
			return err
		}
	}
	events, err := s.Events(ctx, userID, phoneauth.EventKind(kind), from, limit)
	if err != nil {
		return err
	}
	return env.printEvents(events)
}

// auditUser returns the ID of the account ref names, as findAccount. A
// user ID of an account that is gone (deleted, say) is taken as long as
// the trail still names it.
func (e adminEnv) auditUser(ctx context.Context, ref string) (string, error) {
	a, err := e.findAccount(ctx, ref)
	if err == nil {
		return a.ID, nil
	}
	id, perr := uuid.Parse(ref)
	if perr != nil || !errors.Is(err, phoneauth.ErrUserNotFound) {
		return "", err
	}
	events, everr := e.store.Events(ctx, id.String(), "", time.Time{}, 1)
	if everr != nil {
		return "", everr
	}
	if len(events) == 0 {
		return "", fmt.Errorf("%w: no user has ID %s, and no audit event names it", phoneauth.ErrUserNotFound, id)
	}
	return id.String(), nil
}

func validKind(k phoneauth.EventKind) bool {
	for _, v := range eventKinds {
		if v == k {
			return true
		}
	}
	return false
}

func kindList() string {
	s := make([]string, len(eventKinds))
	for i, k := range eventKinds {
		s[i] = string(k)
	}
	return strings.Join(s, ", ")
}

// eventJSON is an audit event as --json prints it; a field not known is "".
type eventJSON struct {
	ID        int64     `json:"id"`
	At        time.Time `json:"at"`
	Kind      string    `json:"kind"`
	Outcome   string    `json:"outcome"`
	UserID    string    `json:"user_id"`
	Phone     string    `json:"phone_masked"`
	ClientIP  string    `json:"client_ip"`
	UserAgent string    `json:"user_agent"`
}

// printEvents prints events as a table, or as one JSON array.
func (e adminEnv) printEvents(events []phoneauth.Event) error {
	if e.json {
		out := make([]eventJSON, 0, len(events))
		for _, ev := range events {
			out = append(out, eventJSON{ID: ev.ID, At: ev.At.UTC(), Kind: string(ev.Kind), Outcome: string(ev.Outcome),
				UserID: ev.UserID, Phone: ev.PhoneMasked, ClientIP: ev.ClientIP, UserAgent: ev.UserAgent})
		}
		return e.printJSON(out)
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "TIME\tKIND\tOUTCOME\tUSER ID\tPHONE\tCLIENT IP\tUSER AGENT")
	for _, ev := range events {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", stamp(ev.At), ev.Kind, dash(string(ev.Outcome)), dash(ev.UserID),
			dash(ev.PhoneMasked), dash(ev.ClientIP), dash(tabless(ev.UserAgent)))
	}
	return tw.Flush()
}

// dash is how a table shows a field: "-" when empty.
func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// tabless replaces the tabs and newlines of s, a client's, with spaces so
// it cannot break the table.
func tabless(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '\t' || r == '\n' || r == '\r' {
			return ' '
		}
		return r
	}, s)
}
