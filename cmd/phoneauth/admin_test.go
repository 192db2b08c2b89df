package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/phoneauth/phoneauth"
	"github.com/phoneauth/phoneauth/internal/testenv"
	"github.com/phoneauth/phoneauth/postgres"
	"github.com/phoneauth/phoneauth/sqlite"
	"github.com/phoneauth/phoneauth/storetest"
	"github.com/phoneauth/phoneauth/token"
)

// The accounts and sessions the operator's commands are tried on, as the
// service would have left them, at fixed times so the output is exact.
const (
	alice = "11111111-1111-4111-8111-111111111111" // verified, two sessions
	bob   = "22222222-2222-4222-8222-222222222222" // registration pending
	carol = "33333333-3333-4333-8333-333333333333" // verified, locked until 2100

	aliceSession1 = 1<<63 | 5 // the top bit set: printed unsigned
	aliceSession2 = 42
	// aliceSessionEnded ended an hour after the seed: before any clock
	// these tests run by.
	aliceSessionEnded = 3
)

var (
	seedTime = time.Date(2026, time.March, 14, 15, 9, 26, 0, time.UTC)
	// farFuture is when carol is locked and the sessions end: after any
	// clock these tests run by.
	farFuture = time.Date(2100, time.January, 1, 0, 0, 0, 0, time.UTC)
)

// seedAdmin puts alice, bob and carol in s through its flows' methods.
func seedAdmin(t *testing.T, s phoneauth.Store) {
	t.Helper()
	ctx := t.Context()
	code := sha256.Sum256([]byte("123456"))
	wrong := sha256.Sum256([]byte("000000"))
	challenge := func(p phoneauth.Purpose, userID string, now time.Time) phoneauth.Challenge {
		return phoneauth.Challenge{ID: uuid.NewString(), UserID: userID, Purpose: p, CodeHash: code[:],
			CreatedAt: now, ExpiresAt: now.Add(5 * time.Minute)}
	}
	register := func(id, phone string, now time.Time, verify bool) {
		t.Helper()
		c := challenge(phoneauth.PurposeRegister, "", now)
		if _, err := s.Register(ctx, phoneauth.User{ID: id, Phone: phone, CreatedAt: now}, c, now); err != nil {
			t.Fatalf("Register(%s): %v", phone, err)
		}
		if !verify {
			return
		}
		if _, err := s.VerifyRegistration(ctx, c.ID, phone, storetest.Try(code[:], now)); err != nil {
			t.Fatalf("VerifyRegistration(%s): %v", phone, err)
		}
	}
	login := func(userID string, id uint64, now, end time.Time) {
		t.Helper()
		if _, _, err := s.PutChallenge(ctx, challenge(phoneauth.PurposeLogin, userID, now), now); err != nil {
			t.Fatalf("PutChallenge(login of %s): %v", userID, err)
		}
		sess := phoneauth.Session{ID: id, UserID: userID, CreatedAt: now, ExpiresAt: end, RotatedAt: now}
		if _, err := s.VerifyLogin(ctx, userID, storetest.Try(code[:], now), sess); err != nil {
			t.Fatalf("VerifyLogin(%s): %v", userID, err)
		}
	}
	register(alice, "+14155550100", seedTime, true)
	login(alice, aliceSession1, seedTime.Add(time.Minute), farFuture)
	login(alice, aliceSession2, seedTime.Add(2*time.Minute), farFuture)
	login(alice, aliceSessionEnded, seedTime.Add(3*time.Minute), seedTime.Add(time.Hour))
	register(bob, "+14155550101", seedTime.Add(time.Hour), false)
	register(carol, "+447700900123", seedTime.Add(2*time.Hour), true)
	// Wrong login codes lock carol, four to a code: the fifth would kill it.
	for i := range storetest.Policy.LockoutThreshold {
		if i%4 == 0 {
			// Put as PutChallenge (no throttle): each before the lock.
			if _, _, err := s.PutChallenge(ctx, challenge(phoneauth.PurposeLogin, carol, farFuture), farFuture); err != nil {
				t.Fatalf("PutChallenge(login of carol): %v", err)
			}
		}
		_, _ = s.VerifyLogin(ctx, carol, storetest.Try(wrong[:], farFuture), phoneauth.Session{})
	}
}

