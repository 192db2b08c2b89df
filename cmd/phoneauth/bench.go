package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/phoneauth/phoneauth/sms"
)

// phoneauth bench: a load generator for a running server, with the SMS
// gateway built in. It listens as the server's webhook SMS provider, so
// the virtual users read their codes back as a phone would; see the
// README's Performance section.

const (
	benchDefaultURL         = "http://127.0.0.1:8080"
	benchDefaultWebhookAddr = "127.0.0.1:8099"
	// benchDefaultSecret is the webhook secret bench uses unless told:
	// the key is the 32 bytes "phoneauth bench, loopback only!!". It is
	// fixed, so a server started once with the lines --server-env prints
	// serves every later run, and it guards nothing but a loopback
	// benchmark, where it is documented.
	benchDefaultSecret = "whsec_cGhvbmVhdXRoIGJlbmNoLCBsb29wYmFjayBvbmx5ISE="

	// benchLockoutThreshold is the PHONEAUTH_LOCKOUT_THRESHOLD that
	// --server-env sets, the most phoneauth.Policy allows: the guess mix
	// signs its user in (a success resets the count) before its failed
	// checks could reach it.
	benchLockoutThreshold = 100
	// benchMaxGuesses is the most PHONEAUTH_MAX_ATTEMPTS can be: the
	// guess mix's last try at a code is refused with 429 by then.
	benchMaxGuesses = 10
	// benchSMSWait bounds the wait for a code: the server sends the SMS
	// before it answers, so a code is normally there with the answer.
	benchSMSWait = 10 * time.Second
	// benchRequestTimeout bounds one request.
	benchRequestTimeout = 30 * time.Second
	// benchHealthWait is how long bench waits for the server to answer
	// GET /healthz, so a script may start both at once.
	benchHealthWait = 10 * time.Second
	// benchProbes is how many blocks of numbers bench tries before it
	// gives up finding one no earlier run used.
	benchProbes = 20
)

// benchConfig is phoneauth bench's command line.
type benchConfig struct {
	target        *url.URL
	concurrency   int
	duration      time.Duration
	warmup        time.Duration
	mix           *mix
	json          bool
	allowRemote   bool
	webhookAddr   string
	webhookSecret string
	serverEnv     bool
	// seeded, if set, is the block of phoneauth seed's accounts the
	// login mix signs in, indexes 0 to seededUsers-1.
	seeded      numberBlock
	seededUsers int
}

