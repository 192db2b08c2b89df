package sqlite

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/phoneauth/phoneauth"
)

func TestPrune(t *testing.T) {
	t.Parallel()

	t.Run("batches smaller than the dead rows delete them all, each counted once", func(t *testing.T) {
		t.Parallel()
		s := openTest(t, filepath.Join(t.TempDir(), "phoneauth.db"))
		s.pruneBatch = 2
		const flows = 5
		for n := range int64(flows) {
			if err := flow(t.Context(), s, n); err != nil {
				t.Fatalf("flow %d: %v", n, err)
			}
		}
		// Each flow leaves two consumed challenges and a session, all
		// dead an hour after now.
		later := now.Add(time.Hour)
		for _, want := range []int64{flows * 3, 0} {
			got, err := s.Prune(t.Context(), later)
			if err != nil {
				t.Fatalf("Prune: %v", err)
			}
			if got != want {
				t.Errorf("Prune: got %d rows deleted, want %d", got, want)
			}
		}
	})

	t.Run("each delete finds its rows through an index, not a scan", func(t *testing.T) {
		t.Parallel()
		s := openTest(t, filepath.Join(t.TempDir(), "phoneauth.db"))
		for _, q := range []string{qPruneChallenges, qPruneForeign, qPruneSessions, qPruneUnverified, qPruneAudit} {
			rows, err := s.read.QueryContext(t.Context(), "EXPLAIN QUERY PLAN "+q, 0, 1, 0, 0)
			if err != nil {
				t.Fatalf("EXPLAIN QUERY PLAN: %v", err)
			}
			var plan []string
			for rows.Next() {
				var id, parent, unused int
				var detail string
				if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
					t.Fatalf("read the plan: %v", err)
				}
				plan = append(plan, detail)
			}
			if err := rows.Close(); err != nil {
				t.Fatalf("read the plan: %v", err)
			}
			for _, step := range plan {
				if strings.HasPrefix(step, "SCAN") {
					t.Errorf("%s\nplan scans a table:\n%s", q, strings.Join(plan, "\n"))
					break
				}
			}
		}
	})

	t.Run("audit events go after the retention the store was opened with", func(t *testing.T) {
		t.Parallel()
		s := openTestWith(t, filepath.Join(t.TempDir(), "phoneauth.db"), Options{AuditRetention: time.Hour})
		for _, at := range []time.Time{now.Add(-time.Hour - time.Millisecond), now.Add(-time.Hour + time.Millisecond)} {
			e := phoneauth.Event{At: at, Kind: phoneauth.EventAdmin, Outcome: phoneauth.OutcomeOK}
			if err := s.RecordEvent(t.Context(), e); err != nil {
				t.Fatalf("RecordEvent: %v", err)
			}
		}
		if got, err := s.Prune(t.Context(), now); err != nil || got != 1 {
			t.Fatalf("Prune: got %d, %v, want 1 row deleted", got, err)
		}
	})
}
