// Package testenv finds the outside services that tests run against.
//
// A test that needs PostgreSQL or Redis asks here for its address. Without
// the variable the test is skipped with a message, except under CI=true,
// where a missing service fails the test: CI must exercise every backend.
package testenv

import (
	"os"
	"testing"
)

// Variables naming the services tests use.
const (
	PostgresVar = "PHONEAUTH_TEST_POSTGRES_URL"
	RedisVar    = "PHONEAUTH_TEST_REDIS_URL"
)

// CI reports whether the tests run under CI (CI=true).
func CI() bool { return os.Getenv("CI") == "true" }

// PostgresURL returns the PostgreSQL URL for tests, or skips t (fails it
// under CI) when none is set.
func PostgresURL(t testing.TB) string {
	t.Helper()
	return lookup(t, PostgresVar, "PostgreSQL")
}

// RedisURL returns the Redis URL for tests, or skips t (fails it under CI)
// when none is set.
func RedisURL(t testing.TB) string {
	t.Helper()
	return lookup(t, RedisVar, "Redis")
}

func lookup(t testing.TB, name, what string) string {
	t.Helper()
	v := os.Getenv(name)
	if v != "" {
		return v
	}
	if CI() {
		t.Fatalf("%s is not set: CI=true requires the %s tests to run", name, what)
	}
	t.Skipf("%s is not set: skipping the %s tests", name, what)
	return ""
}

// Unreachable fails t under CI and skips it otherwise: use it when the
// service named by the variable does not answer.
func Unreachable(t testing.TB, what string, err error) {
	t.Helper()
	if CI() {
		t.Fatalf("%s is unreachable under CI=true: %v", what, err)
	}
	t.Skipf("%s is unreachable, skipping: %v", what, err)
}
