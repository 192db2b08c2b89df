package storetest

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/phoneauth/phoneauth"
)

// client is the request an audited call comes from in these tests.
const (
	clientIP  = "192.0.2.7"
	userAgent = "storetest/1.0"
)

// audit is the event the service hands a Store for an action of kind k.
func audit(k phoneauth.EventKind) phoneauth.Event {
	return phoneauth.Event{Kind: k, ClientIP: clientIP, UserAgent: userAgent}
}

// audited is Try with the event of kind k.
func audited(h []byte, now time.Time, k phoneauth.EventKind) phoneauth.Try {
	t := Try(h, now)
	t.Audit = audit(k)
	return t
}

// masked is how an event shows phone.
func masked(phone string) string { return phone[:2] + "***" + phone[len(phone)-2:] }

// events returns every event the store holds for userID (all if empty),
// oldest first (Events returns them newest first).
func (f *fixture) events(userID string) []phoneauth.Event {
	f.t.Helper()
	got, err := f.s.Events(f.t.Context(), userID, "", time.Time{}, 1000)
	if err != nil {
		f.t.Fatalf("Events(%q): %v", userID, err)
	}
	slices.Reverse(got)
	return got
}

// wantEvents fails the test unless the events of userID (all if empty)
// are, in order, of the kinds and outcomes in want (kind/outcome), each
// at now, from the test's client, with the user and phone given (phone
// empty: not checked).
func (f *fixture) wantEvents(userID, phone string, now time.Time, want ...string) {
	f.t.Helper()
	got := f.events(userID)
	var kinds []string
	for _, e := range got {
		kinds = append(kinds, string(e.Kind)+"/"+string(e.Outcome))
	}
	if strings.Join(kinds, " ") != strings.Join(want, " ") {
		f.t.Fatalf("events of %q: got %v, want %v", userID, kinds, want)
	}
	for _, e := range got {
		if e.ClientIP != clientIP || e.UserAgent != userAgent {
			f.t.Errorf("event %s: got client %q %q, want %q %q", e.Kind, e.ClientIP, e.UserAgent, clientIP, userAgent)
		}
		if userID != "" && e.UserID != userID {
			f.t.Errorf("event %s: got user %q, want %q", e.Kind, e.UserID, userID)
		}
		if phone != "" && e.PhoneMasked != masked(phone) {
			f.t.Errorf("event %s: got phone %q, want %q", e.Kind, e.PhoneMasked, masked(phone))
		}
		if d := e.At.Sub(now).Abs(); d >= time.Millisecond || e.At.Location() != time.UTC {
			f.t.Errorf("event %s: got time %v, want %v in UTC", e.Kind, e.At, now)
		}
	}
}

// wantNoSecret fails the test if any event holds one of secrets.
func (f *fixture) wantNoSecret(secrets ...string) {
	f.t.Helper()
	for _, e := range f.events("") {
		for _, field := range []string{string(e.Kind), e.UserID, e.PhoneMasked, e.ClientIP, e.UserAgent, string(e.Outcome)} {
			for _, s := range secrets {
				if s != "" && strings.Contains(field, s) {
					f.t.Errorf("event %s holds %q", e.Kind, s)
				}
			}
		}
	}
}

