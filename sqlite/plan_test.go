package sqlite

import (
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// TestNoHotQueryScansATable asks SQLite for the plan of every statement
// the store prepares and fails when one reads a whole table, with or
// without an index: such a statement slows down as the table grows. The
// pruning statements are allowed a scan of the index they delete by.
func TestNoHotQueryScansATable(t *testing.T) {
	t.Parallel()
	s := openTest(t, filepath.Join(t.TempDir(), "plan.db"))
	// Statistics as a busy database would have them: the planner then
	// prefers the indexes it would in production.
	if _, err := s.write.ExecContext(t.Context(), "ANALYZE"); err != nil {
		t.Fatal(err)
	}
	for _, q := range slices.Concat(writeQueries, readQueries) {
		rows, err := s.write.QueryContext(t.Context(), "EXPLAIN QUERY PLAN "+q, make([]any, params(q))...)
		if err != nil {
			t.Fatalf("EXPLAIN %s: %v", q, err)
		}
		var plan []string
		for rows.Next() {
			var id, parent, notUsed int
			var detail string
			if err := rows.Scan(&id, &parent, &notUsed, &detail); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, detail)
		}
		if err := rows.Close(); err != nil {
			t.Fatal(err)
		}
		for _, step := range plan {
			if strings.HasPrefix(step, "SCAN ") && !strings.HasPrefix(step, "SCAN CONSTANT ROW") {
				t.Errorf("a whole table is read:\n%s\nplan:\n  %s", strings.TrimSpace(q), strings.Join(plan, "\n  "))
			}
		}
	}
}

// params returns how many parameters q takes: the highest ?N, or the
// number of ?s.
func params(q string) int {
	n := 0
	for _, m := range numberedParam.FindAllStringSubmatch(q, -1) {
		v, _ := strconv.Atoi(m[1])
		n = max(n, v)
	}
	if n > 0 {
		return n
	}
	return strings.Count(q, "?")
}

var numberedParam = regexp.MustCompile(`\?(\d+)`)
