package phoneauth

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"regexp"
	"testing"
	"time"
)

func TestNewCodeIsDigitsOfTheConfiguredLength(t *testing.T) {
	t.Parallel()
	for _, length := range []int{4, 6, 10} {
		s := &Service{policy: Policy{CodeLength: length}, random: rand.Reader}
		re := regexp.MustCompile(fmt.Sprintf(`^[0-9]{%d}$`, length))
		for range 100 {
			code, err := s.newCode()
			if err != nil || !re.MatchString(code) {
				t.Fatalf("length %d: newCode() = %q, %v", length, code, err)
			}
		}
	}
}

func TestNewCodeRejectsBiasedBytes(t *testing.T) {
	t.Parallel()
	// 250..255 would favour 0..5; they must be skipped, not folded.
	random := bytes.NewReader([]byte{255, 250, 7, 251, 19, 100, 249, 3, 42})
	s := &Service{policy: Policy{CodeLength: 6}, random: random}
	code, err := s.newCode()
	if err != nil {
		t.Fatal(err)
	}
	if want := "790932"; code != want {
		t.Errorf("newCode() = %q, want %q", code, want)
	}
}

func TestCodeHashesDifferPerSubjectAndPurpose(t *testing.T) {
	t.Parallel()
	s := &Service{codeKey: []byte("0123456789abcdef")}
	a := s.hashCode(PurposeLogin, "challenge-1", "123456")
	for name, b := range map[string][]byte{
		"other challenge": s.hashCode(PurposeLogin, "challenge-2", "123456"),
		"other purpose":   s.hashCode(PurposeRegister, "challenge-1", "123456"),
		"other code":      s.hashCode(PurposeLogin, "challenge-1", "123457"),
	} {
		if bytes.Equal(a, b) {
			t.Errorf("%s: same hash", name)
		}
	}
	if !bytes.Equal(a, s.hashCode(PurposeLogin, "challenge-1", "123456")) {
		t.Error("hash is not deterministic")
	}
}

func TestChallengeCheck(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 14, 15, 9, 26, 0, time.UTC)
	right := []byte("right hash")
	for _, tc := range []struct {
		name      string
		purpose   Purpose
		consumed  bool
		expiresAt time.Time
		presented []byte
		want      error
	}{
		{"right code before expiry passes", PurposeLogin, false, now.Add(time.Nanosecond), right, nil},
		{"wrong code is ErrCodeWrong", PurposeLogin, false, now.Add(time.Minute), []byte("wrong hash"), ErrCodeWrong},
		{"a prefix of the hash is ErrCodeWrong", PurposeLogin, false, now.Add(time.Minute), right[:4], ErrCodeWrong},
		{"right code at its expiry is ErrCodeExpired", PurposeLogin, false, now, right, ErrCodeExpired},
		{"wrong code after expiry is ErrCodeExpired, not ErrCodeWrong", PurposeRegister, false, now.Add(-time.Hour), []byte("wrong"), ErrCodeExpired},
		{"spent login code is ErrNoPendingLogin, even right and live", PurposeLogin, true, now.Add(time.Minute), right, ErrNoPendingLogin},
		{"spent registration code is ErrChallengeNotFound", PurposeRegister, true, now.Add(time.Minute), right, ErrChallengeNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := Challenge{Purpose: tc.purpose, CodeHash: right, ExpiresAt: tc.expiresAt, Consumed: tc.consumed}
			if got := c.Check(tc.presented, now); got != tc.want {
				t.Errorf("Check = %v, want %v", got, tc.want)
			}
		})
	}
}
