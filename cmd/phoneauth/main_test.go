package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/phoneauth/phoneauth/internal/tcpproxy"
	"github.com/phoneauth/phoneauth/internal/testenv"
	"github.com/phoneauth/phoneauth/token"
)

// instance is the service started in-process by run, as main would.
type instance struct {
	t      *testing.T
	url    string
	cancel context.CancelFunc
	done   chan error
	logs   *logTail
}

// logTail collects JSON log lines and lets a test wait for one.
type logTail struct {
	mu    sync.Mutex
	lines []map[string]any
	cond  *sync.Cond
	w     *io.PipeWriter
}

func newLogTail() *logTail {
	r, w := io.Pipe()
	l := &logTail{w: w}
	l.cond = sync.NewCond(&l.mu)
	go func() {
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			var m map[string]any
			if json.Unmarshal(sc.Bytes(), &m) != nil {
				continue
			}
			l.mu.Lock()
			l.lines = append(l.lines, m)
			l.cond.Broadcast()
			l.mu.Unlock()
		}
	}()
	return l
}

// mark returns how many lines have been read so far.
func (l *logTail) mark() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.lines)
}

// count returns how many lines read so far match accepts.
func (l *logTail) count(match func(map[string]any) bool) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, line := range l.lines {
		if match(line) {
			n++
		}
	}
	return n
}

// wait returns the newest line that match accepts, failing the test if none
// comes within 10 s.
func (l *logTail) wait(t *testing.T, match func(map[string]any) bool) map[string]any {
	t.Helper()
	return l.waitAfter(t, 0, match)
}

// waitAfter is wait for lines from index from on.
func (l *logTail) waitAfter(t *testing.T, from int, match func(map[string]any) bool) map[string]any {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	timer := time.AfterFunc(10*time.Second, func() { l.mu.Lock(); l.cond.Broadcast(); l.mu.Unlock() })
	defer timer.Stop()
	l.mu.Lock()
	defer l.mu.Unlock()
	for {
		for i := len(l.lines) - 1; i >= from; i-- {
			if match(l.lines[i]) {
				return l.lines[i]
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("log line never came")
		}
		l.cond.Wait()
	}
}

func start(t *testing.T, env map[string]string) *instance {
	t.Helper()
	env["PHONEAUTH_ADDR"] = "127.0.0.1:0"
	env["PHONEAUTH_LOG_FORMAT"] = "json"
	ctx, cancel := context.WithCancel(context.Background())
	in := &instance{t: t, cancel: cancel, done: make(chan error, 1), logs: newLogTail()}
	go func() {
		in.done <- run(ctx, []string{"serve"}, func(k string) string { return env[k] }, nil, io.Discard, in.logs.w)
	}()
	line := in.logs.wait(t, func(m map[string]any) bool { return m["msg"] == "listening" })
	in.url = "http://" + line["addr"].(string)
	t.Cleanup(func() { in.stop() })
	return in
}

func (in *instance) stop() {
	in.cancel()
	select {
	case err := <-in.done:
		if err != nil {
			in.t.Errorf("run: %v", err)
		}
		in.done <- nil
	case <-time.After(20 * time.Second):
		in.t.Error("service did not stop")
	}
}

var codeRE = regexp.MustCompile(`\b(\d{6})\b`)

// code reads from the console log the SMS code for purpose sent to phone
// after log line from (a logTail.mark taken before the request).
func (in *instance) code(from int, phone, purpose string) string {
	in.t.Helper()
	line := in.logs.waitAfter(in.t, from, func(m map[string]any) bool { return m["to"] == phone && m["purpose"] == purpose })
	m := codeRE.FindStringSubmatch(line["text"].(string))
	if m == nil {
		in.t.Fatalf("no code in %v", line)
	}
	return m[1]
}

func (in *instance) call(method, path, bearer string, body any) (int, map[string]any) {
	in.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, in.url+path, rd)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		in.t.Fatal(err)
	}
	defer res.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(res.Body).Decode(&out); err != nil {
		in.t.Fatalf("%s %s: %v", method, path, err)
	}
	return res.StatusCode, out
}

