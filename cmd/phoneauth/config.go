package main

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	goredis "github.com/redis/go-redis/v9"

	"github.com/phoneauth/phoneauth"
)

// config is every PHONEAUTH_* setting, read once by loadConfig.
type config struct {
	Addr           string
	DatabaseURL    string
	JWTSecret      []byte // empty: generated and kept beside the SQLite file
	SMSProvider    string
	WebhookURL     string
	WebhookSecret  string
	Region         string
	Policy         phoneauth.Policy
	RedisURL       string
	RedisPrefix    string
	TrustedProxies []netip.Prefix
	DBMaxConns     int32
	DBStmtTimeout  time.Duration
	LogFormat      string
}

// minSecret is the shortest HS256 secret accepted: 256 bits.
const minSecret = 32

// loadConfig reads the configuration from getenv. Every bad variable is
// named in the returned error.
func loadConfig(getenv func(string) string) (config, error) {
	p := envParser{getenv: getenv}
	c := config{
		Addr:          p.str("PHONEAUTH_ADDR", "127.0.0.1:8080"),
		DatabaseURL:   p.str("PHONEAUTH_DATABASE_URL", "sqlite:phoneauth.db"),
		JWTSecret:     []byte(getenv("PHONEAUTH_JWT_SECRET")),
		SMSProvider:   p.str("PHONEAUTH_SMS_PROVIDER", "console"),
		WebhookURL:    getenv("PHONEAUTH_SMS_WEBHOOK_URL"),
		WebhookSecret: getenv("PHONEAUTH_SMS_WEBHOOK_SECRET"),
		Region:        strings.ToUpper(p.str("PHONEAUTH_DEFAULT_REGION", "US")),
		RedisURL:      getenv("PHONEAUTH_REDIS_URL"),
		RedisPrefix:   p.str("PHONEAUTH_REDIS_PREFIX", "phoneauth:"),
		LogFormat:     p.str("PHONEAUTH_LOG_FORMAT", "text"),
		Policy: phoneauth.Policy{
			CodeTTL:       p.duration("PHONEAUTH_CODE_TTL", 5*time.Minute, time.Second),
			LoginThrottle: p.duration("PHONEAUTH_LOGIN_THROTTLE", 5*time.Minute, 0),
			CodeLength:    p.integer("PHONEAUTH_CODE_LENGTH", 6, 6, 10),
			MaxAttempts:   p.integer("PHONEAUTH_MAX_ATTEMPTS", 5, 1, 10),
			AccessTTL:     p.duration("PHONEAUTH_ACCESS_TTL", 15*time.Minute, time.Second),
			RefreshTTL:    p.duration("PHONEAUTH_REFRESH_TTL", 720*time.Hour, time.Second),
			IPRateLimit:   p.integer("PHONEAUTH_IP_RATE_LIMIT", 10, 0, 1_000_000),
			SMSPerHour:    p.integer("PHONEAUTH_SMS_PER_HOUR", 1000, 0, 100_000_000),

			IPVerifyRateLimit: p.integer("PHONEAUTH_IP_VERIFY_RATE_LIMIT", 30, 0, 1_000_000),
			LockoutThreshold:  p.integer("PHONEAUTH_LOCKOUT_THRESHOLD", 20, 1, 100),
			LockoutDuration:   p.duration("PHONEAUTH_LOCKOUT_DURATION", 15*time.Minute, time.Second),
		},
		DBMaxConns:    int32(p.integer("PHONEAUTH_DB_MAX_CONNS", 10, 1, 1000)),
		DBStmtTimeout: p.duration("PHONEAUTH_DB_STATEMENT_TIMEOUT", 5*time.Second, time.Millisecond),
	}
	if len(c.JWTSecret) > 0 && len(c.JWTSecret) < minSecret {
		p.fail("PHONEAUTH_JWT_SECRET", fmt.Sprintf("is %d bytes; it must be at least %d bytes (256 bits)", len(c.JWTSecret), minSecret))
	}
	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		p.fail("PHONEAUTH_ADDR", fmt.Sprintf("%q is not host:port", c.Addr))
	}
	switch c.SMSProvider {
	case "console":
	case "webhook":
		if c.WebhookURL == "" {
			p.fail("PHONEAUTH_SMS_WEBHOOK_URL", "is required when PHONEAUTH_SMS_PROVIDER=webhook")
		} else if u, err := url.Parse(c.WebhookURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			// The URL itself is not repeated: it may carry credentials.
			p.fail("PHONEAUTH_SMS_WEBHOOK_URL", "must be an absolute http:// or https:// URL")
		}
		if strings.HasPrefix(c.WebhookSecret, "whsec_") {
			if key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(c.WebhookSecret, "whsec_")); err != nil || len(key) == 0 {
				p.fail("PHONEAUTH_SMS_WEBHOOK_SECRET", "starts with whsec_ but the rest is not base64 of a key")
			}
		}
	default:
		p.fail("PHONEAUTH_SMS_PROVIDER", fmt.Sprintf("%q is not a provider (console, webhook)", c.SMSProvider))
	}
	if !phoneauth.ValidRegion(c.Region) {
		p.fail("PHONEAUTH_DEFAULT_REGION", fmt.Sprintf("%q is not an ISO region with a phone numbering plan", c.Region))
	}
	switch {
	case strings.HasPrefix(c.DatabaseURL, "sqlite:"):
		if path := sqlitePath(c.DatabaseURL); path == "" || strings.ContainsAny(path, "?#") {
			p.fail("PHONEAUTH_DATABASE_URL", "sqlite: needs a plain file path, as in sqlite:phoneauth.db")
		}
	case c.postgres():
		if _, err := pgconn.ParseConfig(c.DatabaseURL); err != nil {
			p.fail("PHONEAUTH_DATABASE_URL", "is not a valid PostgreSQL URL")
		}
	default:
		p.fail("PHONEAUTH_DATABASE_URL", "must start with sqlite:, postgres:// or postgresql://")
	}
	if c.RedisURL != "" {
		// Parse errors are not repeated: they quote the URL, password
		// included.
		if _, err := goredis.ParseURL(c.RedisURL); err != nil {
			p.fail("PHONEAUTH_REDIS_URL", "is not a valid redis:// or rediss:// URL")
		}
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		p.fail("PHONEAUTH_LOG_FORMAT", "must be text or json")
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

// postgres reports whether the database is PostgreSQL.
func (c config) postgres() bool {
	return strings.HasPrefix(c.DatabaseURL, "postgres://") || strings.HasPrefix(c.DatabaseURL, "postgresql://")
}

// checkServe reports what serving needs beyond loadConfig's checks:
// `migrate` signs nothing and needs no secret.
func (c config) checkServe() error {
	if c.postgres() && len(c.JWTSecret) == 0 {
		return errors.New("PHONEAUTH_JWT_SECRET is required with PostgreSQL: every instance must sign with the same secret")
	}
	return nil
}

// sqlitePath returns the file of a sqlite: URL.
func sqlitePath(url string) string {
	return strings.TrimPrefix(strings.TrimPrefix(url, "sqlite:"), "//")
}

// envParser reads typed variables and collects one error per bad one.
type envParser struct {
	getenv func(string) string
	errs   []error
}

func (p *envParser) fail(name, msg string) {
	p.errs = append(p.errs, fmt.Errorf("%s %s", name, msg))
}

func (p *envParser) str(name, def string) string {
	if v := p.getenv(name); v != "" {
		return v
	}
	return def
}

func (p *envParser) duration(name string, def, min time.Duration) time.Duration {
	v := p.getenv(name)
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		p.fail(name, fmt.Sprintf("%q is not a duration such as 5m or 30s", v))
		return def
	}
	if d < min {
		p.fail(name, fmt.Sprintf("%q must be at least %s", v, min))
		return def
	}
	return d
}

func (p *envParser) integer(name string, def, min, max int) int {
	v := p.getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		p.fail(name, fmt.Sprintf("%q is not a whole number", v))
		return def
	}
	if n < min || n > max {
		p.fail(name, fmt.Sprintf("%d is outside %d..%d", n, min, max))
		return def
	}
	return n
}
