package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/phoneauth/phoneauth"
	"github.com/phoneauth/phoneauth/sms"
)

// reserveAddr listens on a free loopback port and returns its address
// with the function that frees it: bench's receiver takes the port, after
// the server was started with its URL. The port is below the kernel's
// range of ephemeral ports (32768 and up on Linux), so that between free
// and bench's listen no other socket of a test running in parallel (an
// outgoing connection, a listener on port 0) can be given it.
func reserveAddr(t *testing.T) (addr string, free func()) {
	t.Helper()
	for range 100 {
		ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", 20000+rand.IntN(12000)))
		if err != nil {
			continue // taken: another
		}
		t.Cleanup(func() { ln.Close() })
		return ln.Addr().String(), func() { ln.Close() }
	}
	t.Fatal("no free loopback port between 20000 and 32000 in 100 tries")
	return "", nil
}

// benchServer starts the service on SQLite file db with the settings
// phoneauth bench --server-env prints for a receiver at hook (and its
// secret, if given).
func benchServer(t *testing.T, db, hook string, flags ...string) *instance {
	t.Helper()
	out, _, err := runCLI(t, nil, append([]string{"bench", "--server-env", "--webhook-addr", hook}, flags...)...)
	if err != nil {
		t.Fatalf("bench --server-env: %v", err)
	}
	env := map[string]string{"PHONEAUTH_DATABASE_URL": "sqlite:" + db}
	known := knownVariables()
	for line := range strings.Lines(out) {
		k, v, ok := strings.Cut(strings.TrimSpace(line), "=")
		if !ok || !known[k] {
			t.Fatalf("bench --server-env printed %q, not KNOWN_VARIABLE=value", line)
		}
		env[k] = v
	}
	return start(t, env)
}

// runBench runs phoneauth bench --json with args against in, its
// receiver on hook, and returns the report it printed.
func runBench(t *testing.T, in *instance, hook string, free func(), args ...string) (benchReport, error) {
	t.Helper()
	free()
	args = append([]string{"bench", "--json", "--url", in.url, "--webhook-addr", hook}, args...)
	out, stderr, err := runCLI(t, nil, args...)
	var r benchReport
	if jerr := json.Unmarshal([]byte(out), &r); jerr != nil {
		t.Fatalf("bench %v: %v, printed %q (stderr %q): %v", args, err, out, stderr, jerr)
	}
	return r, err
}

func TestBenchRunsEveryMixCleanly(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		args  []string
		seed  int // accounts phoneauth seed creates first
		steps []string
	}{
		{"full", []string{"--mix", "full", "--warmup", "200ms"}, 0, []string{"register", "verify", "login", "login/verify"}},
		{"login", []string{"--mix", "login"}, 0, []string{"login", "login/verify"}},
		{"login of seeded accounts", []string{"--mix", "login"}, 40, []string{"login", "login/verify"}},
		{"refresh", []string{"--mix", "refresh"}, 0, []string{"refresh", "me"}},
		{"guess", []string{"--mix", "guess"}, 0, []string{"login", "guess", "login/verify"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			db := filepath.Join(t.TempDir(), "bench.db")
			args := append([]string{"-c", "4", "-d", "1s"}, tt.args...)
			if tt.seed > 0 {
				var s seedReport
				out, _, err := runCLI(t, map[string]string{"PHONEAUTH_DATABASE_URL": "sqlite:" + db}, "seed", "--json", "--users", "40")
				if err != nil || json.Unmarshal([]byte(out), &s) != nil || s.Users != 40 {
					t.Fatalf("seed: %v, printed %q", err, out)
				}
				args = append(args, "--seeded-prefix", s.Prefix, "--seeded-users", "40")
			}
			hook, free := reserveAddr(t)
			in := benchServer(t, db, hook)
			r, err := runBench(t, in, hook, free, args...)
			if err != nil {
				t.Errorf("bench: %v", err)
			}
			if r.Flows == 0 || r.FailedFlows != 0 || len(r.Errors) != 0 || r.WarmupErrors != 0 {
				t.Errorf("bench: %d flows, %d failed, errors %v, %d in the warmup; want flows and no errors", r.Flows, r.FailedFlows, r.Errors, r.WarmupErrors)
			}
			if r.SMS.CodesRequested == 0 || r.SMS.Received != r.SMS.CodesRequested || r.SMS.BadSignatures != 0 || r.SMS.Unexpected != 0 {
				t.Errorf("bench: sms %+v, want every code requested received, none bad or unexpected", r.SMS)
			}
			var steps []string
			for _, s := range r.Steps {
				steps = append(steps, s.Step)
				if s.Step != "login/verify" && (s.Requests == 0 || s.P50 <= 0 || s.P50 > s.P99 || s.P99 > s.Max) {
					t.Errorf("step %+v: want requests and ordered percentiles", s)
				}
			}
			if !slices.Equal(steps, tt.steps) {
				t.Errorf("steps %v, want %v", steps, tt.steps)
			}
			if r.Concurrency != 4 || r.Duration != 1 {
				t.Errorf("report of %d virtual users for %gs, want 4 for 1s", r.Concurrency, r.Duration)
			}
		})
	}
}