func (in *instance) mustCall(method, path, bearer string, body any) map[string]any {
	in.t.Helper()
	status, out := in.call(method, path, bearer, body)
	if status != http.StatusOK {
		in.t.Fatalf("%s %s = %d %v", method, path, status, out)
	}
	return out
}

// login runs login and login verification and returns the tokens.
func (in *instance) login(phone string) (userID, access, refresh string) {
	in.t.Helper()
	mark := in.logs.mark()
	userID = in.mustCall("POST", "/auth/api/login/", "", map[string]any{"phone": phone})["user_id"].(string)
	out := in.mustCall("POST", "/auth/api/login/verify/", "", map[string]any{"code": in.code(mark, phone, "login"), "user_id": userID})
	return userID, out["access_token"].(string), out["refresh_token"].(string)
}

func TestWholeFlowSurvivesRestart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	env := map[string]string{"PHONEAUTH_DATABASE_URL": "sqlite:" + filepath.Join(dir, "auth.db")}
	const phone = "+14155550300"

	in := start(t, env)
	mark := in.logs.mark()
	tok := in.mustCall("POST", "/auth/api/Register/", "", map[string]any{"phonenumber": "(415) 555-0300"})["token"].(string)
	in.mustCall("POST", "/auth/api/verify/", "", map[string]any{"code": in.code(mark, phone, "register"), "token": tok, "phone": phone})
	userID, access, refresh := in.login(phone)
	me := in.mustCall("GET", "/auth/api/me/", access, nil)
	if me["user_id"] != userID || me["phone"] != phone || me["verified"] != true {
		t.Fatalf("me = %v", me)
	}
	in.stop()

	info, err := os.Stat(filepath.Join(dir, "auth.db.jwt-secret"))
	if err != nil {
		t.Fatal(err)
	}
	if perm := info.Mode().Perm(); perm != 0o600 {
		t.Errorf("secret file mode = %o, want 600", perm)
	}

	in = start(t, env)
	if status, out := in.call("GET", "/auth/api/me/", access, nil); status != 200 || out["user_id"] != userID {
		t.Fatalf("me after restart = %d %v", status, out)
	}
	in.mustCall("POST", "/auth/api/token/refresh/", refresh, nil)
	if status, _ := in.call("POST", "/auth/api/Register/", "", map[string]any{"phonenumber": phone}); status != 409 {
		t.Fatalf("register after restart = %d, want 409", status)
	}
	if got, _, _ := in.login(phone); got != userID {
		t.Fatalf("login after restart: user %s, want %s", got, userID)
	}
	in.stop()

	// The file holds the secret as PHONEAUTH_JWT_SECRET takes it.
	secret, err := os.ReadFile(filepath.Join(dir, "auth.db.jwt-secret"))
	if err != nil {
		t.Fatal(err)
	}
	env["PHONEAUTH_JWT_SECRET"] = strings.TrimSpace(string(secret))
	in = start(t, env)
	if status, out := in.call("GET", "/auth/api/me/", access, nil); status != 200 || out["user_id"] != userID {
		t.Fatalf("me with the secret file's content configured = %d %v", status, out)
	}
}

