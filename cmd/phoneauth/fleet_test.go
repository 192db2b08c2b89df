package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"hash/fnv"
	"io"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os/exec"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	goredis "github.com/redis/go-redis/v9"

	"github.com/phoneauth/phoneauth/internal/tcpproxy"
	"github.com/phoneauth/phoneauth/internal/testenv"
)

// The fleet tests run the real binary, several processes at once, against
// one PostgreSQL and one Redis, as production does: whatever one instance
// decides must hold on every other.

var fleetSeed = flag.Uint64("fleet.seed", 0, "seed of the fleet tests' choice of instances (0: random); the seed of each run is logged")

// Bodies the fleet tests expect, from httpapi/error.go and the contract.
var (
	bodyVerified        = map[string]any{"message": "User verify Successfully!"}
	bodyLoggedOut       = map[string]any{"message": "Logged out"}
	bodyUserExists      = map[string]any{"error": "Account already Exists"}
	bodyNoUser          = map[string]any{"error": "User does not exist"}
	bodyCodeWrong       = map[string]any{"error": "Invalid code"}
	bodyTooManyAttempts = map[string]any{"error": "Too many failed attempts, request a new code"}
	bodyBadToken        = map[string]any{"error": "Invalid verification token"}
	bodyLoginFirst      = map[string]any{"error": "login first"}
	bodyIPLimit         = map[string]any{"error": "Too many requests, try again later"}
	bodyTokenReused     = map[string]any{"error": "Refresh token was already used; the session has been revoked"}
	bodyTokenRevoked    = map[string]any{"error": "Token has been revoked"}
	bodyUnavailable     = map[string]any{"error": "Service unavailable"}
	bodyHealthy         = map[string]any{"status": "ok"}
)

const fleetMaxAttempts = 3

// TestFleet runs three instances against one database, with the counters
// (throttles, attempts, limits) in Redis, and again with them in
// PostgreSQL, as when no Redis is configured.
func TestFleet(t *testing.T) {
	t.Parallel()
	for _, counters := range []string{"redis", "postgres"} {
		t.Run("counters in "+counters, func(t *testing.T) {
			t.Parallel()
			b := newBackends(t)
			if counters == "postgres" {
				b.redisURL = ""
			}
			testFleet(t, b)
		})
	}
}

