package postgres

import (
	"testing"

	"github.com/phoneauth/phoneauth"
	"github.com/phoneauth/phoneauth/storetest"
)

func TestSeed(t *testing.T) {
	t.Parallel()
	storetest.RunSeed(t, func(t *testing.T) (phoneauth.Store, phoneauth.Seeder) {
		s, _ := newStore(t, Options{})
		return s, s
	})
}
