package phoneauth

import "errors"

// Metrics is told what the flows decide, for an operator's dashboards and
// alerts. It is given no phone number, user ID or address: only purposes,
// outcomes and the names of limits. Implementations must be safe for
// concurrent use; metrics/ has the Prometheus one. The default counts
// nothing.
type Metrics interface {
	// CodeChecked counts one code check of purpose p that reached its
	// code, with its outcome (see CodeOutcome).
	CodeChecked(p Purpose, outcome CodeOutcome)
	// Limited counts one request refused by limit l.
	Limited(l Limit)
	// RefreshReused counts one refresh with a spent refresh token, which
	// revoked its session.
	RefreshReused()
	// SessionRevoked counts one session ended for reason.
	SessionRevoked(reason RevokeReason)
}

// CodeOutcome is how a code check ended.
type CodeOutcome string

// The outcomes of a code check.
const (
	CodeOK              CodeOutcome = "ok"
	CodeWrong           CodeOutcome = "wrong"
	CodeExpired         CodeOutcome = "expired"
	CodeTooManyAttempts CodeOutcome = "too_many_attempts" // the code's last wrong try, or a try at a dead code
	CodeLocked          CodeOutcome = "locked"            // the try that locked the account, or a try while it is locked
)

// RevokeReason says why a session ended.
type RevokeReason string

// The reasons a session is revoked.
const (
	RevokedLogout RevokeReason = "logout" // a logout with one of its tokens
	RevokedReuse  RevokeReason = "reuse"  // a spent refresh token was presented again
)

// codeOutcome classifies the answer of a code check, err as Try.Decide
// returned it: ok is false for answers that checked no code (an unknown
// token or user, a store failure).
func codeOutcome(err error) (_ CodeOutcome, ok bool) {
	var t *ThrottledError
	switch {
	case err == nil:
		return CodeOK, true
	case errors.As(err, &t) && t.Limit == LimitLockout:
		return CodeLocked, true
	case errors.As(err, &t) && t.Limit == LimitAttempts:
		return CodeTooManyAttempts, true
	case errors.Is(err, ErrCodeExpired):
		return CodeExpired, true
	case errors.Is(err, ErrCodeWrong):
		return CodeWrong, true
	}
	return "", false
}

// observe tells s's Metrics about the answer of a flow: the limit that
// refused it, if any. Every flow defers it, so every refusal is counted
// once, wherever it came from.
func (s *Service) observe(err error) {
	var t *ThrottledError
	if errors.As(err, &t) {
		s.metrics.Limited(t.Limit)
	}
}

// observeCode counts a code check of purpose p whose answer was err.
func (s *Service) observeCode(p Purpose, err error) {
	if o, ok := codeOutcome(err); ok {
		s.metrics.CodeChecked(p, o)
	}
}

// nopMetrics is the Metrics of a Service given none.
type nopMetrics struct{}

func (nopMetrics) CodeChecked(Purpose, CodeOutcome) {}
func (nopMetrics) Limited(Limit)                    {}
func (nopMetrics) RefreshReused()                   {}
func (nopMetrics) SessionRevoked(RevokeReason)      {}
