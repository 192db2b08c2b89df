package sqlite

import (
	"path/filepath"
	"testing"

	"github.com/phoneauth/phoneauth"
	"github.com/phoneauth/phoneauth/storetest"
)

func TestAdmin(t *testing.T) {
	t.Parallel()
	storetest.RunAdmin(t, func(t *testing.T) (phoneauth.Store, phoneauth.Admin) {
		s := openTest(t, filepath.Join(t.TempDir(), "phoneauth.db"))
		return s, s.Admin()
	})
}
