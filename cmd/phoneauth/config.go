package main

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/phoneauth/phoneauth"
	"github.com/phoneauth/phoneauth/postgres"
	"github.com/phoneauth/phoneauth/redis"

	"github.com/phoneauth/phoneauth/sqlite"
	"github.com/phoneauth/phoneauth/token"
)

// config is every PHONEAUTH_* setting, read once by loadConfig.
type config struct {
	Addr           string
	DatabaseURL    string
	JWTSecret      []byte // empty: generated and kept beside the SQLite file
	SMS            smsConfig
	Region         string
	Policy         phoneauth.Policy
	RedisURL       string
	RedisPrefix    string
	TrustedProxies []netip.Prefix
	DB             postgres.Options // MaxConns and StatementTimeout from the environment
	LogFormat      string
	LogLevel       slog.Level
	// MetricsAddr is where GET /metrics is served, on a listener of its
	// own; empty: no metrics.
	MetricsAddr string
	// TestNumbers map E.164 numbers to fixed codes until TestNumbersUntil.
	TestNumbers      map[string]string
	TestNumbersUntil time.Time
}

// policyVars and dbVars name the variable behind each field that
// phoneauth.Policy.Validate and postgres.Options.Validate report.
var (
	policyVars = map[string]string{
		"CodeTTL":       "PHONEAUTH_CODE_TTL",
		"LoginThrottle": "PHONEAUTH_LOGIN_THROTTLE",
		"CodeLength":    "PHONEAUTH_CODE_LENGTH",
		"MaxAttempts":   "PHONEAUTH_MAX_ATTEMPTS",
		"AccessTTL":     "PHONEAUTH_ACCESS_TTL",
		"RefreshTTL":    "PHONEAUTH_REFRESH_TTL",

		"RefreshReuseGrace": "PHONEAUTH_REFRESH_REUSE_GRACE",
		"IPRateLimit":       "PHONEAUTH_IP_RATE_LIMIT",
		"SMSPerHour":        "PHONEAUTH_SMS_PER_HOUR",

		"IPVerifyRateLimit": "PHONEAUTH_IP_VERIFY_RATE_LIMIT",
		"LockoutThreshold":  "PHONEAUTH_LOCKOUT_THRESHOLD",
		"LockoutDuration":   "PHONEAUTH_LOCKOUT_DURATION",
		"AuditRetention":    "PHONEAUTH_AUDIT_RETENTION",

		"SMSRegions":        "PHONEAUTH_SMS_REGIONS",
		"SMSPerPhoneDay":    "PHONEAUTH_SMS_PER_PHONE_DAY",
		"SMSPerRangeHour":   "PHONEAUTH_SMS_PER_RANGE_HOUR",
		"SMSPerDay":         "PHONEAUTH_SMS_PER_DAY",
		"SMSPerCountryHour": "PHONEAUTH_SMS_PER_COUNTRY_HOUR",
	}
	dbVars = map[string]string{
		"MaxConns":         "PHONEAUTH_DB_MAX_CONNS",
		"StatementTimeout": "PHONEAUTH_DB_STATEMENT_TIMEOUT",
	}
)

