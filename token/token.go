// Package token signs and checks the JWTs handed to clients. It writes
// exactly the layout flask-jwt-extended writes (HS256; claims fresh, iat,
// jti, type, sub, nbf, exp in that order) and accepts what flask-jwt-extended
// issues, so a Flask service sharing the secret and this one take each
// other's tokens. The jti of a token Sign makes is still a UUID string, but
// carries its session and generation under a keyed tag (see jti.go).
package token

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"

	"github.com/phoneauth/phoneauth"
)

// MinSecretLen is the shortest secret New accepts: HS256 keys shorter than
// the hash output (32 bytes) weaken the signature.
const MinSecretLen = 32

// CheckSecret returns an error if secret is too short for New: under
// MinSecretLen bytes. Its text is a predicate on the secret, to follow the
// name of the setting that holds it, as in "PHONEAUTH_JWT_SECRET is 5
// bytes; it must be at least 32 bytes (256 bits)"; it never quotes the
// secret.
func CheckSecret(secret []byte) error {
	if len(secret) < MinSecretLen {
		return fmt.Errorf("is %d bytes; it must be at least %d bytes (%d bits)", len(secret), MinSecretLen, 8*MinSecretLen)
	}
	return nil
}

// header is the JOSE header of every issued token, byte for byte what PyJWT
// writes (it sorts the header keys).
const header = `{"alg":"HS256","typ":"JWT"}`

var encodedHeader = base64.RawURLEncoding.EncodeToString([]byte(header))

// Signer issues and parses HS256 tokens with one secret. It is immutable
// and safe for concurrent use.
type Signer struct {
	secret     []byte
	jtiKey     []byte // keys the tag in the jti of a token Sign makes
	accessTTL  time.Duration
	refreshTTL time.Duration
	parser     *jwt.Parser
}

var _ phoneauth.Tokens = (*Signer)(nil)

// ClockSkew is how far in the future iat and nbf may lie: instances of a
// fleet read slightly different clocks, and a token minted on one must
// work on the next at once. exp gets no leeway.
const ClockSkew = 5 * time.Second

