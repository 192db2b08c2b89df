package main

import (
	"log/slog"
	"maps"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/phoneauth/phoneauth"
	"github.com/phoneauth/phoneauth/postgres"
	"github.com/phoneauth/phoneauth/redis"
	"github.com/phoneauth/phoneauth/sms"
)

// env is a getenv backed by a map.
func env(vars map[string]string) func(string) string {
	return func(k string) string { return vars[k] }
}

func TestLoadConfigDefaults(t *testing.T) {
	t.Parallel()
	got, err := loadConfig(env(nil))
	if err != nil {
		t.Fatalf("loadConfig with nothing set: %v", err)
	}
	want := config{
		Addr:        "127.0.0.1:8080",
		DatabaseURL: "sqlite:phoneauth.db",
		JWTSecret:   []byte(""), // generated beside the SQLite file
		SMS:         smsConfig{Providers: []string{"console"}, Concurrency: sms.DefaultConcurrency, Retries: 2, Timeout: 10 * time.Second},
		Region:      "US",
		Policy:      phoneauth.DefaultPolicy(),
		RedisPrefix: redis.DefaultPrefix,
		DB:          postgres.DefaultOptions(),
		LogFormat:   "text",
		LogLevel:    slog.LevelInfo,
		MetricsAddr: "", // no metrics
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("loadConfig with nothing set =\n%+v\nwant\n%+v", got, want)
	}
}

func TestLoadConfigParsesGoodValues(t *testing.T) {
	t.Parallel()
	secret := strings.Repeat("s", 32)
	vars := map[string]string{
		"PHONEAUTH_ADDR":                   "0.0.0.0:9000",
		"PHONEAUTH_DATABASE_URL":           "postgresql://app:pw@db:5432/auth?sslmode=disable",
		"PHONEAUTH_JWT_SECRET":             secret,
		"PHONEAUTH_SMS_PROVIDER":           "webhook",
		"PHONEAUTH_SMS_WEBHOOK_URL":        "http://sms.internal/hook?key=k",
		"PHONEAUTH_SMS_WEBHOOK_SECRET":     "whsec_c2VjcmV0LWtleS1ieXRlcy0yNC1sb25n",
		"PHONEAUTH_SMS_WEBHOOK_ALLOW_HTTP": "true",
		"PHONEAUTH_SMS_CONCURRENCY":        "10000",
		"PHONEAUTH_SMS_RETRIES":            "0",
		"PHONEAUTH_SMS_TIMEOUT":            "2500ms",
		"PHONEAUTH_SMS_TEMPLATE_REGISTER":  "Welcome to {{.AppName}}: {{.Code}}",
		"PHONEAUTH_SMS_TEMPLATE_LOGIN":     "{{.AppName}} code {{.Code}}, {{.Minutes}} min",
		"PHONEAUTH_SMS_APP_NAME":           "Acme",
		"PHONEAUTH_SMS_ORIGIN":             "auth.example.com",
		"PHONEAUTH_SMS_ANDROID_HASH":       "FA+9qCX9VSu",
		"PHONEAUTH_CODE_TTL":               "90s",
		"PHONEAUTH_LOGIN_THROTTLE":         "0s",
		"PHONEAUTH_CODE_LENGTH":            "8",
		"PHONEAUTH_MAX_ATTEMPTS":           "3",
		"PHONEAUTH_ACCESS_TTL":             "1m",
		"PHONEAUTH_REFRESH_TTL":            "24h",
		"PHONEAUTH_DEFAULT_REGION":         "gb",
		"PHONEAUTH_REDIS_URL":              "rediss://:pw@cache:6380/2",
		"PHONEAUTH_REDIS_PREFIX":           "auth:",
		"PHONEAUTH_IP_RATE_LIMIT":          "0",
		"PHONEAUTH_SMS_PER_HOUR":           "100000000",
		"PHONEAUTH_TRUSTED_PROXIES":        "10.0.0.0/8, 192.168.1.7 ,2001:db8::1/48",
		"PHONEAUTH_DB_MAX_CONNS":           "1000",
		"PHONEAUTH_DB_STATEMENT_TIMEOUT":   "1ms",
		"PHONEAUTH_LOG_FORMAT":             "json",
		"PHONEAUTH_LOG_LEVEL":              "debug",
		"PHONEAUTH_METRICS_ADDR":           "127.0.0.1:9464",
		"PHONEAUTH_IP_VERIFY_RATE_LIMIT":   "0",
		"PHONEAUTH_REFRESH_REUSE_GRACE":    "0s",
		"PHONEAUTH_LOCKOUT_THRESHOLD":      "100",
		"PHONEAUTH_LOCKOUT_DURATION":       "1h",
		"PHONEAUTH_AUDIT_RETENTION":        "720h",
		"PHONEAUTH_SMS_REGIONS":            "us, gb",
		"PHONEAUTH_SMS_PER_PHONE_DAY":      "3",
		"PHONEAUTH_SMS_PER_RANGE_HOUR":     "0",
		"PHONEAUTH_SMS_PER_DAY":            "7",
		"PHONEAUTH_SMS_PER_COUNTRY_HOUR":   "IR=200, us=500, *=50",
		"PHONEAUTH_TEST_NUMBERS":           "+15550100000=12345678,+15550100001=87654321",
		"PHONEAUTH_TEST_NUMBERS_UNTIL":     "2026-12-31T23:59:59Z",
	}
	got, err := loadConfig(env(vars))
	if err != nil {
		t.Fatalf("loadConfig: %v", err)
	}
	db := postgres.DefaultOptions()
	db.MaxConns, db.StatementTimeout = 1000, time.Millisecond
	want := config{
		Addr:        "0.0.0.0:9000",
		DatabaseURL: vars["PHONEAUTH_DATABASE_URL"],
		JWTSecret:   []byte(secret),
		SMS: smsConfig{
			Providers: []string{"webhook"},
			Webhook: sms.WebhookConfig{
				URL:       vars["PHONEAUTH_SMS_WEBHOOK_URL"],
				Secret:    vars["PHONEAUTH_SMS_WEBHOOK_SECRET"],
				AllowHTTP: true,
			},
			Concurrency: 10_000,
			Retries:     0,
			Timeout:     2500 * time.Millisecond,
			Text: sms.TextConfig{
				Register:    vars["PHONEAUTH_SMS_TEMPLATE_REGISTER"],
				Login:       vars["PHONEAUTH_SMS_TEMPLATE_LOGIN"],
				AppName:     "Acme",
				Origin:      "auth.example.com",
				AndroidHash: "FA+9qCX9VSu",
			},
		},
		Region: "GB",
		Policy: phoneauth.Policy{
			CodeTTL:       90 * time.Second,
			LoginThrottle: 0,
			CodeLength:    8,
			MaxAttempts:   3,
			AccessTTL:     time.Minute,
			RefreshTTL:    24 * time.Hour,
			IPRateLimit:   0,
			SMSPerHour:    100_000_000,

			RefreshReuseGrace: 0,
			IPVerifyRateLimit: 0,
			LockoutThreshold:  100,
			LockoutDuration:   time.Hour,
			AuditRetention:    720 * time.Hour,

			SMSRegions:        []string{"US", "GB"},
			SMSPerPhoneDay:    3,
			SMSPerRangeHour:   0,
			SMSPerDay:         7,
			SMSPerCountryHour: map[string]int{"IR": 200, "US": 500, "*": 50},
		},
		TestNumbers:      map[string]string{"+15550100000": "12345678", "+15550100001": "87654321"},
		TestNumbersUntil: time.Date(2026, 12, 31, 23, 59, 59, 0, time.UTC),
		RedisURL:         vars["PHONEAUTH_REDIS_URL"],
		RedisPrefix:      "auth:",
		TrustedProxies: []netip.Prefix{
			netip.MustParsePrefix("10.0.0.0/8"),
			netip.MustParsePrefix("192.168.1.7/32"),
			netip.MustParsePrefix("2001:db8::/48"),
		},
		DB:          db,
		LogFormat:   "json",
		LogLevel:    slog.LevelDebug,
		MetricsAddr: "127.0.0.1:9464",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("loadConfig =\n%+v\nwant\n%+v", got, want)
	}
}

