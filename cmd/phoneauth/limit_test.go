package main

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"
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
			if db.name == "sqlite" {
				// The scratch database was beside the database (the
				// probe's own test checks where), and is gone.
				if left, err := os.ReadDir(dir); err != nil || len(left) != 0 {
					t.Errorf("limit left %v (%v) in the database's directory", left, err)
				}
			}
			out, _, err = runCLI(t, env, "limit", "-c", "1", "-d", "100ms")
			if err != nil || !regexp.MustCompile(`^`+db.name+`: \d+ durable commits a second from 1 client over \S+; at 4 commits a full flow, \d+ flows a second\n$`).MatchString(out) {
				t.Errorf("limit printed %q (%v)", out, err)
			}
		})
	}
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"limit", "-c", "0"}, "-c 0 must be between 1 and 1000"},
		{[]string{"limit", "-c", "1001"}, "-c 1001 must be between 1 and 1000"},
		{[]string{"limit", "-d", "0s"}, "-d 0s must be positive"},
		{[]string{"limit", "extra"}, `unexpected argument "extra"`},
	} {
		_, _, err := runCLI(t, map[string]string{"PHONEAUTH_DATABASE_URL": "sqlite:" + filepath.Join(t.TempDir(), "x.db")}, tt.args...)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%v: %v, want an error saying %q", tt.args, err, tt.want)
		}
	}
}

// fakeProbe counts its inserts and fails the one numbered failAt (from 1;
// 0: none).
type fakeProbe struct {
	n      atomic.Int64
	failAt int64
}

var errProbe = errors.New("probe failed")

func (p *fakeProbe) Insert(ctx context.Context) error {
	if n := p.n.Add(1); n == p.failAt {
		return errProbe
	}
	return ctx.Err()
}

func (p *fakeProbe) Close() error { return nil }

func TestMeasureCommits(t *testing.T) {
	t.Parallel()
	t.Run("counts every commit until the duration has passed", func(t *testing.T) {
		p := &fakeProbe{}
		n, elapsed, err := measureCommits(t.Context(), p, 3, 20*time.Millisecond)
		if err != nil || n < 1 || n != p.n.Load() || elapsed < 20*time.Millisecond {
			t.Errorf("measureCommits = %d commits in %s, %v; want the probe's %d, at least 20ms, no error", n, elapsed, err, p.n.Load())
		}
	})
	t.Run("the first error stops every client and is returned", func(t *testing.T) {
		p := &fakeProbe{failAt: 50}
		n, elapsed, err := measureCommits(t.Context(), p, 3, time.Minute)
		// The other clients may finish inserts begun before the failure
		// was seen; the failed one does not count.
		if !errors.Is(err, errProbe) || n < 49 || n >= p.n.Load() || elapsed >= time.Minute {
			t.Errorf("measureCommits = %d commits of %d inserts in %s, %v; want %v well before a minute, at least 49 commits, the failed insert not counted",
				n, p.n.Load(), elapsed, err, errProbe)
		}
	})
	t.Run("an ended context stops it", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		_, elapsed, err := measureCommits(ctx, &fakeProbe{}, 3, time.Minute)
		if !errors.Is(err, context.Canceled) || elapsed >= time.Minute {
			t.Errorf("measureCommits after cancel: %s, %v; want context.Canceled at once", elapsed, err)
		}
	})
}
