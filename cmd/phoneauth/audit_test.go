package main

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/phoneauth/phoneauth"
)

// auditRow is one event of audit --json, without its ID and time.
type auditRow struct {
	Kind, Outcome, UserID, Phone string
}

// auditJSON runs phoneauth audit --json with args and returns its events.
func auditJSON(t *testing.T, env map[string]string, args ...string) []eventJSON {
	t.Helper()
	out, _, err := runCLI(t, env, append([]string{"audit", "--json"}, args...)...)
	if err != nil {
		t.Fatalf("audit --json %s: %v", strings.Join(args, " "), err)
	}
	var events []eventJSON
	if err := json.Unmarshal([]byte(out), &events); err != nil {
		t.Fatalf("audit --json %s: %v in %q", strings.Join(args, " "), err, out)
	}
	return events
}

func rows(events []eventJSON) []auditRow {
	var out []auditRow
	for _, e := range events {
		out = append(out, auditRow{e.Kind, e.Outcome, e.UserID, e.Phone})
	}
	return out
}

func wantRows(t *testing.T, what string, got []eventJSON, want ...auditRow) {
	t.Helper()
	g := rows(got)
	if len(g) != len(want) {
		t.Fatalf("%s: got %+v, want %+v", what, g, want)
	}
	for i := range want {
		if g[i] != want[i] {
			t.Fatalf("%s: got %+v, want %+v", what, g, want)
		}
	}
}