func TestBenchStopsWhenTheServerSignsWithAnotherSecret(t *testing.T) {
	t.Parallel()
	hook, free := reserveAddr(t)
	in := benchServer(t, filepath.Join(t.TempDir(), "bench.db"), hook, "--webhook-secret", "a server secret of 24 bytes or more")
	free()
	_, _, err := runCLI(t, nil, "bench", "--url", in.url, "--webhook-addr", hook, "-c", "2", "-d", "1s")
	if err == nil || !strings.Contains(err.Error(), "1 SMS came with a bad signature") {
		t.Fatalf("bench against a server signing with another secret: %v, want a setup error counting the bad signature", err)
	}
}

func TestHookReceiver(t *testing.T) {
	t.Parallel()
	h := newHookReceiver(hookKey(benchDefaultSecret))
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	send := func(secret string, at time.Time, to string) error {
		t.Helper()
		w, err := sms.NewWebhook(sms.WebhookConfig{URL: srv.URL, Secret: secret, Now: func() time.Time { return at }})
		if err != nil {
			t.Fatal(err)
		}
		return w.Send(t.Context(), phoneauth.Message{To: to, Text: "Your code is 123456", Code: "123456", Purpose: phoneauth.PurposeLogin, ExpiresIn: time.Minute})
	}
	box := make(chan string, 1)
	h.expect("+14152000001", box)

	if err := send(benchDefaultSecret, time.Now(), "+14152000001"); err != nil {
		t.Fatalf("an SMS signed by the service's webhook with the secret: %v", err)
	}
	if got := <-box; got != "123456" {
		t.Errorf("code handed over = %q, want 123456", got)
	}
	if err := send(benchDefaultSecret, time.Now(), "+14152000002"); err != nil {
		t.Fatalf("an SMS no one waits for: %v", err)
	}
	forged := []struct {
		name   string
		secret string
		at     time.Time
	}{
		{"signed with another key", "whsec_" + strings.Repeat("QUFB", 8), time.Now()},
		{"not signed", "", time.Now()},
		{"signed 10 minutes ago", benchDefaultSecret, time.Now().Add(-10 * time.Minute)},
	}
	for _, f := range forged {
		if err := send(f.secret, f.at, "+14152000001"); err == nil {
			t.Errorf("an SMS %s was accepted", f.name)
		}
	}
	req, _ := http.NewRequest(http.MethodPost, srv.URL, strings.NewReader(`{"to":"+14152000001","code":"1"}`))
	req.Header.Set("webhook-id", "msg_1")
	req.Header.Set("webhook-timestamp", "1")
	req.Header.Set("webhook-signature", "v1,AAAA v2,BBBB")
	if res, err := http.DefaultClient.Do(req); err != nil || res.StatusCode != http.StatusUnauthorized {
		t.Errorf("a forged signature: %v %v, want 401", res, err)
	}
	if got, want := []int64{h.received.Load(), h.bad.Load(), h.unexpected.Load()}, []int64{2, 4, 1}; !slices.Equal(got, want) {
		t.Errorf("received, bad, unexpected = %v, want %v", got, want)
	}
	select {
	case code := <-box:
		t.Errorf("a forged SMS handed over code %q", code)
	default:
	}
}