func testFleet(t *testing.T, b backends) {
	f := newFleet(t, buildService(t), b, 3, 10*time.Second, map[string]string{
		"PHONEAUTH_MAX_ATTEMPTS":  strconv.Itoa(fleetMaxAttempts),
		"PHONEAUTH_IP_RATE_LIMIT": "5",
		// A replayed refresh token must revoke its session at once.
		"PHONEAUTH_REFRESH_REUSE_GRACE": "0s",
	})

	// Every scenario runs at the same time, so the instances serve them
	// interleaved; each uses its own numbers and client addresses.
	together(t, []namedTest{
		{"twenty users sign in through random instances", func(t *testing.T) {
			users := make([]namedTest, 20)
			for i := range users {
				users[i] = namedTest{fmt.Sprintf("user %02d", i), func(t *testing.T) { f.newUser(t).fullFlow() }}
			}
			together(t, users)
		}},

		{"a code sent via one instance verifies via another", func(t *testing.T) {
			u := f.newUser(t)
			in := u.order()
			u.want("verify", u.verify(in[1], u.register(in[0]), f.sms.last(t, u.phone, "register")), 200, bodyVerified)
			userID := u.login(in[1])
			access, _ := u.tokens(u.loginVerify(in[2], userID, f.sms.last(t, u.phone, "login")))
			u.wantMe(in[0], access, userID)
		}},

		{"the login throttle holds on every instance", func(t *testing.T) {
			u := f.newUser(t)
			u.signUp()
			in := u.order()
			userID := u.login(in[0])
			for _, p := range in[1:] {
				r := u.call(p, "POST", "/auth/api/login/", "", map[string]any{"phone": u.phone})
				u.want("second login via "+p.name, r, 429, map[string]any{"message": "User already have a request for login", "user_id": userID})
				wantRetryAfter(t, r, 300)
			}
			if got := f.sms.count(u.phone, "login"); got != 1 {
				t.Fatalf("login SMS sent %d times, want 1", got)
			}
			// Using the code ends the wait, on every instance.
			u.tokens(u.loginVerify(in[1], userID, f.sms.last(t, u.phone, "login")))
			u.login(in[2])
		}},

		{"attempt limits hold across instances", func(t *testing.T) {
			for _, c := range codeCases(f) {
				t.Run(c.name, func(t *testing.T) {
					u := f.newUser(t)
					code, verify := c.issue(u)
					in := u.order()
					for i, p := range in {
						want, body := 400, bodyCodeWrong
						if i == fleetMaxAttempts-1 {
							want, body = 429, bodyTooManyAttempts
						}
						u.want(fmt.Sprintf("wrong code %d via %s", i+1, p.name), u.must(verify(p, wrongCode(code))), want, body)
					}
					for _, p := range in {
						u.want("right code via "+p.name+" after the limit", u.must(verify(p, code)), 429, bodyTooManyAttempts)
					}
				})
			}
		}},

		{"the per-address limit holds across instances", func(t *testing.T) {
			u := f.newUser(t)
			for i := range 5 {
				r := u.call(u.any(), "POST", "/auth/api/login/", "", map[string]any{"phone": f.newPhone()})
				u.want(fmt.Sprintf("login %d of an unknown number", i+1), r, 404, bodyNoUser)
			}
			r := u.call(u.any(), "POST", "/auth/api/Register/", "", map[string]any{"phonenumber": u.phone})
			u.want("6th request from one address", r, 429, bodyIPLimit)
			wantRetryAfter(t, r, 60)
			r = u.call(u.any(), "POST", "/auth/api/login/", "", map[string]any{"phone": u.phone})
			u.want("7th request from one address", r, 429, bodyIPLimit)

			// Another address is not limited, and the refused registration
			// left nothing behind.
			other := f.newUser(t)
			other.phone = u.phone
			other.register(other.any())
		}},

		{"a code is used once though sent to every instance at once", func(t *testing.T) {
			for _, c := range codeCases(f) {
				t.Run(c.name, func(t *testing.T) {
					u := f.newUser(t)
					code, verify := c.issue(u)
					const n = 16
					replies := concurrently(n, func(i int) (reply, error) { return verify(f.procs[i%len(f.procs)], code) })
					got := map[int]int{}
					var won reply
					for i, r := range replies {
						u.must(r.reply, r.err)
						switch {
						case r.status == 200:
							won = r.reply
						case r.status == 400 && reflect.DeepEqual(r.body, c.loser):
						case r.status == 429 && reflect.DeepEqual(r.body, bodyTooManyAttempts):
						default:
							t.Errorf("verification %d = %v, want 200, 400 %v or 429 %v", i, r.reply, c.loser, bodyTooManyAttempts)
						}
						got[r.status]++
					}
					// Exactly one wins. The losers either found the code
					// already spent (400) or were refused by the attempt
					// count (429, at most n-MaxAttempts of them, since only
					// tries that find a pending code are counted).
					if got[200] != 1 || got[400]+got[429] != n-1 || got[429] > n-fleetMaxAttempts {
						t.Fatalf("statuses of %d parallel verifications = %v, want one 200 and the rest 400 or (at most %d) 429", n, got, n-fleetMaxAttempts)
					}
					if c.name == "login" {
						access, _ := u.tokens(won)
						u.wantMe(u.any(), access, "")
					}
				})
			}
		}},

		{"a replayed refresh token revokes the session on every instance", func(t *testing.T) {
			u := f.newUser(t)
			u.signUp()
			_, access0, refresh0 := u.signIn()
			in := u.order()
			access1, refresh1 := u.tokens(u.call(in[0], "POST", "/auth/api/token/refresh/", refresh0, nil))
			u.want("replay of the spent refresh token via "+in[1].name,
				u.call(in[1], "POST", "/auth/api/token/refresh/", refresh0, nil), 401, bodyTokenReused)
			u.want("the newest refresh token via "+in[2].name,
				u.call(in[2], "POST", "/auth/api/token/refresh/", refresh1, nil), 401, bodyTokenRevoked)
			for _, access := range []string{access0, access1} {
				u.want("me with an access token of the revoked session", u.call(u.any(), "GET", "/auth/api/me/", access, nil), 401, bodyTokenRevoked)
			}
		}},

		{"one number registered on every instance at once makes one account", func(t *testing.T) {
			phone := f.newPhone()
			const n = 9
			replies := concurrently(n, func(i int) (reply, error) {
				// Each from its own address, so the per-address limit
				// plays no part.
				return f.do(f.procs[i%len(f.procs)], clientAddr(f.next.Add(1)), "POST", "/auth/api/Register/", "", map[string]any{"phonenumber": phone})
			})
			var token string
			created := 0
			for i, r := range replies {
				if r.err != nil {
					t.Fatal(r.err)
				}
				switch {
				case r.status == 200:
					created++
					token, _ = r.body["token"].(string)
				case r.status != 409 || !reflect.DeepEqual(r.body, bodyUserExists):
					t.Errorf("registration %d = %v, want 200 or 409 %v", i, r.reply, bodyUserExists)
				}
			}
			if created != 1 {
				t.Fatalf("%d of %d parallel registrations succeeded, want 1", created, n)
			}
			if got := f.sms.count(phone, "register"); got != 1 {
				t.Fatalf("registration SMS sent %d times, want 1", got)
			}
			u := f.newUser(t)
			u.phone = phone
			u.want("verify", u.verify(u.any(), token, f.sms.last(t, phone, "register")), 200, bodyVerified)
		}},
	})
	if t.Failed() {
		return
	}

	t.Run("an instance killed with SIGKILL loses nothing it acknowledged", func(t *testing.T) {
		u := f.newUser(t)
		in := u.order()
		victim := in[0]
		u.want("verify", u.verify(victim, u.register(victim), f.sms.last(t, u.phone, "register")), 200, bodyVerified)
		victim.kill(t)

		userID := u.login(in[1])
		access, _ := u.tokens(u.loginVerify(in[2], userID, f.sms.last(t, u.phone, "login")))
		u.wantMe(in[1], access, userID)

		restarted := f.start(t, victim.name+" restarted")
		u.wantMe(restarted, access, userID)
		u.want("registering the number again", u.call(restarted, "POST", "/auth/api/Register/", "",
			map[string]any{"phonenumber": u.phone}), 409, bodyUserExists)
		if got := u.login(restarted); got != userID {
			t.Fatalf("login via the restarted instance: user_id %s, want %s", got, userID)
		}
		u.tokens(u.loginVerify(restarted, userID, f.sms.last(t, u.phone, "login")))
	})
}