// loadConfig reads the configuration from getenv. Every bad variable is
// named in the returned error. The defaults and checks of a value belong
// to the package that uses it (phoneauth.DefaultPolicy and Policy.Validate,
// postgres.DefaultOptions and Options.Validate, token.CheckSecret, ...):
// loadConfig parses the variables, asks the owners, and names the
// variable behind each refusal.
func loadConfig(getenv func(string) string) (config, error) {
	p := envParser{getenv: getenv}
	c := config{
		Addr:        p.str("PHONEAUTH_ADDR", "127.0.0.1:8080"),
		DatabaseURL: p.secret("PHONEAUTH_DATABASE_URL", "sqlite:phoneauth.db"),
		JWTSecret:   []byte(p.secret("PHONEAUTH_JWT_SECRET", "")),
		Region:      strings.ToUpper(p.str("PHONEAUTH_DEFAULT_REGION", "US")),
		RedisURL:    p.secret("PHONEAUTH_REDIS_URL", ""),
		RedisPrefix: p.str("PHONEAUTH_REDIS_PREFIX", redis.DefaultPrefix),
		LogFormat:   p.str("PHONEAUTH_LOG_FORMAT", "text"),
		MetricsAddr: getenv("PHONEAUTH_METRICS_ADDR"),
		Policy:      phoneauth.DefaultPolicy(),
		DB:          postgres.DefaultOptions(),
	}
	p.duration("PHONEAUTH_CODE_TTL", &c.Policy.CodeTTL)
	p.duration("PHONEAUTH_LOGIN_THROTTLE", &c.Policy.LoginThrottle)
	p.integer("PHONEAUTH_CODE_LENGTH", &c.Policy.CodeLength)
	p.integer("PHONEAUTH_MAX_ATTEMPTS", &c.Policy.MaxAttempts)
	p.duration("PHONEAUTH_ACCESS_TTL", &c.Policy.AccessTTL)
	p.duration("PHONEAUTH_REFRESH_TTL", &c.Policy.RefreshTTL)
	p.duration("PHONEAUTH_REFRESH_REUSE_GRACE", &c.Policy.RefreshReuseGrace)
	p.integer("PHONEAUTH_IP_RATE_LIMIT", &c.Policy.IPRateLimit)
	p.integer("PHONEAUTH_SMS_PER_HOUR", &c.Policy.SMSPerHour)
	p.integer("PHONEAUTH_IP_VERIFY_RATE_LIMIT", &c.Policy.IPVerifyRateLimit)
	p.integer("PHONEAUTH_LOCKOUT_THRESHOLD", &c.Policy.LockoutThreshold)
	p.duration("PHONEAUTH_LOCKOUT_DURATION", &c.Policy.LockoutDuration)
	p.duration("PHONEAUTH_AUDIT_RETENTION", &c.Policy.AuditRetention)
	p.integer("PHONEAUTH_SMS_PER_PHONE_DAY", &c.Policy.SMSPerPhoneDay)
	p.integer("PHONEAUTH_SMS_PER_RANGE_HOUR", &c.Policy.SMSPerRangeHour)
	p.integer("PHONEAUTH_SMS_PER_DAY", &c.Policy.SMSPerDay)
	c.Policy.SMSRegions = p.list("PHONEAUTH_SMS_REGIONS")
	c.Policy.SMSPerCountryHour = p.counts("PHONEAUTH_SMS_PER_COUNTRY_HOUR")
	c.TestNumbers = p.pairs("PHONEAUTH_TEST_NUMBERS")
	if v := getenv("PHONEAUTH_TEST_NUMBERS_UNTIL"); v != "" {
		until, err := time.Parse(time.RFC3339, v)
		if err != nil {
			p.fail("PHONEAUTH_TEST_NUMBERS_UNTIL", fmt.Sprintf("%q is not an RFC 3339 time such as 2026-12-31T23:59:59Z", v))
		}
		c.TestNumbersUntil = until
	}
	if len(c.TestNumbers) > 0 && getenv("PHONEAUTH_TEST_NUMBERS_UNTIL") == "" {
		p.fail("PHONEAUTH_TEST_NUMBERS_UNTIL", "is required when PHONEAUTH_TEST_NUMBERS is set: test numbers must stop working")
	} else if err := phoneauth.ValidateTestNumbers(c.TestNumbers, c.TestNumbersUntil, c.Policy.CodeLength); err != nil && !c.TestNumbersUntil.IsZero() {
		p.check("PHONEAUTH_TEST_NUMBERS", err)
	}
	failFields(&p, c.Policy.Validate(), func(e *phoneauth.PolicyError) (string, string) {
		return p.quoted(policyVars[e.Field], e.Problem)
	})
	p.integer32("PHONEAUTH_DB_MAX_CONNS", &c.DB.MaxConns)
	p.duration("PHONEAUTH_DB_STATEMENT_TIMEOUT", &c.DB.StatementTimeout)
	failFields(&p, c.DB.Validate(), func(e *postgres.OptionsError) (string, string) {
		return p.quoted(dbVars[e.Field], e.Problem)
	})
	if len(c.JWTSecret) > 0 {
		p.check("PHONEAUTH_JWT_SECRET", token.CheckSecret(c.JWTSecret))
	}
	_, _, addrErr := net.SplitHostPort(c.Addr)
	if addrErr != nil {
		p.fail("PHONEAUTH_ADDR", fmt.Sprintf("%q is not host:port", c.Addr))
	}
	smsAddr := c.Addr
	if addrErr != nil {
		smsAddr = ""
	}
	c.SMS = loadSMS(&p, smsAddr)
	if !phoneauth.ValidRegion(c.Region) {
		p.fail("PHONEAUTH_DEFAULT_REGION", fmt.Sprintf("%q is not an ISO region with a phone numbering plan", c.Region))
	}
	switch {
	case strings.HasPrefix(c.DatabaseURL, "sqlite:"):
		if err := sqlite.CheckPath(sqlitePath(c.DatabaseURL)); err != nil {
			p.fail("PHONEAUTH_DATABASE_URL", "needs a plain file path after sqlite:, as in sqlite:phoneauth.db: the path "+err.Error())
		}
	case c.postgres():
		p.check("PHONEAUTH_DATABASE_URL", postgres.CheckURL(c.DatabaseURL))
	default:
		p.fail("PHONEAUTH_DATABASE_URL", "must start with sqlite:, postgres:// or postgresql://")
	}
	if c.RedisURL != "" {
		p.check("PHONEAUTH_REDIS_URL", redis.CheckURL(c.RedisURL))
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		p.fail("PHONEAUTH_LOG_FORMAT", "must be text or json")
	}
	if v := getenv("PHONEAUTH_LOG_LEVEL"); v != "" {
		level, ok := logLevel(v)
		if !ok {
			p.fail(p.quoted("PHONEAUTH_LOG_LEVEL", "is not debug, info, warn or error"))
		}
		c.LogLevel = level
	}
	if c.MetricsAddr != "" {
		// Port 0 (any free port, as tests use) cannot collide.
		if _, port, err := net.SplitHostPort(c.MetricsAddr); err != nil {
			p.fail("PHONEAUTH_METRICS_ADDR", fmt.Sprintf("%q is not host:port", c.MetricsAddr))
		} else if c.MetricsAddr == c.Addr && port != "0" {
			p.fail("PHONEAUTH_METRICS_ADDR", fmt.Sprintf("%q is PHONEAUTH_ADDR: metrics are never served on the API's listener", c.MetricsAddr))
		}
	}
	for _, s := range strings.Split(getenv("PHONEAUTH_TRUSTED_PROXIES"), ",") {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		pfx, err := netip.ParsePrefix(s)
		if err != nil {
			a, aerr := netip.ParseAddr(s)
			if aerr != nil {
				p.fail("PHONEAUTH_TRUSTED_PROXIES", fmt.Sprintf("%q is not a CIDR or an address", s))
				continue
			}
			pfx = netip.PrefixFrom(a, a.BitLen())
		}
		c.TrustedProxies = append(c.TrustedProxies, pfx.Masked())
	}
	return c, errors.Join(p.errs...)
}