// adminDatabases are the databases the operator's commands are tried on,
// each returning its store, seeded, and its PHONEAUTH_DATABASE_URL.
var adminDatabases = []struct {
	name string
	open func(t *testing.T) (phoneauth.Store, string)
}{
	{"sqlite", func(t *testing.T) (phoneauth.Store, string) {
		path := filepath.Join(t.TempDir(), "phoneauth.db")
		s, err := sqlite.Open(t.Context(), path)
		if err != nil {
			t.Fatalf("sqlite.Open: %v", err)
		}
		t.Cleanup(func() { _ = s.Close() })
		if err := s.Migrate(t.Context()); err != nil {
			t.Fatalf("Migrate: %v", err)
		}
		return s, "sqlite:" + path
	}},
	{"postgres", func(t *testing.T) (phoneauth.Store, string) {
		dbURL := newPostgresSchema(t)
		s, err := postgres.Open(t.Context(), dbURL, postgres.Options{})
		if err != nil {
			t.Fatalf("postgres.Open: %v", err)
		}
		t.Cleanup(s.Close)
		if err := s.Migrate(t.Context()); err != nil {
			t.Fatalf("Migrate: %v", err)
		}
		return s, dbURL
	}},
}

// newPostgresSchema creates a schema of its own in the test database,
// dropped when t ends, and returns the URL with search_path set to it. It
// skips t (fails it under CI) without PostgreSQL.
func newPostgresSchema(t *testing.T) string {
	t.Helper()
	base := testenv.PostgresURL(t)
	name := "admin_" + randomHex(6)
	exec := func(sql string) error {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, base)
		if err != nil {
			return err
		}
		defer conn.Close(ctx)
		_, err = conn.Exec(ctx, sql)
		return err
	}
	if err := exec("CREATE SCHEMA " + name); err != nil {
		testenv.Unreachable(t, "PostgreSQL", err)
	}
	t.Cleanup(func() {
		if err := exec("DROP SCHEMA " + name + " CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", name, err)
		}
	})
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		t.Fatalf("%s must be a postgres:// URL", testenv.PostgresVar)
	}
	q := u.Query()
	q.Set("search_path", name)
	u.RawQuery = q.Encode()
	return u.String()
}

// runCLI runs phoneauth with args on env and returns its output.
func runCLI(t *testing.T, env map[string]string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err = run(t.Context(), args, func(k string) string { return env[k] }, strings.NewReader(""), &out, &errOut)
	return out.String(), errOut.String(), err
}

// step is one command and what it must print, or the error it must end
// with (exit status 1: main prints "phoneauth: " and the message).
type step struct {
	name    string
	args    []string
	want    string
	wantErr string
}

func (s step) check(t *testing.T, env map[string]string) {
	t.Helper()
	out, _, err := runCLI(t, env, s.args...)
	switch {
	case s.wantErr != "" && err == nil:
		t.Fatalf("phoneauth %s: succeeded with %q, want error %q", strings.Join(s.args, " "), out, s.wantErr)
	case s.wantErr != "" && err.Error() != s.wantErr:
		t.Fatalf("phoneauth %s: got error %q, want %q", strings.Join(s.args, " "), err, s.wantErr)
	case s.wantErr == "" && err != nil:
		t.Fatalf("phoneauth %s: %v", strings.Join(s.args, " "), err)
	}
	if out != s.want {
		t.Fatalf("phoneauth %s: got output\n%s\nwant\n%s", strings.Join(s.args, " "), out, s.want)
	}
}