func TestBenchRefusesWhatItShouldNotDrive(t *testing.T) {
	t.Parallel()
	tests := []struct {
		args []string
		want string // in the error; "" for none
	}{
		{[]string{"--url", "http://192.0.2.1:8080"}, "--allow-remote"},
		{[]string{"--url", "http://example.com"}, "--allow-remote"},
		{[]string{"--url", "http://[::1]:8080", "--webhook-addr", "0.0.0.0:8099"}, "--allow-remote"},
		{[]string{"--url", "http://192.0.2.1:8080", "--allow-remote"}, ""},
		{[]string{"--url", "http://localhost:8080/"}, ""},
		{[]string{"--mix", "nap"}, "full, login, refresh, guess"},
		{[]string{"-c", "0"}, "-c 0"},
		{[]string{"--webhook-secret", "short"}, "--webhook-secret"},
		{[]string{"--mix", "login", "--seeded-prefix", "+14155", "--seeded-users", "100"}, "not a block"},
		{[]string{"--mix", "login", "--seeded-prefix", "+14152", "--seeded-users", "3"}, "between -c (32)"},
		{[]string{"--mix", "full", "--seeded-prefix", "+14152", "--seeded-users", "100"}, "is for --mix login"},
	}
	for _, tt := range tests {
		_, err := parseBench(tt.args, &bytes.Buffer{})
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("bench %v: %v", tt.args, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("bench %v: error %v, want one saying %q", tt.args, err, tt.want)
		}
	}
	c, err := parseBench([]string{"--allow-remote", "--webhook-addr", "192.0.2.7:8099"}, &bytes.Buffer{})
	if err != nil || !slices.Contains(c.serverEnvLines(), "PHONEAUTH_SMS_WEBHOOK_ALLOW_HTTP=true") {
		t.Errorf("--server-env for a receiver beyond loopback: %v, %q; want PHONEAUTH_SMS_WEBHOOK_ALLOW_HTTP=true", err, c.serverEnvLines())
	}
	// A refused target is refused before anything listens or connects.
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	var out, errOut bytes.Buffer
	err = run(ctx, []string{"bench", "--url", "http://192.0.2.1:8080"}, func(string) string { return "" }, nil, &out, &errOut)
	if err == nil || !strings.Contains(err.Error(), "--allow-remote") || out.Len() > 0 {
		t.Errorf("bench of a remote target: %v, printed %q", err, out.String())
	}
}

func TestLatencies(t *testing.T) {
	t.Parallel()
	for _, v := range []uint64{0, 1, 63, 64, 65, 127, 128, 1000, 123456789, histLimit} {
		i := bucket(v)
		if i >= histBuckets || bucketMax(i) < v || (i > 0 && bucketMax(i-1) >= v) {
			t.Errorf("bucket(%d) = %d, holding up to %d after %d", v, i, bucketMax(i), bucketMax(max(i, 1)-1))
		}
		if v >= 64 && float64(bucketMax(i)-v) > float64(v)/histSub {
			t.Errorf("bucket(%d) holds up to %d: more than 1/%d above", v, bucketMax(i), histSub)
		}
	}
	var h latencies
	for i := 1; i <= 1000; i++ {
		h.add(time.Duration(i) * time.Millisecond)
	}
	for _, tt := range []struct {
		q    float64
		want time.Duration
	}{{0.5, 500 * time.Millisecond}, {0.9, 900 * time.Millisecond}, {0.99, 990 * time.Millisecond}, {1, time.Second}} {
		got := h.quantile(tt.q)
		if got < tt.want || float64(got-tt.want) > float64(tt.want)/histSub {
			t.Errorf("quantile(%g) = %s, want %s to within 1/%d above", tt.q, got, tt.want, histSub)
		}
	}
}

func TestGuessCode(t *testing.T) {
	t.Parallel()
	for _, code := range []string{"000000", "123456", "999999", "0123456789"} {
		seen := map[string]bool{code: true}
		for i := range benchMaxGuesses {
			g := guessCode(code, i)
			if len(g) != len(code) || seen[g] {
				t.Fatalf("guessCode(%s, %d) = %s: want a new code of the same length", code, i, g)
			}
			seen[g] = true
		}
	}
}