// logLevel reads a PHONEAUTH_LOG_LEVEL value; ok is false, with the
// default info, for anything but debug, info, warn and error.
func logLevel(v string) (_ slog.Level, ok bool) {
	switch v {
	case "debug":
		return slog.LevelDebug, true
	case "info", "":
		return slog.LevelInfo, true
	case "warn":
		return slog.LevelWarn, true
	case "error":
		return slog.LevelError, true
	}
	return slog.LevelInfo, false
}

// postgres reports whether the database is PostgreSQL.
func (c config) postgres() bool {
	return strings.HasPrefix(c.DatabaseURL, "postgres://") || strings.HasPrefix(c.DatabaseURL, "postgresql://")
}

// checkServe reports what serving needs beyond loadConfig's checks:
// `migrate` signs nothing and needs no secret.
func (c config) checkServe() error {
	if c.postgres() && len(c.JWTSecret) == 0 {
		return errors.New("PHONEAUTH_JWT_SECRET (or PHONEAUTH_JWT_SECRET_FILE) is required with PostgreSQL: every instance must sign with the same secret")
	}
	return nil
}

// sqlitePath returns the file of a sqlite: URL.
func sqlitePath(url string) string {
	return strings.TrimPrefix(strings.TrimPrefix(url, "sqlite:"), "//")
}

