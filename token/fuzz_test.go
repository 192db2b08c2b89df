package token_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/phoneauth/phoneauth"
	"github.com/phoneauth/phoneauth/token"
)

// fuzzSigner is the Signer of the fuzz targets: the tests' secret and
// lifetimes.
func fuzzSigner(f *testing.F) *token.Signer {
	f.Helper()
	s, err := token.New(testSecret, accessTTL, refreshTTL)
	if err != nil {
		f.Fatal(err)
	}
	return s
}

// FuzzParse checks Parse on any input, at issuedAt: it never panics, it
// refuses with ErrTokenInvalid or ErrTokenExpired, and it accepts nothing
// but the exact bytes of a token signed with the secret: the signature
// segment is the one base64url encoding, without padding, of the HMAC of
// the rest. Seeds (tokens issued at issuedAt, forgeries):
// testdata/fuzz/FuzzParse.
func FuzzParse(f *testing.F) {
	s := fuzzSigner(f)
	f.Fuzz(func(t *testing.T, raw string) {
		c, err := s.Parse(raw, issuedAt)
		if err != nil {
			if !errors.Is(err, phoneauth.ErrTokenInvalid) && !errors.Is(err, phoneauth.ErrTokenExpired) {
				t.Fatalf("Parse(%q) error %v is neither ErrTokenInvalid nor ErrTokenExpired", raw, err)
			}
			return
		}
		signing, sig, _ := cutLast(raw, ".")
		mac := hmac.New(sha256.New, testSecret)
		mac.Write([]byte(signing))
		if want := b64.EncodeToString(mac.Sum(nil)); sig != want {
			t.Fatalf("Parse accepted %q, whose signature segment is %q, not %q", raw, sig, want)
		}
		if c.Subject == "" || c.Ref.JTI == "" || (c.Type != phoneauth.TokenAccess && c.Type != phoneauth.TokenRefresh) || !c.ExpiresAt.After(issuedAt) {
			t.Fatalf("Parse(%q) = %+v, want a subject, an ID, a type and a future expiry", raw, c)
		}
	})
}

// FuzzParseRoundTrip checks that Parse takes back every token Issue makes,
// for any subject, type and time, with the claims Issue reported, until
// it expires; and that it refuses the token with any one byte changed.
// Seeds: testdata/fuzz/FuzzParseRoundTrip.
func FuzzParseRoundTrip(f *testing.F) {
	s := fuzzSigner(f)
	f.Fuzz(func(t *testing.T, sub string, refresh bool, at int64, pos uint16, b byte) {
		if sub == "" || !utf8.ValidString(sub) {
			return // Issue refuses "", and JSON would not keep invalid UTF-8
		}
		// Any second from year -6000 to 9999 or so: far enough for any
		// clock, near enough for exp to fit the claims.
		now := time.Unix(at%253_402_300_800, 0)
		typ, ttl := phoneauth.TokenAccess, accessTTL
		if refresh {
			typ, ttl = phoneauth.TokenRefresh, refreshTTL
		}
		tok, err := s.Issue(sub, typ, now)
		if err != nil {
			t.Fatalf("Issue(%q, %s, %v): %v", sub, typ, now, err)
		}
		want := tok.Claims
		if want.ExpiresAt != now.Add(ttl) {
			t.Fatalf("Issue at %v: expires %v, want %v", now, want.ExpiresAt, now.Add(ttl))
		}
		for _, at := range []time.Time{now, now.Add(ttl - time.Second)} {
			if got, err := s.Parse(tok.Raw, at); err != nil || got != want {
				t.Fatalf("Parse(Issue(%q, %s, %v)) at %v = %+v, %v; want %+v", sub, typ, now, at, got, err, want)
			}
		}
		if _, err := s.Parse(tok.Raw, now.Add(ttl)); !errors.Is(err, phoneauth.ErrTokenExpired) {
			t.Fatalf("Parse at its exp: %v, want ErrTokenExpired", err)
		}

		mutated := []byte(tok.Raw)
		i := int(pos) % len(mutated)
		if mutated[i] == b {
			return
		}
		mutated[i] = b
		if got, err := s.Parse(string(mutated), now); !errors.Is(err, phoneauth.ErrTokenInvalid) {
			t.Fatalf("Parse of %q with byte %d changed to %q = %+v, %v; want ErrTokenInvalid", tok.Raw, i, b, got, err)
		}
	})
}

// cutLast is strings.Cut at the last sep.
func cutLast(s, sep string) (before, after string, found bool) {
	i := strings.LastIndex(s, sep)
	if i < 0 {
		return s, "", false
	}
	return s[:i], s[i+len(sep):], true
}