func TestLoadConfigReadsEachLogLevel(t *testing.T) {
	t.Parallel()
	for v, want := range map[string]slog.Level{
		"debug": slog.LevelDebug, "info": slog.LevelInfo, "warn": slog.LevelWarn, "error": slog.LevelError,
	} {
		c, err := loadConfig(env(map[string]string{"PHONEAUTH_LOG_LEVEL": v}))
		if err != nil || c.LogLevel != want {
			t.Errorf("PHONEAUTH_LOG_LEVEL=%s: level %v, error %v; want %v", v, c.LogLevel, err, want)
		}
	}
}

func TestLoadConfigLetsTheConsoleServeOnlyOnLoopback(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		vars map[string]string
		ok   bool
	}{
		{"default address", nil, true},
		{"IPv6 loopback", map[string]string{"PHONEAUTH_ADDR": "[::1]:8080"}, true},
		{"localhost", map[string]string{"PHONEAUTH_ADDR": "localhost:8080"}, true},
		{"every address", map[string]string{"PHONEAUTH_ADDR": "0.0.0.0:8080"}, false},
		{"every address, allowed", map[string]string{"PHONEAUTH_ADDR": "0.0.0.0:8080", "PHONEAUTH_SMS_CONSOLE_ANY_ADDR": "true"}, true},
		{"every address with the webhook", map[string]string{"PHONEAUTH_ADDR": "0.0.0.0:8080", "PHONEAUTH_SMS_PROVIDER": "webhook", "PHONEAUTH_SMS_WEBHOOK_URL": "https://sms.example/"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := loadConfig(env(tt.vars))
			if (err == nil) != tt.ok {
				t.Fatalf("loadConfig = %v, want ok: %v", err, tt.ok)
			}
			if want := tt.vars["PHONEAUTH_SMS_CONSOLE_ANY_ADDR"] == "true"; err == nil && c.SMS.ConsoleAnyAddr != want {
				t.Errorf("ConsoleAnyAddr = %v, want %v", c.SMS.ConsoleAnyAddr, want)
			}
		})
	}
}

