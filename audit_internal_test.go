package phoneauth

import (
	"errors"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func TestEventDecidedTruncatesUserAgentOnARuneBoundary(t *testing.T) {
	ua := strings.Repeat("a", MaxUserAgent-1) + "é" + "tail" // é straddles the limit
	e, ok := Event{Kind: EventLogin, UserAgent: ua}.Decided(time.Unix(0, 0), "u", "+14155550123", ErrCodeWrong)
	if !ok {
		t.Fatal("Decided: got not recorded, want recorded")
	}
	if got, want := e.UserAgent, strings.Repeat("a", MaxUserAgent-1); got != want || !utf8.ValidString(got) {
		t.Errorf("UserAgent: got %d bytes %q, want the %d before the split rune", len(got), got, len(want))
	}
	if e.PhoneMasked != "+1***23" || e.Outcome != OutcomeFailed || e.UserID != "u" {
		t.Errorf("Decided: got %+v, want phone +1***23, outcome failed, user u", e)
	}
	if _, ok := (Event{}).Decided(time.Unix(0, 0), "u", "", nil); ok {
		t.Error("Decided of an Event with no Kind: got recorded, want not")
	}
}

// Refresh records the refusal of a revoked session itself, but not the
// revocation of a session out of generations, which the store wrote with
// its event: Decide tells the two apart.
func TestOutOfGenerationsIsToldFromARevokedSession(t *testing.T) {
	now := time.Date(2026, time.March, 14, 15, 9, 26, 0, time.UTC)
	cur := Session{ID: 1, UserID: "u", CreatedAt: now, ExpiresAt: now.Add(time.Hour), Generation: MaxGeneration, RotatedAt: now}
	r := Rotation{
		Token: Claims{Subject: "u", Type: TokenRefresh, IssuedAt: now, ExpiresAt: cur.ExpiresAt,
			Ref: TokenRef{Own: true, Session: 1, Generation: MaxGeneration}},
		Now: now.Add(time.Second),
	}
	if _, write, err := r.Decide(&cur, false); !write || !errors.Is(err, errOutOfGenerations) {
		t.Errorf("Decide at MaxGeneration: write %t, %v; want written, errOutOfGenerations", write, err)
	}
	revoked := cur
	revoked.RevokedAt = now
	if _, write, err := r.Decide(&revoked, false); write || !errors.Is(err, ErrTokenRevoked) || errors.Is(err, errOutOfGenerations) {
		t.Errorf("Decide of a revoked session: write %t, %v; want nothing written, ErrTokenRevoked alone", write, err)
	}
}
