package sms_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/phoneauth/phoneauth"
	"github.com/phoneauth/phoneauth/sms"
)

func TestTexts(t *testing.T) {
	t.Parallel()
	const def = "Your verification code is 123456. It expires in 5 minutes."
	tests := []struct {
		name    string
		c       sms.TextConfig
		purpose phoneauth.Purpose
		want    string
	}{
		{"default", sms.TextConfig{}, phoneauth.PurposeRegister, def},
		{"register template", sms.TextConfig{Register: "{{.AppName}}: {{.Code}} ({{.Minutes}} min)", AppName: "Acme"}, phoneauth.PurposeRegister, "Acme: 123456 (5 min)"},
		{"register template leaves login alone", sms.TextConfig{Register: "R {{.Code}}"}, phoneauth.PurposeLogin, def},
		{"login template", sms.TextConfig{Login: "L {{.Code}}"}, phoneauth.PurposeLogin, "L 123456"},
		{"login template writes deletion codes", sms.TextConfig{Login: "L {{.Code}}"}, phoneauth.PurposeDelete, "L 123456"},
		{"login template writes phone-change codes", sms.TextConfig{Login: "L {{.Code}}"}, phoneauth.PurposePhone, "L 123456"},
		{"WebOTP origin", sms.TextConfig{Origin: "example.com"}, phoneauth.PurposeLogin, def + "\n\n@example.com #123456"},
		{"Android hash", sms.TextConfig{AndroidHash: "FA+9qCX9VSu"}, phoneauth.PurposeLogin, def + "\n\nFA+9qCX9VSu"},
		{"both: the origin line stays last", sms.TextConfig{Origin: "auth.example.com", AndroidHash: "FA+9qCX9VSu"}, phoneauth.PurposeRegister, def + "\n\nFA+9qCX9VSu\n@auth.example.com #123456"},
		{"template and origin", sms.TextConfig{Login: "{{.Code}} is your code", Origin: "example.com"}, phoneauth.PurposeLogin, "123456 is your code\n\n@example.com #123456"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			texts, err := sms.NewTexts(tt.c)
			if err != nil {
				t.Fatal(err)
			}
			if got := texts.Text(tt.purpose, "123456", 5*time.Minute); got != tt.want {
				t.Errorf("Text = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestNewTextsRefuses(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		c     sms.TextConfig
		field string
	}{
		{"no code", sms.TextConfig{Register: "Welcome to {{.AppName}}"}, "Register"},
		{"no code in login", sms.TextConfig{Login: "Code: {{/* .Code */}}"}, "Login"},
		{"does not parse", sms.TextConfig{Login: "{{.Code"}, "Login"},
		{"unknown field", sms.TextConfig{Register: "{{.Code}} {{.Phone}}"}, "Register"},
		{"origin with a scheme", sms.TextConfig{Origin: "https://example.com"}, "Origin"},
		{"origin with a path", sms.TextConfig{Origin: "example.com/login"}, "Origin"},
		{"origin with a port", sms.TextConfig{Origin: "example.com:443"}, "Origin"},
		{"origin without a dot", sms.TextConfig{Origin: "localhost"}, "Origin"},
		{"hash too short", sms.TextConfig{AndroidHash: "FA+9qCX9VS"}, "AndroidHash"},
		{"hash too long", sms.TextConfig{AndroidHash: "FA+9qCX9VSuX"}, "AndroidHash"},
		{"hash with a space", sms.TextConfig{AndroidHash: "FA+9qCX9VS "}, "AndroidHash"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := sms.NewTexts(tt.c)
			ce, ok := errors.AsType[*sms.ConfigError](err)
			if !ok || ce.Field != tt.field {
				t.Fatalf("NewTexts = %v, want a *ConfigError on %s", err, tt.field)
			}
		})
	}
}

func TestSegments(t *testing.T) {
	t.Parallel()
	tests := []struct {
		text string
		want int
	}{
		{"", 1},
		{strings.Repeat("a", 160), 1},
		{strings.Repeat("a", 161), 2},
		{strings.Repeat("a", 306), 2},
		{strings.Repeat("a", 307), 3},
		{strings.Repeat("€", 80), 1},  // two septets each
		{strings.Repeat("€", 81), 2},  // 162 septets
		{strings.Repeat("é", 160), 1}, // é is in GSM-7
		{strings.Repeat("ж", 70), 1},  // UCS-2
		{strings.Repeat("ж", 71), 2},
		{"Код 123456" + strings.Repeat(".", 60), 1},
		{"Код 123456" + strings.Repeat(".", 61), 2},
		{strings.Repeat("😀", 35), 1}, // two UTF-16 units each
		{strings.Repeat("😀", 36), 2},
	}
	for _, tt := range tests {
		if got := sms.Segments(tt.text); got != tt.want {
			t.Errorf("Segments(%d runes, %q...) = %d, want %d", len([]rune(tt.text)), []rune(tt.text)[:min(3, len([]rune(tt.text)))], got, tt.want)
		}
	}
	if !sms.IsGSM7("Your code is 123456 @ {x}") || sms.IsGSM7("Код") {
		t.Error("IsGSM7 is wrong")
	}
}

func TestSegmentWarning(t *testing.T) {
	t.Parallel()
	texts, err := sms.NewTexts(sms.TextConfig{Login: "{{.Code}} " + strings.Repeat("x", 200)})
	if err != nil {
		t.Fatal(err)
	}
	got := texts.SegmentWarning(6, 5*time.Minute)
	if len(got) != 1 || got[phoneauth.PurposeLogin] != 2 {
		t.Errorf("SegmentWarning = %v, want login: 2", got)
	}
}