// envParser reads typed variables and collects one error per bad one. A
// variable that is unset, or not of its type, leaves its default as it is.
type envParser struct {
	getenv func(string) string
	errs   []error
	files  map[string]string // NAME_FILE of each secret NAME read from a file
}

// fail records that variable name msg, as in "is required". A secret read
// from a file is named with the variable that names the file.
func (p *envParser) fail(name, msg string) {
	if file, ok := p.files[name]; ok {
		name += " (from " + file + ")"
	}
	p.errs = append(p.errs, fmt.Errorf("%s %s", name, msg))
}

// check records err, if any, as what is wrong with variable name: err is
// an owner's check whose text is a predicate, such as token.CheckSecret's.
func (p *envParser) check(name string, err error) {
	if err != nil {
		p.fail(name, err.Error())
	}
}

// failFields records the errors joined in err, the result of an owner's
// Validate: each of type E under the variable that name gives for it, any
// other (or one name gives no variable for) as it is.
func failFields[E error](p *envParser, err error, name func(E) (variable, problem string)) {
	for _, err := range joined(err) {
		if e, ok := errors.AsType[E](err); ok {
			if v, problem := name(e); v != "" {
				p.fail(v, problem)
				continue
			}
		}
		p.errs = append(p.errs, err)
	}
}

// quoted returns name and problem with the value of variable name before
// it, as in `"2" must be between 4 and 10`: for values that are no secret.
func (p *envParser) quoted(name, problem string) (string, string) {
	return name, fmt.Sprintf("%q %s", p.getenv(name), problem)
}

// joined returns the errors err joins with errors.Join, or err alone.
func joined(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var errs []error
		for _, e := range j.Unwrap() {
			errs = append(errs, joined(e)...)
		}
		return errs
	}
	return []error{err}
}

func (p *envParser) str(name, def string) string {
	if v := p.getenv(name); v != "" {
		return v
	}
	return def
}

// maxSecretFile bounds what secret reads of a file: a secret is short,
// and a path mistaken for another (a log, a device) must not fill memory.
const maxSecretFile = 64 << 10

// secret is str for a secret, which may instead come from the file that
// variable name_FILE names, as containers pass secrets (Compose and
// Kubernetes secrets, systemd credentials). Setting both is an error. The
// file's trailing line ends are dropped, as $(cat FILE) in a shell drops
// them: a file written by echo holds what the variable would; any other
// byte, spaces included, is part of the secret. An error names the file,
// never its content.
func (p *envParser) secret(name, def string) string {
	fileVar := name + "_FILE"
	v, path := p.getenv(name), p.getenv(fileVar)
	switch {
	case path == "":
		return p.str(name, def)
	case v != "":
		p.fail(name, "and "+fileVar+" are both set: set one of them")
		return def
	}
	f, err := os.Open(path)
	if err != nil {
		p.fail(fileVar, "names a file that cannot be read: "+err.Error())
		return def
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxSecretFile+1))
	switch {
	case err != nil:
		p.fail(fileVar, "names a file that cannot be read: "+err.Error())
		return def
	case len(b) > maxSecretFile:
		p.fail(fileVar, fmt.Sprintf("names %s, over %d KiB: not a secret", path, maxSecretFile>>10))
		return def
	}
	s := strings.TrimRight(string(b), "\r\n")
	if s == "" {
		p.fail(fileVar, fmt.Sprintf("names %s, which is empty", path))
		return def
	}
	if p.files == nil {
		p.files = map[string]string{}
	}
	p.files[name] = fileVar
	return s
}