func TestAdminCommands(t *testing.T) {
	t.Parallel()
	for _, db := range adminDatabases {
		t.Run(db.name, func(t *testing.T) {
			t.Parallel()
			s, dbURL := db.open(t)
			seedAdmin(t, s)
			env := map[string]string{"PHONEAUTH_DATABASE_URL": dbURL}

			t.Run("users list prints every account, oldest first, as a table and as JSON", func(t *testing.T) {
				step{args: []string{"users", "list"}, want: "" +
					"ID                                    PHONE          VERIFIED  CREATED               LOCKED UNTIL          FAILED CHECKS  LOCKOUTS\n" +
					"11111111-1111-4111-8111-111111111111  +14155550100   yes       2026-03-14T15:09:26Z  -                     0              0\n" +
					"22222222-2222-4222-8222-222222222222  +14155550101   no        2026-03-14T16:09:26Z  -                     0              0\n" +
					"33333333-3333-4333-8333-333333333333  +447700900123  yes       2026-03-14T17:09:26Z  2100-01-01T00:15:00Z  0              1\n",
				}.check(t, env)
				step{args: []string{"users", "list", "--json"}, want: `[
  {
    "id": "11111111-1111-4111-8111-111111111111",
    "phone": "+14155550100",
    "verified": true,
    "created_at": "2026-03-14T15:09:26Z",
    "locked_until": null,
    "failed_checks": 0,
    "lockouts": 0
  },
  {
    "id": "22222222-2222-4222-8222-222222222222",
    "phone": "+14155550101",
    "verified": false,
    "created_at": "2026-03-14T16:09:26Z",
    "locked_until": null,
    "failed_checks": 0,
    "lockouts": 0
  },
  {
    "id": "33333333-3333-4333-8333-333333333333",
    "phone": "+447700900123",
    "verified": true,
    "created_at": "2026-03-14T17:09:26Z",
    "locked_until": "2100-01-01T00:15:00Z",
    "failed_checks": 0,
    "lockouts": 1
  }
]
`}.check(t, env)
			})

			aliceRow := "" +
				"ID                                    PHONE         VERIFIED  CREATED               LOCKED UNTIL  FAILED CHECKS  LOCKOUTS\n" +
				"11111111-1111-4111-8111-111111111111  +14155550100  yes       2026-03-14T15:09:26Z  -             0              0\n"
			aliceJSON := `[
  {
    "id": "11111111-1111-4111-8111-111111111111",
    "phone": "+14155550100",
    "verified": true,
    "created_at": "2026-03-14T15:09:26Z",
    "locked_until": null,
    "failed_checks": 0,
    "lockouts": 0
  }
]
`
			for _, st := range []step{
				{name: "by E.164 number", args: []string{"users", "show", "+14155550100"}, want: aliceRow},
				{name: "by a national number in the default region", args: []string{"users", "show", "(415) 555-0100"}, want: aliceRow},
				{name: "by a number written with spaces and dashes", args: []string{"users", "show", "+1 415-555-0100"}, want: aliceRow},
				{name: "by user ID", args: []string{"users", "show", alice}, want: aliceRow},
				{name: "by user ID in capitals", args: []string{"users", "show", strings.ToUpper(alice)}, want: aliceRow},
				{name: "as a JSON array of one, --json after the argument", args: []string{"users", "show", alice, "--json"}, want: aliceJSON},
				{name: "as a JSON array of one, --json before the argument", args: []string{"users", "show", "--json", "+14155550100"}, want: aliceJSON},
				{name: "an unknown number fails", args: []string{"users", "show", "+14155550199"},
					wantErr: "user not found: no user has phone number +14155550199"},
				{name: "an unknown ID fails", args: []string{"users", "show", "44444444-4444-4444-8444-444444444444"},
					wantErr: "user not found: no user has ID 44444444-4444-4444-8444-444444444444"},
				{name: "neither an ID nor a number fails", args: []string{"users", "show", "alice"},
					wantErr: `invalid phone number: "alice" is neither a user ID nor a phone number`},
				{name: "no argument fails", args: []string{"users", "show"},
					wantErr: "users show: want 1 argument(s), got 0"},
			} {
				t.Run("users show "+st.name, func(t *testing.T) { st.check(t, env) })
			}

			t.Run("sessions list prints the account's sessions, with IDs that revoke takes", func(t *testing.T) {
				step{args: []string{"sessions", "list", "+14155550100"}, want: "" +
					"ID                   STATUS  CREATED               EXPIRES               REVOKED  GENERATION  LAST ROTATION\n" +
					"9223372036854775813  active  2026-03-14T15:10:26Z  2100-01-01T00:00:00Z  -        0           2026-03-14T15:10:26Z\n" +
					"42                   active  2026-03-14T15:11:26Z  2100-01-01T00:00:00Z  -        0           2026-03-14T15:11:26Z\n" +
					"3                    ended   2026-03-14T15:12:26Z  2026-03-14T16:09:26Z  -        0           2026-03-14T15:12:26Z\n",
				}.check(t, env)
				step{args: []string{"sessions", "list", "--json", alice}, want: `[
  {
    "id": "9223372036854775813",
    "user_id": "11111111-1111-4111-8111-111111111111",
    "status": "active",
    "created_at": "2026-03-14T15:10:26Z",
    "expires_at": "2100-01-01T00:00:00Z",
    "revoked_at": null,
    "generation": 0,
    "rotated_at": "2026-03-14T15:10:26Z"
  },
  {
    "id": "42",
    "user_id": "11111111-1111-4111-8111-111111111111",
    "status": "active",
    "created_at": "2026-03-14T15:11:26Z",
    "expires_at": "2100-01-01T00:00:00Z",
    "revoked_at": null,
    "generation": 0,
    "rotated_at": "2026-03-14T15:11:26Z"
  },
  {
    "id": "3",
    "user_id": "11111111-1111-4111-8111-111111111111",
    "status": "ended",
    "created_at": "2026-03-14T15:12:26Z",
    "expires_at": "2026-03-14T16:09:26Z",
    "revoked_at": null,
    "generation": 0,
    "rotated_at": "2026-03-14T15:12:26Z"
  }
]
`}.check(t, env)
				step{args: []string{"sessions", "list", bob}, want: "ID  STATUS  CREATED  EXPIRES  REVOKED  GENERATION  LAST ROTATION\n"}.check(t, env)
				step{args: []string{"sessions", "list", "--json", bob}, want: "[]\n"}.check(t, env)
				step{args: []string{"sessions", "list", "+14155550199"},
					wantErr: "user not found: no user has phone number +14155550199"}.check(t, env)
			})

			own := func(id uint64) phoneauth.TokenRef {
				return phoneauth.TokenRef{Own: true, Session: id}
			}
			t.Run("sessions revoke SESSION_ID: its tokens are refused, the other session lives", func(t *testing.T) {
				step{args: []string{"sessions", "revoke", "9223372036854775813"},
					want: "revoked session 9223372036854775813 of user " + alice + "\n"}.check(t, env)
				if _, err := s.AccessUser(t.Context(), alice, own(aliceSession1)); !errors.Is(err, phoneauth.ErrTokenRevoked) {
					t.Errorf("AccessUser of the revoked session: got %v, want %v", err, phoneauth.ErrTokenRevoked)
				}
				if _, err := s.AccessUser(t.Context(), alice, own(aliceSession2)); err != nil {
					t.Errorf("AccessUser of the other session: %v", err)
				}
				out, _, err := runCLI(t, env, "sessions", "revoke", "9223372036854775813")
				if err != nil || !strings.HasPrefix(out, "session 9223372036854775813 of user "+alice+" was revoked already, at ") {
					t.Errorf("revoking again: got %q, %v, want it told it was revoked already", out, err)
				}
				var got []map[string]any
				out, _, err = runCLI(t, env, "sessions", "list", "--json", alice)
				if err != nil || json.Unmarshal([]byte(out), &got) != nil || len(got) != 3 {
					t.Fatalf("sessions list --json: got %q, %v", out, err)
				}
				if got[0]["status"] != "revoked" || got[0]["revoked_at"] == nil || got[1]["status"] != "active" || got[2]["status"] != "ended" {
					t.Errorf("sessions list after revoke: got %v, want the first revoked, the second active, the third ended", got)
				}
			})
			for _, st := range []step{
				{name: "an unknown session fails", args: []string{"sessions", "revoke", "8"},
					wantErr: "session not found: no session has ID 8"},
				{name: "an ID that is not a number fails", args: []string{"sessions", "revoke", "abc"},
					wantErr: `session not found: "abc" is not a session ID (the decimal number sessions list shows)`},
				{name: "--all of an unknown user fails", args: []string{"sessions", "revoke", "--all", "+14155550199"},
					wantErr: "user not found: no user has phone number +14155550199"},
				{name: "--all of a user without sessions revokes none", args: []string{"sessions", "revoke", "--all", "--json", bob},
					want: "[\n  {\n    \"user_id\": \"" + bob + "\",\n    \"phone\": \"+14155550101\",\n    \"revoked\": 0\n  }\n]\n"},
			} {
				t.Run("sessions revoke "+st.name, func(t *testing.T) { st.check(t, env) })
			}
			t.Run("sessions revoke --all PHONE revokes every live session", func(t *testing.T) {
				step{args: []string{"sessions", "revoke", "--all", "415 555 0100"},
					want: "revoked 1 session of user " + alice + " (+14155550100)\n"}.check(t, env)
				// The session that had ended is left as it was.
				var got []map[string]any
				out, _, err := runCLI(t, env, "sessions", "list", "--json", alice)
				if err != nil || json.Unmarshal([]byte(out), &got) != nil || len(got) != 3 {
					t.Fatalf("sessions list --json: got %q, %v", out, err)
				}
				for i, want := range []string{"revoked", "revoked", "ended"} {
					if got[i]["status"] != want {
						t.Errorf("session %v after revoke --all: got status %v, want %s", got[i]["id"], got[i]["status"], want)
					}
				}
				if _, err := s.AccessUser(t.Context(), alice, own(aliceSession2)); !errors.Is(err, phoneauth.ErrTokenRevoked) {
					t.Errorf("AccessUser after revoke --all: got %v, want %v", err, phoneauth.ErrTokenRevoked)
				}
			})

			t.Run("users unlock clears the lockout and the account signs in", func(t *testing.T) {
				step{args: []string{"users", "unlock", "+44 7700 900123"},
					want: "unlocked user " + carol + " (+447700900123): failed checks and lockouts cleared\n"}.check(t, env)
				// Locked until 2100 before: now the right code signs carol in.
				now := time.Now()
				code := sha256.Sum256([]byte("654321"))
				c := phoneauth.Challenge{ID: uuid.NewString(), UserID: carol, Purpose: phoneauth.PurposeLogin, CodeHash: code[:],
					CreatedAt: now, ExpiresAt: now.Add(5 * time.Minute)}
				if _, _, err := s.PutLoginChallenge(t.Context(), "+447700900123", c, farFuture); err != nil {
					t.Fatalf("PutLoginChallenge: %v", err)
				}
				sess := phoneauth.Session{ID: 7, UserID: carol, CreatedAt: now, ExpiresAt: farFuture, RotatedAt: now}
				if _, err := s.VerifyLogin(t.Context(), carol, storetest.Try(code[:], now), sess); err != nil {
					t.Fatalf("VerifyLogin after unlock: %v", err)
				}
				step{args: []string{"users", "show", carol}, want: "" +
					"ID                                    PHONE          VERIFIED  CREATED               LOCKED UNTIL  FAILED CHECKS  LOCKOUTS\n" +
					"33333333-3333-4333-8333-333333333333  +447700900123  yes       2026-03-14T17:09:26Z  -             0              0\n",
				}.check(t, env)
				step{args: []string{"users", "unlock", "--json", carol}, want: `[
  {
    "id": "33333333-3333-4333-8333-333333333333",
    "phone": "+447700900123",
    "verified": true,
    "created_at": "2026-03-14T17:09:26Z",
    "locked_until": null,
    "failed_checks": 0,
    "lockouts": 0
  }
]
`}.check(t, env)
				step{args: []string{"users", "unlock", "+14155550199"},
					wantErr: "user not found: no user has phone number +14155550199"}.check(t, env)
			})

			t.Run("users delete removes the account with its sessions", func(t *testing.T) {
				step{args: []string{"users", "delete", "+14155550100"},
					want: "deleted user " + alice + " (+14155550100) with its codes and sessions\n"}.check(t, env)
				if _, err := s.UserByPhone(t.Context(), "+14155550100"); !errors.Is(err, phoneauth.ErrUserNotFound) {
					t.Errorf("UserByPhone after delete: got %v, want %v", err, phoneauth.ErrUserNotFound)
				}
				step{args: []string{"users", "show", alice},
					wantErr: "user not found: no user has ID " + alice}.check(t, env)
				step{args: []string{"sessions", "revoke", "42"},
					wantErr: "session not found: no session has ID 42"}.check(t, env)
				step{args: []string{"users", "delete", alice},
					wantErr: "user not found: no user has ID " + alice}.check(t, env)
				step{args: []string{"users", "delete", "--json", bob}, want: `[
  {
    "id": "22222222-2222-4222-8222-222222222222",
    "phone": "+14155550101",
    "verified": false,
    "created_at": "2026-03-14T16:09:26Z",
    "locked_until": null,
    "failed_checks": 0,
    "lockouts": 0
  }
]
`}.check(t, env)
				step{args: []string{"users", "list"}, want: "" +
					"ID                                    PHONE          VERIFIED  CREATED               LOCKED UNTIL  FAILED CHECKS  LOCKOUTS\n" +
					"33333333-3333-4333-8333-333333333333  +447700900123  yes       2026-03-14T17:09:26Z  -             0              0\n",
				}.check(t, env)
			})
		})
	}
}

