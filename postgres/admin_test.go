package postgres

import (
	"testing"

	"github.com/phoneauth/phoneauth"
	"github.com/phoneauth/phoneauth/storetest"
)

func TestAdmin(t *testing.T) {
	t.Parallel()
	storetest.RunAdmin(t, func(t *testing.T) (phoneauth.Store, phoneauth.Admin) {
		s, _ := newStore(t, Options{})
		return s, s.Admin()
	})
}
