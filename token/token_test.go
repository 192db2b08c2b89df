package token_test

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"errors"
	"hash"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/phoneauth/phoneauth"
	"github.com/phoneauth/phoneauth/token"
)

const (
	accessTTL  = 15 * time.Minute
	refreshTTL = 720 * time.Hour
	subject    = "0f8fad5b-d9cb-469f-a165-70867728950e"
)

var (
	testSecret = []byte("test secret, at least 32 bytes long: 0123456789")
	// issuedAt lies far in the past, so a Parse that consulted the wall
	// clock instead of its now would call every token expired.
	issuedAt = time.Unix(1_000_000_000, 0)
	uuidV4   = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
)

// wantLayout is the claim order flask-jwt-extended writes.
var wantLayout = []string{"fresh", "iat", "jti", "type", "sub", "nbf", "exp"}

// wantHeader is the header PyJWT writes for HS256.
const wantHeader = `{"alg":"HS256","typ":"JWT"}`

func newSigner(t *testing.T, secret []byte) *token.Signer {
	t.Helper()
	s, err := token.New(secret, accessTTL, refreshTTL)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return s
}

func issue(t *testing.T, s *token.Signer, typ phoneauth.TokenType, now time.Time) phoneauth.Token {
	t.Helper()
	tok, err := s.Issue(subject, typ, now)
	if err != nil {
		t.Fatalf("Issue(%q): %v", typ, err)
	}
	return tok
}

// b64 is base64url without padding, as JWTs use it.
var b64 = base64.RawURLEncoding

// forge signs header and payload with HMAC over newHash, independently of
// golang-jwt.
func forge(newHash func() hash.Hash, key []byte, header, payload string) string {
	signing := b64.EncodeToString([]byte(header)) + "." + b64.EncodeToString([]byte(payload))
	m := hmac.New(newHash, key)
	m.Write([]byte(signing))
	return signing + "." + b64.EncodeToString(m.Sum(nil))
}

// omit marks a claim to leave out in claimsJSON.
type omit struct{}

// claimsJSON returns the payload of a valid access token issued at issuedAt,
// changed by changes (an omit value deletes the claim).
func claimsJSON(t *testing.T, changes map[string]any) string {
	t.Helper()
	iat := issuedAt.Unix()
	c := map[string]any{
		"fresh": false,
		"iat":   iat,
		"jti":   "1b4e28ba-2fa1-41d2-883f-0016d3cca427",
		"type":  "access",
		"sub":   subject,
		"nbf":   iat,
		"exp":   iat + int64(accessTTL/time.Second),
	}
	for k, v := range changes {
		if _, ok := v.(omit); ok {
			delete(c, k)
			continue
		}
		c[k] = v
	}
	b, err := json.Marshal(c)
	if err != nil {
		t.Fatalf("marshal claims: %v", err)
	}
	return string(b)
}

// segments splits a compact JWT and base64url-decodes its three parts.
func segments(t *testing.T, raw string) (header, payload, sig []byte) {
	t.Helper()
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		t.Fatalf("token has %d segments, want 3", len(parts))
	}
	var dec [3][]byte
	for i, p := range parts {
		b, err := b64.DecodeString(p)
		if err != nil {
			t.Fatalf("segment %d is not unpadded base64url: %v", i, err)
		}
		dec[i] = b
	}
	return dec[0], dec[1], dec[2]
}

// fields decodes a JSON object into its keys, in order, and raw values.
func fields(t *testing.T, b []byte) ([]string, map[string]json.RawMessage) {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(b))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("not a JSON object: %s", b)
	}
	var keys []string
	vals := map[string]json.RawMessage{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			t.Fatalf("decode %s: %v", b, err)
		}
		k := tok.(string)
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			t.Fatalf("decode %s: %v", b, err)
		}
		keys = append(keys, k)
		vals[k] = v
	}
	if tok, err := dec.Token(); err != nil || tok != json.Delim('}') {
		t.Fatalf("JSON object not closed: %s", b)
	}
	return keys, vals
}

