package token_test

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
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

// The session and generation of the tokens issue signs.
const (
	testSession    uint64 = 0x0123456789abcdef
	testGeneration uint32 = 42
)

// issue signs a token of type typ as the service does, in session
// testSession at generation testGeneration, issued at now and living the
// type's TTL, and returns it with the claims Parse must return for it.
func issue(t *testing.T, s *token.Signer, typ phoneauth.TokenType, now time.Time) phoneauth.Token {
	t.Helper()
	ttl := accessTTL
	if typ == phoneauth.TokenRefresh {
		ttl = refreshTTL
	}
	c := phoneauth.Claims{
		Subject:   subject,
		Type:      typ,
		IssuedAt:  now.Truncate(time.Second),
		ExpiresAt: now.Truncate(time.Second).Add(ttl),
		Ref:       phoneauth.TokenRef{Own: true, Session: testSession, Generation: testGeneration},
	}
	raw, err := s.Sign(c)
	if err != nil {
		t.Fatalf("Sign(%+v): %v", c, err)
	}
	c.Ref.JTI = jtiOf(t, raw)
	return phoneauth.Token{Raw: raw, Claims: c}
}

// jtiOf returns the jti of raw, read without the package.
func jtiOf(t *testing.T, raw string) string {
	t.Helper()
	_, payload, _ := segments(t, raw)
	var c struct {
		JTI string `json:"jti"`
	}
	if err := json.Unmarshal(payload, &c); err != nil {
		t.Fatalf("payload %s: %v", payload, err)
	}
	return c.JTI
}

// checkClaims fails t unless got and want are the same claims.
func checkClaims(t *testing.T, what string, got, want phoneauth.Claims) {
	t.Helper()
	if got.Subject != want.Subject || got.Type != want.Type || got.Ref != want.Ref ||
		!got.IssuedAt.Equal(want.IssuedAt) || !got.ExpiresAt.Equal(want.ExpiresAt) {
		t.Errorf("%s = %+v, want %+v", what, got, want)
	}
}

// b64 is base64url without padding, as JWTs use it.
var b64 = base64.RawURLEncoding

// forge signs header and payload with HMAC over newHash, independently of
// golang-jwt.
func forge(newHash func() hash.Hash, key []byte, header, payload string) string {
	return sign(newHash, key, b64.EncodeToString([]byte(header))+"."+b64.EncodeToString([]byte(payload)))
}

// sign appends to the encoded header.payload its HMAC signature over
// newHash.
func sign(newHash func() hash.Hash, key []byte, signing string) string {
	m := hmac.New(newHash, key)
	m.Write([]byte(signing))
	return signing + "." + b64.EncodeToString(m.Sum(nil))
}

// nonCanonical returns base64url segment seg with an unused bit of its last
// character set: the same bytes to a lenient decoder, another string.
func nonCanonical(t *testing.T, seg string) string {
	t.Helper()
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	if len(seg)%4 == 0 {
		t.Fatalf("segment %q has no unused bits", seg)
	}
	i := strings.IndexByte(alphabet, seg[len(seg)-1])
	if i < 0 {
		t.Fatalf("segment %q does not end in a base64url character", seg)
	}
	// The lowest bit of the last character is unused whenever the
	// length is not a multiple of 4.
	return seg[:len(seg)-1] + string(alphabet[i^1])
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

func TestSignLayout(t *testing.T) {
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
			checkLayout(t, tok.Raw, testSecret, tt.typ, subject, issuedAt.Unix(), tt.ttl)
		})
	}

	t.Run("the same claims give the same bytes", func(t *testing.T) {
		t.Parallel()
		a, b := issue(t, s, phoneauth.TokenRefresh, issuedAt), issue(t, s, phoneauth.TokenRefresh, issuedAt.Add(999*time.Millisecond))
		if a.Raw != b.Raw {
			t.Errorf("two signatures of the same claims differ:\n%s\n%s", a.Raw, b.Raw)
		}
	})

	t.Run("tokens that differ in any claim the jti binds have distinct jtis", func(t *testing.T) {
		t.Parallel()
		base := phoneauth.Claims{Subject: subject, Type: phoneauth.TokenAccess, IssuedAt: issuedAt, ExpiresAt: issuedAt.Add(accessTTL),
			Ref: phoneauth.TokenRef{Session: testSession, Generation: testGeneration}}
		variants := []func(c *phoneauth.Claims){
			func(*phoneauth.Claims) {},
			func(c *phoneauth.Claims) { c.Type = phoneauth.TokenRefresh },
			func(c *phoneauth.Claims) { c.Subject = "6ba7b810-9dad-41d1-80b4-00c04fd430c8" },
			func(c *phoneauth.Claims) { c.IssuedAt = c.IssuedAt.Add(time.Second) },
			func(c *phoneauth.Claims) { c.Ref.Session++ },
			func(c *phoneauth.Claims) { c.Ref.Generation++ },
		}
		seen := map[string]int{}
		for i, change := range variants {
			c := base
			change(&c)
			raw, err := s.Sign(c)
			if err != nil {
				t.Fatalf("Sign: %v", err)
			}
			jti := jtiOf(t, raw)
			if j, dup := seen[jti]; dup {
				t.Errorf("variants %d and %d share jti %s", j, i, jti)
			}
			seen[jti] = i
		}
	})
}