func TestAdminCommandErrors(t *testing.T) {
	t.Parallel()
	missing := map[string]string{"PHONEAUTH_DATABASE_URL": "sqlite:" + filepath.Join(t.TempDir(), "missing.db")}
	for _, st := range []step{
		{name: "users without a command", args: []string{"users"}, wantErr: "users: missing command"},
		{name: "an unknown users command", args: []string{"users", "purge"}, wantErr: "unknown command users purge"},
		{name: "an unknown sessions command", args: []string{"sessions", "show"}, wantErr: "unknown command sessions show"},
		{name: "an unknown flag", args: []string{"users", "list", "--yaml"}, wantErr: "users list: flag provided but not defined: -yaml"},
		{name: "--all of users", args: []string{"users", "delete", "--all", "x"}, wantErr: "users delete: flag provided but not defined: -all"},
		{name: "too many arguments", args: []string{"sessions", "revoke", "1", "2"}, wantErr: "sessions revoke: want 1 argument(s), got 2"},
		{name: "a SQLite file that does not exist is not created", args: []string{"users", "list"},
			wantErr: "PHONEAUTH_DATABASE_URL: no SQLite database at " + strings.TrimPrefix(missing["PHONEAUTH_DATABASE_URL"], "sqlite:") +
				": stat " + strings.TrimPrefix(missing["PHONEAUTH_DATABASE_URL"], "sqlite:") + ": no such file or directory"},
	} {
		t.Run(st.name, func(t *testing.T) {
			t.Parallel()
			st.check(t, missing)
		})
	}
}

