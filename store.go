package phoneauth

import (
	"context"
	"time"
)

// Store keeps accounts, challenges and sessions. The service mints every
// ID a Store records; a Store decides codes with Challenge.Check and
// returns the error kinds its methods list (see IsKind) as they are. Every
// method but Prune is atomic: it runs as one transaction and decides on the data as it is at
// commit, never on an earlier read. Implementations live in sqlite/ and
// postgres/; all of them pass storetest.Run. Errors other than the kinds
// listed are failures of the store itself; when the database cannot be
// reached they wrap ErrUnavailable.
type Store interface {
	// Register creates user u with its registration challenge c (c.UserID
	// is ignored). If an account with u.Phone exists and is verified, or is
	// unverified but has a registration challenge that is unconsumed and
	// unexpired at now, it returns ErrUserExists. If the account is
	// unverified and has no live registration challenge, c replaces its
	// challenge and the existing account keeps its ID, so an account whose
	// code expired (or whose SMS was lost) can be registered again. An
	// unverified account locked at now changes nothing either: Register
	// returns when its lockout ends with ErrAccountLocked.
	Register(ctx context.Context, u User, c Challenge, now time.Time) (lockedUntil time.Time, err error)

	// CancelRegistration deletes registration challenge challengeID and, if
	// its account is unverified and was created with it (the account's
	// CreatedAt is the challenge's), the account; an account that existed
	// before keeps its record, failed checks and lockouts included. It
	// undoes a Register whose SMS could not be sent. Deleting what does not
	// exist is no error.
	CancelRegistration(ctx context.Context, challengeID string) error

	// UserByPhone returns the account with that E.164 number, its
	// LockedUntil included, or ErrUserNotFound.
	UserByPhone(ctx context.Context, phone string) (User, error)

	// PutLoginChallenge makes c the login challenge of the account with
	// number phone (c.UserID is ignored: the account's ID takes its place),
	// replacing its earlier login challenge, and returns the account (its
	// ID, Phone, Verified and CreatedAt). It decides at commit, in the
	// order given, that the account exists (else ErrUserNotFound), is
	// verified (else ErrNotVerified), is not locked at c.CreatedAt (else
	// ErrAccountLocked; the account's LockedUntil says until when) and has
	// no login challenge that is unconsumed and was created after
	// notBefore (else ErrLoginPending with that one's CreatedAt, zero if
	// the store cannot tell). A refusal changes nothing and returns the
	// account with its LockedUntil (zero for ErrUserNotFound). The login
	// throttle is kept here, in the database, so no restart or limiter
	// flush frees it; and a lockout committed before the put, by a
	// concurrent try too, refuses it (one committed after it cannot stop
	// that code's SMS, but refuses every try of the code). c.Audit is
	// recorded, with the account's ID, in the same transaction.
	PutLoginChallenge(ctx context.Context, phone string, c Challenge, notBefore time.Time) (u User, pendingSince time.Time, err error)

	// DeleteChallenge deletes challenge id if it exists.
	DeleteChallenge(ctx context.Context, id string) error

	// VerifyRegistration locks registration challenge challengeID of the
	// account of phone and the account's Guard, lets t.Decide decide the
	// try and stores what it decided, all in one transaction; if the try
	// passed, the challenge is consumed and the account marked verified.
	// It returns the account (also with the answers below, once the
	// challenge was found) and Decide's answer. Errors:
	// ErrChallengeNotFound (no such challenge for that phone), and those
	// of Try.Decide.
	VerifyRegistration(ctx context.Context, challengeID, phone string, t Try) (User, error)

	// VerifyLogin does the same for the login challenge of userID and, if
	// the try passed, creates session s in the same transaction. Errors:
	// ErrNoPendingLogin (no login challenge, or an unknown user), and those
	// of Try.Decide.
	VerifyLogin(ctx context.Context, userID string, t Try, s Session) (User, error)

	// PutChallenge makes c the challenge of purpose c.Purpose of account
	// c.UserID, replacing the earlier one. It decides at commit, in the
	// order given, that the account exists (else ErrUserNotFound), is not
	// locked at c.CreatedAt (else ErrAccountLocked with the account's
	// LockedUntil) and has no challenge of c.Purpose that is unconsumed
	// and was created after notBefore (else ErrCodePending with that
	// one's CreatedAt, zero if the store cannot tell). A refusal changes
	// nothing; a lockout committed before the put, by a concurrent try
	// too, refuses it. The codes of a signed-in account (PurposeDelete,
	// PurposePhone with its NewPhone) are put with it, c.Audit recorded in
	// the same transaction as c; a login code goes through
	// PutLoginChallenge, which reads the account by number and checks it
	// is verified too.
	PutChallenge(ctx context.Context, c Challenge, notBefore time.Time) (lockedUntil, pendingSince time.Time, err error)

	// DeleteAccount deletes account userID once a deletion code confirms
	// it. In one transaction it reads the account and the session of
	// access token access, lets CheckAccess admit the token, locks the
	// account's Guard and its deletion challenge, lets t.Decide decide
	// the try and stores what it decided; if the try passed, it deletes
	// the account with all its challenges and sessions (and the jtis
	// recorded in them), so that its number is free at once and none of
	// its tokens is accepted again. It returns the account (also with the
	// answers of Decide) and Decide's answer. Errors: ErrUserNotFound (no
	// such account, one deleted concurrently included), ErrTokenRevoked
	// (CheckAccess), ErrNoPendingCode (no deletion challenge), and those
	// of Try.Decide.
	DeleteAccount(ctx context.Context, userID string, access TokenRef, t Try) (User, error)

	// ChangePhone moves account userID to the number its phone-change
	// code was sent to, once that code is verified. In one transaction it
	// reads the account and the session of access token access, lets
	// CheckAccess admit the token, locks the account's Guard and its
	// phone-change challenge, lets t.Decide decide the try and stores what
	// it decided; if the try passed, the account takes the challenge's
	// NewPhone, every other challenge of the account is deleted (its codes
	// went to the old number), and every session of the account but the
	// access token's is revoked. It returns the account (with its new
	// number once moved) and Decide's answer. Errors: ErrUserNotFound,
	// ErrTokenRevoked (CheckAccess), ErrNoPendingCode (no phone-change
	// challenge), ErrUserExists (another account has the number by now:
	// nothing is written, the try not counted), and those of Try.Decide.
	ChangePhone(ctx context.Context, userID string, access TokenRef, t Try) (User, error)

	// RotateRefresh presents refresh token r.Token. In one transaction it
	// locks the session the token belongs to (r.Token.Ref.Session for a
	// token phoneauth signed; for another, the session its jti was
	// recorded in), lets r.Decide say what becomes of it, writes that, and
	// returns the session as it then is: its current refresh token is
	// what the client gets. A token not phoneauth's own that the store
	// never saw creates session r.Adopt and records its jti there; if a
	// concurrent call recorded it first, the token is decided against that
	// session instead. Errors: those of Rotation.Decide (ErrTokenReused
	// once the revocation is committed; ErrTokenRevoked; ErrTokenExpired),
	// ErrUserNotFound (r.Adopt.UserID does not exist).
	RotateRefresh(ctx context.Context, r Rotation) (Session, error)

	// RevokeToken revokes the session of token r.Token, so none of its
	// tokens is accepted again. A token phoneauth signed whose session the
	// store does not hold needs nothing: it is refused anyway; but if its
	// subject is no user either (a deleted account), ErrUserNotFound. A token not
	// phoneauth's own that the store never saw is recorded in session
	// r.Record (revoked). Revoking twice is no error. ErrUserNotFound if
	// r.Record is to be created and its user does not exist.
	RevokeToken(ctx context.Context, r Revocation) error

	// AccessUser returns user userID for a request bearing access token t,
	// once CheckAccess has admitted t given the session the store holds for
	// it, read in the same query. Errors: ErrUserNotFound, those of
	// CheckAccess (ErrTokenRevoked).
	AccessUser(ctx context.Context, userID string, t TokenRef) (User, error)

	// Prune deletes what can no longer matter at now and returns how many
	// rows it deleted: challenges consumed by now or expired at now; the
	// recorded jtis of tokens not phoneauth's own that expired at now;
	// sessions that ended at now and hold no such jti any more; audit
	// events recorded longer than the store's audit retention (see
	// Policy.AuditRetention) before now; and
	// unverified accounts whose registration code expired
	// UnverifiedRetention before now (or that have none and were created
	// that long ago), with that code. Every token phoneauth signs expires
	// with its session at the latest, so Tokens.Parse refuses it before any
	// store is asked; and a recorded jti keeps its session until the token
	// expires, so a spent token of another backend is still told apart
	// from a new one. A consumed challenge goes at once; the unconsumed
	// registration code of an unverified account stays until its account
	// goes. It never deletes verified users. A challenge, once pruned, is
	// unknown: verifying it returns ErrNoPendingLogin or
	// ErrChallengeNotFound, not ErrCodeExpired.
	//
	// now must not be ahead of the clock of any instance, or a jti that an
	// instance still accepts could lose its record (a spent token of
	// another backend would then start a new session); to allow for skew,
	// pass the clock minus a margin.
	//
	// Unlike the other methods Prune may run as several transactions, each
	// deleting a bounded batch, so it never holds the database for long;
	// every row it deletes is dead whichever batch takes it. Rows that a
	// concurrent call holds, another Prune's included, may be left to the
	// next Prune. If ctx ends or the store fails midway, it returns the rows
	// deleted so far with the error.
	Prune(ctx context.Context, now time.Time) (int64, error)

	// RecordEvent records audit event e as it is (At, Kind and Outcome
	// set; ID ignored) in a transaction of its own. It is for what has no
	// transaction of its own to ride in: an operator's action
	// (EventAdmin), or a request the service refused with nothing written;
	// the events of what the flows write ride in the calls above.
	RecordEvent(ctx context.Context, e Event) error

	// Events returns the audit events of account userID (all accounts'
	// when empty) of kind kind (every kind when empty) recorded at since
	// or later, newest first, at most limit: the limit keeps the newest.
	Events(ctx context.Context, userID string, kind EventKind, since time.Time, limit int) ([]Event, error)

	// Ping reports whether the database answers.
	Ping(ctx context.Context) error
}

