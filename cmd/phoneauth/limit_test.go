package main

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"testing"
)

func TestLimit(t *testing.T) {
	t.Parallel()
	for _, db := range []struct {
		name string
		url  func(t *testing.T, dir string) string
	}{
		{"sqlite", func(t *testing.T, dir string) string { return "sqlite:" + filepath.Join(dir, "phoneauth.db") }},
		{"postgres", func(t *testing.T, _ string) string { return newPostgresSchema(t) }},
	} {
		t.Run(db.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			env := map[string]string{"PHONEAUTH_DATABASE_URL": db.url(t, dir)}
			out, _, err := runCLI(t, env, "limit", "-c", "4", "-d", "200ms", "--json")
			if err != nil {
				t.Fatalf("limit: %v", err)
			}
			var r limitReport
			if err := json.Unmarshal([]byte(out), &r); err != nil {
				t.Fatalf("limit --json printed %q: %v", out, err)
			}
			if r.Backend != db.name || r.Clients != 4 || r.Commits < 1 || r.Seconds < 0.2 ||
				math.Abs(r.CommitsPerS-float64(r.Commits)/r.Seconds) > 1e-6 || math.Abs(r.FlowsPerS-r.CommitsPerS/4) > 1e-6 {
				t.Errorf("limit reported %+v, want the %s backend, 4 clients, commits over at least 0.2 s, a quarter of them as flows", r, db.name)
			}
			// Nothing of the probe is left beside the database.
			if left, err := os.ReadDir(dir); err != nil || len(left) != 0 {
				t.Errorf("limit left %v (%v) in the database's directory", left, err)
			}
			out, _, err = runCLI(t, env, "limit", "-c", "2", "-d", "100ms")
			if err != nil || !regexp.MustCompile(`^`+db.name+`: \d+ durable commits a second with 2 clients over \S+; at 4 commits a full flow, \d+ flows a second\n$`).MatchString(out) {
				t.Errorf("limit printed %q (%v)", out, err)
			}
		})
	}
	for _, args := range [][]string{{"limit", "-c", "0"}, {"limit", "-c", "1001"}, {"limit", "-d", "0s"}, {"limit", "extra"}} {
		if _, _, err := runCLI(t, map[string]string{"PHONEAUTH_DATABASE_URL": "sqlite:" + filepath.Join(t.TempDir(), "x.db")}, args...); err == nil {
			t.Errorf("%v succeeded", args)
		}
	}
}
