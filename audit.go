package phoneauth

import (
	"context"
	"errors"
	"time"
	"unicode/utf8"
)

// Event is one entry of the audit trail: who did what, from where, and how
// it ended. It never holds a code or a token, and the phone number only
// masked. The service fills in Kind, ClientIP and UserAgent and hands the
// event to the Store method that does the work (in Try, Rotation,
// Revocation or Challenge), which records it, with the user, the number
// and the outcome it decided, in the same transaction: a wrong try's
// event commits with the try's count, and a call that rolls back records
// nothing. An Event with an empty Kind is not recorded.
//
// A request the service refuses with nothing written, when the refusal is
// about an account or a validly signed token the request named, has no
// transaction to ride in: its event is recorded after the refusal with
// Store.RecordEvent, off the path of every success.
type Event struct {
	ID          int64 // assigned by the store
	At          time.Time
	Kind        EventKind
	UserID      string // empty when no account is known
	PhoneMasked string // as maskPhone leaves it
	ClientIP    string
	UserAgent   string // at most MaxUserAgent bytes
	Outcome     Outcome
}

// EventKind says what an Event is about.
type EventKind string

// The kinds of Event. A lockout is the Outcome of the code check that
// caused it (OutcomeLockout), so it is recorded with that check's kind.
const (
	EventRegister      EventKind = "register"       // an account (or a new registration code) was created
	EventVerify        EventKind = "verify"         // a registration code was checked
	EventLoginRequest  EventKind = "login_request"  // a login code was created
	EventLogin         EventKind = "login"          // a login code was checked
	EventDeleteRequest EventKind = "delete_request" // a deletion code was created
	EventPhoneRequest  EventKind = "phone_request"  // a phone-change code was created, for the new number
	EventRefresh       EventKind = "refresh"        // a refresh token was rotated, or its reuse revoked the session
	EventLogout        EventKind = "logout"         // a session was revoked by its token
	EventDeleteAccount EventKind = "delete_account" // a deletion code was checked
	EventChangePhone   EventKind = "change_phone"   // a phone-change code was checked
	// EventAdmin is an action of an operator, recorded with
	// Store.RecordEvent; Outcome says what was done.
	EventAdmin EventKind = "admin"
)

// Outcome says how the action of an Event ended.
type Outcome string

// The outcomes an Event records.
const (
	OutcomeOK      Outcome = "ok"
	OutcomeFailed  Outcome = "failed"  // a wrong code
	OutcomeLockout Outcome = "lockout" // a wrong code that locked the account
	OutcomeLocked  Outcome = "locked"  // refused: the account is locked
	OutcomeExpired Outcome = "expired" // refused: the code or token has expired
	OutcomeReused  Outcome = "reused"  // a spent refresh token: the session is revoked
	OutcomeRefused Outcome = "refused" // any other refusal
)

// MaxUserAgent is how many bytes of a User-Agent an Event keeps.
const MaxUserAgent = 200

// OutcomeOf is the Outcome of an action that ended with err, as returned
// by Try.Decide, Rotation.Decide and the Store methods.
func OutcomeOf(err error) Outcome {
	switch {
	case err == nil:
		return OutcomeOK
	case errors.Is(err, ErrAccountLocked) && errors.Is(err, ErrCodeWrong):
		return OutcomeLockout
	case errors.Is(err, ErrCodeWrong):
		return OutcomeFailed
	case errors.Is(err, ErrAccountLocked):
		return OutcomeLocked
	case errors.Is(err, ErrCodeExpired), errors.Is(err, ErrTokenExpired):
		return OutcomeExpired
	case errors.Is(err, ErrTokenReused):
		return OutcomeReused
	}
	return OutcomeRefused
}

// Decided returns e as a Store records it: at at, about account userID
// with number phone (E.164, masked here; empty if unknown), ending with
// err, its user agent truncated. ok is false when e is not to be
// recorded (its Kind is empty).
func (e Event) Decided(at time.Time, userID, phone string, err error) (_ Event, ok bool) {
	if e.Kind == "" {
		return Event{}, false
	}
	e.At, e.UserID, e.Outcome = at, userID, OutcomeOf(err)
	if phone != "" {
		e.PhoneMasked = maskPhone(phone)
	}
	e.UserAgent = truncateUTF8(e.UserAgent, MaxUserAgent)
	return e, true
}

// event starts the Event of kind k of a request from clientIP with
// userAgent.
func (s *Service) event(k EventKind, clientIP, userAgent string) Event {
	return Event{Kind: k, ClientIP: clientIP, UserAgent: truncateUTF8(userAgent, MaxUserAgent)}
}

// recordRefusal records event e of a request refused with err, about
// account userID (empty if unknown) with number phone (E.164; empty keeps
// e.PhoneMasked), with Store.RecordEvent in a transaction of its own: a
// refusal writes nothing the event could ride in. The flows call it for
// refusals that are answers about an account or a token the request named
// (no such account, not verified, locked, a code still pending, an SMS
// budget spent, a token whose session is revoked, ended or whose user is
// gone), never for a success, and never for what any client can send
// without limit: a malformed request (an invalid number, a token that is
// not validly signed), one refused by a per-IP limit, a failure of the
// service. Its outcome is OutcomeOf(err). A failure to record is logged at
// WARN and changes nothing of the answer.
func (s *Service) recordRefusal(ctx context.Context, e Event, userID, phone string, err error) {
	ev, ok := e.Decided(s.now(), userID, phone, err)
	if !ok {
		return
	}
	// Not cancelled with the request: a client that hangs up is still
	// the one that was refused.
	if rerr := s.store.RecordEvent(context.WithoutCancel(ctx), ev); rerr != nil {
		s.log.WarnContext(ctx, "audit event of a refused request not recorded",
			"kind", string(ev.Kind), "outcome", string(ev.Outcome), "user_id", userID, "phone", ev.PhoneMasked, "err", rerr)
	}
}

// tokenRefusalWindow is how long a refused token's refusals are
// recorded once: a client replaying a revoked or expired token, which it
// may do at will (the token flows have no per-IP limit), writes one row
// an hour, not one a request.
const tokenRefusalWindow = time.Hour

// recordTokenRefusal is recordRefusal for a refresh or logout refused
// with err, whose token was validly signed for userID: it records the
// first refusal of token in tokenRefusalWindow, counted by the limiter
// under a keyed hash of the token. Should the limiter fail, the refusal is
// recorded.
func (s *Service) recordTokenRefusal(ctx context.Context, e Event, token, userID string, err error) {
	n, _, lerr := s.limiter.Hit(ctx, "audit:token:"+s.counterKey(token), tokenRefusalWindow)
	if lerr == nil && n > 1 {
		return
	}
	s.recordRefusal(ctx, e, userID, "", err)
}

// budgetRefused reports whether err, an error of send, is an SMS budget's
// refusal (a *ThrottledError) rather than a failure to send.
func budgetRefused(err error) bool {
	var t *ThrottledError
	return errors.As(err, &t)
}

// truncateUTF8 cuts s to at most n bytes without splitting a rune.
func truncateUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	s = s[:n]
	for len(s) > 0 && !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s
}