// checkLayout decodes raw without golang-jwt and checks it has exactly the
// flask-jwt-extended layout with the given values. It returns the jti.
func checkLayout(t *testing.T, raw string, secret []byte, typ phoneauth.TokenType, sub string, iat int64, ttl time.Duration) string {
	t.Helper()
	header, payload, sig := segments(t, raw)
	if got := string(header); got != wantHeader {
		t.Errorf("header = %s, want %s", got, wantHeader)
	}
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(raw[:strings.LastIndexByte(raw, '.')]))
	if !hmac.Equal(sig, m.Sum(nil)) {
		t.Errorf("signature is not HMAC-SHA256 of header.payload under the secret")
	}

	keys, vals := fields(t, payload)
	if !slices.Equal(keys, wantLayout) {
		t.Errorf("claims in order %q, want %q", keys, wantLayout)
	}
	// Raw JSON values pin the types too: a bool, not "false"; an integer,
	// not 1.0e9.
	seconds := strconv.FormatInt(iat, 10)
	want := map[string]string{
		"fresh": `false`,
		"iat":   seconds,
		"type":  strconv.Quote(string(typ)),
		"sub":   strconv.Quote(sub),
		"nbf":   seconds,
		"exp":   strconv.FormatInt(iat+int64(ttl/time.Second), 10),
	}
	for k, w := range want {
		if got := string(vals[k]); got != w {
			t.Errorf("claim %s = %s, want %s", k, got, w)
		}
	}
	var jti string
	if err := json.Unmarshal(vals["jti"], &jti); err != nil || !uuidV4.MatchString(jti) {
		t.Errorf("claim jti = %s, want a UUID v4 string", vals["jti"])
	}
	return jti
}

func TestNew(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		secret     []byte
		access     time.Duration
		refresh    time.Duration
		wantErrSub string
	}{
		{"accepts a 32-byte secret", bytes.Repeat([]byte{1}, 32), time.Second, time.Second, ""},
		{"refuses a 31-byte secret", bytes.Repeat([]byte{1}, 31), accessTTL, refreshTTL, "secret"},
		{"refuses a nil secret", nil, accessTTL, refreshTTL, "secret"},
		{"refuses a zero access TTL", testSecret, 0, refreshTTL, "access TTL"},
		{"refuses a negative refresh TTL", testSecret, accessTTL, -time.Hour, "refresh TTL"},
		{"refuses a TTL under one second", testSecret, accessTTL, time.Second - 1, "refresh TTL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := token.New(tt.secret, tt.access, tt.refresh)
			if tt.wantErrSub == "" {
				if err != nil {
					t.Fatalf("New: %v, want nil", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErrSub) {
				t.Fatalf("New error = %v, want one naming %q", err, tt.wantErrSub)
			}
		})
	}

	t.Run("keeps its own copy of the secret", func(t *testing.T) {
		t.Parallel()
		secret := slices.Clone(testSecret)
		s := newSigner(t, secret)
		tok := issue(t, s, phoneauth.TokenAccess, issuedAt)
		secret[0] ^= 0xff
		if _, err := s.Parse(tok.Raw, issuedAt); err != nil {
			t.Fatalf("Parse after the caller changed its slice: %v", err)
		}
	})
}

func TestIssueLayout(t *testing.T) {
	t.Parallel()
	s := newSigner(t, testSecret)
	now := issuedAt.Add(700 * time.Millisecond) // iat is truncated to the second
	tests := []struct {
		typ phoneauth.TokenType
		ttl time.Duration
	}{
		{phoneauth.TokenAccess, accessTTL},
		{phoneauth.TokenRefresh, refreshTTL},
	}
	for _, tt := range tests {
		t.Run(string(tt.typ)+" token has the flask-jwt-extended header, claim order and values", func(t *testing.T) {
			t.Parallel()
			tok := issue(t, s, tt.typ, now)
			jti := checkLayout(t, tok.Raw, testSecret, tt.typ, subject, issuedAt.Unix(), tt.ttl)
			want := phoneauth.TokenRecord{JTI: jti, Type: tt.typ, ExpiresAt: issuedAt.Add(tt.ttl)}
			if got := tok.TokenRecord; !got.ExpiresAt.Equal(want.ExpiresAt) || got.JTI != want.JTI || got.Type != want.Type {
				t.Errorf("Token record = %+v, want %+v", got, want)
			}
		})
	}

	t.Run("every token gets a fresh jti", func(t *testing.T) {
		t.Parallel()
		a := issue(t, s, phoneauth.TokenAccess, issuedAt)
		b := issue(t, s, phoneauth.TokenAccess, issuedAt)
		if a.JTI == b.JTI {
			t.Errorf("two tokens share jti %s", a.JTI)
		}
	})
}

func TestIssueRefuses(t *testing.T) {
	t.Parallel()
	s := newSigner(t, testSecret)
	tests := []struct {
		name string
		sub  string
		typ  phoneauth.TokenType
	}{
		{"an empty subject", "", phoneauth.TokenAccess},
		{"an unknown type", subject, "id"},
		{"an empty type", subject, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if tok, err := s.Issue(tt.sub, tt.typ, issuedAt); err == nil {
				t.Fatalf("Issue(%q, %q) = %+v, want an error", tt.sub, tt.typ, tok)
			}
		})
	}
}

