package phoneauth

import "time"

// Tokens signs and checks the JWTs handed to clients. The implementation in
// token/ writes the flask-jwt-extended layout.
type Tokens interface {
	// Issue returns a signed token of type typ for subject sub.
	Issue(sub string, typ TokenType, now time.Time) (Token, error)
	// Parse checks signature, time claims and layout of raw. Errors:
	// ErrTokenInvalid (malformed or wrongly signed), ErrTokenExpired.
	Parse(raw string, now time.Time) (Claims, error)
}

// Token is a signed token and what the store keeps of it.
type Token struct {
	Raw string
	TokenRecord
}

// Claims are the checked claims of a parsed token.
type Claims struct {
	Subject string
	TokenRecord
}

// TokenPair is what a successful login or refresh returns.
type TokenPair struct {
	Access  string
	Refresh string
}
