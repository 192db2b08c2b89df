package sqlite

import (
	"os"
	"path/filepath"
	"testing"
)

func TestCommitProbe(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	p, err := NewCommitProbe(t.Context(), dir)
	if err != nil {
		t.Fatalf("NewCommitProbe: %v", err)
	}
	// The store's durability, on the store's file system.
	var journal string
	var synchronous int
	if err := p.db.QueryRow("PRAGMA journal_mode").Scan(&journal); err != nil || journal != "wal" {
		t.Errorf("journal_mode %q (%v), want wal", journal, err)
	}
	if err := p.db.QueryRow("PRAGMA synchronous").Scan(&synchronous); err != nil || synchronous != 2 {
		t.Errorf("synchronous %d (%v), want 2 (FULL)", synchronous, err)
	}
	for range 10 {
		if err := p.Insert(t.Context()); err != nil {
			t.Fatalf("Insert: %v", err)
		}
	}
	var n int
	if err := p.db.QueryRow("SELECT count(*) FROM probe").Scan(&n); err != nil || n != 10 {
		t.Errorf("%d rows (%v) after 10 inserts, want 10", n, err)
	}
	// Beside the database: in the directory given, on its file system.
	if filepath.Dir(p.dir) != dir {
		t.Errorf("scratch directory %s, want one in %s", p.dir, dir)
	}
	if err := p.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if left, err := os.ReadDir(dir); err != nil || len(left) != 0 {
		t.Errorf("Close left %v (%v) in the directory, want nothing", left, err)
	}
}
