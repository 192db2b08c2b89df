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

// Session is a signed-in device: one chain of refresh tokens, revoked as a
// whole on logout or when a spent refresh token is presented again.
type Session struct {
	ID        string
	UserID    string
	CreatedAt time.Time
	ExpiresAt time.Time
}

// TokenType is the "type" claim of a token.
type TokenType string

// The token types, as flask-jwt-extended names them.
const (
	TokenAccess  TokenType = "access"
	TokenRefresh TokenType = "refresh"
)

// TokenRecord is what the store keeps of an issued token: never the token
// itself, only its ID and lifetime.
type TokenRecord struct {
	JTI       string
	Type      TokenType
	ExpiresAt time.Time
}
