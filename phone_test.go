package phoneauth_test

import (
	"errors"
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
	for _, raw := range []string{"", "   ", "hello", "12", "+1 555", "+999 1234567", "+1 555 010 00000000", "+" + string(make([]byte, 70))} {
		t.Run(raw, func(t *testing.T) {
			if got, err := phoneauth.ParsePhone(raw, "US"); !errors.Is(err, phoneauth.ErrInvalidPhone) {
				t.Errorf("ParsePhone(%q) = %q, %v; want ErrInvalidPhone", raw, got, err)
			}
		})
	}
}