// parseBench reads phoneauth bench's flags.
func parseBench(args []string, stderr io.Writer) (benchConfig, error) {
	fs := newFlagSet("bench", "usage: phoneauth bench [flags]\n\n"+
		"  drive a running server with virtual users and report flows/s and latencies;\n"+
		"  start the server with the settings phoneauth bench --server-env prints\n\nflags:\n", stderr)
	var c benchConfig
	var target, mixName, seeded string
	fs.StringVar(&target, "url", benchDefaultURL, "the server to drive: a loopback address unless --allow-remote")
	fs.IntVar(&c.concurrency, "c", 32, "virtual users, each running one flow after another")
	fs.DurationVar(&c.duration, "d", 10*time.Second, "how long to measure")
	fs.DurationVar(&c.warmup, "warmup", 0, "how long to run before measuring")
	fs.StringVar(&mixName, "mix", "full", "what each virtual user does: "+mixNames())
	fs.BoolVar(&c.json, "json", false, "print the report as JSON")
	fs.BoolVar(&c.allowRemote, "allow-remote", false, "allow a --url or --webhook-addr that is not loopback")
	fs.StringVar(&c.webhookAddr, "webhook-addr", benchDefaultWebhookAddr, "where the SMS webhook receiver listens")
	fs.StringVar(&c.webhookSecret, "webhook-secret", benchDefaultSecret, "the webhook's signing secret, as PHONEAUTH_SMS_WEBHOOK_SECRET")
	fs.BoolVar(&c.serverEnv, "server-env", false, "print the server's PHONEAUTH_* settings for a benchmark and exit")
	fs.StringVar(&seeded, "seeded-prefix", "", "with --mix login: sign in phoneauth seed's accounts of this block (as +14152)")
	fs.IntVar(&c.seededUsers, "seeded-users", 0, "with --seeded-prefix: how many accounts phoneauth seed created in the block")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return c, fmt.Errorf("bench: unexpected argument %q", fs.Arg(0))
	}
	var errs []error
	fail := func(format string, a ...any) { errs = append(errs, fmt.Errorf("bench: "+format, a...)) }
	for _, m := range mixes {
		if m.name == mixName {
			c.mix = m
		}
	}
	if c.mix == nil {
		fail("--mix %q is not one of %s", mixName, mixNames())
	}
	if c.concurrency < 1 || c.concurrency > 10000 {
		fail("-c %d must be between 1 and 10000", c.concurrency)
	}
	if c.duration <= 0 {
		fail("-d %s must be positive", c.duration)
	}
	if c.warmup < 0 {
		fail("--warmup %s must not be negative", c.warmup)
	}
	u, err := url.Parse(target)
	switch {
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		fail("--url %q is not an http:// or https:// URL", target)
	case !c.allowRemote && !loopbackHost(u.Hostname()):
		fail("--url %s is not a loopback address (127.0.0.0/8, ::1, localhost): a benchmark loads whatever it drives; pass --allow-remote if that server is meant to take it", target)
	default:
		u.Path, u.RawQuery, u.Fragment = strings.TrimSuffix(u.Path, "/"), "", ""
		c.target = u
	}
	if host, _, err := net.SplitHostPort(c.webhookAddr); err != nil {
		fail("--webhook-addr %q is not host:port", c.webhookAddr)
	} else if !c.allowRemote && !loopbackHost(host) {
		fail("--webhook-addr %s is not a loopback address: the codes would cross a network in clear; pass --allow-remote if the server is elsewhere", c.webhookAddr)
	}
	if err := (sms.WebhookConfig{URL: "http://127.0.0.1/", Secret: c.webhookSecret}).Validate(); err != nil {
		fail("--webhook-secret is not one the server accepts: %v", err)
	}
	switch {
	case seeded != "" && mixName != "login":
		fail("--seeded-prefix is for --mix login")
	case seeded != "":
		b, err := parseBlock(seeded)
		if err != nil {
			fail("--seeded-prefix %v", err)
		}
		c.seeded = b
		if c.seededUsers < c.concurrency || c.seededUsers > blockSize {
			fail("--seeded-users %d must be between -c (%d) and %d: each virtual user signs in accounts of its own", c.seededUsers, c.concurrency, blockSize)
		}
	case c.seededUsers != 0:
		fail("--seeded-users needs --seeded-prefix")
	}
	return c, errors.Join(errs...)
}

// loopbackHost reports whether host is localhost or a loopback address.
func loopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.IsLoopback()
}

// webhookURL is the URL the server POSTs its SMS to.
func (c benchConfig) webhookURL() string {
	return "http://" + c.webhookAddr + "/"
}