func TestServesWithSecretsFromFiles(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	db := filepath.Join(dir, "auth.db")
	secret := strings.Repeat("f", 32)
	// As `echo … > file` writes them: each with a newline.
	for name, content := range map[string]string{"jwt": secret + "\n", "db": "sqlite:" + db + "\n"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	in := start(t, map[string]string{
		"PHONEAUTH_JWT_SECRET_FILE":   filepath.Join(dir, "jwt"),
		"PHONEAUTH_DATABASE_URL_FILE": filepath.Join(dir, "db"),
	})
	const phone = "+14155550310"
	mark := in.logs.mark()
	tok := in.mustCall("POST", "/auth/api/Register/", "", map[string]any{"phonenumber": phone})["token"].(string)
	in.mustCall("POST", "/auth/api/verify/", "", map[string]any{"code": in.code(mark, phone, "register"), "token": tok, "phone": phone})
	userID, access, _ := in.login(phone)
	in.stop()

	// The tokens are signed with the file's secret, newline dropped, and
	// the database is the file the other file names.
	signer, err := token.New([]byte(secret), time.Hour, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if claims, err := signer.Parse(access, time.Now()); err != nil || claims.Subject != userID {
		t.Errorf("access token with the file's secret: %+v, %v; want subject %s", claims, err, userID)
	}
	if _, err := os.Stat(db); err != nil {
		t.Errorf("database file: %v", err)
	}
	if _, err := os.Stat(db + ".jwt-secret"); err == nil {
		t.Errorf("a secret was generated beside the database although PHONEAUTH_JWT_SECRET_FILE is set")
	}
}

func TestMigrateOnPostgresNeedsNoSecret(t *testing.T) {
	t.Parallel()
	b := newBackends(t)
	env := func(k string) string {
		if k == "PHONEAUTH_DATABASE_URL" {
			return b.postgresURL
		}
		return ""
	}
	var out bytes.Buffer
	if err := run(context.Background(), []string{"migrate"}, env, nil, &out, io.Discard); err != nil || !strings.Contains(out.String(), "migrations applied") {
		t.Fatalf("migrate: %v %q", err, out.String())
	}
	err := run(context.Background(), []string{"serve"}, env, nil, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "PHONEAUTH_JWT_SECRET") {
		t.Fatalf("serve without a secret: %v, want an error naming PHONEAUTH_JWT_SECRET", err)
	}
}

func TestWebhookProviderDeliversTheCode(t *testing.T) {
	t.Parallel()
	type msg struct {
		To, Code, Purpose string
		Signed            bool
	}
	got := make(chan msg, 4)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var m struct {
			To      string `json:"to"`
			Code    string `json:"code"`
			Purpose string `json:"purpose"`
		}
		_ = json.NewDecoder(r.Body).Decode(&m)
		got <- msg{m.To, m.Code, m.Purpose, strings.HasPrefix(r.Header.Get("webhook-signature"), "v1,")}
	}))
	t.Cleanup(hook.Close)
	in := start(t, map[string]string{
		"PHONEAUTH_DATABASE_URL":       "sqlite:" + filepath.Join(t.TempDir(), "auth.db"),
		"PHONEAUTH_JWT_SECRET":         strings.Repeat("s", 32),
		"PHONEAUTH_SMS_PROVIDER":       "webhook",
		"PHONEAUTH_SMS_WEBHOOK_URL":    hook.URL,
		"PHONEAUTH_SMS_WEBHOOK_SECRET": "whsec_" + "c2VjcmV0IGtleSBmb3IgdGhlIHRlc3RzLCAyNCs=",
	})
	tok := in.mustCall("POST", "/auth/api/Register/", "", map[string]any{"phonenumber": "+14155550310"})["token"].(string)
	var m msg
	select {
	case m = <-got:
	case <-time.After(10 * time.Second):
		t.Fatal("the webhook was never called")
	}
	if m.To != "+14155550310" || m.Purpose != "register" || !m.Signed || len(m.Code) != 6 {
		t.Fatalf("webhook got %+v", m)
	}
	in.mustCall("POST", "/auth/api/verify/", "", map[string]any{"code": m.Code, "token": tok, "phone": m.To})
}

func TestWebhookWithoutSecretWarnsAtStart(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		secret string
		want   int // warnings
	}{
		{"no secret: a warning", "", 1},
		{"a secret: no warning", "whsec_c2VjcmV0IGtleSBmb3IgdGhlIHRlc3RzLCAyNCs=", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			in := start(t, map[string]string{
				"PHONEAUTH_DATABASE_URL":       "sqlite:" + filepath.Join(t.TempDir(), "auth.db"),
				"PHONEAUTH_SMS_PROVIDER":       "webhook",
				"PHONEAUTH_SMS_WEBHOOK_URL":    "http://127.0.0.1:1/",
				"PHONEAUTH_SMS_WEBHOOK_SECRET": tt.secret,
			})
			// start has read the line saying it listens, which comes
			// after every warning about the configuration.
			got := in.logs.count(func(m map[string]any) bool {
				msg, _ := m["msg"].(string)
				return m["level"] == "WARN" && strings.HasPrefix(msg, "PHONEAUTH_SMS_WEBHOOK_SECRET is not set: webhook requests are not signed")
			})
			if got != tt.want {
				t.Errorf("got %d warnings about the webhook secret, want %d", got, tt.want)
			}
		})
	}
}