func TestIssue(t *testing.T) {
	t.Parallel()
	s := newSigner(t, testSecret)

	t.Run("writes the flask-jwt-extended layout with the TTLs given to New", func(t *testing.T) {
		t.Parallel()
		for _, tt := range []struct {
			typ phoneauth.TokenType
			ttl time.Duration
		}{{phoneauth.TokenAccess, accessTTL}, {phoneauth.TokenRefresh, refreshTTL}} {
			tok, err := s.Issue(subject, tt.typ, issuedAt.Add(700*time.Millisecond))
			if err != nil {
				t.Fatalf("Issue: %v", err)
			}
			jti := checkLayout(t, tok.Raw, testSecret, tt.typ, subject, issuedAt.Unix(), tt.ttl)
			want := phoneauth.Claims{Subject: subject, Type: tt.typ, IssuedAt: issuedAt, ExpiresAt: issuedAt.Add(tt.ttl),
				Ref: phoneauth.TokenRef{JTI: jti}}
			checkClaims(t, "Issue's claims", tok.Claims, want)
			got, err := s.Parse(tok.Raw, issuedAt)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			checkClaims(t, "Parse of an issued token (not the service's own)", got, want)
		}
	})

	t.Run("every token gets a fresh jti", func(t *testing.T) {
		t.Parallel()
		a, errA := s.Issue(subject, phoneauth.TokenAccess, issuedAt)
		b, errB := s.Issue(subject, phoneauth.TokenAccess, issuedAt)
		if errA != nil || errB != nil {
			t.Fatalf("Issue: %v, %v", errA, errB)
		}
		if a.Ref.JTI == b.Ref.JTI {
			t.Errorf("two tokens share jti %s", a.Ref.JTI)
		}
	})

	for _, tt := range []struct {
		name string
		sub  string
		typ  phoneauth.TokenType
	}{
		{"an empty subject", "", phoneauth.TokenAccess},
		{"an unknown type", subject, "id"},
		{"an empty type", subject, ""},
	} {
		t.Run("refuses "+tt.name, func(t *testing.T) {
			t.Parallel()
			if tok, err := s.Issue(tt.sub, tt.typ, issuedAt); err == nil {
				t.Fatalf("Issue(%q, %q) = %+v, want an error", tt.sub, tt.typ, tok)
			}
		})
	}
}

func TestSignRefuses(t *testing.T) {
	t.Parallel()
	s := newSigner(t, testSecret)
	valid := phoneauth.Claims{Subject: subject, Type: phoneauth.TokenAccess, IssuedAt: issuedAt, ExpiresAt: issuedAt.Add(accessTTL)}
	for _, tt := range []struct {
		name   string
		change func(c *phoneauth.Claims)
	}{
		{"an empty subject", func(c *phoneauth.Claims) { c.Subject = "" }},
		{"an unknown type", func(c *phoneauth.Claims) { c.Type = "id" }},
		{"an empty type", func(c *phoneauth.Claims) { c.Type = "" }},
		{"a generation above MaxGeneration", func(c *phoneauth.Claims) { c.Ref.Generation = phoneauth.MaxGeneration + 1 }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := valid
			tt.change(&c)
			if raw, err := s.Sign(c); err == nil {
				t.Fatalf("Sign(%+v) = %s, want an error", c, raw)
			}
		})
	}
}