// serverEnvLines are the server's settings for a benchmark, one
// VARIABLE=value a line, for env $(phoneauth bench --server-env): SMS to
// the bench's receiver, and every limit that would refuse a benchmark's
// traffic off or out of its way. They leave the database, the JWT secret
// and the address to the command line.
func (c benchConfig) serverEnvLines() []string {
	lines := []string{
		"PHONEAUTH_SMS_PROVIDER=webhook",
		"PHONEAUTH_SMS_WEBHOOK_URL=" + c.webhookURL(),
		"PHONEAUTH_SMS_WEBHOOK_SECRET=" + c.webhookSecret,
		"PHONEAUTH_SMS_CONCURRENCY=10000",
		"PHONEAUTH_SMS_REGIONS=US",
		// The limits and budgets, each 0 (off) where 0 disables it.
		"PHONEAUTH_IP_RATE_LIMIT=0",
		"PHONEAUTH_IP_VERIFY_RATE_LIMIT=0",
		"PHONEAUTH_SMS_PER_PHONE_DAY=0",
		"PHONEAUTH_SMS_PER_RANGE_HOUR=0",
		"PHONEAUTH_SMS_PER_COUNTRY_HOUR=0",
		"PHONEAUTH_SMS_PER_HOUR=0",
		"PHONEAUTH_SMS_PER_DAY=0",
		// The guess mix asks a new code as soon as one is spent.
		"PHONEAUTH_LOGIN_THROTTLE=0s",
		fmt.Sprintf("PHONEAUTH_LOCKOUT_THRESHOLD=%d", benchLockoutThreshold),
	}
	if host, _, _ := net.SplitHostPort(c.webhookAddr); !loopbackHost(host) {
		lines = append(lines, "PHONEAUTH_SMS_WEBHOOK_ALLOW_HTTP=true")
	}
	return lines
}