func TestLoadConfigNamesEachBadVariable(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		vars    map[string]string
		want    []string // the variables named, one per line of the error
		private string   // must not appear in the error
	}{
		{"short secret", map[string]string{"PHONEAUTH_JWT_SECRET": "hunter2"}, []string{"PHONEAUTH_JWT_SECRET"}, "hunter2"},
		{"address without a port", map[string]string{"PHONEAUTH_ADDR": "8080"}, []string{"PHONEAUTH_ADDR"}, ""},
		{"duration that does not parse", map[string]string{"PHONEAUTH_CODE_TTL": "five"}, []string{"PHONEAUTH_CODE_TTL"}, ""},
		{"code TTL under a second", map[string]string{"PHONEAUTH_CODE_TTL": "999ms"}, []string{"PHONEAUTH_CODE_TTL"}, ""},
		{"negative login throttle", map[string]string{"PHONEAUTH_LOGIN_THROTTLE": "-1s"}, []string{"PHONEAUTH_LOGIN_THROTTLE"}, ""},
		{"login throttle over an hour", map[string]string{"PHONEAUTH_LOGIN_THROTTLE": "61m"}, []string{"PHONEAUTH_LOGIN_THROTTLE"}, ""},
		{"code length below the range", map[string]string{"PHONEAUTH_CODE_LENGTH": "3"}, []string{"PHONEAUTH_CODE_LENGTH"}, ""},
		{"unsafe code length", map[string]string{"PHONEAUTH_CODE_LENGTH": "5"}, []string{"PHONEAUTH_CODE_LENGTH"}, ""},
		{"unsafe code TTL", map[string]string{"PHONEAUTH_CODE_TTL": "11m"}, []string{"PHONEAUTH_CODE_TTL"}, ""},
		{"unsafe max attempts", map[string]string{"PHONEAUTH_MAX_ATTEMPTS": "11"}, []string{"PHONEAUTH_MAX_ATTEMPTS"}, ""},
		{"unsafe lockout threshold", map[string]string{"PHONEAUTH_LOCKOUT_THRESHOLD": "101"}, []string{"PHONEAUTH_LOCKOUT_THRESHOLD"}, ""},
		{"no lockout threshold", map[string]string{"PHONEAUTH_LOCKOUT_THRESHOLD": "0"}, []string{"PHONEAUTH_LOCKOUT_THRESHOLD"}, ""},
		{"lockout under a second", map[string]string{"PHONEAUTH_LOCKOUT_DURATION": "500ms"}, []string{"PHONEAUTH_LOCKOUT_DURATION"}, ""},
		{"audit retention under an hour", map[string]string{"PHONEAUTH_AUDIT_RETENTION": "30m"}, []string{"PHONEAUTH_AUDIT_RETENTION"}, ""},
		{"lockout over a day", map[string]string{"PHONEAUTH_LOCKOUT_DURATION": "25h"}, []string{"PHONEAUTH_LOCKOUT_DURATION"}, ""},
		{"negative refresh reuse grace", map[string]string{"PHONEAUTH_REFRESH_REUSE_GRACE": "-1s"}, []string{"PHONEAUTH_REFRESH_REUSE_GRACE"}, ""},
		{"refresh reuse grace over a minute", map[string]string{"PHONEAUTH_REFRESH_REUSE_GRACE": "2m"}, []string{"PHONEAUTH_REFRESH_REUSE_GRACE"}, ""},
		{"negative IP verify limit", map[string]string{"PHONEAUTH_IP_VERIFY_RATE_LIMIT": "-1"}, []string{"PHONEAUTH_IP_VERIFY_RATE_LIMIT"}, ""},
		{"unknown SMS region", map[string]string{"PHONEAUTH_SMS_REGIONS": "US,XX"}, []string{"PHONEAUTH_SMS_REGIONS"}, ""},
		{"negative per-phone budget", map[string]string{"PHONEAUTH_SMS_PER_PHONE_DAY": "-1"}, []string{"PHONEAUTH_SMS_PER_PHONE_DAY"}, ""},
		{"per-range budget not a number", map[string]string{"PHONEAUTH_SMS_PER_RANGE_HOUR": "ten"}, []string{"PHONEAUTH_SMS_PER_RANGE_HOUR"}, ""},
		{"negative daily budget", map[string]string{"PHONEAUTH_SMS_PER_DAY": "-5"}, []string{"PHONEAUTH_SMS_PER_DAY"}, ""},
		{"country budget without a count", map[string]string{"PHONEAUTH_SMS_PER_COUNTRY_HOUR": "US"}, []string{"PHONEAUTH_SMS_PER_COUNTRY_HOUR"}, ""},
		{"country budget of one negative count", map[string]string{"PHONEAUTH_SMS_PER_COUNTRY_HOUR": "-3"}, []string{"PHONEAUTH_SMS_PER_COUNTRY_HOUR"}, ""},
		{"country budget of an unknown region", map[string]string{"PHONEAUTH_SMS_PER_COUNTRY_HOUR": "XX=5"}, []string{"PHONEAUTH_SMS_PER_COUNTRY_HOUR"}, ""},
		{"country budget not a number", map[string]string{"PHONEAUTH_SMS_PER_COUNTRY_HOUR": "US=many"}, []string{"PHONEAUTH_SMS_PER_COUNTRY_HOUR"}, ""},
		{"test numbers without an end", map[string]string{"PHONEAUTH_TEST_NUMBERS": "+15550100000=123456"}, []string{"PHONEAUTH_TEST_NUMBERS_UNTIL"}, ""},
		{"test numbers end not RFC 3339", map[string]string{"PHONEAUTH_TEST_NUMBERS": "+15550100000=123456", "PHONEAUTH_TEST_NUMBERS_UNTIL": "tomorrow"}, []string{"PHONEAUTH_TEST_NUMBERS_UNTIL"}, ""},
		{"test number code of the wrong length", map[string]string{"PHONEAUTH_TEST_NUMBERS": "+15550100000=1234", "PHONEAUTH_TEST_NUMBERS_UNTIL": "2026-12-31T00:00:00Z"}, []string{"PHONEAUTH_TEST_NUMBERS"}, ""},
		{"test number not E.164", map[string]string{"PHONEAUTH_TEST_NUMBERS": "555-0100=123456", "PHONEAUTH_TEST_NUMBERS_UNTIL": "2026-12-31T00:00:00Z"}, []string{"PHONEAUTH_TEST_NUMBERS"}, ""},
		{"code length above the range", map[string]string{"PHONEAUTH_CODE_LENGTH": "11"}, []string{"PHONEAUTH_CODE_LENGTH"}, ""},
		{"no attempts", map[string]string{"PHONEAUTH_MAX_ATTEMPTS": "0"}, []string{"PHONEAUTH_MAX_ATTEMPTS"}, ""},
		{"attempts too large for an int", map[string]string{"PHONEAUTH_MAX_ATTEMPTS": "99999999999999999999"}, []string{"PHONEAUTH_MAX_ATTEMPTS"}, ""},
		{"attempts not a number", map[string]string{"PHONEAUTH_MAX_ATTEMPTS": "5x"}, []string{"PHONEAUTH_MAX_ATTEMPTS"}, ""},
		{"access TTL zero", map[string]string{"PHONEAUTH_ACCESS_TTL": "0s"}, []string{"PHONEAUTH_ACCESS_TTL"}, ""},
		{"refresh TTL negative", map[string]string{"PHONEAUTH_REFRESH_TTL": "-1h"}, []string{"PHONEAUTH_REFRESH_TTL"}, ""},
		{"negative IP rate limit", map[string]string{"PHONEAUTH_IP_RATE_LIMIT": "-1"}, []string{"PHONEAUTH_IP_RATE_LIMIT"}, ""},
		{"SMS budget above the range", map[string]string{"PHONEAUTH_SMS_PER_HOUR": "100000001"}, []string{"PHONEAUTH_SMS_PER_HOUR"}, ""},
		{"no database connections", map[string]string{"PHONEAUTH_DB_MAX_CONNS": "0"}, []string{"PHONEAUTH_DB_MAX_CONNS"}, ""},
		{"database connections above the range", map[string]string{"PHONEAUTH_DB_MAX_CONNS": "1001"}, []string{"PHONEAUTH_DB_MAX_CONNS"}, ""},
		{"database connections too large for an int32", map[string]string{"PHONEAUTH_DB_MAX_CONNS": "4294967296"}, []string{"PHONEAUTH_DB_MAX_CONNS"}, ""},
		{"statement timeout under a millisecond", map[string]string{"PHONEAUTH_DB_STATEMENT_TIMEOUT": "999us"}, []string{"PHONEAUTH_DB_STATEMENT_TIMEOUT"}, ""},
		{"SMS retries too many", map[string]string{"PHONEAUTH_SMS_RETRIES": "11"}, []string{"PHONEAUTH_SMS_RETRIES"}, ""},
		{"SMS timeout zero", map[string]string{"PHONEAUTH_SMS_TIMEOUT": "0s"}, []string{"PHONEAUTH_SMS_TIMEOUT"}, ""},
		{"SMS timeout beyond the write timeout", map[string]string{"PHONEAUTH_SMS_TIMEOUT": "30s"}, []string{"PHONEAUTH_SMS_TIMEOUT"}, ""},
		{"template without the code", map[string]string{"PHONEAUTH_SMS_TEMPLATE_LOGIN": "Your code for {{.AppName}}"}, []string{"PHONEAUTH_SMS_TEMPLATE_LOGIN"}, ""},
		{"template that does not parse", map[string]string{"PHONEAUTH_SMS_TEMPLATE_REGISTER": "{{.Code"}, []string{"PHONEAUTH_SMS_TEMPLATE_REGISTER"}, ""},
		{"template with an unknown field", map[string]string{"PHONEAUTH_SMS_TEMPLATE_REGISTER": "{{.Code}} {{.Name}}"}, []string{"PHONEAUTH_SMS_TEMPLATE_REGISTER"}, ""},
		{"origin with a scheme", map[string]string{"PHONEAUTH_SMS_ORIGIN": "https://example.com"}, []string{"PHONEAUTH_SMS_ORIGIN"}, ""},
		{"android hash too short", map[string]string{"PHONEAUTH_SMS_ANDROID_HASH": "abc"}, []string{"PHONEAUTH_SMS_ANDROID_HASH"}, ""},
		{"console named with another provider", map[string]string{"PHONEAUTH_SMS_PROVIDER": "console,webhook", "PHONEAUTH_SMS_WEBHOOK_URL": "https://sms.example/hook"}, []string{"PHONEAUTH_SMS_PROVIDER"}, ""},
		{"a provider named twice", map[string]string{"PHONEAUTH_SMS_PROVIDER": "webhook,webhook", "PHONEAUTH_SMS_WEBHOOK_URL": "https://sms.example/hook"}, []string{"PHONEAUTH_SMS_PROVIDER"}, ""},
		{"unknown SMS provider", map[string]string{"PHONEAUTH_SMS_PROVIDER": "pigeon"}, []string{"PHONEAUTH_SMS_PROVIDER"}, ""},
		{"console on every address", map[string]string{"PHONEAUTH_ADDR": "0.0.0.0:8080"}, []string{"PHONEAUTH_ADDR"}, ""},
		{"console on every interface's port", map[string]string{"PHONEAUTH_ADDR": ":8080"}, []string{"PHONEAUTH_ADDR"}, ""},
		{"console on a host name", map[string]string{"PHONEAUTH_SMS_PROVIDER": "console", "PHONEAUTH_ADDR": "auth.example:8080"}, []string{"PHONEAUTH_ADDR"}, ""},
		{"console on a private address, anywhere explicitly refused", map[string]string{"PHONEAUTH_ADDR": "10.0.0.7:8080", "PHONEAUTH_SMS_CONSOLE_ANY_ADDR": "false"}, []string{"PHONEAUTH_ADDR"}, ""},
		{"no SMS at once", map[string]string{"PHONEAUTH_SMS_CONCURRENCY": "0"}, []string{"PHONEAUTH_SMS_CONCURRENCY"}, ""},
		{"negative SMS at once", map[string]string{"PHONEAUTH_SMS_CONCURRENCY": "-1"}, []string{"PHONEAUTH_SMS_CONCURRENCY"}, ""},
		{"SMS at once above the range", map[string]string{"PHONEAUTH_SMS_CONCURRENCY": "10001"}, []string{"PHONEAUTH_SMS_CONCURRENCY"}, ""},
		{"SMS at once too large for an int", map[string]string{"PHONEAUTH_SMS_CONCURRENCY": "99999999999999999999"}, []string{"PHONEAUTH_SMS_CONCURRENCY"}, ""},
		{"SMS at once not a number", map[string]string{"PHONEAUTH_SMS_CONCURRENCY": "many"}, []string{"PHONEAUTH_SMS_CONCURRENCY"}, ""},
		{"console anywhere neither true nor false", map[string]string{"PHONEAUTH_SMS_CONSOLE_ANY_ADDR": "maybe"}, []string{"PHONEAUTH_SMS_CONSOLE_ANY_ADDR"}, ""},
		{"webhook without a URL", map[string]string{"PHONEAUTH_SMS_PROVIDER": "webhook"}, []string{"PHONEAUTH_SMS_WEBHOOK_URL"}, ""},
		{"webhook URL not http, not echoed", map[string]string{"PHONEAUTH_SMS_PROVIDER": "webhook", "PHONEAUTH_SMS_WEBHOOK_URL": "ftp://u:hunter2@sms.example/"}, []string{"PHONEAUTH_SMS_WEBHOOK_URL"}, "hunter2"},
		{"webhook URL with a port but no host", map[string]string{"PHONEAUTH_SMS_PROVIDER": "webhook", "PHONEAUTH_SMS_WEBHOOK_URL": "http://:8080/hunter2"}, []string{"PHONEAUTH_SMS_WEBHOOK_URL"}, "hunter2"},
		{"webhook secret not base64, not echoed", map[string]string{"PHONEAUTH_SMS_PROVIDER": "webhook", "PHONEAUTH_SMS_WEBHOOK_URL": "http://127.0.0.1:1/", "PHONEAUTH_SMS_WEBHOOK_SECRET": "whsec_hunter2*"}, []string{"PHONEAUTH_SMS_WEBHOOK_SECRET"}, "hunter2"},
		{"webhook secret under 24 bytes, not echoed", map[string]string{"PHONEAUTH_SMS_PROVIDER": "webhook", "PHONEAUTH_SMS_WEBHOOK_URL": "http://127.0.0.1:1/", "PHONEAUTH_SMS_WEBHOOK_SECRET": "hunter2, twenty-three b"}, []string{"PHONEAUTH_SMS_WEBHOOK_SECRET"}, "hunter2"},
		{"webhook whsec key under 24 bytes, not echoed", map[string]string{"PHONEAUTH_SMS_PROVIDER": "webhook", "PHONEAUTH_SMS_WEBHOOK_URL": "http://127.0.0.1:1/", "PHONEAUTH_SMS_WEBHOOK_SECRET": "whsec_dHdlbnR5LXRocmVlLWJ5dGUta2V5ISE="}, []string{"PHONEAUTH_SMS_WEBHOOK_SECRET"}, "dHdlbnR5"},
		{"webhook http URL to a remote host, not echoed", map[string]string{"PHONEAUTH_SMS_PROVIDER": "webhook", "PHONEAUTH_SMS_WEBHOOK_URL": "http://sms.example/hunter2"}, []string{"PHONEAUTH_SMS_WEBHOOK_URL"}, "hunter2"},
		{"webhook http URL to a remote host, http explicitly refused", map[string]string{"PHONEAUTH_SMS_PROVIDER": "webhook", "PHONEAUTH_SMS_WEBHOOK_URL": "http://sms.example/", "PHONEAUTH_SMS_WEBHOOK_ALLOW_HTTP": "false"}, []string{"PHONEAUTH_SMS_WEBHOOK_URL"}, ""},
		{"allowing http neither true nor false", map[string]string{"PHONEAUTH_SMS_PROVIDER": "webhook", "PHONEAUTH_SMS_WEBHOOK_URL": "https://sms.example/hook", "PHONEAUTH_SMS_WEBHOOK_ALLOW_HTTP": "yes"}, []string{"PHONEAUTH_SMS_WEBHOOK_ALLOW_HTTP"}, ""},
		{"webhook settings ignored with the console", map[string]string{"PHONEAUTH_SMS_WEBHOOK_URL": "ftp://x", "PHONEAUTH_SMS_WEBHOOK_SECRET": "whsec_*", "PHONEAUTH_ADDR": "x"}, []string{"PHONEAUTH_ADDR"}, ""},
		{"unknown region", map[string]string{"PHONEAUTH_DEFAULT_REGION": "XX"}, []string{"PHONEAUTH_DEFAULT_REGION"}, ""},
		{"unknown database", map[string]string{"PHONEAUTH_DATABASE_URL": "mysql://x"}, []string{"PHONEAUTH_DATABASE_URL"}, ""},
		{"sqlite path with a query", map[string]string{"PHONEAUTH_DATABASE_URL": "sqlite:x.db?mode=ro"}, []string{"PHONEAUTH_DATABASE_URL"}, ""},
		{"sqlite path with a fragment", map[string]string{"PHONEAUTH_DATABASE_URL": "sqlite:x.db#y"}, []string{"PHONEAUTH_DATABASE_URL"}, ""},
		{"sqlite URI", map[string]string{"PHONEAUTH_DATABASE_URL": "sqlite:file:x.db"}, []string{"PHONEAUTH_DATABASE_URL"}, ""},
		{"sqlite without a path", map[string]string{"PHONEAUTH_DATABASE_URL": "sqlite:"}, []string{"PHONEAUTH_DATABASE_URL"}, ""},
		{"bad postgres URL, password not echoed", map[string]string{"PHONEAUTH_DATABASE_URL": "postgres://u:hunter%zz2@127.0.0.1/x"}, []string{"PHONEAUTH_DATABASE_URL"}, "hunter"},
		{"postgres URL with a bad pool parameter", map[string]string{"PHONEAUTH_DATABASE_URL": "postgres://u:hunter2@127.0.0.1/x?pool_max_conns=many"}, []string{"PHONEAUTH_DATABASE_URL"}, "hunter2"},
		{"bad redis URL, password not echoed", map[string]string{"PHONEAUTH_REDIS_URL": "redis://:hunter%zz2@127.0.0.1:6379/0"}, []string{"PHONEAUTH_REDIS_URL"}, "hunter"},
		{"redis URL of another scheme", map[string]string{"PHONEAUTH_REDIS_URL": "http://:hunter2@127.0.0.1:6379/0"}, []string{"PHONEAUTH_REDIS_URL"}, "hunter2"},
		{"unknown log format", map[string]string{"PHONEAUTH_LOG_FORMAT": "xml"}, []string{"PHONEAUTH_LOG_FORMAT"}, ""},
		{"unknown log level", map[string]string{"PHONEAUTH_LOG_LEVEL": "verbose"}, []string{"PHONEAUTH_LOG_LEVEL"}, ""},
		{"log level in capitals", map[string]string{"PHONEAUTH_LOG_LEVEL": "DEBUG"}, []string{"PHONEAUTH_LOG_LEVEL"}, ""},
		{"metrics address without a port", map[string]string{"PHONEAUTH_METRICS_ADDR": "9464"}, []string{"PHONEAUTH_METRICS_ADDR"}, ""},
		{"metrics on the API's address", map[string]string{"PHONEAUTH_METRICS_ADDR": "127.0.0.1:8080"}, []string{"PHONEAUTH_METRICS_ADDR"}, ""},
		{"a proxy that is not a CIDR", map[string]string{"PHONEAUTH_TRUSTED_PROXIES": "10.0.0.0/8, nonsense"}, []string{"PHONEAUTH_TRUSTED_PROXIES"}, ""},
		{
			"several at once, each named once",
			map[string]string{
				"PHONEAUTH_JWT_SECRET":           "hunter2",
				"PHONEAUTH_CODE_TTL":             "five",
				"PHONEAUTH_CODE_LENGTH":          "2",
				"PHONEAUTH_MAX_ATTEMPTS":         "x",
				"PHONEAUTH_ACCESS_TTL":           "-1m",
				"PHONEAUTH_DB_MAX_CONNS":         "0",
				"PHONEAUTH_DB_STATEMENT_TIMEOUT": "0s",
				"PHONEAUTH_SMS_PROVIDER":         "webhook",
				"PHONEAUTH_SMS_WEBHOOK_SECRET":   "whsec_",
				"PHONEAUTH_DATABASE_URL":         "postgres://u:hunter%zz2@127.0.0.1/x",
				"PHONEAUTH_REDIS_URL":            "redis://:hunter%zz2@127.0.0.1:6379/0",
				"PHONEAUTH_LOG_FORMAT":           "xml",
				"PHONEAUTH_LOG_LEVEL":            "loud",
				"PHONEAUTH_METRICS_ADDR":         "metrics",
			},
			[]string{
				"PHONEAUTH_JWT_SECRET", "PHONEAUTH_CODE_TTL", "PHONEAUTH_CODE_LENGTH", "PHONEAUTH_MAX_ATTEMPTS",
				"PHONEAUTH_ACCESS_TTL", "PHONEAUTH_DB_MAX_CONNS", "PHONEAUTH_DB_STATEMENT_TIMEOUT",
				"PHONEAUTH_SMS_WEBHOOK_URL", "PHONEAUTH_SMS_WEBHOOK_SECRET", "PHONEAUTH_DATABASE_URL",
				"PHONEAUTH_REDIS_URL", "PHONEAUTH_LOG_FORMAT", "PHONEAUTH_LOG_LEVEL", "PHONEAUTH_METRICS_ADDR",
			},
			"hunter",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := loadConfig(env(tt.vars))
			if err == nil {
				t.Fatal("loadConfig succeeded, want an error")
			}
			var named []string
			for line := range strings.Lines(err.Error()) {
				name, _, _ := strings.Cut(line, " ")
				named = append(named, name)
			}
			slices.Sort(named)
			want := slices.Sorted(slices.Values(tt.want))
			if !slices.Equal(named, want) {
				t.Errorf("loadConfig error names %q, want %q; error:\n%v", named, want, err)
			}
			if tt.private != "" && strings.Contains(err.Error(), tt.private) {
				t.Errorf("loadConfig error repeats %q:\n%v", tt.private, err)
			}
		})
	}
}

