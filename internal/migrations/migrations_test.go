package migrations_test

import (
	"strings"
	"testing"
	"testing/fstest"

	"github.com/phoneauth/phoneauth/internal/migrations"
)

func TestLoad(t *testing.T) {
	t.Parallel()
	file := func(sql string) *fstest.MapFile { return &fstest.MapFile{Data: []byte(sql)} }

	t.Run("files come in version order, not name order", func(t *testing.T) {
		t.Parallel()
		fsys := fstest.MapFS{
			"m/10_later.sql":  file("SELECT 10;"),
			"m/0002_next.sql": file("SELECT 2;"),
			"m/0001_init.sql": file("SELECT 1;"),
		}
		ms, err := migrations.Load(fsys, "m")
		if err != nil {
			t.Fatalf("Load: %v", err)
		}
		want := []migrations.Migration{
			{Version: 1, Name: "0001_init.sql", SQL: "SELECT 1;"},
			{Version: 2, Name: "0002_next.sql", SQL: "SELECT 2;"},
			{Version: 10, Name: "10_later.sql", SQL: "SELECT 10;"},
		}
		if len(ms) != len(want) {
			t.Fatalf("Load = %v, want %v", ms, want)
		}
		for i := range want {
			if ms[i] != want[i] {
				t.Errorf("migration %d = %+v, want %+v", i, ms[i], want[i])
			}
		}
	})

	for _, tt := range []struct {
		name    string
		fsys    fstest.MapFS
		wantErr string
	}{
		{"a name without a version is refused", fstest.MapFS{"m/init.sql": file("")}, "init.sql: name must start with a positive version"},
		{"version 0 is refused", fstest.MapFS{"m/0000_init.sql": file("")}, "0000_init.sql: name must start with a positive version"},
		{"two files with one version are refused", fstest.MapFS{"m/0001_a.sql": file(""), "m/1_b.sql": file("")}, "share version 1"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ms, err := migrations.Load(tt.fsys, "m")
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Load = %v, %v; want an error containing %q", ms, err, tt.wantErr)
			}
		})
	}
}