func TestActiveTestNumbersWarnAtStart(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		until string
		want  int // warnings
	}{
		{"until a time to come: a warning", time.Now().Add(time.Hour).UTC().Format(time.RFC3339), 1},
		{"until a time past: none work, no warning", "2020-01-01T00:00:00Z", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			in := start(t, map[string]string{
				"PHONEAUTH_DATABASE_URL":       "sqlite:" + filepath.Join(t.TempDir(), "auth.db"),
				"PHONEAUTH_TEST_NUMBERS":       "+15550100000=123456,+15550100001=654321",
				"PHONEAUTH_TEST_NUMBERS_UNTIL": tt.until,
			})
			got := in.logs.count(func(m map[string]any) bool {
				msg, _ := m["msg"].(string)
				return m["level"] == "WARN" && strings.HasPrefix(msg, "test numbers are active") && m["count"] == float64(2)
			})
			if got != tt.want {
				t.Errorf("got %d warnings about 2 active test numbers, want %d", got, tt.want)
			}
		})
	}
}

func TestWebhookFailureIs502(t *testing.T) {
	t.Parallel()
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusInternalServerError)
	}))
	t.Cleanup(hook.Close)
	in := start(t, map[string]string{
		"PHONEAUTH_DATABASE_URL":    "sqlite:" + filepath.Join(t.TempDir(), "auth.db"),
		"PHONEAUTH_SMS_PROVIDER":    "webhook",
		"PHONEAUTH_SMS_WEBHOOK_URL": hook.URL,
	})
	status, out := in.call("POST", "/auth/api/Register/", "", map[string]any{"phonenumber": "+14155550320"})
	if status != 502 || out["error"] != "Could not send SMS, try again" {
		t.Fatalf("register = %d %v", status, out)
	}
}

