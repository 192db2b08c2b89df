package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/phoneauth/phoneauth"
)

// TestEveryDomainKindHasAnAnswer keeps the error table and the domain's
// list of kinds in step: a kind added to phoneauth without a row here would
// answer 500.
func TestEveryDomainKindHasAnAnswer(t *testing.T) {
	t.Parallel()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	for _, err := range domainErrors() {
		t.Run(err.Error(), func(t *testing.T) {
			t.Parallel()
			w := httptest.NewRecorder()
			writeError(w, httptest.NewRequest(http.MethodPost, "/", nil), log, fmt.Errorf("some flow: %w", err))
			if w.Code == http.StatusInternalServerError {
				t.Errorf("status 500 %s: the error table has no row for this kind", w.Body)
			}
		})
	}
}

// exampleUserID is the user_id of the login throttle's answers.
const exampleUserID = "587c0bae-5a92-4c75-a2a8-ce1e164bcaf5"

// domainErrors returns an error of every kind the domain returns, each
// limit's inside a *phoneauth.ThrottledError as the domain returns it.
func domainErrors() []error {
	var errs []error
	for _, k := range phoneauth.Kinds() {
		// The domain returns these only inside their limit.
		switch k {
		case phoneauth.ErrTooManyAttempts:
			k = &phoneauth.ThrottledError{Limit: phoneauth.LimitAttempts, Err: k}
		case phoneauth.ErrAccountLocked:
			k = &phoneauth.ThrottledError{Limit: phoneauth.LimitLockout, Err: k}
		case phoneauth.ErrLoginPending:
			k = &phoneauth.ThrottledError{Limit: phoneauth.LimitLoginPending, Err: k, UserID: exampleUserID}
		case phoneauth.ErrCodePending:
			k = &phoneauth.ThrottledError{Limit: phoneauth.LimitCodePending, Err: k}
		}
		errs = append(errs, k)
	}
	for _, l := range []phoneauth.Limit{phoneauth.LimitLoginPending, phoneauth.LimitCodePending, phoneauth.LimitIP, phoneauth.LimitSMSBudget,
		phoneauth.LimitAttempts, phoneauth.LimitLockout, phoneauth.LimitIPVerify,
		phoneauth.LimitSMSDay, phoneauth.LimitSMSPhone, phoneauth.LimitSMSRange, phoneauth.LimitSMSCountry} {
		errs = append(errs, &phoneauth.ThrottledError{Limit: l, RetryAfter: time.Second, UserID: exampleUserID})
	}
	return append(errs, phoneauth.ErrUnavailable)
}

func TestUnknownErrorsAre500WithAGenericBody(t *testing.T) {
	t.Parallel()
	w := httptest.NewRecorder()
	writeError(w, httptest.NewRequest(http.MethodPost, "/", nil), slog.New(slog.NewTextHandler(io.Discard, nil)), errors.New("secret detail"))
	if got, want := w.Code, http.StatusInternalServerError; got != want {
		t.Errorf("status = %d, want %d", got, want)
	}
	if got, want := w.Body.String(), "{\"error\":\"Internal error\"}\n"; got != want {
		t.Errorf("body = %q, want %q", got, want)
	}
}

func TestOnlyAClientGoneIsNoFailure(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		cancelled bool // the request's context, as when its client went away
		err       error
		status    int
		level     string // of the one line writeError logs; "" for none
	}{
		{"client gone while the database answered", true, fmt.Errorf("store: register: sqlite: register: %w", context.Canceled), 499, "DEBUG"},
		{"client gone while the SMS was sent", true, fmt.Errorf("%w: sms webhook: post: %w", phoneauth.ErrSendFailed, context.Canceled), 499, "DEBUG"},
		{"client gone, an unknown failure of its own", true, errors.New("disk on fire"), 500, "ERROR"},
		{"client gone, an answer of its own", true, phoneauth.ErrUserExists, 409, ""},
		{"client there, a cancellation of the service's own", false, fmt.Errorf("some flow: %w", context.Canceled), 500, "ERROR"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := httptest.NewRequest(http.MethodPost, "/", nil)
			if tt.cancelled {
				ctx, cancel := context.WithCancel(r.Context())
				cancel()
				r = r.WithContext(ctx)
			}
			var logs bytes.Buffer
			w := httptest.NewRecorder()

			writeError(w, r, slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})), tt.err)

			if w.Code != tt.status {
				t.Errorf("status = %d, want %d", w.Code, tt.status)
			}
			if tt.status == 499 {
				if got, want := w.Body.String(), "{\"error\":\"Client closed request\"}\n"; got != want {
					t.Errorf("body = %q, want %q", got, want)
				}
			}
			var levels []string
			for line := range strings.Lines(logs.String()) {
				var rec struct{ Level string }
				if err := json.Unmarshal([]byte(line), &rec); err != nil {
					t.Fatalf("log line %q: %v", line, err)
				}
				levels = append(levels, rec.Level)
			}
			var want []string
			if tt.level != "" {
				want = []string{tt.level}
			}
			if !slices.Equal(levels, want) {
				t.Errorf("log levels = %q, want %q", levels, want)
			}
		})
	}
}