func TestParseTellsOwnJTIs(t *testing.T) {
	t.Parallel()
	s := newSigner(t, testSecret)
	for _, ref := range []phoneauth.TokenRef{
		{Session: 0, Generation: 0},
		{Session: 1<<64 - 1, Generation: phoneauth.MaxGeneration},
		{Session: 0x8000000000000001, Generation: 1},
		{Session: testSession, Generation: 1 << 23},
	} {
		t.Run(fmt.Sprintf("session %x generation %d comes back", ref.Session, ref.Generation), func(t *testing.T) {
			t.Parallel()
			c := phoneauth.Claims{Subject: subject, Type: phoneauth.TokenRefresh, IssuedAt: issuedAt, ExpiresAt: issuedAt.Add(refreshTTL), Ref: ref}
			raw, err := s.Sign(c)
			if err != nil {
				t.Fatalf("Sign: %v", err)
			}
			checkLayout(t, raw, testSecret, phoneauth.TokenRefresh, subject, issuedAt.Unix(), refreshTTL)
			got, err := s.Parse(raw, issuedAt)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			c.Ref.Own, c.Ref.JTI = true, jtiOf(t, raw)
			checkClaims(t, "Parse", got, c)
		})
	}

	// Tokens with the jti of a signed token, re-signed with the secret but
	// other claims: only a holder of the secret could make them, and none
	// is the service's own.
	own := issue(t, s, phoneauth.TokenAccess, issuedAt)
	jti := own.Ref.JTI
	for _, tt := range []struct {
		name    string
		changes map[string]any
	}{
		{"another type", map[string]any{"jti": jti, "type": "refresh"}},
		{"another subject", map[string]any{"jti": jti, "sub": "6ba7b810-9dad-41d1-80b4-00c04fd430c8"}},
		{"another iat", map[string]any{"jti": jti, "iat": issuedAt.Unix() - 1}},
		{"no iat", map[string]any{"jti": jti, "iat": omit{}}},
		{"the jti in capitals", map[string]any{"jti": strings.ToUpper(jti)}},
		{"the jti without hyphens", map[string]any{"jti": strings.ReplaceAll(jti, "-", "")}},
		{"a random jti", map[string]any{"jti": "1b4e28ba-2fa1-41d2-883f-0016d3cca427"}},
	} {
		t.Run("a token with "+tt.name+" is not the service's own", func(t *testing.T) {
			t.Parallel()
			raw := forge(sha256.New, testSecret, wantHeader, claimsJSON(t, tt.changes))
			got, err := s.Parse(raw, issuedAt)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if want := (phoneauth.TokenRef{JTI: jtiOf(t, raw)}); got.Ref != want {
				t.Errorf("Parse: Ref = %+v, want %+v", got.Ref, want)
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
	random := func(iat time.Time) phoneauth.Claims {
		return phoneauth.Claims{Subject: subject, Type: phoneauth.TokenAccess, IssuedAt: iat, ExpiresAt: exp,
			Ref: phoneauth.TokenRef{JTI: "1b4e28ba-2fa1-41d2-883f-0016d3cca427"}}
	}
	tests := []struct {
		name string
		raw  string
		now  time.Time
		want phoneauth.Claims
	}{
		{"a signed access token at its iat", access.Raw, issuedAt, access.Claims},
		{"a signed refresh token at its iat", refresh.Raw, issuedAt, refresh.Claims},
		{"an access token in its last second", access.Raw, exp.Add(-time.Nanosecond), access.Claims},
		{"a token minted by an instance whose clock is ClockSkew ahead", access.Raw, issuedAt.Add(-token.ClockSkew), access.Claims},
		{"extra claims", forged(map[string]any{"csrf": "x", "roles": []string{"a"}}), issuedAt, random(issuedAt)},
		{"no nbf, iat or fresh", forged(map[string]any{"nbf": omit{}, "iat": omit{}, "fresh": omit{}}), issuedAt, random(time.Time{})},
		{"a fractional exp, truncated as PyJWT does", forged(map[string]any{"exp": float64(exp.Unix()) + 0.9}), issuedAt, random(issuedAt)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := s.Parse(tt.raw, tt.now)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			checkClaims(t, "Parse", got, tt.want)
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
	// A payload whose encoding ends in unused bits, made non-canonical and
	// then correctly signed.
	var loosePayload string
	for pad := ""; ; pad += "x" {
		if seg := b64.EncodeToString([]byte(claimsJSON(t, map[string]any{"pad": pad}))); len(seg)%4 != 0 {
			loosePayload = sign(sha256.New, testSecret, b64.EncodeToString([]byte(wantHeader))+"."+nonCanonical(t, seg))
			break
		}
	}

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
		{"a signature with a non-zero unused bit", parts[0] + "." + parts[1] + "." + nonCanonical(t, parts[2]), issuedAt, phoneauth.ErrTokenInvalid},
		{"a correctly signed payload with a non-zero unused bit", loosePayload, issuedAt, phoneauth.ErrTokenInvalid},
		{"a correctly signed payload with a newline inside", sign(sha256.New, testSecret, parts[0]+"."+parts[1][:10]+"\n"+parts[1][10:]), issuedAt, phoneauth.ErrTokenInvalid},
		{"a crit header", forge(sha256.New, testSecret, `{"alg":"HS256","crit":["exp"],"typ":"JWT"}`, valid), issuedAt, phoneauth.ErrTokenInvalid},
		{"an empty crit header", forge(sha256.New, testSecret, `{"alg":"HS256","crit":[],"typ":"JWT"}`, valid), issuedAt, phoneauth.ErrTokenInvalid},
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
			// An expired token is refused with its claims, which name whose
			// it was; any other refusal with none.
			want := phoneauth.Claims{}
			if tt.want == phoneauth.ErrTokenExpired {
				want = access.Claims
				want.Ref = phoneauth.TokenRef{JTI: access.Ref.JTI}
			}
			checkClaims(t, "Parse", got, want)
		})
	}
}
