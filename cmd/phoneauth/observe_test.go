package main

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/phoneauth/phoneauth/internal/testenv"
)

// scrape returns the exposition served at url: every sample by its series,
// as "name{label="value",...}" with the labels in the exposition's
// (sorted) order, and the text whole.
func scrape(t *testing.T, url string) (map[string]float64, string) {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("GET %s = %d, %v", url, res.StatusCode, err)
	}
	samples := map[string]float64{}
	sc := bufio.NewScanner(strings.NewReader(string(body)))
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("sample %q: %v", line, err)
		}
		samples[line[:i]] = v
	}
	return samples, string(body)
}

// family returns the samples of samples whose series is of metric name.
func family(samples map[string]float64, name string) map[string]float64 {
	out := map[string]float64{}
	for s, v := range samples {
		if s == name || strings.HasPrefix(s, name+"{") {
			out[s] = v
		}
	}
	return out
}

// TestMetricsCountAFlow runs register, verify, login, login/verify,
// refresh, reuse and logout against a server run in-process, scrapes its
// metrics listener, and checks every counter by its exact series.
func TestMetricsCountAFlow(t *testing.T) {
	t.Parallel()
	env := map[string]string{
		"PHONEAUTH_DATABASE_URL":        "sqlite:" + t.TempDir() + "/auth.db",
		"PHONEAUTH_METRICS_ADDR":        "127.0.0.1:0",
		"PHONEAUTH_REFRESH_REUSE_GRACE": "0s", // a second refresh with a spent token is reuse at once
	}
	in := start(t, env)
	metricsURL := "http://" + in.logs.wait(t, func(m map[string]any) bool { return m["msg"] == "serving metrics" })["addr"].(string) + "/metrics"
	const phone = "+14155550301"

	mark := in.logs.mark()
	token := in.mustCall("POST", "/auth/api/Register/", "", map[string]any{"phonenumber": phone})["token"].(string)
	code := in.code(mark, phone, "register")
	if status, _ := in.call("POST", "/auth/api/verify/", "", map[string]any{"code": wrongCode(code), "token": token, "phone": phone}); status != 400 {
		t.Fatalf("verify with a wrong code = %d, want 400", status)
	}
	in.mustCall("POST", "/auth/api/verify/", "", map[string]any{"code": code, "token": token, "phone": phone})

	mark = in.logs.mark()
	userID := in.mustCall("POST", "/auth/api/login/", "", map[string]any{"phone": phone})["user_id"].(string)
	code = in.code(mark, phone, "login")
	if status, _ := in.call("POST", "/auth/api/login/", "", map[string]any{"phone": phone}); status != 429 {
		t.Fatalf("second login = %d, want 429", status)
	}
	if status, _ := in.call("POST", "/auth/api/login/verify/", "", map[string]any{"code": wrongCode(code), "user_id": userID}); status != 400 {
		t.Fatalf("login/verify with a wrong code = %d, want 400", status)
	}
	refresh := in.mustCall("POST", "/auth/api/login/verify/", "", map[string]any{"code": code, "user_id": userID})["refresh_token"].(string)
	in.mustCall("POST", "/auth/api/token/refresh/", refresh, nil)
	if status, _ := in.call("POST", "/auth/api/token/refresh/", refresh, nil); status != 401 {
		t.Fatalf("refresh with a spent token = %d, want 401", status)
	}

	// Without the trailing slash: the same route.
	mark = in.logs.mark()
	userID = in.mustCall("POST", "/auth/api/login", "", map[string]any{"phone": phone})["user_id"].(string)
	access := in.mustCall("POST", "/auth/api/login/verify/", "", map[string]any{"code": in.code(mark, phone, "login"), "user_id": userID})["access_token"].(string)
	in.mustCall("POST", "/auth/api/logout/", access, nil)
	// A path carrying a number matches no route, and must not become a
	// series of its own; nor may a method of the client's choosing.
	if status, _ := in.call("GET", "/auth/api/"+phone+"/", "", nil); status != 404 {
		t.Fatalf("unknown path = %d, want 404", status)
	}
	if status, _ := in.call("BREW", "/auth/api/me/", "", nil); status != 405 {
		t.Fatalf("unknown method = %d, want 405", status)
	}
	// The API's listener serves no metrics.
	if status, body := in.call("GET", "/metrics", "", nil); status != 404 || !reflect.DeepEqual(body, map[string]any{"error": "Not found"}) {
		t.Fatalf("GET /metrics on the API = %d %v, want 404", status, body)
	}

	samples, text := scrape(t, metricsURL)
	want := map[string]map[string]float64{
		"phoneauth_sms_sent_total": {
			`phoneauth_sms_sent_total{outcome="ok",provider="console",purpose="register"}`: 1,
			`phoneauth_sms_sent_total{outcome="ok",provider="console",purpose="login"}`:    2,
		},
		"phoneauth_code_checks_total": {
			`phoneauth_code_checks_total{outcome="wrong",purpose="register"}`: 1,
			`phoneauth_code_checks_total{outcome="ok",purpose="register"}`:    1,
			`phoneauth_code_checks_total{outcome="wrong",purpose="login"}`:    1,
			`phoneauth_code_checks_total{outcome="ok",purpose="login"}`:       2,
		},
		"phoneauth_limited_total": {
			`phoneauth_limited_total{limit="login_pending"}`: 1,
		},
		"phoneauth_refresh_reuse_total": {
			`phoneauth_refresh_reuse_total`: 1,
		},
		"phoneauth_sessions_revoked_total": {
			`phoneauth_sessions_revoked_total{reason="reuse"}`:  1,
			`phoneauth_sessions_revoked_total{reason="logout"}`: 1,
		},
		"phoneauth_http_requests_total": {
			`phoneauth_http_requests_total{method="POST",route="/auth/api/Register/",status="200"}`:      1,
			`phoneauth_http_requests_total{method="POST",route="/auth/api/verify/",status="400"}`:        1,
			`phoneauth_http_requests_total{method="POST",route="/auth/api/verify/",status="200"}`:        1,
			`phoneauth_http_requests_total{method="POST",route="/auth/api/login/",status="200"}`:         2,
			`phoneauth_http_requests_total{method="POST",route="/auth/api/login/",status="429"}`:         1,
			`phoneauth_http_requests_total{method="POST",route="/auth/api/login/verify/",status="400"}`:  1,
			`phoneauth_http_requests_total{method="POST",route="/auth/api/login/verify/",status="200"}`:  2,
			`phoneauth_http_requests_total{method="POST",route="/auth/api/token/refresh/",status="200"}`: 1,
			`phoneauth_http_requests_total{method="POST",route="/auth/api/token/refresh/",status="401"}`: 1,
			`phoneauth_http_requests_total{method="POST",route="/auth/api/logout/",status="200"}`:        1,
			`phoneauth_http_requests_total{method="GET",route="unmatched",status="404"}`:                 2, // the number's path and /metrics
			`phoneauth_http_requests_total{method="other",route="/auth/api/me/",status="405"}`:           1,
		},
		"phoneauth_http_request_duration_seconds_count": {
			`phoneauth_http_request_duration_seconds_count{route="/auth/api/Register/"}`:      1,
			`phoneauth_http_request_duration_seconds_count{route="/auth/api/verify/"}`:        2,
			`phoneauth_http_request_duration_seconds_count{route="/auth/api/login/"}`:         3,
			`phoneauth_http_request_duration_seconds_count{route="/auth/api/login/verify/"}`:  3,
			`phoneauth_http_request_duration_seconds_count{route="/auth/api/token/refresh/"}`: 2,
			`phoneauth_http_request_duration_seconds_count{route="/auth/api/logout/"}`:        1,
			`phoneauth_http_request_duration_seconds_count{route="/auth/api/me/"}`:            1,
			`phoneauth_http_request_duration_seconds_count{route="unmatched"}`:                2,
		},
		"phoneauth_build_info": {
			`phoneauth_build_info{revision="unknown",version="(devel)"}`: 1,
		},
	}
	for name, w := range want {
		if got := family(samples, name); !reflect.DeepEqual(got, w) {
			t.Errorf("%s =\n%v\nwant\n%v", name, got, w)
		}
	}
	// Each store and limiter operation the flow ran, timed by its name.
	for _, s := range []string{
		`phoneauth_store_duration_seconds_count{op="Register"}`,
		`phoneauth_store_duration_seconds_count{op="VerifyRegistration"}`,
		`phoneauth_store_duration_seconds_count{op="PutLoginChallenge"}`,
		`phoneauth_store_duration_seconds_count{op="VerifyLogin"}`,
		`phoneauth_store_duration_seconds_count{op="RotateRefresh"}`,
		`phoneauth_store_duration_seconds_count{op="RevokeToken"}`,
		`phoneauth_limiter_duration_seconds_count{op="Hit"}`,
		`go_goroutines`,
		`process_cpu_seconds_total`,
	} {
		if samples[s] <= 0 {
			t.Errorf("%s = %v, want more than 0", s, samples[s])
		}
	}
	if got, want := samples[`phoneauth_store_duration_seconds_count{op="RotateRefresh"}`], 2.0; got != want {
		t.Errorf("RotateRefresh timed %v times, want %v", got, want)
	}
	for _, private := range []string{strings.TrimPrefix(phone, "+"), "5550301", userID, "127.0.0.1", "BREW"} {
		if strings.Contains(text, private) {
			t.Errorf("the exposition holds %q:\n%s", private, text)
		}
	}
	if m := regexp.MustCompile(`(?m)^phoneauth_.*\{[^}]*route="/auth/api/[^"]*\+`).FindString(text); m != "" {
		t.Errorf("a raw path became a route: %s", m)
	}
}