// UnverifiedRetention is how long an unverified account is kept after its
// registration code died: then Store.Prune deletes it, since a phone
// number is personal data, kept for no purpose once it cannot be verified.
const UnverifiedRetention = 24 * time.Hour

// Rotation is the input of Store.RotateRefresh, and of Decide, which
// holds the rule.
type Rotation struct {
	// Token is the refresh token presented.
	Token Claims
	// Adopt is the session a token not phoneauth's own, never seen,
	// starts: the token is its generation 0, spent by this rotation.
	Adopt Session
	Now   time.Time
	// Grace is Policy.RefreshReuseGrace.
	Grace time.Duration
	// Audit is the event RotateRefresh records, with Audit.Decided, in
	// its transaction whenever it writes (a rotation, an adoption, a
	// revocation for reuse); a refusal that writes nothing records nothing
	// (the service records it itself, with RecordEvent).
	Audit Event
}

// Revocation is the input of Store.RevokeToken.
type Revocation struct {
	// Token is the token presented.
	Token Claims
	// Record is the session, revoked, in which a token not phoneauth's
	// own that the store never saw is recorded; its UserID is the token's
	// subject.
	Record Session
	Now    time.Time
	// Audit is the event RevokeToken records, with Audit.Decided, in the
	// transaction that revokes; nothing is recorded when nothing is
	// revoked.
	Audit Event
}