func TestFleetSurvivesDependencyOutages(t *testing.T) {
	t.Parallel()
	b := newBackends(t)
	pg, pgURL := proxyURL(t, b.postgresURL)
	rd, redisURL := proxyURL(t, b.redisURL)
	// A request that gets no answer within the client's 10s hangs and fails
	// the test. The service's own bounds are shorter: 500ms per Redis call,
	// 3s to connect to PostgreSQL plus two statement timeouts per call.
	f := newFleet(t, buildService(t), b, 2, 10*time.Second, map[string]string{
		"PHONEAUTH_DATABASE_URL":         pgURL,
		"PHONEAUTH_REDIS_URL":            redisURL,
		"PHONEAUTH_DB_STATEMENT_TIMEOUT": "1s",
		// The polls below repeat requests from one address.
		"PHONEAUTH_IP_RATE_LIMIT": "10000",
		// Short enough to wait out a code a stalled login left (below).
		"PHONEAUTH_LOGIN_THROTTLE": "2s",
	})
	u := f.newUser(t)
	u.signUp()
	userID, access, _ := u.signIn()
	me := u.call(f.procs[0], "GET", "/auth/api/me/", access, nil)
	u.wantMe(f.procs[0], access, userID)

	outages := []struct {
		name   string
		proxy  *tcpproxy.Proxy
		fault  func(*tcpproxy.Proxy)
		check  string // the /readyz check that fails: the dependency by name
		meDown bool   // whether GET /auth/api/me/ needs the dependency
	}{
		// Stalls first, while the pools hold live connections, as when a
		// network partition strikes.
		{"redis stalled", rd, (*tcpproxy.Proxy).Stall, "redis", false},
		{"redis cut", rd, (*tcpproxy.Proxy).Cut, "redis", false},
		{"postgres stalled", pg, (*tcpproxy.Proxy).Stall, "postgres", true},
		{"postgres cut", pg, (*tcpproxy.Proxy).Cut, "postgres", true},
	}
	for _, o := range outages {
		t.Run(o.name, func(t *testing.T) {
			o.fault(o.proxy)
			t.Cleanup(o.proxy.Restore) // if the test fails before it restores

			ready := map[string]any{"postgres": "ok", "redis": "ok"}
			ready[o.check] = "unavailable"
			meStatus, meBody := 200, me.body
			if o.meDown {
				meStatus, meBody = 503, bodyUnavailable
			}
			type probe struct {
				p                    *proc
				method, path, bearer string
				body                 any
				status               int
				want                 map[string]any
			}
			var probes []probe
			for _, p := range f.procs {
				probes = append(probes,
					probe{p, "GET", "/healthz", "", nil, 200, bodyHealthy},
					probe{p, "GET", "/readyz", "", nil, 503, map[string]any{"status": "unavailable", "checks": ready}},
					probe{p, "POST", "/auth/api/login/", "", map[string]any{"phone": u.phone}, 503, bodyUnavailable},
					probe{p, "POST", "/auth/api/Register/", "", map[string]any{"phonenumber": f.newPhone()}, 503, bodyUnavailable},
					probe{p, "GET", "/auth/api/me/", access, nil, meStatus, meBody},
				)
			}
			// All at once: a stalled dependency makes each wait for a
			// timeout.
			results := concurrently(len(probes), func(i int) (reply, error) {
				pr := probes[i]
				return f.do(pr.p, u.ip, pr.method, pr.path, pr.bearer, pr.body)
			})
			for i, r := range results {
				pr := probes[i]
				switch {
				case r.err != nil:
					t.Errorf("during the outage: %v", r.err)
				case r.status != pr.status || !reflect.DeepEqual(r.body, pr.want):
					t.Errorf("%s %s via %s during the outage = %v, want %d %v", pr.method, pr.path, pr.p.name, r.reply, pr.status, pr.want)
				}
			}
			for _, p := range f.procs {
				p.wantRunning(t)
			}
			if t.Failed() {
				return
			}

			o.proxy.Restore()
			for _, p := range f.procs {
				eventually(t, 20*time.Second, "readyz via "+p.name+" after the restore", func() (bool, string) {
					r := u.call(p, "GET", "/readyz", "", nil)
					return r.status == 200 && reflect.DeepEqual(r.body, map[string]any{
						"status": "ok", "checks": map[string]any{"postgres": "ok", "redis": "ok"},
					}), r.String()
				})
				// A login whose statement the stall held can commit when
				// Restore delivers it, after the login answered 503 and
				// its undo gave up: its code was never sent, and it
				// throttles the number (429) until the throttle ends
				// (README, Running a fleet). The login goes through then.
				eventually(t, 20*time.Second, "POST /auth/api/login/ via "+p.name, func() (bool, string) {
					r := u.call(p, "POST", "/auth/api/login/", "", map[string]any{"phone": u.phone})
					pending := r.status == 429 && reflect.DeepEqual(r.body, map[string]any{"message": "User already have a request for login", "user_id": userID})
					if r.status != 200 && r.status != 503 && !pending {
						t.Fatalf("POST /auth/api/login/ via %s = %v while recovering, want 503, 200, or 429 for a login the stall held", p.name, r)
					}
					return r.status == 200, r.String()
				})
				u.tokens(u.loginVerify(p, userID, f.sms.last(t, u.phone, "login")))
				u.untilOK(p, "POST", "/auth/api/Register/", map[string]any{"phonenumber": f.newPhone()})
				u.wantMe(p, access, userID)
				p.wantRunning(t)
			}
		})
	}
}

