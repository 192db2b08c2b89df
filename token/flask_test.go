package token_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/phoneauth/phoneauth"
	"github.com/phoneauth/phoneauth/internal/testenv"
)

// python is the interpreter Debian's python3-python-flask-jwt-extended
// installs for.
const python = "/usr/bin/python3"

// interopRequest and interopResult are the stdin and stdout of
// testdata/flask_interop.py.
type interopRequest struct {
	Secret         string            `json:"secret"` // standard base64
	Identity       string            `json:"identity"`
	AccessSeconds  int64             `json:"access_seconds"`
	RefreshSeconds int64             `json:"refresh_seconds"`
	Decode         map[string]string `json:"decode"`
}

type interopResult struct {
	Decoded map[string]struct {
		Claims json.RawMessage `json:"claims"`
		Error  string          `json:"error"`
	} `json:"decoded"`
	Created struct {
		Access  string `json:"access"`
		Refresh string `json:"refresh"`
	} `json:"created"`
}

// skipOrFail skips t, or fails it under CI=true, where the interoperability
// check must run.
func skipOrFail(t *testing.T, format string, args ...any) {
	t.Helper()
	if testenv.CI() {
		t.Fatalf("CI=true requires the flask-jwt-extended check: "+format, args...)
	}
	t.Skipf("skipping the flask-jwt-extended check: "+format, args...)
}

// runFlask runs testdata/flask_interop.py with req on stdin.
func runFlask(t *testing.T, req interopRequest) interopResult {
	t.Helper()
	if _, err := os.Stat(python); err != nil {
		skipOrFail(t, "%v (install python3-python-flask-jwt-extended)", err)
	}
	in, err := json.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	// The deadline only keeps a wedged interpreter from hanging the run.
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	t.Cleanup(cancel)
	// -I: ignore PYTHON* variables and the user's site-packages, so the
	// Debian packages are what is tested.
	cmd := exec.CommandContext(ctx, python, "-I", "testdata/flask_interop.py")
	cmd.Stdin = bytes.NewReader(in)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	if exit, ok := errors.AsType[*exec.ExitError](err); ok && exit.ExitCode() == 3 {
		skipOrFail(t, "%s (install python3-python-flask-jwt-extended)", bytes.TrimSpace(stderr.Bytes()))
	}
	if err != nil {
		t.Fatalf("flask_interop.py: %v\n%s", err, stderr.Bytes())
	}
	var res interopResult
	if err := json.Unmarshal(stdout.Bytes(), &res); err != nil {
		t.Fatalf("flask_interop.py output: %v\n%s", err, stdout.Bytes())
	}
	return res
}

func TestFlaskInterop(t *testing.T) {
	t.Parallel()
	s := newSigner(t, testSecret)
	other := newSigner(t, []byte("another secret, also 32 bytes long: abcdef"))
	// flask-jwt-extended checks time claims against the wall clock, so the
	// tokens it decodes are issued now.
	now := time.Now()
	access := issue(t, s, phoneauth.TokenAccess, now)
	refresh := issue(t, s, phoneauth.TokenRefresh, now)
	expired := issue(t, s, phoneauth.TokenAccess, now.Add(-accessTTL-time.Minute))
	foreign := issue(t, other, phoneauth.TokenAccess, now)
	const identity = "6ba7b810-9dad-41d1-80b4-00c04fd430c8"

	res := runFlask(t, interopRequest{
		Secret:         base64.StdEncoding.EncodeToString(testSecret),
		Identity:       identity,
		AccessSeconds:  int64(accessTTL / time.Second),
		RefreshSeconds: int64(refreshTTL / time.Second),
		Decode: map[string]string{
			"access":  access.Raw,
			"refresh": refresh.Raw,
			"expired": expired.Raw,
			"foreign": foreign.Raw,
		},
	})

	decodes := []struct {
		name string
		tok  phoneauth.Token
		ttl  time.Duration
	}{
		{"access", access, accessTTL},
		{"refresh", refresh, refreshTTL},
	}
	for _, tt := range decodes {
		t.Run("decode_token reads an issued "+tt.name+" token's claims", func(t *testing.T) {
			got := res.Decoded[tt.name]
			if got.Error != "" {
				t.Fatalf("decode_token raised %s", got.Error)
			}
			keys, vals := fields(t, got.Claims)
			if !slices.Equal(keys, wantLayout) {
				t.Errorf("decode_token returned claims %q, want %q", keys, wantLayout)
			}
			iat := strconv.FormatInt(now.Unix(), 10)
			want := map[string]string{
				"fresh": `false`,
				"iat":   iat,
				"jti":   strconv.Quote(tt.tok.Ref.JTI),
				"type":  strconv.Quote(string(tt.tok.Type)),
				"sub":   strconv.Quote(subject),
				"nbf":   iat,
				"exp":   strconv.FormatInt(now.Unix()+int64(tt.ttl/time.Second), 10),
			}
			for k, w := range want {
				if got := string(vals[k]); got != w {
					t.Errorf("claim %s = %s, want %s", k, got, w)
				}
			}
		})
	}

	refusals := []struct {
		name string
		want string
	}{
		{"expired", "ExpiredSignatureError"},
		{"foreign", "InvalidSignatureError"},
	}
	for _, tt := range refusals {
		t.Run("decode_token refuses an issued "+tt.name+" token", func(t *testing.T) {
			if got := res.Decoded[tt.name].Error; got != tt.want {
				t.Errorf("decode_token error = %q, want %q", got, tt.want)
			}
		})
	}

	created := []struct {
		typ phoneauth.TokenType
		raw string
		ttl time.Duration
	}{
		{phoneauth.TokenAccess, res.Created.Access, accessTTL},
		{phoneauth.TokenRefresh, res.Created.Refresh, refreshTTL},
	}
	for _, tt := range created {
		t.Run("Parse accepts a create_"+string(tt.typ)+"_token token", func(t *testing.T) {
			_, payload, _ := segments(t, tt.raw)
			var c struct {
				IssuedAt int64  `json:"iat"`
				JTI      string `json:"jti"`
			}
			if err := json.Unmarshal(payload, &c); err != nil {
				t.Fatalf("payload %s: %v", payload, err)
			}
			iat := time.Unix(c.IssuedAt, 0)
			got, err := s.Parse(tt.raw, iat)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			want := phoneauth.Claims{Subject: identity, Type: tt.typ, IssuedAt: iat, ExpiresAt: iat.Add(tt.ttl),
				Ref: phoneauth.TokenRef{JTI: c.JTI}}
			checkClaims(t, "Parse", got, want)
			if _, err := s.Parse(tt.raw, iat.Add(tt.ttl)); !errors.Is(err, phoneauth.ErrTokenExpired) {
				t.Errorf("Parse at exp: %v, want %v", err, phoneauth.ErrTokenExpired)
			}
		})
		t.Run("create_"+string(tt.typ)+"_token writes the layout Issue writes", func(t *testing.T) {
			_, payload, _ := segments(t, tt.raw)
			var c struct {
				IssuedAt int64 `json:"iat"`
			}
			if err := json.Unmarshal(payload, &c); err != nil {
				t.Fatalf("payload %s: %v", payload, err)
			}
			checkLayout(t, tt.raw, testSecret, tt.typ, identity, c.IssuedAt, tt.ttl)
		})
	}
}
