// Package token signs and checks the JWTs handed to clients. It writes
// exactly the layout flask-jwt-extended writes (HS256; claims fresh, iat,
// jti, type, sub, nbf, exp in that order) and accepts what flask-jwt-extended
// issues, so a Flask service sharing the secret and this one take each
// other's tokens.
package token

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
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
	accessTTL  time.Duration
	refreshTTL time.Duration
	parser     *jwt.Parser
}

var _ phoneauth.Tokens = (*Signer)(nil)

// ClockSkew is how far in the future iat and nbf may lie: instances of a
// fleet read slightly different clocks, and a token minted on one must
// work on the next at once. exp gets no leeway.
const ClockSkew = 5 * time.Second

// New returns a Signer that signs with secret and gives access and refresh
// tokens the given lifetimes. Lifetimes are counted in whole seconds, as the
// claims are; a fraction of a second is dropped. It returns an error if
// secret fails CheckSecret or a lifetime is under one second.
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

// Issue returns a signed token of type typ for subject sub, issued at now
// (truncated to the second) with a random UUID v4 as its ID. It returns an
// error if sub is empty, typ is neither TokenAccess nor TokenRefresh, or no
// randomness is available.
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
		Fresh:     false,
		IssuedAt:  iat,
		JTI:       jti.String(),
		Type:      string(typ),
		Subject:   sub,
		NotBefore: iat,
		ExpiresAt: iat + int64(ttl/time.Second),
	}
	payload, err := json.Marshal(c)
	if err != nil {
		return phoneauth.Token{}, fmt.Errorf("token: issue: encode claims: %w", err)
	}
	// The token is assembled here rather than by jwt.NewWithClaims so the
	// header bytes are pinned, not left to how a map happens to marshal.
	signing := encodedHeader + "." + base64.RawURLEncoding.EncodeToString(payload)
	sig, err := jwt.SigningMethodHS256.Sign(signing, s.secret)
	if err != nil {
		return phoneauth.Token{}, fmt.Errorf("token: issue: sign: %w", err)
	}
	return phoneauth.Token{
		Raw: signing + "." + base64.RawURLEncoding.EncodeToString(sig),
		TokenRecord: phoneauth.TokenRecord{
			JTI:       c.JTI,
			Type:      typ,
			ExpiresAt: time.Unix(c.ExpiresAt, 0),
		},
	}, nil
}

// Parse checks raw as flask-jwt-extended's decode_token does with its
// defaults, at now rather than the wall clock: segments in base64url
// without padding and with zero padding bits (the one spelling PyJWT
// writes), an HS256 signature by this secret, exp after now (no leeway), nbf and iat (when present) not after
// now + ClockSkew. It also requires the layout this service relies on: type
// "access" or "refresh", a non-empty string sub and jti, and a numeric exp.
// Other claims are allowed. It returns an error wrapping
// phoneauth.ErrTokenExpired when a well-formed, correctly signed token is
// past its exp, and one wrapping phoneauth.ErrTokenInvalid for anything
// else.
func (s *Signer) Parse(raw string, now time.Time) (phoneauth.Claims, error) {
	t, err := s.parser.ParseWithClaims(raw, jwt.MapClaims{}, s.key)
	if err != nil {
		return phoneauth.Claims{}, fmt.Errorf("token: %w: %w", phoneauth.ErrTokenInvalid, err)
	}
	mc, ok := t.Claims.(jwt.MapClaims)
	if !ok {
		return phoneauth.Claims{}, fmt.Errorf("token: %w: claims of type %T", phoneauth.ErrTokenInvalid, t.Claims)
	}
	return check(mc, now)
}

// key is the jwt.Keyfunc of Parse. The parser already refuses every
// algorithm but HS256; checking again here keeps alg "none" and key
// confusion out even if the parser options change.
func (s *Signer) key(t *jwt.Token) (any, error) {
	if t.Method != jwt.SigningMethodHS256 {
		return nil, fmt.Errorf("unexpected signing method %q", t.Method.Alg())
	}
	return s.secret, nil
}

// check validates the claims of a correctly signed token at now. Layout
// comes first, so ErrTokenExpired is only ever reported for a token that
// would otherwise be accepted.
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
	if exp <= sec {
		return phoneauth.Claims{}, fmt.Errorf("token: %w", phoneauth.ErrTokenExpired)
	}
	return phoneauth.Claims{
		Subject: sub,
		TokenRecord: phoneauth.TokenRecord{
			JTI:       jti,
			Type:      phoneauth.TokenType(typ),
			ExpiresAt: time.Unix(exp, 0),
		},
	}, nil
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