// New returns a Signer that signs with secret. The lifetimes are those of
// the tokens Issue makes, as flask-jwt-extended's JWT_ACCESS_TOKEN_EXPIRES
// and JWT_REFRESH_TOKEN_EXPIRES; Sign takes exp from its claims. Lifetimes
// are counted in whole seconds, as the claims are; a fraction of a second is
// dropped. It returns an error if secret fails CheckSecret or a lifetime is
// under one second.
func New(secret []byte, accessTTL, refreshTTL time.Duration) (*Signer, error) {
	var errs []error
	if err := CheckSecret(secret); err != nil {
		errs = append(errs, fmt.Errorf("token: secret %w", err))
	}
	if accessTTL < time.Second {
		errs = append(errs, fmt.Errorf("token: access TTL must be at least one second, got %s", accessTTL))
	}
	if refreshTTL < time.Second {
		errs = append(errs, fmt.Errorf("token: refresh TTL must be at least one second, got %s", refreshTTL))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return &Signer{
		secret:     append([]byte(nil), secret...),
		jtiKey:     phoneauth.DeriveKey(secret, "jti"),
		accessTTL:  accessTTL.Truncate(time.Second),
		refreshTTL: refreshTTL.Truncate(time.Second),
		// Claims are checked by hand in Parse, against the caller's now
		// and with PyJWT's integer-second rules; golang-jwt checks the
		// structure, the algorithm and the signature.
		// Strict decoding refuses base64 whose padding bits are set: a
		// lax decoder reads four spellings of each signature, and a token
		// changed in any byte must not pass.
		parser: jwt.NewParser(
			jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
			jwt.WithJSONNumber(),
			jwt.WithoutClaimsValidation(),
			// One token, one spelling: unused bits of the last base64
			// character must be zero, so no two strings carry the same
			// signed token.
			jwt.WithStrictDecoding(),
		),
	}, nil
}

// claims is the payload of an issued token. The field order is the JSON
// order, which is flask-jwt-extended's.
type claims struct {
	Fresh     bool   `json:"fresh"`
	IssuedAt  int64  `json:"iat"`
	JTI       string `json:"jti"`
	Type      string `json:"type"`
	Subject   string `json:"sub"`
	NotBefore int64  `json:"nbf"`
	ExpiresAt int64  `json:"exp"`
}

// Sign implements phoneauth.Tokens: it returns the token with claims c,
// iat and exp in whole seconds, nbf equal to iat, and a jti that carries
// c.Ref.Session and c.Ref.Generation under a tag of the key (see jti.go).
// Signing the same claims again gives the same bytes. It returns an error
// if c.Subject is empty, c.Type is neither TokenAccess nor TokenRefresh, or
// c.Ref.Generation is above phoneauth.MaxGeneration.
func (s *Signer) Sign(c phoneauth.Claims) (string, error) {
	switch {
	case c.Type != phoneauth.TokenAccess && c.Type != phoneauth.TokenRefresh:
		return "", fmt.Errorf("token: sign: unknown token type %q", c.Type)
	case c.Subject == "":
		return "", errors.New("token: sign: empty subject")
	case c.Ref.Generation > phoneauth.MaxGeneration:
		return "", fmt.Errorf("token: sign: generation %d is above %d", c.Ref.Generation, phoneauth.MaxGeneration)
	}
	iat := c.IssuedAt.Unix()
	return s.sign(claims{
		IssuedAt:  iat,
		JTI:       s.jti(c.Type, c.Subject, iat, c.Ref.Session, c.Ref.Generation),
		Type:      string(c.Type),
		Subject:   c.Subject,
		NotBefore: iat,
		ExpiresAt: c.ExpiresAt.Unix(),
	})
}

// Issue returns a token of type typ for subject sub as flask-jwt-extended's
// create_access_token and create_refresh_token make it: issued at now
// (truncated to the second), expiring the type's lifetime given to New after
// that, with a random UUID v4 as its jti, which carries no session. The service signs
// its own tokens with Sign; Issue makes what a backend sharing the secret
// hands out, which the service accepts as such. It returns an error if sub
// is empty, typ is neither TokenAccess nor TokenRefresh, or no randomness
// is available.
func (s *Signer) Issue(sub string, typ phoneauth.TokenType, now time.Time) (phoneauth.Token, error) {
	var ttl time.Duration
	switch typ {
	case phoneauth.TokenAccess:
		ttl = s.accessTTL
	case phoneauth.TokenRefresh:
		ttl = s.refreshTTL
	default:
		return phoneauth.Token{}, fmt.Errorf("token: issue: unknown token type %q", typ)
	}
	if sub == "" {
		return phoneauth.Token{}, errors.New("token: issue: empty subject")
	}
	jti, err := uuid.NewRandom()
	if err != nil {
		return phoneauth.Token{}, fmt.Errorf("token: issue: generate jti: %w", err)
	}
	iat := now.Unix()
	c := claims{
		IssuedAt:  iat,
		JTI:       jti.String(),
		Type:      string(typ),
		Subject:   sub,
		NotBefore: iat,
		ExpiresAt: iat + int64(ttl/time.Second),
	}
	raw, err := s.sign(c)
	if err != nil {
		return phoneauth.Token{}, err
	}
	return phoneauth.Token{
		Raw: raw,
		Claims: phoneauth.Claims{
			Subject:   sub,
			Type:      typ,
			IssuedAt:  time.Unix(c.IssuedAt, 0),
			ExpiresAt: time.Unix(c.ExpiresAt, 0),
			Ref:       phoneauth.TokenRef{JTI: c.JTI},
		},
	}, nil
}

// sign encodes and signs c.
func (s *Signer) sign(c claims) (string, error) {
	payload, err := json.Marshal(c)
	if err != nil {
		return "", fmt.Errorf("token: encode claims: %w", err)
	}
	// The token is assembled here rather than by jwt.NewWithClaims so the
	// header bytes are pinned, not left to how a map happens to marshal.
	signing := encodedHeader + "." + base64.RawURLEncoding.EncodeToString(payload)
	sig, err := jwt.SigningMethodHS256.Sign(signing, s.secret)
	if err != nil {
		return "", fmt.Errorf("token: sign: %w", err)
	}
	return signing + "." + base64.RawURLEncoding.EncodeToString(sig), nil
}

// Parse checks raw as flask-jwt-extended's decode_token does with its
// defaults, at now rather than the wall clock: segments in base64url
// without padding and with zero padding bits (the one spelling PyJWT
// writes), an HS256 signature by this secret, exp after now (no leeway), nbf and iat (when present) not after
// now + ClockSkew. It also requires the layout this service relies on: type
// "access" or "refresh", a non-empty string sub and jti, and a numeric exp.
// Other claims are allowed. It is stricter than PyJWT about the encoding:
// each segment must be canonical unpadded base64url (no other characters,
// unused bits zero), and a header with "crit" is refused, as RFC 7515
// requires of a parser that implements no extension. The claims' Ref says
// whether Sign made the jti (see ref). It returns an error
// wrapping phoneauth.ErrTokenExpired when a well-formed, correctly signed
// token is past its exp, with the token's claims (their Ref holding only
// the jti), and one wrapping phoneauth.ErrTokenInvalid, with no claims,
// for anything else.
func (s *Signer) Parse(raw string, now time.Time) (phoneauth.Claims, error) {
	// Go's base64 decoder skips newlines; a token has none.
	if i := strings.IndexFunc(raw, notTokenChar); i >= 0 {
		return phoneauth.Claims{}, fmt.Errorf("token: %w: byte %d is not base64url or '.'", phoneauth.ErrTokenInvalid, i)
	}
	t, err := s.parser.ParseWithClaims(raw, jwt.MapClaims{}, s.key)
	if err != nil {
		return phoneauth.Claims{}, fmt.Errorf("token: %w: %w", phoneauth.ErrTokenInvalid, err)
	}
	mc, ok := t.Claims.(jwt.MapClaims)
	if !ok {
		return phoneauth.Claims{}, fmt.Errorf("token: %w: claims of type %T", phoneauth.ErrTokenInvalid, t.Claims)
	}
	c, err := check(mc, now)
	if err != nil {
		return c, err
	}
	c.Ref = s.ref(c)
	return c, nil
}

// notTokenChar reports whether r cannot appear in a compact JWS.
func notTokenChar(r rune) bool {
	return !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || r == '-' || r == '_' || r == '.')
}

