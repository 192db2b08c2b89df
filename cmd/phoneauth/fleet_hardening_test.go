package main

import (
	"context"
	"fmt"
	"net/url"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// hardeningRedisDB is the Redis database of TestFleetHardening alone: it
// is flushed whole, as an operator's FLUSHDB or a failover to an empty
// replica would, so no other test may keep keys there.
const hardeningRedisDB = 9

// TestFleetHardening shows the guessing and SMS-cost defences across
// three instances on PostgreSQL, with the counters in Redis and again in
// PostgreSQL's limits table: the per-IP verify limit, the account lockout
// and the SMS budgets are shared by the fleet, and with Redis the attempt
// cap and the lockout survive a FLUSHDB, since they are kept in the
// database. The scenarios run one after the other: a flush wipes every
// counter at once.
func TestFleetHardening(t *testing.T) {
	t.Parallel()
	for _, counters := range []string{"redis", "postgres"} {
		t.Run("counters in "+counters, func(t *testing.T) {
			t.Parallel()
			b := newBackends(t)
			flush := func(t *testing.T) {} // without Redis there is nothing to flush
			if counters == "redis" {
				b.redisURL, flush = ownRedisDB(t, b.redisURL)
			} else {
				b.redisURL = ""
			}
			testFleetHardening(t, b, flush)
		})
	}
}

// ownRedisDB points redisURL at hardeningRedisDB and returns it with a
// function that flushes that database whole.
func ownRedisDB(t *testing.T, redisURL string) (string, func(*testing.T)) {
	t.Helper()
	u, err := url.Parse(redisURL)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = fmt.Sprintf("/%d", hardeningRedisDB)
	opts, err := goredis.ParseURL(u.String())
	if err != nil {
		t.Fatal(err)
	}
	rdb := goredis.NewClient(opts)
	t.Cleanup(func() { rdb.FlushDB(context.Background()); rdb.Close() })
	return u.String(), func(t *testing.T) {
		t.Helper()
		if err := rdb.FlushDB(t.Context()).Err(); err != nil {
			t.Fatalf("FLUSHDB: %v", err)
		}
	}
}

func testFleetHardening(t *testing.T, b backends, flush func(*testing.T)) {
	const verifyLimit = 8
	// hourBudget is more than the scenarios before the last one send, and
	// far less than three instances counting on their own would allow.
	const hourBudget = 15
	f := newFleet(t, buildService(t), b, 3, 10*time.Second, map[string]string{
		"PHONEAUTH_MAX_ATTEMPTS":         "3",
		"PHONEAUTH_LOCKOUT_THRESHOLD":    "5",
		"PHONEAUTH_LOGIN_THROTTLE":       "1s",
		"PHONEAUTH_IP_VERIFY_RATE_LIMIT": fmt.Sprint(verifyLimit),
		"PHONEAUTH_SMS_PER_PHONE_DAY":    "3",
		"PHONEAUTH_SMS_PER_RANGE_HOUR":   "3",
		"PHONEAUTH_SMS_PER_HOUR":         fmt.Sprint(hourBudget),
	})
	afterThrottle := func() { time.Sleep(1100 * time.Millisecond) }
	locked := map[string]any{"error": "Account temporarily locked, try again later"}
	tooMany := map[string]any{"error": "Too many failed attempts, request a new code"}

	t.Run("the per-IP verify limit is shared by the instances", func(t *testing.T) {
		u := f.newUser(t)
		token := "00000000-0000-4000-8000-000000000000"
		for i := range verifyLimit {
			p := f.procs[i%len(f.procs)]
			u.want(fmt.Sprintf("verify %d via %s", i+1, p.name), u.verify(p, token, "123456"), 400, map[string]any{"error": "Invalid verification token"})
		}
		r := u.loginVerify(u.any(), "00000000-0000-4000-8000-000000000001", "123456")
		u.want("one more, at login/verify", r, 429, map[string]any{"error": "Too many requests, try again later"})
		wantRetryAfter(t, r, 60)
	})

	t.Run("the attempt cap and the lockout hold across instances (and survive FLUSHDB)", func(t *testing.T) {
		u := f.newUser(t)
		u.signUp()
		in := u.order()
		userID := u.login(in[0])
		code := f.sms.last(t, u.phone, "login")
		u.want("wrong code via "+in[0].name, u.loginVerify(in[0], userID, wrongCode(code)), 400, nil)
		u.want("wrong code via "+in[1].name, u.loginVerify(in[1], userID, wrongCode(code)), 400, nil)
		u.want("wrong code via "+in[2].name, u.loginVerify(in[2], userID, wrongCode(code)), 429, tooMany)
		flush(t)
		u.want("right code after FLUSHDB", u.loginVerify(in[0], userID, code), 429, tooMany)

		afterThrottle()
		u.login(in[1])
		code = f.sms.last(t, u.phone, "login")
		u.want("fourth failure, on a new code", u.loginVerify(in[2], userID, wrongCode(code)), 400, nil)
		flush(t)
		r := u.loginVerify(in[0], userID, wrongCode(code))
		u.want("fifth failure, after another FLUSHDB", r, 429, locked)
		wantRetryAfter(t, r, 15*60)
		flush(t)
		u.want("right code while locked", u.loginVerify(in[1], userID, code), 429, locked)
		afterThrottle()
		u.want("login while locked", u.call(in[2], "POST", "/auth/api/login/", "", map[string]any{"phone": u.phone}), 429, locked)
		if got := f.sms.count(u.phone, "login"); got != 2 {
			t.Errorf("%d login codes sent, want 2: none while locked", got)
		}
	})

	t.Run("the per-number SMS budget is shared by the instances", func(t *testing.T) {
		u := f.newUser(t)
		u.signUp() // one SMS
		in := u.order()
		userID := u.login(in[0]) // two
		u.tokens(u.loginVerify(in[1], userID, f.sms.last(t, u.phone, "login")))
		u.login(in[2]) // three
		afterThrottle()
		r := u.call(in[1], "POST", "/auth/api/login/", "", map[string]any{"phone": u.phone})
		u.want("a fourth SMS to the number", r, 429, map[string]any{"error": "Too many codes sent to this number, try again later"})
		wantRetryAfter(t, r, 24*3600)
	})

	t.Run("the per-range SMS budget is shared by the instances", func(t *testing.T) {
		u := f.newUser(t)
		for i, p := range u.order() {
			u.phone = fmt.Sprintf("+1650555%04d", 100+i)
			u.register(p)
		}
		u.phone = "+16505550199"
		r := u.call(u.any(), "POST", "/auth/api/Register/", "", map[string]any{"phonenumber": u.phone})
		u.want("a fourth number of the range", r, 429, map[string]any{"error": "Too many codes sent to numbers like this one, try again later"})
		wantRetryAfter(t, r, 3600)
		if got := f.sms.count(u.phone, "register"); got != 0 {
			t.Errorf("%d SMS sent over the budget, want none", got)
		}
	})

	t.Run("the service-wide hourly budget is shared, and spares logins of verified accounts", func(t *testing.T) {
		owner := f.newUser(t)
		owner.signUp()
		ok := 0
		var refused reply
		for i := range hourBudget + 1 {
			u := f.newUser(t) // each from an address and a number range of its own
			r := u.call(f.procs[i%len(f.procs)], "POST", "/auth/api/Register/", "", map[string]any{"phonenumber": u.phone})
			if r.status == 200 {
				ok++
				continue
			}
			refused = r
			break
		}
		owner.want("a registration once the fleet's hourly budget is spent", refused, 429, map[string]any{"error": "SMS limit reached, try again later"})
		wantRetryAfter(t, refused, 3600)
		if ok >= hourBudget {
			t.Errorf("%d registrations went through before the refusal, want fewer than the budget of %d", ok, hourBudget)
		}
		owner.login(owner.any()) // a verified account still gets its login code
	})
}