// backends is one test's share of PostgreSQL and Redis: a schema and a key
// prefix of its own, removed when the test ends.
type backends struct {
	postgresURL string // with search_path set to the test's schema
	redisURL    string
	redisPrefix string
}

// newBackends creates the schema and picks the prefix, or skips t (fails it
// under CI) when the services are not configured or do not answer.
func newBackends(t *testing.T) backends {
	t.Helper()
	pgURL := testenv.PostgresURL(t)
	redisURL := testenv.RedisURL(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	name := "fleet_" + randomHex(6)
	conn, err := pgx.Connect(ctx, pgURL)
	if err != nil {
		testenv.Unreachable(t, "PostgreSQL", err)
	}
	_, err = conn.Exec(ctx, "CREATE SCHEMA "+name)
	_ = conn.Close(ctx)
	if err != nil {
		t.Fatalf("create schema %s: %v", name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, pgURL)
		if err != nil {
			t.Errorf("drop schema %s: %v", name, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP SCHEMA "+name+" CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", name, err)
		}
	})

	opts, err := goredis.ParseURL(redisURL)
	if err != nil {
		t.Fatalf("%s: %v", testenv.RedisVar, err)
	}
	rdb := goredis.NewClient(opts)
	if err := rdb.Ping(ctx).Err(); err != nil {
		_ = rdb.Close()
		testenv.Unreachable(t, "Redis", err)
	}
	prefix := "phoneauth-test:" + name + ":"
	t.Cleanup(func() {
		defer rdb.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		var keys []string
		iter := rdb.Scan(ctx, 0, prefix+"*", 1000).Iterator()
		for iter.Next(ctx) {
			keys = append(keys, iter.Val())
		}
		if err := iter.Err(); err != nil {
			t.Errorf("scan redis keys %s*: %v", prefix, err)
			return
		}
		if len(keys) > 0 {
			if err := rdb.Del(ctx, keys...).Err(); err != nil {
				t.Errorf("delete redis keys %s*: %v", prefix, err)
			}
		}
	})

	u, err := url.Parse(pgURL)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		t.Fatalf("%s must be a postgres:// URL for the fleet tests", testenv.PostgresVar)
	}
	q := u.Query()
	q.Set("search_path", name)
	u.RawQuery = q.Encode()
	return backends{postgresURL: u.String(), redisURL: redisURL, redisPrefix: prefix}
}

// proxyURL starts a tcpproxy to the host of rawURL and returns it with
// rawURL pointed at the proxy.
func proxyURL(t *testing.T, rawURL string) (*tcpproxy.Proxy, string) {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	target := u.Host
	if u.Port() == "" {
		port := map[string]string{"postgres": "5432", "postgresql": "5432", "redis": "6379", "rediss": "6379"}[u.Scheme]
		target = net.JoinHostPort(u.Hostname(), port)
	}
	p := tcpproxy.ForTest(t, target)
	u.Host = p.Addr()
	return p, u.String()
}

