package phoneauth

import "time"

// User is an account, identified publicly by ID (a UUID) and by its phone
// number in E.164 form.
type User struct {
	ID        string
	Phone     string
	Verified  bool
	CreatedAt time.Time
}
