package phoneauth

import "time"

// Tokens signs and checks the JWTs handed to clients. The implementation in
// token/ writes the flask-jwt-extended layout.
type Tokens interface {
	// Sign returns the token with claims c. Its jti is derived from
	// c.Ref.Session, c.Ref.Generation, c.Type, c.Subject and c.IssuedAt
	// under a key, so the same claims always give the same token: a
	// session's refresh token is minted again from what the store keeps of
	// the session, and never stored. Errors: c is not a token Sign can
	// make (no subject, an unknown type, a generation above
	// MaxGeneration).
	Sign(c Claims) (string, error)
	// Parse checks signature, time claims and layout of raw and returns
	// its claims; Ref.Own says whether Sign made its jti. Errors:
	// ErrTokenInvalid (malformed or wrongly signed), with zero Claims;
	// ErrTokenExpired, with the claims (Ref holding only the jti) of the
	// token, which is well formed and correctly signed, only late: a
	// refusal can say whose token it was.
	Parse(raw string, now time.Time) (Claims, error)
}

// TokenType is the "type" claim of a token.
type TokenType string

// The token types, as flask-jwt-extended names them.
const (
	TokenAccess  TokenType = "access"
	TokenRefresh TokenType = "refresh"
)

// MaxGeneration is the highest generation a token's jti can carry (token/
// packs it in 24 bits). A session whose refresh token has been rotated
// that often ends: see Rotation.Decide.
const MaxGeneration = 1<<24 - 1

// Claims are what a token says: what Tokens.Sign writes and Tokens.Parse
// reads. Times are whole seconds.
type Claims struct {
	Subject   string
	Type      TokenType
	IssuedAt  time.Time // zero when a parsed token has no iat
	ExpiresAt time.Time
	Ref       TokenRef
}

// TokenRef is how a store finds what it keeps about a token. The tokens
// phoneauth signs carry their session and generation in their jti, so the
// store keeps one row per session and none per token. A token phoneauth
// did not sign (one minted with the same secret by a flask-jwt-extended
// backend, or one issued before sessions counted generations) is known by
// its jti alone.
type TokenRef struct {
	// JTI is the token's jti, as Parse read it; Sign derives it.
	JTI string
	// Own says Parse found a jti that Sign made: Session and Generation
	// are then the ones it carries.
	Own        bool
	Session    uint64
	Generation uint32
}

// Token is a signed token and its claims.
type Token struct {
	Raw string
	Claims
}

// TokenPair is what a successful login or refresh returns.
type TokenPair struct {
	Access  string
	Refresh string
}