func TestHelpListsEveryCommand(t *testing.T) {
	t.Parallel()
	out, _, err := runCLI(t, nil, "help")
	if err != nil {
		t.Fatalf("help: %v", err)
	}
	for _, cmd := range []string{
		"serve", "migrate", "version", "healthcheck", "help",
		"users list", "users show PHONE|USER_ID", "users delete PHONE|USER_ID", "users unlock PHONE|USER_ID",
		"sessions list PHONE|USER_ID", "sessions revoke SESSION_ID", "sessions revoke --all PHONE|USER_ID",
		"audit [--user PHONE|USER_ID] [--since DURATION] [--kind KIND] [--limit N]",
	} {
		if !strings.Contains(out, "\n  "+cmd+" ") && !strings.Contains(out, "\n  "+cmd+"\n") {
			t.Errorf("help does not list %q:\n%s", cmd, out)
		}
	}
}

// TestRevokedSessionsAreRefusedByTheAPI signs a user in through the
// running service twice, revokes one session and then the rest with the
// operator's commands, and checks what the API then answers to each
// session's tokens; finally it deletes the account.
func TestRevokedSessionsAreRefusedByTheAPI(t *testing.T) {
	t.Parallel()
	const secret = "0123456789abcdef0123456789abcdef0123456789abcdef"
	signer, err := token.New([]byte(secret), time.Hour, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	sessionOf := func(t *testing.T, raw string) string {
		t.Helper()
		c, err := signer.Parse(raw, time.Now())
		if err != nil {
			t.Fatalf("parse token: %v", err)
		}
		return strconv.FormatUint(c.Ref.Session, 10)
	}
	databases := map[string]func(t *testing.T) string{
		"sqlite":   func(t *testing.T) string { return "sqlite:" + filepath.Join(t.TempDir(), "auth.db") },
		"postgres": newPostgresSchema,
	}
	for name, dbURL := range databases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			env := map[string]string{
				"PHONEAUTH_DATABASE_URL":   dbURL(t),
				"PHONEAUTH_JWT_SECRET":     secret,
				"PHONEAUTH_LOGIN_THROTTLE": "0s",
			}
			const phone = "+14155550400"
			in := start(t, env)
			mark := in.logs.mark()
			tok := in.mustCall("POST", "/auth/api/Register/", "", map[string]any{"phonenumber": phone})["token"].(string)
			in.mustCall("POST", "/auth/api/verify/", "", map[string]any{"code": in.code(mark, phone, "register"), "token": tok, "phone": phone})
			userID, accessA, refreshA := in.login(phone)
			_, accessB, refreshB := in.login(phone)
			a, b := sessionOf(t, accessA), sessionOf(t, accessB)

			var listed []struct{ ID, Status string }
			out, _, err := runCLI(t, env, "sessions", "list", "--json", "(415) 555-0400")
			if err != nil || json.Unmarshal([]byte(out), &listed) != nil {
				t.Fatalf("sessions list --json: %q, %v", out, err)
			}
			if len(listed) != 2 || !(listed[0].ID == a && listed[1].ID == b || listed[0].ID == b && listed[1].ID == a) {
				t.Fatalf("sessions list: got %v, want sessions %s and %s", listed, a, b)
			}

			step{args: []string{"sessions", "revoke", a}, want: "revoked session " + a + " of user " + userID + "\n"}.check(t, env)
			if status, body := in.call("GET", "/auth/api/me/", accessA, nil); status != http.StatusUnauthorized {
				t.Errorf("me with the revoked session's access token = %d %v, want 401", status, body)
			}
			if status, body := in.call("POST", "/auth/api/token/refresh/", refreshA, nil); status != http.StatusUnauthorized {
				t.Errorf("refresh of the revoked session = %d %v, want 401", status, body)
			}
			in.mustCall("GET", "/auth/api/me/", accessB, nil)
			refreshed := in.mustCall("POST", "/auth/api/token/refresh/", refreshB, nil)

			step{args: []string{"sessions", "revoke", "--all", userID},
				want: "revoked 1 session of user " + userID + " (" + phone + ")\n"}.check(t, env)
			for _, access := range []string{accessB, refreshed["access_token"].(string)} {
				if status, body := in.call("GET", "/auth/api/me/", access, nil); status != http.StatusUnauthorized {
					t.Errorf("me after revoke --all = %d %v, want 401", status, body)
				}
			}

			_, accessC, _ := in.login(phone)
			in.mustCall("GET", "/auth/api/me/", accessC, nil)
			step{args: []string{"users", "delete", phone},
				want: "deleted user " + userID + " (" + phone + ") with its codes and sessions\n"}.check(t, env)
			if status, body := in.call("GET", "/auth/api/me/", accessC, nil); status != http.StatusUnauthorized {
				t.Errorf("me after users delete = %d %v, want 401", status, body)
			}
			if status, body := in.call("POST", "/auth/api/login/", "", map[string]any{"phone": phone}); status != http.StatusNotFound {
				t.Errorf("login after users delete = %d %v, want 404", status, body)
			}
		})
	}
}