func TestSMSBeyondTheConcurrencyAre503(t *testing.T) {
	t.Parallel()
	arrived := make(chan struct{}, 10)
	release := make(chan struct{})
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(hook.Close)
	in := start(t, map[string]string{
		"PHONEAUTH_DATABASE_URL":       "sqlite:" + filepath.Join(t.TempDir(), "auth.db"),
		"PHONEAUTH_SMS_PROVIDER":       "webhook",
		"PHONEAUTH_SMS_WEBHOOK_URL":    hook.URL,
		"PHONEAUTH_SMS_WEBHOOK_SECRET": "whsec_c2VjcmV0IGtleSBmb3IgdGhlIHRlc3RzLCAyNCs=",
		"PHONEAUTH_SMS_CONCURRENCY":    "1",
	})
	var once sync.Once
	free := func() { once.Do(func() { close(release) }) }
	t.Cleanup(free) // runs before the instance stops, which waits for its requests
	register := func(phone string) (*http.Response, error) {
		return http.Post(in.url+"/auth/api/Register/", "application/json", strings.NewReader(`{"phonenumber":"`+phone+`"}`))
	}
	first := make(chan int, 1)
	go func() {
		res, err := register("+14155550340")
		if err != nil {
			first <- 0
			return
		}
		res.Body.Close()
		first <- res.StatusCode
	}()
	select {
	case <-arrived:
	case <-time.After(10 * time.Second):
		t.Fatal("the first SMS never reached the webhook")
	}

	res, err := register("+14155550341")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusServiceUnavailable || string(body) != `{"error":"Service unavailable"}`+"\n" || res.Header.Get("Retry-After") != "2" {
		t.Errorf("register while the only send slot is taken = %d %q Retry-After %q, want 503 Service unavailable, Retry-After 2",
			res.StatusCode, body, res.Header.Get("Retry-After"))
	}
	free()
	select {
	case status := <-first:
		if status != http.StatusOK {
			t.Fatalf("first register = %d, want 200", status)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the first register never answered")
	}
	// The refused registration left no account behind.
	in.mustCall("POST", "/auth/api/Register/", "", map[string]any{"phonenumber": "+14155550341"})
}

func TestBadConfigurationStopsTheStart(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		env  map[string]string
		want []string
	}{
		// loadConfig's own table (config_test.go) covers every variable;
		// these show that serve stops on its refusals, and joins them with
		// what only serving needs.
		{"a bad variable, secret not echoed", map[string]string{"PHONEAUTH_REDIS_URL": "redis://:hunter%zz2@127.0.0.1:6379/0"}, []string{"PHONEAUTH_REDIS_URL"}},
		{"postgres without secret, with a bad variable", map[string]string{"PHONEAUTH_DATABASE_URL": "postgres://127.0.0.1/x", "PHONEAUTH_CODE_TTL": "x"}, []string{"PHONEAUTH_JWT_SECRET", "PHONEAUTH_CODE_TTL"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.env["PHONEAUTH_DATABASE_URL"] = cmp(tt.env["PHONEAUTH_DATABASE_URL"], "sqlite:"+filepath.Join(t.TempDir(), "x.db"))
			tt.env["PHONEAUTH_ADDR"] = cmp(tt.env["PHONEAUTH_ADDR"], "127.0.0.1:0")
			// Should validation let the config through, the server must
			// not serve forever.
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			err := run(ctx, []string{"serve"}, func(k string) string { return tt.env[k] }, nil, io.Discard, io.Discard)
			if err == nil {
				t.Fatal("run succeeded, want an error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "hunter") {
				t.Errorf("error %q repeats a secret", err)
			}
		})
	}
}

func cmp(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func TestSubcommands(t *testing.T) {
	t.Parallel()
	db := "sqlite:" + filepath.Join(t.TempDir(), "m.db")
	env := func(k string) string {
		if k == "PHONEAUTH_DATABASE_URL" {
			return db
		}
		return ""
	}
	var out bytes.Buffer
	if err := run(context.Background(), []string{"migrate"}, env, nil, &out, io.Discard); err != nil || !strings.Contains(out.String(), "migrations applied") {
		t.Fatalf("migrate: %v %q", err, out.String())
	}
	out.Reset()
	if err := run(context.Background(), []string{"version"}, env, nil, &out, io.Discard); err != nil || !strings.HasPrefix(out.String(), "phoneauth ") {
		t.Fatalf("version: %v %q", err, out.String())
	}
	if err := run(context.Background(), []string{"frobnicate"}, env, nil, io.Discard, io.Discard); err == nil {
		t.Fatal("unknown command accepted")
	}
}

func TestServeWaitsForRedisAtStart(t *testing.T) {
	t.Parallel()
	redisURL := testenv.RedisURL(t)
	u, err := url.Parse(redisURL)
	if err != nil {
		t.Fatal(err)
	}
	proxy := tcpproxy.ForTest(t, u.Host)
	proxy.Cut()
	u.Host = proxy.Addr()

	env := map[string]string{
		"PHONEAUTH_DATABASE_URL": "sqlite:" + filepath.Join(t.TempDir(), "auth.db"),
		"PHONEAUTH_REDIS_URL":    u.String(),
		"PHONEAUTH_REDIS_PREFIX": "phoneauth-test-" + strconv.FormatInt(time.Now().UnixNano(), 36) + ":",
		"PHONEAUTH_ADDR":         "127.0.0.1:0",
		"PHONEAUTH_LOG_FORMAT":   "json",
	}
	ctx, cancel := context.WithCancel(context.Background())
	in := &instance{t: t, cancel: cancel, done: make(chan error, 1), logs: newLogTail()}
	go func() {
		in.done <- run(ctx, []string{"serve"}, func(k string) string { return env[k] }, nil, io.Discard, in.logs.w)
	}()
	t.Cleanup(in.stop)
	in.logs.wait(t, func(m map[string]any) bool {
		return m["msg"] == "dependency unavailable at start, retrying" && m["dependency"] == "redis"
	})
	proxy.Restore()
	line := in.logs.wait(t, func(m map[string]any) bool { return m["msg"] == "listening" })
	in.url = "http://" + line["addr"].(string)
	in.mustCall("POST", "/auth/api/Register/", "", map[string]any{"phonenumber": "+14155550330"})
}