// buildService builds the phoneauth binary into a temporary directory.
func buildService(t *testing.T) string {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the fleet tests build the binary and need the go command: %v", err)
	}
	bin := t.TempDir() + "/phoneauth"
	out, err := exec.Command(goTool, "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// fleet is several phoneauth processes sharing one database, one Redis, one
// JWT secret and one SMS gateway.
type fleet struct {
	ctx   context.Context // the processes are killed when it ends
	bin   string
	env   []string
	procs []*proc
	sms   *smsBox
	http  *http.Client
	seed  uint64
	next  atomic.Int64 // numbers and client addresses handed out
}

// newFleet starts n instances on b with extra variables on top of the
// fleet's own, and waits until each listens. Requests time out after
// timeout: a request that hangs fails the test.
func newFleet(t *testing.T, bin string, b backends, n int, timeout time.Duration, extra map[string]string) *fleet {
	t.Helper()
	box := &smsBox{msgs: map[string][]smsMessage{}}
	gateway := httptest.NewServer(box)
	t.Cleanup(gateway.Close)

	vars := map[string]string{
		"PHONEAUTH_ADDR":            "127.0.0.1:0",
		"PHONEAUTH_DATABASE_URL":    b.postgresURL,
		"PHONEAUTH_DB_MAX_CONNS":    "4",
		"PHONEAUTH_REDIS_URL":       b.redisURL,
		"PHONEAUTH_REDIS_PREFIX":    b.redisPrefix,
		"PHONEAUTH_JWT_SECRET":      randomHex(32),
		"PHONEAUTH_LOG_FORMAT":      "json",
		"PHONEAUTH_SMS_PROVIDER":    "webhook",
		"PHONEAUTH_SMS_WEBHOOK_URL": gateway.URL,
		"PHONEAUTH_TRUSTED_PROXIES": "127.0.0.0/8",
	}
	for k, v := range extra {
		vars[k] = v
	}
	var env []string
	for k, v := range vars {
		env = append(env, k+"="+v)
	}

	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.MaxIdleConnsPerHost = 32
	t.Cleanup(transport.CloseIdleConnections)

	seed := *fleetSeed
	if seed == 0 {
		var b [8]byte
		_, _ = rand.Read(b[:])
		seed = binary.LittleEndian.Uint64(b[:])
	}
	t.Logf("instances chosen with seed %d (replay with -fleet.seed=%d)", seed, seed)

	f := &fleet{
		ctx:  t.Context(),
		bin:  bin,
		env:  env,
		sms:  box,
		http: &http.Client{Transport: transport, Timeout: timeout},
		seed: seed,
	}
	// Started together, so they also race to migrate the fresh schema.
	for i := range n {
		f.procs = append(f.procs, f.launch(t, string(rune('A'+i))))
	}
	for _, p := range f.procs {
		p.await(t)
	}
	return f
}

// start launches one more instance and waits until it listens.
func (f *fleet) start(t *testing.T, name string) *proc {
	t.Helper()
	p := f.launch(t, name)
	p.await(t)
	return p
}

// launch starts an instance, killed when t ends; its stderr is shown if t
// fails.
func (f *fleet) launch(t *testing.T, name string) *proc {
	t.Helper()
	cmd := exec.CommandContext(f.ctx, f.bin, "serve")
	cmd.Env = f.env
	cmd.WaitDelay = 5 * time.Second
	r, w := io.Pipe()
	cmd.Stderr = w
	p := &proc{
		name:      name,
		cmd:       cmd,
		exited:    make(chan struct{}),
		listening: make(chan string, 1),
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start instance %s: %v", name, err)
	}
	go p.readLogs(r)
	go func() {
		p.err = cmd.Wait()
		_ = w.Close()
		close(p.exited)
	}()
	t.Cleanup(func() {
		p.kill(t)
		p.mu.Lock()
		defer p.mu.Unlock()
		for _, line := range p.panics {
			t.Errorf("instance %s panicked: %s", p.name, line)
		}
		if t.Failed() {
			t.Logf("last log lines of instance %s:\n%s", p.name, strings.Join(p.tail, "\n"))
		}
	})
	return p
}

// proc is one phoneauth process.
type proc struct {
	name      string
	url       string // http://host:port, once await returned
	cmd       *exec.Cmd
	exited    chan struct{} // closed when the process has ended
	err       error         // how it ended, once exited is closed
	listening chan string   // the addr of its "listening" log line

	mu     sync.Mutex
	tail   []string // its last log lines
	panics []string // log lines reporting a recovered panic
}

const tailLines = 60

func (p *proc) readLogs(r io.Reader) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		var m struct {
			Msg  string `json:"msg"`
			Addr string `json:"addr"`
		}
		_ = json.Unmarshal([]byte(line), &m)
		if m.Msg == "listening" && m.Addr != "" {
			select {
			case p.listening <- m.Addr:
			default:
			}
		}
		p.mu.Lock()
		p.tail = append(p.tail, line)
		if len(p.tail) > tailLines {
			p.tail = p.tail[len(p.tail)-tailLines:]
		}
		if m.Msg == "panic" {
			p.panics = append(p.panics, line)
		}
		p.mu.Unlock()
	}
	_, _ = io.Copy(io.Discard, r) // a line too long: keep the process unblocked
}

