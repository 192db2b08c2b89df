package phoneauth

import (
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