func TestParseAccepts(t *testing.T) {
	t.Parallel()
	s := newSigner(t, testSecret)
	access := issue(t, s, phoneauth.TokenAccess, issuedAt)
	refresh := issue(t, s, phoneauth.TokenRefresh, issuedAt)
	exp := issuedAt.Add(accessTTL)
	forged := func(changes map[string]any) string {
		return forge(sha256.New, testSecret, wantHeader, claimsJSON(t, changes))
	}
	tests := []struct {
		name string
		raw  string
		now  time.Time
		want phoneauth.Claims
	}{
		{"an issued access token at its iat", access.Raw, issuedAt,
			phoneauth.Claims{Subject: subject, TokenRecord: access.TokenRecord}},
		{"an issued refresh token at its iat", refresh.Raw, issuedAt,
			phoneauth.Claims{Subject: subject, TokenRecord: refresh.TokenRecord}},
		{"an access token in its last second", access.Raw, exp.Add(-time.Nanosecond),
			phoneauth.Claims{Subject: subject, TokenRecord: access.TokenRecord}},
		{"a token minted by an instance whose clock is ClockSkew ahead", access.Raw, issuedAt.Add(-token.ClockSkew),
			phoneauth.Claims{Subject: subject, TokenRecord: access.TokenRecord}},
		{"extra claims", forged(map[string]any{"csrf": "x", "roles": []string{"a"}}), issuedAt,
			phoneauth.Claims{Subject: subject, TokenRecord: phoneauth.TokenRecord{JTI: "1b4e28ba-2fa1-41d2-883f-0016d3cca427", Type: "access", ExpiresAt: exp}}},
		{"no nbf, iat or fresh", forged(map[string]any{"nbf": omit{}, "iat": omit{}, "fresh": omit{}}), issuedAt,
			phoneauth.Claims{Subject: subject, TokenRecord: phoneauth.TokenRecord{JTI: "1b4e28ba-2fa1-41d2-883f-0016d3cca427", Type: "access", ExpiresAt: exp}}},
		{"a fractional exp, truncated as PyJWT does", forged(map[string]any{"exp": float64(exp.Unix()) + 0.9}), issuedAt,
			phoneauth.Claims{Subject: subject, TokenRecord: phoneauth.TokenRecord{JTI: "1b4e28ba-2fa1-41d2-883f-0016d3cca427", Type: "access", ExpiresAt: exp}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := s.Parse(tt.raw, tt.now)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if got.Subject != tt.want.Subject || got.JTI != tt.want.JTI || got.Type != tt.want.Type || !got.ExpiresAt.Equal(tt.want.ExpiresAt) {
				t.Errorf("Parse = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestParseRefuses(t *testing.T) {
	t.Parallel()
	s := newSigner(t, testSecret)
	access := issue(t, s, phoneauth.TokenAccess, issuedAt)
	other := newSigner(t, []byte("another secret, also 32 bytes long: abcdef"))
	exp := issuedAt.Add(accessTTL)

	forged := func(changes map[string]any) string {
		return forge(sha256.New, testSecret, wantHeader, claimsJSON(t, changes))
	}
	parts := strings.Split(access.Raw, ".")
	tamperedPayload := parts[0] + "." + b64.EncodeToString([]byte(claimsJSON(t, map[string]any{"sub": "someone-else"}))) + "." + parts[2]
	sig, err := b64.DecodeString(parts[2])
	if err != nil {
		t.Fatal(err)
	}
	flipped := slices.Clone(sig)
	flipped[0] ^= 1
	tamperedSig := parts[0] + "." + parts[1] + "." + b64.EncodeToString(flipped)
	// The last of the 43 characters of a signature carries 4 bits of it
	// and 2 bits of padding, which a lax decoder ignores.
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	lastChar := strings.IndexByte(alphabet, parts[2][len(parts[2])-1])
	paddingBitSet := parts[0] + "." + parts[1] + "." + parts[2][:len(parts[2])-1] + string(alphabet[lastChar^1])
	valid := claimsJSON(t, nil)

	tests := []struct {
		name string
		raw  string
		now  time.Time
		want error
	}{
		{"an expired token, at exp", access.Raw, exp, phoneauth.ErrTokenExpired},
		{"an expired token, long after exp", access.Raw, exp.Add(48 * time.Hour), phoneauth.ErrTokenExpired},
		{"a token more than ClockSkew before its nbf", access.Raw, issuedAt.Add(-token.ClockSkew - time.Second), phoneauth.ErrTokenInvalid},
		{"a token with iat beyond ClockSkew in the future and no nbf", forged(map[string]any{"nbf": omit{}, "iat": issuedAt.Add(token.ClockSkew).Unix() + 1}), issuedAt, phoneauth.ErrTokenInvalid},
		{"a tampered payload", tamperedPayload, issuedAt, phoneauth.ErrTokenInvalid},
		{"a tampered signature", tamperedSig, issuedAt, phoneauth.ErrTokenInvalid},
		{"a token signed with another secret", issue(t, other, phoneauth.TokenAccess, issuedAt).Raw, issuedAt, phoneauth.ErrTokenInvalid},
		{"an expired token signed with another secret", issue(t, other, phoneauth.TokenAccess, issuedAt).Raw, exp, phoneauth.ErrTokenInvalid},
		{"alg none without signature", b64.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + b64.EncodeToString([]byte(valid)) + ".", issuedAt, phoneauth.ErrTokenInvalid},
		{"alg none with an HS256 signature", forge(sha256.New, testSecret, `{"alg":"none","typ":"JWT"}`, valid), issuedAt, phoneauth.ErrTokenInvalid},
		{"HS512 with the right secret", forge(sha512.New, testSecret, `{"alg":"HS512","typ":"JWT"}`, valid), issuedAt, phoneauth.ErrTokenInvalid},
		{"HS384 with the right secret", forge(sha512.New384, testSecret, `{"alg":"HS384","typ":"JWT"}`, valid), issuedAt, phoneauth.ErrTokenInvalid},
		{"RS256 header over an HMAC signature", forge(sha256.New, testSecret, `{"alg":"RS256","typ":"JWT"}`, valid), issuedAt, phoneauth.ErrTokenInvalid},
		{"no alg", forge(sha256.New, testSecret, `{"typ":"JWT"}`, valid), issuedAt, phoneauth.ErrTokenInvalid},
		{"missing sub", forged(map[string]any{"sub": omit{}}), issuedAt, phoneauth.ErrTokenInvalid},
		{"empty sub", forged(map[string]any{"sub": ""}), issuedAt, phoneauth.ErrTokenInvalid},
		{"numeric sub", forged(map[string]any{"sub": 42}), issuedAt, phoneauth.ErrTokenInvalid},
		{"missing type", forged(map[string]any{"type": omit{}}), issuedAt, phoneauth.ErrTokenInvalid},
		{"type neither access nor refresh", forged(map[string]any{"type": "id"}), issuedAt, phoneauth.ErrTokenInvalid},
		{"type in the wrong case", forged(map[string]any{"type": "Access"}), issuedAt, phoneauth.ErrTokenInvalid},
		{"missing jti", forged(map[string]any{"jti": omit{}}), issuedAt, phoneauth.ErrTokenInvalid},
		{"null jti", forged(map[string]any{"jti": nil}), issuedAt, phoneauth.ErrTokenInvalid},
		{"missing exp", forged(map[string]any{"exp": omit{}}), issuedAt, phoneauth.ErrTokenInvalid},
		{"exp as a string", forged(map[string]any{"exp": strconv.FormatInt(exp.Unix(), 10)}), issuedAt, phoneauth.ErrTokenInvalid},
		{"exp out of range", forge(sha256.New, testSecret, wantHeader, `{"jti":"j","type":"access","sub":"s","exp":1e300}`), issuedAt, phoneauth.ErrTokenInvalid},
		{"nbf as a bool", forged(map[string]any{"nbf": true}), issuedAt, phoneauth.ErrTokenInvalid},
		{"an expired token missing sub", forged(map[string]any{"sub": omit{}}), exp, phoneauth.ErrTokenInvalid},
		{"a payload that is a JSON array", forge(sha256.New, testSecret, wantHeader, `[1,2]`), issuedAt, phoneauth.ErrTokenInvalid},
		{"a payload that is not JSON", forge(sha256.New, testSecret, wantHeader, `not json`), issuedAt, phoneauth.ErrTokenInvalid},
		{"an empty string", "", issuedAt, phoneauth.ErrTokenInvalid},
		{"garbage", "not a token", issuedAt, phoneauth.ErrTokenInvalid},
		{"three empty segments", "..", issuedAt, phoneauth.ErrTokenInvalid},
		{"two segments", parts[0] + "." + parts[1], issuedAt, phoneauth.ErrTokenInvalid},
		{"four segments", access.Raw + "." + parts[2], issuedAt, phoneauth.ErrTokenInvalid},
		{"padded base64", parts[0] + "." + parts[1] + "." + base64.URLEncoding.EncodeToString(sig), issuedAt, phoneauth.ErrTokenInvalid},
		{"the signature with a padding bit set", paddingBitSet, issuedAt, phoneauth.ErrTokenInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := s.Parse(tt.raw, tt.now)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Parse = %+v, %v; want error %v", got, err, tt.want)
			}
			for _, kind := range []error{phoneauth.ErrTokenInvalid, phoneauth.ErrTokenExpired} {
				if kind != tt.want && errors.Is(err, kind) {
					t.Errorf("Parse error %v is also %v", err, kind)
				}
			}
		})
	}
}
