package phoneauth

import (
	"context"
	"iter"
)

// Seeder creates accounts in bulk, outside the flows: the phoneauth seed
// command fills a database with users for a benchmark to sign in. Each
// account is written as a registration verified at its CreatedAt leaves it
// (the same columns and defaults: no failed checks, no lockout unless
// LockedUntil is set), so the flows treat it as any other; an account
// whose Verified is false is written unverified, with no code, and
// Store.Prune deletes it UnverifiedRetention after its CreatedAt.
// Seeding records no audit event (no one registered) and sends no SMS.
// Implementations live in sqlite/ and postgres/; all of them pass
// storetest.RunSeed.
type Seeder interface {
	// SeedUsers writes every user of users (ID and Phone in the forms the
	// service mints them: a UUID and an E.164 number) in one
	// transaction, and returns how many it wrote. It is all or nothing:
	// if any ID or phone number is taken, by an account already stored or
	// by another of users, it writes none and returns ErrUserExists; if
	// ctx ends, none either. Unlike the Store's methods it is bounded by
	// ctx alone, not by the store's call timeout, since a million rows
	// take a while; meanwhile it may hold up the flows' writes (SQLite
	// has one writer), so seed a database that is not serving.
	SeedUsers(ctx context.Context, users iter.Seq[User]) (int64, error)
}