func TestAuditCommand(t *testing.T) {
	t.Parallel()
	for _, db := range adminDatabases {
		t.Run(db.name, func(t *testing.T) {
			t.Parallel()
			s, dbURL := db.open(t)
			seedAdmin(t, s)
			env := map[string]string{"PHONEAUTH_DATABASE_URL": dbURL}
			start := time.Now()

			// The seed's flows record nothing; each command that changes
			// something records one admin event, newest first.
			step{args: []string{"audit", "--kind", "admin", "--json"}, want: "[]\n"}.check(t, env)
			for _, args := range [][]string{
				{"users", "unlock", carol},
				{"sessions", "revoke", "42"},
				{"sessions", "revoke", "42"}, // revoked already: changes nothing
				{"sessions", "revoke", "--all", alice},
				{"users", "delete", "+14155550101"},
				{"users", "list"}, // changes nothing
			} {
				if _, _, err := runCLI(t, env, args...); err != nil {
					t.Fatalf("phoneauth %s: %v", strings.Join(args, " "), err)
				}
			}
			wantAll := []auditRow{
				{"admin", "users delete", bob, "+1***01"},
				{"admin", "sessions revoke --all", alice, "+1***00"},
				{"admin", "sessions revoke", alice, "+1***00"},
				{"admin", "users unlock", carol, "+4***23"},
			}
			events := auditJSON(t, env, "--kind", "admin")
			wantRows(t, "audit --kind admin", events, wantAll...)
			for i, e := range events {
				if e.At.Before(start.Truncate(time.Millisecond)) || e.At.After(time.Now()) || e.ClientIP != "" || e.UserAgent != "" {
					t.Errorf("event %d: got %+v, want it at the command's time, with no client", i, e)
				}
				if i > 0 && e.At.After(events[i-1].At) {
					t.Errorf("event %d is newer than event %d", i, i-1)
				}
			}
			wantRows(t, "audit", auditJSON(t, env), wantAll...)
			wantRows(t, "audit --limit 2", auditJSON(t, env, "--limit", "2"), wantAll[:2]...)
			wantRows(t, "audit --user PHONE", auditJSON(t, env, "--user", "(415) 555-0100"), wantAll[1:3]...)
			wantRows(t, "audit --user USER_ID", auditJSON(t, env, "--user", carol), wantAll[3])
			// The trail outlives the account: its ID still selects it.
			wantRows(t, "audit --user of a deleted account", auditJSON(t, env, "--user", bob), wantAll[0])
			wantRows(t, "audit --kind login", auditJSON(t, env, "--kind", "login"))

			// Events recorded long ago are left out by --since.
			old := time.Now().Add(-48 * time.Hour).Truncate(time.Second).UTC()
			err := s.RecordEvent(t.Context(), phoneauth.Event{At: old, Kind: phoneauth.EventLogin, UserID: alice,
				PhoneMasked: "+1***00", ClientIP: "192.0.2.7", UserAgent: "curl/8.5.0", Outcome: phoneauth.OutcomeFailed})
			if err != nil {
				t.Fatalf("RecordEvent: %v", err)
			}
			// The kinds of the account code requests are kinds --kind takes
			// (recorded before --since 72h, which leaves them out).
			older := old.Add(-48 * time.Hour)
			for _, e := range []phoneauth.Event{
				{At: older, Kind: phoneauth.EventDeleteRequest, UserID: alice, PhoneMasked: "+1***00", Outcome: phoneauth.OutcomeOK},
				{At: older, Kind: phoneauth.EventPhoneRequest, UserID: alice, PhoneMasked: "+4***23", Outcome: phoneauth.OutcomeRefused},
			} {
				if err := s.RecordEvent(t.Context(), e); err != nil {
					t.Fatalf("RecordEvent: %v", err)
				}
			}
			wantRows(t, "audit --kind delete_request", auditJSON(t, env, "--kind", "delete_request"),
				auditRow{"delete_request", "ok", alice, "+1***00"})
			wantRows(t, "audit --kind phone_request", auditJSON(t, env, "--kind", "phone_request"),
				auditRow{"phone_request", "refused", alice, "+4***23"})
			wantRows(t, "audit --since 24h", auditJSON(t, env, "--since", "24h"), wantAll...)
			wantRows(t, "audit --since 72h", auditJSON(t, env, "--since", "72h"),
				append(wantAll, auditRow{"login", "failed", alice, "+1***00"})...)
			step{args: []string{"audit", "--kind", "login"}, want: "" +
				"TIME                  KIND   OUTCOME  USER ID                               PHONE    CLIENT IP  USER AGENT\n" +
				old.Format(time.RFC3339) + "  login  failed   11111111-1111-4111-8111-111111111111  +1***00  192.0.2.7  curl/8.5.0\n",
			}.check(t, env)
			step{args: []string{"audit", "--kind", "login", "--json"}, want: `[
  {
    "id": ` + jsonInt(auditJSON(t, env, "--kind", "login")[0].ID) + `,
    "at": "` + old.Format(time.RFC3339) + `",
    "kind": "login",
    "outcome": "failed",
    "user_id": "11111111-1111-4111-8111-111111111111",
    "phone_masked": "+1***00",
    "client_ip": "192.0.2.7",
    "user_agent": "curl/8.5.0"
  }
]
`}.check(t, env)

			for _, st := range []step{
				{name: "an unknown number fails", args: []string{"audit", "--user", "+14155550199"},
					wantErr: "user not found: no user has phone number +14155550199"},
				{name: "an unknown ID fails", args: []string{"audit", "--user", "44444444-4444-4444-8444-444444444444"},
					wantErr: "user not found: no user has ID 44444444-4444-4444-8444-444444444444, and no audit event names it"},
				{name: "an unknown kind fails", args: []string{"audit", "--kind", "purge"},
					wantErr: `audit: unknown kind "purge": want one of register, verify, login_request, login, delete_request, phone_request, refresh, logout, delete_account, change_phone, admin`},
				{name: "a limit below 1 fails", args: []string{"audit", "--limit", "0"}, wantErr: "audit: --limit 0: want at least 1"},
				{name: "a negative since fails", args: []string{"audit", "--since", "-1h"}, wantErr: "audit: --since -1h0m0s: want a positive duration"},
				{name: "an argument fails", args: []string{"audit", "admin"}, wantErr: "audit: want no argument, got 1"},
			} {
				t.Run("audit "+st.name, func(t *testing.T) { st.check(t, env) })
			}
		})
	}
}

func jsonInt(n int64) string {
	b, _ := json.Marshal(n)
	return string(b)
}