// TestMetricsCountFailedSMSAndEachLimit drives a webhook provider that
// fails, then one that delivers, into the per-IP limits and the service's
// SMS budget.
func TestMetricsCountFailedSMSAndEachLimit(t *testing.T) {
	t.Parallel()
	var (
		mu       sync.Mutex
		failing  = true
		lastCode string
	)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var m struct{ Code string }
		_ = json.NewDecoder(r.Body).Decode(&m)
		mu.Lock()
		defer mu.Unlock()
		if failing {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		lastCode = m.Code
	}))
	t.Cleanup(hook.Close)
	in := start(t, map[string]string{
		"PHONEAUTH_DATABASE_URL":         "sqlite:" + t.TempDir() + "/auth.db",
		"PHONEAUTH_METRICS_ADDR":         "127.0.0.1:0",
		"PHONEAUTH_SMS_PROVIDER":         "webhook",
		"PHONEAUTH_SMS_WEBHOOK_URL":      hook.URL,
		"PHONEAUTH_SMS_PER_HOUR":         "1",
		"PHONEAUTH_IP_RATE_LIMIT":        "3",
		"PHONEAUTH_IP_VERIFY_RATE_LIMIT": "1",
	})
	metricsURL := "http://" + in.logs.wait(t, func(m map[string]any) bool { return m["msg"] == "serving metrics" })["addr"].(string) + "/metrics"
	const phone, other = "+14155550330", "+14155550331"
	register := func(phone string, want int) map[string]any {
		t.Helper()
		status, out := in.call("POST", "/auth/api/Register/", "", map[string]any{"phonenumber": phone})
		if status != want {
			t.Fatalf("register %s = %d %v, want %d", phone, status, out, want)
		}
		return out
	}
	register(phone, 502) // the provider fails: no budget spent
	mu.Lock()
	failing = false
	mu.Unlock()
	token := register(phone, 200)["token"].(string)
	register(other, 429) // the hour's SMS are spent
	register(other, 429) // the fourth request from this address
	mu.Lock()
	code := lastCode
	mu.Unlock()
	verify := map[string]any{"code": wrongCode(code), "token": token, "phone": phone}
	if status, out := in.call("POST", "/auth/api/verify/", "", verify); status != 400 {
		t.Fatalf("verify with a wrong code = %d %v, want 400", status, out)
	}
	if status, out := in.call("POST", "/auth/api/verify/", "", verify); status != 429 {
		t.Fatalf("a second code check from this address = %d %v, want 429", status, out)
	}

	samples, _ := scrape(t, metricsURL)
	want := map[string]map[string]float64{
		"phoneauth_sms_sent_total": {
			`phoneauth_sms_sent_total{outcome="failed",provider="webhook",purpose="register"}`: 3, // the try and its two retries
			`phoneauth_sms_sent_total{outcome="ok",provider="webhook",purpose="register"}`:     1,
		},
		"phoneauth_code_checks_total": {
			`phoneauth_code_checks_total{outcome="wrong",purpose="register"}`: 1,
		},
		"phoneauth_limited_total": {
			`phoneauth_limited_total{limit="sms_budget"}`: 1,
			`phoneauth_limited_total{limit="ip_rate"}`:    1,
			`phoneauth_limited_total{limit="ip_verify"}`:  1,
		},
	}
	for name, w := range want {
		if got := family(samples, name); !reflect.DeepEqual(got, w) {
			t.Errorf("%s =\n%v\nwant\n%v", name, got, w)
		}
	}
}

