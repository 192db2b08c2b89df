package phoneauth

import (
	"testing"
	"time"
)

// TestCodeOutcomeClassifiesEachAnswerOfDecide feeds codeOutcome the very
// answers Try.Decide gives, so a change to the kinds Decide returns shows
// here rather than as a wrong label on a dashboard.
func TestCodeOutcomeClassifiesEachAnswerOfDecide(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	p := DefaultPolicy()
	p.MaxAttempts, p.LockoutThreshold = 3, 5
	right, wrong := []byte("right"), []byte("wrong")
	try := func(typed []byte) Try {
		return Try{Hash: func(Challenge) []byte { return typed }, Now: now, Policy: p}
	}
	live := Challenge{Purpose: PurposeLogin, CodeHash: right, ExpiresAt: now.Add(time.Minute)}
	tests := []struct {
		name   string
		c      Challenge
		g      Guard
		typed  []byte
		want   CodeOutcome
		counts bool
	}{
		{"right code", live, Guard{}, right, CodeOK, true},
		{"wrong code", live, Guard{}, wrong, CodeWrong, true},
		{"expired code", Challenge{Purpose: PurposeLogin, CodeHash: right, ExpiresAt: now}, Guard{}, right, CodeExpired, true},
		{"the code's last wrong try", Challenge{Purpose: PurposeLogin, CodeHash: right, ExpiresAt: now.Add(time.Minute), Attempts: 2}, Guard{}, wrong, CodeTooManyAttempts, true},
		{"a dead code, right", Challenge{Purpose: PurposeLogin, CodeHash: right, ExpiresAt: now.Add(time.Minute), Attempts: 3}, Guard{}, right, CodeTooManyAttempts, true},
		{"the wrong try that locks the account", live, Guard{Failures: 4}, wrong, CodeLocked, true},
		{"the right code while locked", live, Guard{LockedUntil: now.Add(time.Minute)}, right, CodeLocked, true},
		{"a spent code checks nothing", Challenge{Purpose: PurposeLogin, CodeHash: right, ExpiresAt: now.Add(time.Minute), Consumed: true}, Guard{}, right, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, g := tt.c, tt.g
			err := try(tt.typed).Decide(&c, &g)
			got, counts := codeOutcome(err)
			if got != tt.want || counts != tt.counts {
				t.Errorf("codeOutcome(%v) = %q, %v; want %q, %v", err, got, counts, tt.want, tt.counts)
			}
		})
	}
	if _, counts := codeOutcome(storeErr("verify login", ErrUnavailable)); counts {
		t.Error("a store failure counted as a code check")
	}
}
