package phoneauth_test

import (
	"errors"
	"regexp"
	"testing"

	"github.com/phoneauth/phoneauth"
)

func TestParsePhoneNormalisesToE164(t *testing.T) {
	t.Parallel()
	tests := []struct {
		raw, region, want string
	}{
		{"+1 (555) 010-0000", "US", "+15550100000"},
		{"+15550100000", "US", "+15550100000"},
		{"5550100000", "US", "+15550100000"},
		{"(555) 010-0000", "us", "+15550100000"},
		{"  +44 7911 123456 ", "US", "+447911123456"},
		{"07911 123456", "GB", "+447911123456"},
		{"0049 30 1234567", "DE", "+49301234567"},
	}
	for _, tt := range tests {
		t.Run(tt.raw, func(t *testing.T) {
			got, err := phoneauth.ParsePhone(tt.raw, tt.region)
			if err != nil || got != tt.want {
				t.Errorf("ParsePhone(%q, %q) = %q, %v; want %q", tt.raw, tt.region, got, err, tt.want)
			}
		})
	}
}

func TestParsePhoneRejectsImpossibleNumbers(t *testing.T) {
	t.Parallel()
	tests := []struct{ raw, region string }{
		{"", "US"}, {"   ", "US"}, {"hello", "US"}, {"12", "US"}, {"+1 555", "US"},
		{"+999 1234567", "US"}, {"+1 555 010 00000000", "US"}, {"+" + string(make([]byte, 70)), "US"},
		// Possible in Germany's plan, but 16 digits: more than E.164 allows.
		{"+49 30 123456789012", "DE"},
		// libphonenumber reads it as +37500000000, and that as +3750000000.
		{"000000000", "BY"},
	}
	for _, tt := range tests {
		t.Run(tt.raw, func(t *testing.T) {
			if got, err := phoneauth.ParsePhone(tt.raw, tt.region); !errors.Is(err, phoneauth.ErrInvalidPhone) {
				t.Errorf("ParsePhone(%q, %q) = %q, %v; want ErrInvalidPhone", tt.raw, tt.region, got, err)
			}
		})
	}
}

// e164 is a number in E.164: a +, a country code that does not start with
// 0, at most 15 digits in all.
var e164 = regexp.MustCompile(`^\+[1-9][0-9]{1,14}$`)

// FuzzParsePhone checks that whatever a person types, ParsePhone either
// refuses it as ErrInvalidPhone or returns a number in E.164 that parses
// back to itself in any region. Seeds: testdata/fuzz/FuzzParsePhone.
func FuzzParsePhone(f *testing.F) {
	f.Fuzz(func(t *testing.T, raw, region string) {
		got, err := phoneauth.ParsePhone(raw, region)
		if err != nil {
			if !errors.Is(err, phoneauth.ErrInvalidPhone) {
				t.Fatalf("ParsePhone(%q, %q) error %v is not ErrInvalidPhone", raw, region, err)
			}
			return
		}
		if !e164.MatchString(got) {
			t.Fatalf("ParsePhone(%q, %q) = %q, not E.164", raw, region, got)
		}
		for _, r := range []string{region, "US", "GB", "DE", "ZZ", ""} {
			if again, err := phoneauth.ParsePhone(got, r); err != nil || again != got {
				t.Fatalf("ParsePhone(%q, %q) = %q; parsed again in %q: %q, %v", raw, region, got, r, again, err)
			}
		}
	})
}