// benchCommand runs phoneauth bench.
func benchCommand(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	c, err := parseBench(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	if c.serverEnv {
		for _, line := range c.serverEnvLines() {
			fmt.Fprintln(stdout, line)
		}
		return nil
	}
	b := newBench(c, stdout, stderr)
	report, err := b.run(ctx)
	if err != nil {
		return err
	}
	if err := report.print(stdout, c.json); err != nil {
		return err
	}
	return report.clean()
}

// bench is one run of phoneauth bench.
type bench struct {
	c      benchConfig
	client *http.Client
	hook   *hookReceiver
	stdout io.Writer
	stderr io.Writer
	// paths are the target's URLs, parsed once.
	paths map[string]*url.URL

	// fresh is the block fresh numbers come from, next the index of the
	// next one.
	fresh numberBlock
	next  atomic.Int64

	// start and end are the measured window, set before the virtual
	// users start their flows.
	start, end time.Time
	phase      atomic.Int32
	setupDone  atomic.Int64

	stats          [numSteps]stepStats
	flows, failed  atomic.Int64 // flows finished in the window
	errors         atomic.Int64 // failed requests in the window
	warmupErrors   atomic.Int64
	codesRequested atomic.Int64
}

// The phases of a run, for the progress line.
const (
	phaseSetup int32 = iota
	phaseRunning
	phaseDone
)

func newBench(c benchConfig, stdout, stderr io.Writer) *bench {
	// One connection per virtual user, kept alive: the generator must
	// cost the machine little beside the server it measures.
	transport := &http.Transport{
		Proxy:                 nil,
		DialContext:           (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:          c.concurrency + 16,
		MaxIdleConnsPerHost:   c.concurrency + 16,
		IdleConnTimeout:       90 * time.Second,
		ResponseHeaderTimeout: benchRequestTimeout,
		DisableCompression:    true,
	}
	b := &bench{
		c:      c,
		client: &http.Client{Transport: transport, Timeout: benchRequestTimeout},
		hook:   newHookReceiver(hookKey(c.webhookSecret)),
		stdout: stdout,
		stderr: stderr,
		paths:  map[string]*url.URL{},
	}
	for _, p := range benchPaths {
		u := *c.target
		u.Path += p
		b.paths[p] = &u
	}
	return b
}

// run runs the benchmark and returns its report, or why it could not
// run.
func (b *bench) run(ctx context.Context) (benchReport, error) {
	ln, err := net.Listen("tcp", b.c.webhookAddr)
	if err != nil {
		return benchReport{}, fmt.Errorf("bench: SMS webhook receiver: %w", err)
	}
	srv := &http.Server{Handler: b.hook, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	defer func() {
		shutdown, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdown)
	}()
	fmt.Fprintf(b.stderr, "bench: SMS webhook receiver on %s; driving %s\n", b.c.webhookURL(), b.c.target)
	if err := b.waitHealthy(ctx); err != nil {
		return benchReport{}, err
	}
	if b.c.seeded == "" {
		if err := b.pickBlock(ctx); err != nil {
			return benchReport{}, err
		}
	}

	stopProgress := b.progress()
	defer stopProgress()
	vus := make([]*vu, b.c.concurrency)
	for i := range vus {
		vus[i] = newVU(b, i)
	}
	// The first virtual user sets up alone: its SMS tells whether the
	// server sends them here, before a crowd of requests fails.
	if err := b.c.mix.setup(ctx, vus[0]); err != nil {
		return benchReport{}, b.setupFailed(err)
	}
	b.setupDone.Add(1)
	if err := b.setupAll(ctx, vus[1:]); err != nil {
		return benchReport{}, b.setupFailed(err)
	}
	for _, v := range vus {
		v.setupMode = false
	}

	now := time.Now()
	b.start = now.Add(b.c.warmup)
	b.end = b.start.Add(b.c.duration)
	b.phase.Store(phaseRunning)
	fmt.Fprintf(b.stderr, "bench: %d virtual users set up; running mix %s for %s (warmup %s)\n", len(vus), b.c.mix.name, b.c.duration, b.c.warmup)
	var wg sync.WaitGroup
	for _, v := range vus {
		wg.Go(func() {
			for ctx.Err() == nil && time.Now().Before(b.end) {
				b.c.mix.flow(ctx, v)
			}
		})
	}
	wg.Wait()
	b.phase.Store(phaseDone)
	stopProgress()
	return b.report(ctx.Err() != nil, time.Now()), nil
}

// setupAll sets up vus in parallel and returns the first error.
func (b *bench) setupAll(ctx context.Context, vus []*vu) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	var once sync.Once
	var first error
	for _, v := range vus {
		wg.Go(func() {
			if err := b.c.mix.setup(ctx, v); err != nil {
				once.Do(func() { first = err; cancel() })
				return
			}
			b.setupDone.Add(1)
		})
	}
	wg.Wait()
	return first
}

// setupFailed explains a setup that failed: most often a server not
// started with --server-env's settings.
func (b *bench) setupFailed(err error) error {
	if errors.Is(err, errAbandoned) {
		return errors.New("bench: interrupted during the setup")
	}
	hint := "is the server started with the settings phoneauth bench --server-env prints?"
	if n := b.hook.bad.Load(); n > 0 {
		hint = fmt.Sprintf("%d SMS came with a bad signature: the server's PHONEAUTH_SMS_WEBHOOK_SECRET is not --webhook-secret", n)
	}
	return fmt.Errorf("bench: setup: %w (%s)", err, hint)
}

// waitHealthy waits until the target answers GET /healthz with 200, for
// benchHealthWait at most.
func (b *bench) waitHealthy(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, benchHealthWait)
	defer cancel()
	u := b.paths[pathHealthz].String()
	var last error
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if err != nil {
			return err
		}
		res, err := b.client.Do(req)
		if err == nil {
			_, _ = io.Copy(io.Discard, res.Body)
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("answered %s", res.Status)
		}
		last = err
		select {
		case <-ctx.Done():
			return fmt.Errorf("bench: no server answers GET %s within %s: %w", u, benchHealthWait, last)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// pickBlock chooses the block of fresh numbers: the first, in a random
// order, whose first number has no account (every run starts there).
// Asking login for an unknown number sends no SMS.
func (b *bench) pickBlock(ctx context.Context) error {
	v := newVU(b, -1)
	for _, blk := range shuffledBlocks()[:benchProbes] {
		phone := blk.number(0)
		a := v.send(ctx, http.MethodPost, pathLogin, "", jsonBody("phone", phone))
		switch {
		case a.status == http.StatusNotFound:
			b.fresh = blk
			return nil
		case a.status == http.StatusOK:
			b.codesRequested.Add(1) // a code went out, to no one
		case a.status == http.StatusForbidden, a.status == http.StatusTooManyRequests && v.out.Message != "":
			// An earlier run's account: unverified, or with a code pending.
		default:
			return fmt.Errorf("bench: asking whether %s has an account: %s (is the server started with the settings phoneauth bench --server-env prints?)", phone, a.describe(v))
		}
	}
	return fmt.Errorf("bench: the first %d blocks of numbers tried all have accounts; use a fresh database", benchProbes)
}

// freshNumber returns a number no account has, or false once the block
// is spent.
func (b *bench) freshNumber() (string, bool) {
	i := b.next.Add(1) - 1
	if i >= blockSize {
		return "", false
	}
	return b.fresh.number(int(i)), true
}

// progress shows a progress line on stdout while the run lasts, if
// stdout is a terminal, and returns what stops it (safe to call twice).
func (b *bench) progress() func() {
	f, ok := b.stdout.(*os.File)
	if !ok {
		return func() {}
	}
	if fi, err := f.Stat(); err != nil || fi.Mode()&os.ModeCharDevice == 0 {
		return func() {}
	}
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		tick := time.NewTicker(250 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-done:
				fmt.Fprint(f, "\r\033[K")
				return
			case <-tick.C:
				fmt.Fprint(f, "\r\033[K"+b.progressLine(time.Now()))
			}
		}
	}()
	var once sync.Once
	return func() {
		once.Do(func() { close(done); <-finished })
	}
}

