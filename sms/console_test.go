package sms_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/phoneauth/phoneauth"
	"github.com/phoneauth/phoneauth/sms"
)

func TestConsoleSend(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		msg  phoneauth.Message
	}{
		{
			name: "register message logged with recipient, purpose and text",
			msg: phoneauth.Message{
				To: "+15551234567", Text: "Your code is 123456", Code: "123456",
				Purpose: phoneauth.PurposeRegister, ExpiresIn: 5 * time.Minute,
			},
		},
		{
			name: "login message logged with recipient, purpose and text",
			msg: phoneauth.Message{
				To: "+447700900123", Text: "Login code: 9876", Code: "9876",
				Purpose: phoneauth.PurposeLogin, ExpiresIn: time.Minute,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var buf bytes.Buffer
			c := sms.NewConsole(slog.New(slog.NewJSONHandler(&buf, nil)))

			if err := c.Send(context.Background(), tt.msg); err != nil {
				t.Fatalf("Send: %v", err)
			}

			lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
			if len(lines) != 1 {
				t.Fatalf("got %d log lines, want 1:\n%s", len(lines), buf.String())
			}
			var rec map[string]any
			if err := json.Unmarshal([]byte(lines[0]), &rec); err != nil {
				t.Fatalf("log line is not JSON: %v\n%s", err, lines[0])
			}
			delete(rec, "time")
			delete(rec, "msg")
			want := map[string]any{
				"level":   "INFO",
				"to":      tt.msg.To,
				"purpose": string(tt.msg.Purpose),
				"text":    tt.msg.Text,
			}
			if !reflect.DeepEqual(rec, want) {
				t.Errorf("log record = %v, want %v", rec, want)
			}
		})
	}
}

func TestCheckConsoleAddr(t *testing.T) {
	t.Parallel()
	tests := []struct {
		addr string
		ok   bool
	}{
		{"127.0.0.1:8080", true},
		{"127.0.0.2:0", true},
		{"[::1]:8080", true},
		{"[::ffff:127.0.0.1]:8080", true},
		{"localhost:8080", true},
		{"LOCALHOST:8080", true},
		{"0.0.0.0:8080", false},
		{":8080", false},
		{"[::]:8080", false},
		{"10.0.0.7:8080", false},
		{"[2001:db8::1]:8080", false},
		{"sms.example:8080", false},
		{"localhost.:8080", false},
		{"my.localhost:8080", false},
		{"8080", false},
	}
	for _, tt := range tests {
		t.Run(tt.addr, func(t *testing.T) {
			t.Parallel()
			if err := sms.CheckConsoleAddr(tt.addr); (err == nil) != tt.ok {
				t.Errorf("CheckConsoleAddr(%q) = %v, want ok: %v", tt.addr, err, tt.ok)
			}
		})
	}
}
