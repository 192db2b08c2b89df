package main

import (
	"encoding/json"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

func TestSeed(t *testing.T) {
	t.Parallel()
	for _, db := range []struct {
		name string
		url  func(t *testing.T) string
	}{
		{"sqlite", func(t *testing.T) string { return "sqlite:" + filepath.Join(t.TempDir(), "seed.db") }},
		{"postgres", newPostgresSchema},
	} {
		t.Run(db.name, func(t *testing.T) {
			t.Parallel()
			env := map[string]string{"PHONEAUTH_DATABASE_URL": db.url(t)}
			out, _, err := runCLI(t, env, "seed", "--users", "30")
			if err != nil {
				t.Fatalf("seed: %v", err)
			}
			m := regexp.MustCompile(`^seeded 30 verified accounts, (\+1\d{4})000000 to (\+1\d{4})000029, in .+\nsign them in with: phoneauth bench --mix login --seeded-prefix (\+1\d{4}) --seeded-users 30\n$`).FindStringSubmatch(out)
			if m == nil || m[1] != m[2] || m[1] != m[3] {
				t.Fatalf("seed printed %q", out)
			}
			prefix := m[1]
			out, _, err = runCLI(t, env, "users", "show", prefix+"000029", "--json")
			var accounts []accountJSON
			if err != nil || json.Unmarshal([]byte(out), &accounts) != nil || len(accounts) != 1 || !accounts[0].Verified || accounts[0].FailedChecks != 0 {
				t.Fatalf("users show of the last seeded number: %v, %q", err, out)
			}
			_, _, err = runCLI(t, env, "seed", "--users", "40", "--prefix", prefix)
			if err == nil || !strings.Contains(err.Error(), "choose another --prefix") {
				t.Fatalf("seed of numbers taken: %v, want an error", err)
			}
			if _, _, err := runCLI(t, env, "users", "show", prefix+"000035"); err == nil {
				t.Error("a seed refused for numbers taken created some accounts")
			}
		})
	}
	for _, args := range [][]string{{"seed"}, {"seed", "--users", "1000001"}, {"seed", "--users", "5", "--prefix", "+15550"}} {
		if _, _, err := runCLI(t, map[string]string{}, args...); err == nil {
			t.Errorf("%v succeeded", args)
		}
	}
}