// progressLine says how far the run is at now.
func (b *bench) progressLine(now time.Time) string {
	sms := fmt.Sprintf("sms %d (bad %d)", b.hook.received.Load(), b.hook.bad.Load())
	if b.phase.Load() == phaseSetup {
		return fmt.Sprintf("setup: %d/%d virtual users  %s", b.setupDone.Load(), b.c.concurrency, sms)
	}
	if now.Before(b.start) {
		return fmt.Sprintf("warmup %.1fs/%s  %s", b.c.warmup.Seconds()-b.start.Sub(now).Seconds(), b.c.warmup, sms)
	}
	elapsed := earlier(now, b.end).Sub(b.start)
	flows := b.flows.Load()
	rate := 0.0
	if elapsed > 0 {
		rate = float64(flows) / elapsed.Seconds()
	}
	return fmt.Sprintf("run %.1fs/%s  flows %d (%.0f/s)  errors %d  %s", elapsed.Seconds(), b.c.duration, flows, rate, b.errors.Load(), sms)
}

// report sums the run up; stopped is when the virtual users stopped.
func (b *bench) report(interrupted bool, stopped time.Time) benchReport {
	elapsed := max(earlier(stopped, b.end).Sub(b.start), 0)
	r := benchReport{
		Mix:          b.c.mix.name,
		Target:       b.c.target.String(),
		Concurrency:  b.c.concurrency,
		Warmup:       b.c.warmup.Seconds(),
		Duration:     elapsed.Seconds(),
		Interrupted:  interrupted,
		Flows:        b.flows.Load(),
		FailedFlows:  b.failed.Load(),
		Errors:       []errorReport{},
		WarmupErrors: b.warmupErrors.Load(),
		SMS: smsReport{
			CodesRequested: b.codesRequested.Load(),
			Received:       b.hook.received.Load(),
			BadSignatures:  b.hook.bad.Load(),
			Unexpected:     b.hook.unexpected.Load(),
		},
	}
	if elapsed > 0 {
		r.FlowsPerSec = float64(int64(float64(r.Flows)/elapsed.Seconds()*10)) / 10
	}
	for _, s := range b.c.mix.steps {
		sr, errs := newStepReport(s.String(), &b.stats[s], elapsed)
		r.Steps = append(r.Steps, sr)
		r.Errors = append(r.Errors, errs...)
	}
	return r
}

// earlier returns the earlier of a and b.
func earlier(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