// TestReadyzNamesEachDependency takes each dependency down behind a proxy
// and expects /readyz to name it, by what it is, as the one down.
func TestReadyzNamesEachDependency(t *testing.T) {
	t.Parallel()
	t.Run("sqlite alone", func(t *testing.T) {
		t.Parallel()
		in := start(t, map[string]string{"PHONEAUTH_DATABASE_URL": "sqlite:" + t.TempDir() + "/auth.db"})
		wantReady(t, in, 200, map[string]any{"status": "ok", "checks": map[string]any{"sqlite": "ok"}})
	})
	t.Run("sqlite with redis down", func(t *testing.T) {
		t.Parallel()
		rd, redisURL := proxyURL(t, testenv.RedisURL(t))
		in := start(t, map[string]string{
			"PHONEAUTH_DATABASE_URL": "sqlite:" + t.TempDir() + "/auth.db",
			"PHONEAUTH_REDIS_URL":    redisURL,
			"PHONEAUTH_REDIS_PREFIX": "phoneauth-test:readyz-" + randomHex(6) + ":",
		})
		wantReady(t, in, 200, map[string]any{"status": "ok", "checks": map[string]any{"sqlite": "ok", "redis": "ok"}})
		rd.Cut()
		wantReady(t, in, 503, map[string]any{"status": "unavailable", "checks": map[string]any{"sqlite": "ok", "redis": "unavailable"}})
	})
	t.Run("postgres down, counters in it", func(t *testing.T) {
		t.Parallel()
		pg, pgURL := proxyURL(t, newBackends(t).postgresURL)
		in := start(t, map[string]string{
			"PHONEAUTH_DATABASE_URL": pgURL,
			"PHONEAUTH_JWT_SECRET":   strings.Repeat("s", 32),
		})
		wantReady(t, in, 200, map[string]any{"status": "ok", "checks": map[string]any{"postgres": "ok"}})
		pg.Cut()
		wantReady(t, in, 503, map[string]any{"status": "unavailable", "checks": map[string]any{"postgres": "unavailable"}})
	})
}

func wantReady(t *testing.T, in *instance, status int, body map[string]any) {
	t.Helper()
	if gotStatus, got := in.call("GET", "/readyz", "", nil); gotStatus != status || !reflect.DeepEqual(got, body) {
		t.Errorf("GET /readyz = %d %v, want %d %v", gotStatus, got, status, body)
	}
}