// key is the jwt.Keyfunc of Parse, which sees the header before the
// signature is checked. The parser already refuses every algorithm but
// HS256; checking again here keeps alg "none" and key confusion out even if
// the parser options change. A "crit" header names extensions the token
// must not be accepted without understanding; this parser understands
// none.
func (s *Signer) key(t *jwt.Token) (any, error) {
	if t.Method != jwt.SigningMethodHS256 {
		return nil, fmt.Errorf("unexpected signing method %q", t.Method.Alg())
	}
	if _, ok := t.Header["crit"]; ok {
		return nil, errors.New(`header parameter "crit" is not supported`)
	}
	return s.secret, nil
}

// check validates the claims of a correctly signed token at now and
// returns them with only the jti in their Ref. Layout comes first, so
// ErrTokenExpired is only ever reported for a token that would otherwise be
// accepted, and is returned with the claims; any other error with none.
func check(mc jwt.MapClaims, now time.Time) (phoneauth.Claims, error) {
	sub, err := text(mc, "sub")
	if err != nil {
		return phoneauth.Claims{}, err
	}
	jti, err := text(mc, "jti")
	if err != nil {
		return phoneauth.Claims{}, err
	}
	typ, err := text(mc, "type")
	if err != nil {
		return phoneauth.Claims{}, err
	}
	if typ != string(phoneauth.TokenAccess) && typ != string(phoneauth.TokenRefresh) {
		return phoneauth.Claims{}, fmt.Errorf("token: %w: claim \"type\" is %q", phoneauth.ErrTokenInvalid, typ)
	}
	exp, ok, err := seconds(mc, "exp")
	if err != nil {
		return phoneauth.Claims{}, err
	}
	if !ok {
		return phoneauth.Claims{}, fmt.Errorf("token: %w: claim \"exp\" missing", phoneauth.ErrTokenInvalid)
	}
	// PyJWT compares integer seconds: its now is truncated to the second.
	// iat and nbf get ClockSkew of leeway, exp none.
	sec := now.Unix()
	for _, name := range []string{"iat", "nbf"} {
		v, ok, err := seconds(mc, name)
		if err != nil {
			return phoneauth.Claims{}, err
		}
		if ok && v > sec+int64(ClockSkew/time.Second) {
			return phoneauth.Claims{}, fmt.Errorf("token: %w: not valid yet (%s)", phoneauth.ErrTokenInvalid, name)
		}
	}
	c := phoneauth.Claims{
		Subject:   sub,
		Type:      phoneauth.TokenType(typ),
		ExpiresAt: time.Unix(exp, 0),
		Ref:       phoneauth.TokenRef{JTI: jti},
	}
	if iat, ok, _ := seconds(mc, "iat"); ok {
		c.IssuedAt = time.Unix(iat, 0)
	}
	if exp <= sec {
		return c, fmt.Errorf("token: %w", phoneauth.ErrTokenExpired)
	}
	return c, nil
}

// text returns claim name, which must be a non-empty string.
func text(mc jwt.MapClaims, name string) (string, error) {
	v, ok := mc[name]
	if !ok {
		return "", fmt.Errorf("token: %w: claim %q missing", phoneauth.ErrTokenInvalid, name)
	}
	s, ok := v.(string)
	if !ok || s == "" {
		return "", fmt.Errorf("token: %w: claim %q is not a non-empty string", phoneauth.ErrTokenInvalid, name)
	}
	return s, nil
}

// seconds returns the numeric date claim name and whether it is present.
// PyJWT reads these with int(), so a fraction is truncated toward zero here
// too.
func seconds(mc jwt.MapClaims, name string) (int64, bool, error) {
	v, ok := mc[name]
	if !ok {
		return 0, false, nil
	}
	n, ok := v.(json.Number)
	if !ok {
		return 0, true, fmt.Errorf("token: %w: claim %q is not a number", phoneauth.ErrTokenInvalid, name)
	}
	if i, err := n.Int64(); err == nil {
		return i, true, nil
	}
	f, err := n.Float64()
	if err != nil || math.Abs(f) >= math.MaxInt64 {
		return 0, true, fmt.Errorf("token: %w: claim %q is out of range", phoneauth.ErrTokenInvalid, name)
	}
	return int64(f), true, nil
}