func TestLoggerDropsLinesBelowItsLevel(t *testing.T) {
	t.Parallel()
	for _, format := range []string{"text", "json"} {
		var b strings.Builder
		log := newLogger(format, slog.LevelWarn, &b)
		log.Info("dropped")
		log.Warn("kept")
		if got := b.String(); strings.Contains(got, "dropped") || !strings.Contains(got, "kept") {
			t.Errorf("%s logger at warn wrote %q", format, got)
		}
	}
}

// secretFiles writes files, name to content, into a new directory and
// returns vars with every "DIR" replaced by that directory.
func secretFiles(t *testing.T, files, vars map[string]string) map[string]string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	out := map[string]string{}
	for k, v := range vars {
		out[k] = strings.ReplaceAll(v, "DIR", dir)
	}
	return out
}

func TestLoadConfigReadsSecretsFromFiles(t *testing.T) {
	t.Parallel()
	secret := strings.Repeat("s", 32)
	webhook := map[string]string{"PHONEAUTH_SMS_PROVIDER": "webhook", "PHONEAUTH_SMS_WEBHOOK_URL": "http://127.0.0.1:1/"}
	tests := []struct {
		name  string
		files map[string]string
		vars  map[string]string
		got   func(config) string
		want  string
	}{
		{"JWT secret written by echo, its newline dropped", map[string]string{"jwt": secret + "\n"}, map[string]string{"PHONEAUTH_JWT_SECRET_FILE": "DIR/jwt"}, func(c config) string { return string(c.JWTSecret) }, secret},
		{"JWT secret without a newline, as it is", map[string]string{"jwt": secret}, map[string]string{"PHONEAUTH_JWT_SECRET_FILE": "DIR/jwt"}, func(c config) string { return string(c.JWTSecret) }, secret},
		{"JWT secret with a CRLF line end, dropped", map[string]string{"jwt": secret + "\r\n"}, map[string]string{"PHONEAUTH_JWT_SECRET_FILE": "DIR/jwt"}, func(c config) string { return string(c.JWTSecret) }, secret},
		{"JWT secret with spaces, kept", map[string]string{"jwt": " " + secret + " \n"}, map[string]string{"PHONEAUTH_JWT_SECRET_FILE": "DIR/jwt"}, func(c config) string { return string(c.JWTSecret) }, " " + secret + " "},
		{"database URL", map[string]string{"db": "postgres://app:pw@db:5432/auth\n"}, map[string]string{"PHONEAUTH_DATABASE_URL_FILE": "DIR/db"}, func(c config) string { return c.DatabaseURL }, "postgres://app:pw@db:5432/auth"},
		{"SQLite database URL", map[string]string{"db": "sqlite:/var/lib/phoneauth/auth.db\n"}, map[string]string{"PHONEAUTH_DATABASE_URL_FILE": "DIR/db"}, func(c config) string { return c.DatabaseURL }, "sqlite:/var/lib/phoneauth/auth.db"},
		{"Redis URL", map[string]string{"redis": "redis://:pw@cache:6379/1\n"}, map[string]string{"PHONEAUTH_REDIS_URL_FILE": "DIR/redis"}, func(c config) string { return c.RedisURL }, "redis://:pw@cache:6379/1"},
		{"webhook secret", map[string]string{"whsec": "whsec_c2VjcmV0LWtleS1ieXRlcy0yNC1sb25n\n"}, merged(webhook, map[string]string{"PHONEAUTH_SMS_WEBHOOK_SECRET_FILE": "DIR/whsec"}), func(c config) string { return c.SMS.Webhook.Secret }, "whsec_c2VjcmV0LWtleS1ieXRlcy0yNC1sb25n"},
		{"an empty _FILE variable, the variable itself", nil, map[string]string{"PHONEAUTH_JWT_SECRET": secret, "PHONEAUTH_JWT_SECRET_FILE": ""}, func(c config) string { return string(c.JWTSecret) }, secret},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := loadConfig(env(secretFiles(t, tt.files, tt.vars)))
			if err != nil {
				t.Fatalf("loadConfig: %v", err)
			}
			if got := tt.got(c); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestLoadConfigNamesEachBadSecretFile(t *testing.T) {
	t.Parallel()
	webhook := map[string]string{"PHONEAUTH_SMS_PROVIDER": "webhook", "PHONEAUTH_SMS_WEBHOOK_URL": "http://127.0.0.1:1/"}
	tests := []struct {
		name    string
		files   map[string]string
		vars    map[string]string
		want    string // the variable named first on the only line of the error
		mention string // also in the error
		private string // never in the error
	}{
		{"both set", map[string]string{"jwt": "hunter2-hunter2-hunter2-hunter2-hunter2\n"}, map[string]string{"PHONEAUTH_JWT_SECRET": "hunter3-hunter3-hunter3-hunter3-hunter3", "PHONEAUTH_JWT_SECRET_FILE": "DIR/jwt"}, "PHONEAUTH_JWT_SECRET", "PHONEAUTH_JWT_SECRET_FILE", "hunter"},
		{"both set, database", map[string]string{"db": "postgres://u:hunter2@db/x"}, map[string]string{"PHONEAUTH_DATABASE_URL": "postgres://u:hunter3@db/x", "PHONEAUTH_DATABASE_URL_FILE": "DIR/db"}, "PHONEAUTH_DATABASE_URL", "PHONEAUTH_DATABASE_URL_FILE", "hunter"},
		{"no such file", nil, map[string]string{"PHONEAUTH_JWT_SECRET_FILE": "DIR/missing"}, "PHONEAUTH_JWT_SECRET_FILE", "missing", ""},
		{"a directory", nil, map[string]string{"PHONEAUTH_DATABASE_URL_FILE": "DIR"}, "PHONEAUTH_DATABASE_URL_FILE", "is a directory", ""},
		{"an empty file", map[string]string{"redis": ""}, map[string]string{"PHONEAUTH_REDIS_URL_FILE": "DIR/redis"}, "PHONEAUTH_REDIS_URL_FILE", "empty", ""},
		{"a file of a newline only", map[string]string{"jwt": "\n"}, map[string]string{"PHONEAUTH_JWT_SECRET_FILE": "DIR/jwt"}, "PHONEAUTH_JWT_SECRET_FILE", "empty", ""},
		{"a file too large for a secret", map[string]string{"jwt": "hunter2" + strings.Repeat("x", maxSecretFile)}, map[string]string{"PHONEAUTH_JWT_SECRET_FILE": "DIR/jwt"}, "PHONEAUTH_JWT_SECRET_FILE", "KiB", "hunter2"},
		{"a short JWT secret", map[string]string{"jwt": "hunter2\n"}, map[string]string{"PHONEAUTH_JWT_SECRET_FILE": "DIR/jwt"}, "PHONEAUTH_JWT_SECRET", "(from PHONEAUTH_JWT_SECRET_FILE)", "hunter2"},
		{"a bad Redis URL", map[string]string{"redis": "redis://:hunter%zz2@127.0.0.1:6379/0\n"}, map[string]string{"PHONEAUTH_REDIS_URL_FILE": "DIR/redis"}, "PHONEAUTH_REDIS_URL", "(from PHONEAUTH_REDIS_URL_FILE)", "hunter"},
		{"a bad database URL", map[string]string{"db": "mysql://u:hunter2@db/x\n"}, map[string]string{"PHONEAUTH_DATABASE_URL_FILE": "DIR/db"}, "PHONEAUTH_DATABASE_URL", "(from PHONEAUTH_DATABASE_URL_FILE)", "hunter2"},
		{"a short webhook secret", map[string]string{"whsec": "hunter2, twenty-three b\n"}, merged(webhook, map[string]string{"PHONEAUTH_SMS_WEBHOOK_SECRET_FILE": "DIR/whsec"}), "PHONEAUTH_SMS_WEBHOOK_SECRET", "(from PHONEAUTH_SMS_WEBHOOK_SECRET_FILE)", "hunter2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := loadConfig(env(secretFiles(t, tt.files, tt.vars)))
			if err == nil {
				t.Fatal("loadConfig succeeded, want an error")
			}
			msg := err.Error()
			if name, _, _ := strings.Cut(msg, " "); name != tt.want || strings.Contains(msg, "\n") {
				t.Errorf("loadConfig error names %q, want %q alone:\n%v", name, tt.want, msg)
			}
			if !strings.Contains(msg, tt.mention) {
				t.Errorf("loadConfig error does not mention %q:\n%v", tt.mention, msg)
			}
			if tt.private != "" && strings.Contains(msg, tt.private) {
				t.Errorf("loadConfig error repeats %q:\n%v", tt.private, msg)
			}
		})
	}
}

// merged returns the union of a and b.
func merged(a, b map[string]string) map[string]string {
	out := maps.Clone(a)
	maps.Copy(out, b)
	return out
}

// TestPruneMargin checks that serve's Prune keeps an unused login code
// for as long as the longest throttle it may be: it deletes a code
// pruneMargin after its expiry, and the code is the throttle.
func TestPruneMargin(t *testing.T) {
	if pruneMargin < phoneauth.MaxLoginThrottle {
		t.Errorf("pruneMargin %s is shorter than phoneauth.MaxLoginThrottle %s: a throttle would end when Prune deletes its code", pruneMargin, phoneauth.MaxLoginThrottle)
	}
}
