package sqlite

import (
	"path/filepath"
	"testing"

	"github.com/phoneauth/phoneauth"
	"github.com/phoneauth/phoneauth/storetest"
)

func TestSeed(t *testing.T) {
	t.Parallel()
	storetest.RunSeed(t, func(t *testing.T) (phoneauth.Store, phoneauth.Seeder) {
		s := openTest(t, filepath.Join(t.TempDir(), "phoneauth.db"))
		return s, s
	})
}
