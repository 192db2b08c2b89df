package httpapi

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/phoneauth/phoneauth"
)

// TestEveryDomainKindHasAnAnswer keeps the error table and the domain's
// list of kinds in step: a kind added to phoneauth without a row here would
// answer 500.
func TestEveryDomainKindHasAnAnswer(t *testing.T) {
	t.Parallel()
	var errs []error
	for _, k := range phoneauth.Kinds() {
		// The domain returns these only inside their limit.
		switch k {
		case phoneauth.ErrTooManyAttempts:
			k = &phoneauth.ThrottledError{Limit: phoneauth.LimitAttempts, Err: k}
		case phoneauth.ErrAccountLocked:
			k = &phoneauth.ThrottledError{Limit: phoneauth.LimitLockout, Err: k}
		case phoneauth.ErrLoginPending:
			k = &phoneauth.ThrottledError{Limit: phoneauth.LimitLoginPending, Err: k}
		}
		errs = append(errs, k)
	}
	for _, l := range []phoneauth.Limit{phoneauth.LimitLoginPending, phoneauth.LimitIP, phoneauth.LimitSMSBudget,
		phoneauth.LimitAttempts, phoneauth.LimitLockout, phoneauth.LimitIPVerify,
		phoneauth.LimitSMSDay, phoneauth.LimitSMSPhone, phoneauth.LimitSMSRange, phoneauth.LimitSMSCountry} {
		errs = append(errs, &phoneauth.ThrottledError{Limit: l, RetryAfter: time.Second})
	}
	errs = append(errs, phoneauth.ErrUnavailable)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	for _, err := range errs {
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