// await waits for p's "listening" line and learns its address from it.
func (p *proc) await(t *testing.T) {
	t.Helper()
	select {
	case addr := <-p.listening:
		p.url = "http://" + addr
	case <-p.exited:
		t.Fatalf("instance %s exited before listening: %v\n%s", p.name, p.err, p.logs())
	case <-time.After(30 * time.Second):
		t.Fatalf("instance %s did not log \"listening\" within 30s\n%s", p.name, p.logs())
	}
}

func (p *proc) logs() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return strings.Join(p.tail, "\n")
}

// kill ends p with SIGKILL, as a crash or the OOM killer would, and waits
// until it is gone.
func (p *proc) kill(t *testing.T) {
	t.Helper()
	select {
	case <-p.exited:
		return
	default:
	}
	_ = p.cmd.Process.Kill()
	select {
	case <-p.exited:
	case <-time.After(10 * time.Second):
		t.Errorf("instance %s still runs 10s after SIGKILL", p.name)
	}
}

// wantRunning fails t if p has exited.
func (p *proc) wantRunning(t *testing.T) {
	t.Helper()
	select {
	case <-p.exited:
		t.Fatalf("instance %s exited: %v\n%s", p.name, p.err, p.logs())
	default:
	}
}

// newPhone returns a phone number no other scenario of the fleet uses.
func (f *fleet) newPhone() string { return fleetPhone(f.next.Add(1)) }

// fleetPhone is the n-th test number: a valid US number, each in a number
// range of its own (the exchange changes with n), so that the per-range
// SMS budget of one scenario never spends another's.
func fleetPhone(n int64) string { return fmt.Sprintf("+1415%03d%04d", 200+n%800, n%10000) }

// clientAddr returns the n-th simulated client address: documentation
// addresses, only ever sent as X-Forwarded-For text.
func clientAddr(n int64) string {
	switch {
	case n < 255:
		return fmt.Sprintf("203.0.113.%d", n)
	case n < 509:
		return fmt.Sprintf("198.51.100.%d", n-254)
	default:
		return fmt.Sprintf("2001:db8::%x", n)
	}
}

// reply is a response of an instance.
type reply struct {
	status int
	header http.Header
	body   map[string]any
	raw    string
}

func (r reply) String() string { return fmt.Sprintf("%d %s", r.status, strings.TrimSpace(r.raw)) }

