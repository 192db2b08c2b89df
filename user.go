package phoneauth

import "time"

// User is an account, identified publicly by ID (a UUID) and by its phone
// number in E.164 form.
type User struct {
	ID        string
	Phone     string
	Verified  bool
	CreatedAt time.Time
	// LockedUntil is when the account's lockout ends; zero, or a time
	// past, when it is not locked.
	LockedUntil time.Time
}

// Guard is an account's record against guessing, kept in the database
// with the account: the failed code checks since its last success or
// lockout, across codes and flows, and the lockouts since its last
// success.
type Guard struct {
	Failures    int
	Lockouts    int
	LockedUntil time.Time // zero when never locked
}