// duration sets *d to variable name, if set and a duration.
func (p *envParser) duration(name string, d *time.Duration) {
	v := p.getenv(name)
	if v == "" {
		return
	}
	parsed, err := time.ParseDuration(v)
	if err != nil {
		p.fail(name, fmt.Sprintf("%q is not a duration such as 5m or 30s", v))
		return
	}
	*d = parsed
}

// boolean sets *b to variable name, if set and true or false.
func (p *envParser) boolean(name string, b *bool) {
	v := p.getenv(name)
	if v == "" {
		return
	}
	parsed, err := strconv.ParseBool(v)
	if err != nil {
		p.fail(name, fmt.Sprintf("%q is not true or false", v))
		return
	}
	*b = parsed
}

// list reads a comma-separated list, upper-cased, blanks dropped.
func (p *envParser) list(name string) []string {
	var out []string
	for _, v := range strings.Split(p.getenv(name), ",") {
		if v = strings.ToUpper(strings.TrimSpace(v)); v != "" {
			out = append(out, v)
		}
	}
	return out
}

// counts reads "0" (none), "N" (the same for every key, as "*=N") or
// "KEY=N,KEY=N" with upper-cased keys.
func (p *envParser) counts(name string) map[string]int {
	v := strings.TrimSpace(p.getenv(name))
	if v == "" || v == "0" {
		return nil
	}
	if n, err := strconv.Atoi(v); err == nil {
		return map[string]int{"*": n} // one count for every region
	}
	out := map[string]int{}
	for key, n := range p.pairs(name) {
		i, err := strconv.Atoi(n)
		if err != nil {
			p.fail(name, fmt.Sprintf("%q: %q is not a whole number", key, n))
			continue
		}
		out[strings.ToUpper(key)] = i
	}
	return out
}

// pairs reads "KEY=VALUE,KEY=VALUE".
func (p *envParser) pairs(name string) map[string]string {
	var out map[string]string
	for _, item := range strings.Split(p.getenv(name), ",") {
		if item = strings.TrimSpace(item); item == "" {
			continue
		}
		k, v, ok := strings.Cut(item, "=")
		if !ok || strings.TrimSpace(k) == "" {
			p.fail(name, fmt.Sprintf("%q is not KEY=VALUE", item))
			continue
		}
		if out == nil {
			out = map[string]string{}
		}
		out[strings.TrimSpace(k)] = strings.TrimSpace(v)
	}
	return out
}

// integer sets *n to variable name, if set and a whole number.
func (p *envParser) integer(name string, n *int) {
	if v, ok := p.whole(name, strconv.IntSize); ok {
		*n = int(v)
	}
}

// integer32 is integer for an int32.
func (p *envParser) integer32(name string, n *int32) {
	if v, ok := p.whole(name, 32); ok {
		*n = int32(v)
	}
}

// whole parses variable name as a whole number of bits bits; ok is false
// if it is unset or not a whole number. A number too large for bits comes
// back as the largest one of its sign, for the owner's range to refuse.
func (p *envParser) whole(name string, bits int) (n int64, ok bool) {
	v := p.getenv(name)
	if v == "" {
		return 0, false
	}
	n, err := strconv.ParseInt(v, 10, bits)
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		p.fail(name, fmt.Sprintf("%q is not a whole number", v))
		return 0, false
	}
	return n, true
}