// do sends one request to p as a client at address ip (X-Forwarded-For) and
// decodes the JSON reply. Errors: transport failures, the client timeout
// (the instance hung), a body that is not JSON.
func (f *fleet) do(p *proc, ip, method, path, bearer string, body any) (reply, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return reply{}, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, p.url+path, rd)
	if err != nil {
		return reply{}, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if ip != "" {
		req.Header.Set("X-Forwarded-For", ip)
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	res, err := f.http.Do(req)
	if err != nil {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return reply{}, fmt.Errorf("%s %s via %s: no answer within %s: %w", method, path, p.name, f.http.Timeout, err)
		}
		return reply{}, fmt.Errorf("%s %s via %s: %w", method, path, p.name, err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	if err != nil {
		return reply{}, fmt.Errorf("%s %s via %s: read body: %w", method, path, p.name, err)
	}
	r := reply{status: res.StatusCode, header: res.Header, raw: string(raw)}
	if err := json.Unmarshal(raw, &r.body); err != nil {
		return r, fmt.Errorf("%s %s via %s: %d with a body that is not JSON: %q", method, path, p.name, r.status, raw)
	}
	return r, nil
}

// fleetUser is a simulated client: one phone number, one address, and a
// random choice of instance for each step, from the fleet's seed and the
// test's name.
type fleetUser struct {
	t     *testing.T
	f     *fleet
	rng   *mrand.Rand
	phone string
	ip    string
}

func (f *fleet) newUser(t *testing.T) *fleetUser {
	h := fnv.New64a()
	h.Write([]byte(t.Name()))
	n := f.next.Add(1)
	return &fleetUser{
		t:     t,
		f:     f,
		rng:   mrand.New(mrand.NewPCG(f.seed, h.Sum64())),
		phone: fleetPhone(n),
		ip:    clientAddr(n),
	}
}

// any returns an instance at random.
func (u *fleetUser) any() *proc { return u.f.procs[u.rng.IntN(len(u.f.procs))] }

// order returns the instances in a random order: a scenario's A, B, C.
func (u *fleetUser) order() []*proc {
	in := make([]*proc, len(u.f.procs))
	for i, j := range u.rng.Perm(len(in)) {
		in[i] = u.f.procs[j]
	}
	return in
}

// call sends a request to p, failing the test if no reply comes.
func (u *fleetUser) call(p *proc, method, path, bearer string, body any) reply {
	u.t.Helper()
	return u.must(u.f.do(p, u.ip, method, path, bearer, body))
}

func (u *fleetUser) must(r reply, err error) reply {
	u.t.Helper()
	if err != nil {
		u.t.Fatal(err)
	}
	return r
}

// want fails the test unless r has status and, if body is not nil,
// exactly body.
func (u *fleetUser) want(what string, r reply, status int, body map[string]any) {
	u.t.Helper()
	if r.status != status || body != nil && !reflect.DeepEqual(r.body, body) {
		u.t.Fatalf("%s = %v, want %d %v", what, r, status, body)
	}
}

// register registers u's number via p and returns the verification token.
func (u *fleetUser) register(p *proc) string {
	u.t.Helper()
	r := u.call(p, "POST", "/auth/api/Register/", "", map[string]any{"phonenumber": u.phone})
	token, _ := r.body["token"].(string)
	if r.status != 200 || r.body["message"] != "User Created Successfully" || r.body["phone"] != u.phone || token == "" || len(r.body) != 3 {
		u.t.Fatalf("register via %s = %v, want 200 with the message, phone %s and a token", p.name, r, u.phone)
	}
	return token
}

func (u *fleetUser) verify(p *proc, token, code string) reply {
	u.t.Helper()
	return u.call(p, "POST", "/auth/api/verify/", "", map[string]any{"code": code, "token": token, "phone": u.phone})
}

// signUp registers and verifies u's number, each step via any instance.
func (u *fleetUser) signUp() {
	u.t.Helper()
	token := u.register(u.any())
	u.want("verify", u.verify(u.any(), token, u.f.sms.last(u.t, u.phone, "register")), 200, bodyVerified)
}

// login asks for a login code via p and returns the user ID.
func (u *fleetUser) login(p *proc) string {
	u.t.Helper()
	r := u.call(p, "POST", "/auth/api/login/", "", map[string]any{"phone": u.phone})
	userID, _ := r.body["user_id"].(string)
	if r.status != 200 || r.body["message"] != "Code Send to user" || r.body["expire_time"] != "300" || userID == "" || len(r.body) != 3 {
		u.t.Fatalf("login via %s = %v, want 200 with the message, expire_time 300 and a user_id", p.name, r)
	}
	return userID
}

func (u *fleetUser) loginVerify(p *proc, userID, code string) reply {
	u.t.Helper()
	return u.call(p, "POST", "/auth/api/login/verify/", "", map[string]any{"code": code, "user_id": userID})
}

// signIn logs in, each step via any instance, and returns the tokens.
func (u *fleetUser) signIn() (userID, access, refresh string) {
	u.t.Helper()
	userID = u.login(u.any())
	access, refresh = u.tokens(u.loginVerify(u.any(), userID, u.f.sms.last(u.t, u.phone, "login")))
	return userID, access, refresh
}

// tokens checks that r is a 200 with a token pair and returns it.
func (u *fleetUser) tokens(r reply) (access, refresh string) {
	u.t.Helper()
	access, _ = r.body["access_token"].(string)
	refresh, _ = r.body["refresh_token"].(string)
	if r.status != 200 || access == "" || refresh == "" || len(r.body) != 2 {
		u.t.Fatalf("got %v, want 200 with access_token and refresh_token", r)
	}
	return access, refresh
}

// wantMe checks that access is accepted via p for u's account (and user
// userID, unless empty).
func (u *fleetUser) wantMe(p *proc, access, userID string) {
	u.t.Helper()
	r := u.call(p, "GET", "/auth/api/me/", access, nil)
	created, _ := r.body["created_at"].(string)
	if r.status != 200 || r.body["phone"] != u.phone || r.body["verified"] != true ||
		userID != "" && r.body["user_id"] != userID || created == "" {
		u.t.Fatalf("me via %s = %v, want 200 for user %s, %s, verified", p.name, r, userID, u.phone)
	}
}

// fullFlow runs every step of the contract, each via any instance.
func (u *fleetUser) fullFlow() {
	u.t.Helper()
	u.signUp()
	userID, access, refresh := u.signIn()
	u.wantMe(u.any(), access, userID)
	access2, refresh2 := u.tokens(u.call(u.any(), "POST", "/auth/api/token/refresh/", refresh, nil))
	u.wantMe(u.any(), access2, userID)
	u.want("logout", u.call(u.any(), "POST", "/auth/api/logout/", access2, nil), 200, bodyLoggedOut)
	u.want("me after logout", u.call(u.any(), "GET", "/auth/api/me/", access2, nil), 401, bodyTokenRevoked)
	u.want("refresh after logout", u.call(u.any(), "POST", "/auth/api/token/refresh/", refresh2, nil), 401, bodyTokenRevoked)
}

// untilOK repeats a request via p while it answers 503, until it answers
// 200; any other answer fails the test.
func (u *fleetUser) untilOK(p *proc, method, path string, body any) reply {
	u.t.Helper()
	var last reply
	eventually(u.t, 20*time.Second, method+" "+path+" via "+p.name, func() (bool, string) {
		last = u.call(p, method, path, "", body)
		if last.status != 200 && last.status != 503 {
			u.t.Fatalf("%s %s via %s = %v while recovering, want 503 or 200", method, path, p.name, last)
		}
		return last.status == 200, last.String()
	})
	return last
}

// codeCase is a kind of SMS code: issue sends one to u and returns it with
// the request that checks a code, and loser is the body a check gets once
// the code is spent.
type codeCase struct {
	name  string
	issue func(u *fleetUser) (code string, verify func(p *proc, code string) (reply, error))
	loser map[string]any
}

func codeCases(f *fleet) []codeCase {
	return []codeCase{
		{"registration", func(u *fleetUser) (string, func(*proc, string) (reply, error)) {
			token := u.register(u.any())
			return f.sms.last(u.t, u.phone, "register"), func(p *proc, code string) (reply, error) {
				return f.do(p, u.ip, "POST", "/auth/api/verify/", "", map[string]any{"code": code, "token": token, "phone": u.phone})
			}
		}, bodyBadToken},
		{"login", func(u *fleetUser) (string, func(*proc, string) (reply, error)) {
			u.signUp()
			userID := u.login(u.any())
			return f.sms.last(u.t, u.phone, "login"), func(p *proc, code string) (reply, error) {
				return f.do(p, u.ip, "POST", "/auth/api/login/verify/", "", map[string]any{"code": code, "user_id": userID})
			}
		}, bodyLoginFirst},
	}
}

// wrongCode returns a code of the same length that is not code.
func wrongCode(code string) string {
	b := []byte(code)
	b[len(b)-1] = '0' + (b[len(b)-1]-'0'+1)%10
	return string(b)
}

func wantRetryAfter(t *testing.T, r reply, maxSeconds int) {
	t.Helper()
	s := r.header.Get("Retry-After")
	if n, err := strconv.Atoi(s); err != nil || n < 1 || n > maxSeconds {
		t.Fatalf("Retry-After = %q, want whole seconds in 1..%d", s, maxSeconds)
	}
}

// smsBox is the SMS gateway of a fleet: it keeps every message the
// instances send, by number.
type smsBox struct {
	mu   sync.Mutex
	msgs map[string][]smsMessage
}

type smsMessage struct {
	Code    string `json:"code"`
	Purpose string `json:"purpose"`
	To      string `json:"to"`
}

func (b *smsBox) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var m smsMessage
	if err := json.NewDecoder(r.Body).Decode(&m); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	b.mu.Lock()
	b.msgs[m.To] = append(b.msgs[m.To], m)
	b.mu.Unlock()
}

// last returns the code of the last message of purpose sent to phone. The
// service answers only after the gateway took the message, so it is here
// by the time the request that sent it returned.
func (b *smsBox) last(t *testing.T, phone, purpose string) string {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	msgs := b.msgs[phone]
	for i := len(msgs) - 1; i >= 0; i-- {
		if msgs[i].Purpose == purpose {
			if len(msgs[i].Code) != 6 {
				t.Fatalf("%s code to %s is %q, want 6 digits", purpose, phone, msgs[i].Code)
			}
			return msgs[i].Code
		}
	}
	t.Fatalf("no %s code was sent to %s", purpose, phone)
	return ""
}

// count returns how many messages of purpose were sent to phone.
func (b *smsBox) count(phone, purpose string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := 0
	for _, m := range b.msgs[phone] {
		if m.Purpose == purpose {
			n++
		}
	}
	return n
}

type namedTest struct {
	name string
	fn   func(t *testing.T)
}

// together runs each test as a subtest, all at the same time. Unlike
// t.Parallel it is not capped by -test.parallel (GOMAXPROCS by default),
// so the fleet serves every scenario at once even on a small machine.
func together(t *testing.T, tests []namedTest) {
	t.Helper()
	var wg sync.WaitGroup
	for _, tt := range tests {
		wg.Go(func() { t.Run(tt.name, tt.fn) })
	}
	wg.Wait()
}

type result struct {
	reply
	err error
}

// concurrently runs do(0) … do(n-1) at once and returns their results.
func concurrently(n int, do func(i int) (reply, error)) []result {
	results := make([]result, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			results[i].reply, results[i].err = do(i)
		})
	}
	close(start)
	wg.Wait()
	return results
}

// eventually calls try every 100ms until it reports done, failing t if
// that does not happen within limit. try returns what it saw, for the
// failure message.
func eventually(t *testing.T, limit time.Duration, what string, try func() (done bool, saw string)) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		done, saw := try()
		if done {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not done within %s; last: %s", what, limit, saw)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