func testAudit(t *testing.T, open func(*testing.T) phoneauth.Store) {
	t.Run("registration and its codes record their events in their transactions", func(t *testing.T) {
		f := newFixture(t, open)
		ctx := t.Context()
		phone := phoneN(1)
		u := newUser(phone, base)
		c := newChallenge(phoneauth.PurposeRegister, "", "111111", base)
		c.Audit = audit(phoneauth.EventRegister)
		if _, err := f.s.Register(ctx, u, c, base); err != nil {
			t.Fatalf("Register: %v", err)
		}
		// Refused: nothing is written, no event either.
		again := c
		again.ID = newID()
		_, err := f.s.Register(ctx, newUser(phone, base), again, base)
		wantErr(t, "Register again", err, phoneauth.ErrUserExists)
		// An unknown challenge is no try: nothing recorded.
		_, err = f.s.VerifyRegistration(ctx, newID(), phone, audited(hash("111111"), base, phoneauth.EventVerify))
		wantErr(t, "VerifyRegistration of an unknown challenge", err, phoneauth.ErrChallengeNotFound)
		// A wrong try fails but its event commits with its count.
		_, err = f.s.VerifyRegistration(ctx, c.ID, phone, audited(hash("000000"), base, phoneauth.EventVerify))
		wantErr(t, "VerifyRegistration with a wrong code", err, phoneauth.ErrCodeWrong)
		if _, err := f.s.VerifyRegistration(ctx, c.ID, phone, audited(c.CodeHash, base, phoneauth.EventVerify)); err != nil {
			t.Fatalf("VerifyRegistration: %v", err)
		}
		f.wantEvents(u.ID, phone, base, "register/ok", "verify/failed", "verify/ok")
		f.wantNoSecret(phone, "111111", c.ID)
	})

	t.Run("login codes record the request, failed checks, the lockout and the refusal while locked", func(t *testing.T) {
		f := newFixture(t, open)
		ctx := t.Context()
		phone := phoneN(2)
		u := f.verified(phone)
		c := newChallenge(phoneauth.PurposeLogin, "", "222222", base)
		c.Audit = audit(phoneauth.EventLoginRequest)
		c.Audit.PhoneMasked = masked(phone)
		if _, _, err := f.s.PutLoginChallenge(ctx, phone, c, base.Add(-time.Minute)); err != nil {
			t.Fatalf("PutLoginChallenge: %v", err)
		}
		// Throttled: nothing written, nothing recorded.
		c2 := newChallenge(phoneauth.PurposeLogin, u.ID, "333333", base)
		c2.Audit = c.Audit
		_, _, err := f.s.PutLoginChallenge(ctx, phone, c2, base.Add(-time.Minute))
		wantErr(t, "PutLoginChallenge while one is pending", err, phoneauth.ErrLoginPending)

		sess := newSession(u.ID, base)
		try := audited(hash("000000"), base, phoneauth.EventLogin)
		_, err = f.s.VerifyLogin(ctx, u.ID, try, sess)
		wantErr(t, "VerifyLogin with a wrong code", err, phoneauth.ErrCodeWrong)
		try.Policy.LockoutThreshold = 2
		_, err = f.s.VerifyLogin(ctx, u.ID, try, sess)
		wantErr(t, "VerifyLogin with the wrong code that locks", err, phoneauth.ErrAccountLocked)
		_, err = f.s.VerifyLogin(ctx, u.ID, audited(c.CodeHash, base, phoneauth.EventLogin), sess)
		wantErr(t, "VerifyLogin while locked", err, phoneauth.ErrAccountLocked)
		f.wantEvents(u.ID, phone, base, "login_request/ok", "login/failed", "login/lockout", "login/locked")
	})

	t.Run("account code requests record their event with the code; a throttled one records nothing", func(t *testing.T) {
		f := newFixture(t, open)
		ctx := t.Context()
		phone, next := phoneN(6), phoneN(7)
		u := f.verified(phone)
		del := newChallenge(phoneauth.PurposeDelete, u.ID, "666666", base)
		del.Audit = audit(phoneauth.EventDeleteRequest)
		del.Audit.PhoneMasked = masked(phone)
		if _, _, err := f.s.PutChallenge(ctx, del, base.Add(-time.Minute)); err != nil {
			t.Fatalf("PutChallenge(delete): %v", err)
		}
		again := newChallenge(phoneauth.PurposeDelete, u.ID, "676767", base)
		again.Audit = del.Audit
		_, _, err := f.s.PutChallenge(ctx, again, base.Add(-time.Minute))
		wantErr(t, "PutChallenge of a deletion code while one is pending", err, phoneauth.ErrCodePending)
		// The phone-change code is recorded with the number it goes to.
		ch := newChallenge(phoneauth.PurposePhone, u.ID, "777777", base)
		ch.NewPhone = next
		ch.Audit = audit(phoneauth.EventPhoneRequest)
		ch.Audit.PhoneMasked = masked(next)
		if _, _, err := f.s.PutChallenge(ctx, ch, base.Add(-time.Minute)); err != nil {
			t.Fatalf("PutChallenge(phone): %v", err)
		}
		// An unknown user: the put fails, and its event with it.
		lost := newChallenge(phoneauth.PurposeDelete, newID(), "888888", base)
		lost.Audit = del.Audit
		_, _, err = f.s.PutChallenge(ctx, lost, base)
		wantErr(t, "PutChallenge for an unknown user", err, phoneauth.ErrUserNotFound)
		f.wantEvents(u.ID, "", base, "delete_request/ok", "phone_request/ok")
		if got := f.events(u.ID); got[0].PhoneMasked != masked(phone) || got[1].PhoneMasked != masked(next) {
			t.Errorf("masked numbers: got %q, %q; want %q, %q", got[0].PhoneMasked, got[1].PhoneMasked, masked(phone), masked(next))
		}
		if got := f.events(""); len(got) != 2 {
			t.Errorf("events of every account: got %+v, want only the two", got)
		}
		f.wantNoSecret(next, "666666", "777777", del.ID, ch.ID)
	})

	t.Run("sessions record rotation, reuse and logout", func(t *testing.T) {
		f := newFixture(t, open)
		ctx := t.Context()
		u := f.verified(phoneN(3))
		sess := f.login(u)
		r := rotation(refreshOf(sess), base.Add(time.Minute), grace)
		r.Audit = audit(phoneauth.EventRefresh)
		_, err := f.s.RotateRefresh(ctx, r)
		if err != nil {
			t.Fatalf("RotateRefresh: %v", err)
		}
		// The spent token again, past the grace: reuse revokes the session.
		r.Now = base.Add(time.Minute + grace)
		_, err = f.s.RotateRefresh(ctx, r)
		wantErr(t, "RotateRefresh of a spent token", err, phoneauth.ErrTokenReused)
		// Revoked now: refused, nothing written, nothing recorded.
		_, err = f.s.RotateRefresh(ctx, r)
		wantErr(t, "RotateRefresh of a revoked session", err, phoneauth.ErrTokenRevoked)
		got := f.events(u.ID)
		if len(got) != 2 || got[0].Kind != phoneauth.EventRefresh || got[0].Outcome != phoneauth.OutcomeOK ||
			got[1].Outcome != phoneauth.OutcomeReused {
			t.Fatalf("events after rotation and reuse: got %+v, want refresh/ok, refresh/reused", got)
		}

		other := f.login(u)
		rv := revocation(u.ID, refreshOf(other), base.Add(time.Hour))
		rv.Audit = audit(phoneauth.EventLogout)
		if err := f.s.RevokeToken(ctx, rv); err != nil {
			t.Fatalf("RevokeToken: %v", err)
		}
		foreign := foreignToken(u.ID, phoneauth.TokenAccess, base)
		rv = revocation(u.ID, foreign, base.Add(time.Hour))
		rv.Audit = audit(phoneauth.EventLogout)
		if err := f.s.RevokeToken(ctx, rv); err != nil {
			t.Fatalf("RevokeToken of a foreign token: %v", err)
		}
		got = f.events(u.ID)
		if len(got) != 4 || got[2].Kind != phoneauth.EventLogout || got[3].Kind != phoneauth.EventLogout {
			t.Fatalf("events after two logouts: got %+v", got)
		}
		f.wantNoSecret(foreign.Ref.JTI)
	})

	t.Run("account codes record their checks; a rolled-back change records nothing; deletion keeps the trail", func(t *testing.T) {
		f := newFixture(t, open)
		ctx := t.Context()
		phone, taken := phoneN(4), phoneN(5)
		u := f.verified(phone)
		f.verified(taken)
		sess := f.login(u)
		c := f.putPhone(u.ID, taken, "444444", base)
		_, err := f.s.ChangePhone(ctx, u.ID, accessRef(sess), audited(hash("000000"), base, phoneauth.EventChangePhone))
		wantErr(t, "ChangePhone with a wrong code", err, phoneauth.ErrCodeWrong)
		_, err = f.s.ChangePhone(ctx, u.ID, accessRef(sess), audited(c.CodeHash, base, phoneauth.EventChangePhone))
		wantErr(t, "ChangePhone to a taken number", err, phoneauth.ErrUserExists)

		d := f.putDeletion(u.ID, "555555", base)
		if _, err := f.s.DeleteAccount(ctx, u.ID, accessRef(sess), audited(d.CodeHash, base, phoneauth.EventDeleteAccount)); err != nil {
			t.Fatalf("DeleteAccount: %v", err)
		}
		f.wantEvents(u.ID, phone, base, "change_phone/failed", "delete_account/ok")
	})

	t.Run("RecordEvent records an admin action as given, and Events filters by user and time", func(t *testing.T) {
		f := newFixture(t, open)
		ctx := t.Context()
		userID := newID()
		for i, at := range []time.Time{base, base.Add(time.Second)} {
			e := audit(phoneauth.EventAdmin)
			e.At, e.UserID, e.Outcome = at, userID, phoneauth.Outcome("unlock")
			if i == 1 {
				e.UserID = ""
			}
			if err := f.s.RecordEvent(ctx, e); err != nil {
				t.Fatalf("RecordEvent: %v", err)
			}
		}
		if got := f.events(userID); len(got) != 1 || got[0].Outcome != "unlock" || got[0].Kind != phoneauth.EventAdmin {
			t.Fatalf("Events(%s): got %+v, want the one admin/unlock", userID, got)
		}
		got, err := f.s.Events(ctx, "", "", base.Add(time.Second), 10)
		if err != nil || len(got) != 1 || got[0].UserID != "" {
			t.Fatalf("Events since the second: got %+v, %v, want the one without a user", got, err)
		}
		if got, _ := f.s.Events(ctx, "", "", time.Time{}, 1); len(got) != 1 || got[0].UserID != "" {
			t.Fatalf("Events with limit 1: got %+v, want the newest, without a user", got)
		}
		if got, _ := f.s.Events(ctx, "", phoneauth.EventAdmin, time.Time{}, 10); len(got) != 2 || !got[0].At.After(got[1].At) {
			t.Fatalf("Events of kind admin: got %+v, want both, newest first", got)
		}
		if got, _ := f.s.Events(ctx, "", phoneauth.EventLogin, time.Time{}, 10); len(got) != 0 {
			t.Fatalf("Events of kind login: got %+v, want none", got)
		}
	})

	t.Run("Prune deletes the events older than the retention, and only those", func(t *testing.T) {
		f := newFixture(t, open)
		retention := phoneauth.DefaultPolicy().AuditRetention
		for _, at := range []time.Time{base.Add(-retention - time.Second), base.Add(-retention + time.Second)} {
			e := audit(phoneauth.EventAdmin)
			e.At, e.Outcome = at, phoneauth.OutcomeOK
			if err := f.s.RecordEvent(t.Context(), e); err != nil {
				t.Fatalf("RecordEvent: %v", err)
			}
		}
		f.prune(base, 1)
		if got := f.events(""); len(got) != 1 || !got[0].At.After(base.Add(-retention)) {
			t.Fatalf("events after Prune: got %+v, want the younger one", got)
		}
	})
}
