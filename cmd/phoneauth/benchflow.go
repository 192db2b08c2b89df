package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// The paths bench calls, below the target URL.
const (
	pathHealthz     = "/healthz"
	pathRegister    = "/auth/api/Register/"
	pathVerify      = "/auth/api/verify/"
	pathLogin       = "/auth/api/login/"
	pathLoginVerify = "/auth/api/login/verify/"
	pathRefresh     = "/auth/api/token/refresh/"
	pathMe          = "/auth/api/me/"
)

var benchPaths = []string{pathHealthz, pathRegister, pathVerify, pathLogin, pathLoginVerify, pathRefresh, pathMe}

// jsonType is the Content-Type of every body bench sends; requests share
// it, and nothing writes to it.
var jsonType = []string{"application/json"}

// mix is what the virtual users of a run do: setup runs for each before
// the clock starts (for the first alone, then for the others at once),
// flow once per iteration until the run ends.
type mix struct {
	name  string
	steps []benchStep // the steps it reports, in the order of a flow
	setup func(ctx context.Context, v *vu) error
	flow  func(ctx context.Context, v *vu)
}

var mixes = []*mix{
	{
		name:  "full",
		steps: []benchStep{stepRegister, stepVerify, stepLogin, stepLoginVerify},
		setup: func(ctx context.Context, v *vu) error {
			if v.id > 0 {
				return nil
			}
			return v.fullFlow(ctx) // does the server send its SMS here?
		},
		flow: func(ctx context.Context, v *vu) { v.flowDone(v.fullFlow(ctx)) },
	},
	{
		name:  "login",
		steps: []benchStep{stepLogin, stepLoginVerify},
		setup: func(ctx context.Context, v *vu) error {
			if v.b.c.seeded == "" {
				return v.newAccount(ctx)
			}
			if v.id > 0 {
				return nil
			}
			return v.loginNext(ctx) // does the server send its SMS here?
		},
		flow: func(ctx context.Context, v *vu) { v.flowDone(v.loginNext(ctx)) },
	},
	{
		name:  "refresh",
		steps: []benchStep{stepRefresh, stepMe},
		setup: func(ctx context.Context, v *vu) error {
			if err := v.newAccount(ctx); err != nil {
				return err
			}
			return v.signIn(ctx)
		},
		flow: func(ctx context.Context, v *vu) { v.flowDone(v.refreshFlow(ctx)) },
	},
	{
		name:  "guess",
		steps: []benchStep{stepLogin, stepGuess, stepLoginVerify},
		setup: func(ctx context.Context, v *vu) error { return v.newAccount(ctx) },
		flow:  func(ctx context.Context, v *vu) { v.flowDone(v.guessFlow(ctx)) },
	},
}

func mixNames() string {
	names := make([]string, len(mixes))
	for i, m := range mixes {
		names[i] = m.name
	}
	return strings.Join(names, ", ")
}

// vu is a virtual user: one goroutine running flows one after another,
// with its buffers and the accounts it signs in.
type vu struct {
	b  *bench
	id int
	// setupMode is true while the user sets up: nothing is recorded.
	setupMode bool
	resp      bytes.Buffer
	out       benchOut
	box       chan string // codes from the receiver
	timer     *time.Timer

	phone           string // its account (all mixes but full and seeded login)
	access, refresh string // its tokens (refresh mix)
	failures        int    // failed code checks since its last sign-in (guess mix)
	k               int    // its next seeded account (seeded login mix)
}

// benchOut is every field bench reads from an answer.
type benchOut struct {
	Token        string `json:"token"`
	UserID       string `json:"user_id"`
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	Error        string `json:"error"`
	Message      string `json:"message"`
}

func newVU(b *bench, id int) *vu {
	t := time.NewTimer(time.Hour)
	t.Stop()
	return &vu{b: b, id: id, setupMode: true, box: make(chan string, 1), timer: t}
}

// answer is the outcome of one request.
type answer struct {
	status     int // 0: no answer, see err
	err        error
	start, end time.Time
}

// problem is how the report counts a failed answer: its status, or
// "network" when none came.
func (a answer) problem() string {
	if a.err != nil {
		return "network"
	}
	return strconv.Itoa(a.status)
}

// describe says what came back, for a setup's error: the status and the
// start of the body, or the error.
func (a answer) describe(v *vu) string {
	if a.err != nil {
		return "no answer: " + a.err.Error()
	}
	body := v.resp.String()
	if len(body) > 200 {
		body = body[:200] + "…"
	}
	return fmt.Sprintf("answered %d %s", a.status, strings.TrimSpace(body))
}

// send sends one request and reads the answer into v.resp and v.out.
func (v *vu) send(ctx context.Context, method, path, bearer string, body []byte) answer {
	u := v.b.paths[path]
	req := &http.Request{
		Method: method, URL: u, Host: u.Host,
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: make(http.Header, 2),
		Body:   http.NoBody,
	}
	if body != nil {
		req.Body, req.ContentLength = io.NopCloser(bytes.NewReader(body)), int64(len(body))
		req.Header["Content-Type"] = jsonType
	}
	if bearer != "" {
		req.Header["Authorization"] = []string{"Bearer " + bearer}
	}
	req = req.WithContext(ctx)
	a := answer{start: time.Now()}
	res, err := v.b.client.Do(req)
	v.resp.Reset()
	v.out = benchOut{}
	if err != nil && ctx.Err() != nil {
		err = errAbandoned // interrupted: not the server's failure
	}
	if err != nil {
		a.end, a.err = time.Now(), err
		return a
	}
	_, err = v.resp.ReadFrom(io.LimitReader(res.Body, 64<<10))
	res.Body.Close()
	a.end, a.status = time.Now(), res.StatusCode
	if err != nil {
		a.status, a.err = 0, err
		return a
	}
	_ = json.Unmarshal(v.resp.Bytes(), &v.out) // a field missing is told by the step
	return a
}

// record counts answer a of step s, as expected if problem is empty,
// when it ended within the measured window.
func (v *vu) record(s benchStep, a answer, problem string) {
	b := v.b
	switch {
	case v.setupMode || a.end.After(b.end):
	case a.end.Before(b.start):
		if problem != "" {
			b.warmupErrors.Add(1)
		}
	case problem == "":
		b.stats[s].ok.add(a.end.Sub(a.start))
	default:
		b.stats[s].fail(problem)
		b.errors.Add(1)
	}
}

// expect records a as expected if ok, or else as problem (its status if
// empty), and then returns an error saying what came back.
func (v *vu) expect(s benchStep, a answer, ok bool, problem string) error {
	if errors.Is(a.err, errAbandoned) {
		return errAbandoned
	}
	if ok {
		v.record(s, a, "")
		return nil
	}
	if problem == "" {
		problem = a.problem()
	}
	v.record(s, a, problem)
	return fmt.Errorf("%s: %s", s, a.describe(v))
}

// flowDone counts a flow that ended within the measured window, a
// success if err is nil. errAbandoned, a flow cut short by the end of
// the run, is not counted.
func (v *vu) flowDone(err error) {
	if v.setupMode || errors.Is(err, errAbandoned) {
		return
	}
	now := time.Now()
	if now.Before(v.b.start) || now.After(v.b.end) {
		return
	}
	if err != nil {
		v.b.failed.Add(1)
		return
	}
	v.b.flows.Add(1)
}

// errAbandoned ends a flow cut short by the end of the run.
var errAbandoned = errors.New("run over")

// more returns errAbandoned once the run is over (or interrupted): a flow
// checks between its steps.
func (v *vu) more(ctx context.Context) error {
	if ctx.Err() != nil || (!v.setupMode && !time.Now().Before(v.b.end)) {
		return errAbandoned
	}
	return nil
}

// withSMS sends a request that makes the server send a code to phone,
// and returns the answer with the code, if it came.
func (v *vu) withSMS(ctx context.Context, phone, path string, body []byte) (answer, string, bool) {
	select { // a code that came late for an earlier request
	case <-v.box:
	default:
	}
	v.b.hook.expect(phone, v.box)
	defer v.b.hook.forget(phone)
	a := v.send(ctx, http.MethodPost, path, "", body)
	if a.status != http.StatusOK {
		return a, "", false
	}
	v.b.codesRequested.Add(1)
	v.timer.Reset(benchSMSWait)
	defer v.timer.Stop()
	select {
	case code := <-v.box:
		return a, code, true
	case <-v.timer.C:
	case <-ctx.Done():
		a.err = errAbandoned
	}
	return a, "", false
}

func (v *vu) register(ctx context.Context, phone string) (token, code string, err error) {
	a, code, sent := v.withSMS(ctx, phone, pathRegister, jsonBody("phonenumber", phone))
	token = v.out.Token
	switch {
	case errors.Is(a.err, errAbandoned):
		return "", "", errAbandoned
	case a.status == http.StatusOK && token == "":
		return "", "", v.expect(stepRegister, a, false, "bad body")
	case a.status == http.StatusOK && !sent:
		return "", "", v.expect(stepRegister, a, false, "no SMS")
	}
	return token, code, v.expect(stepRegister, a, a.status == http.StatusOK, "")
}

func (v *vu) verify(ctx context.Context, phone, token, code string) error {
	a := v.send(ctx, http.MethodPost, pathVerify, "", jsonBody("code", code, "token", token, "phone", phone))
	return v.expect(stepVerify, a, a.status == http.StatusOK, "")
}

func (v *vu) login(ctx context.Context, phone string) (userID, code string, err error) {
	a, code, sent := v.withSMS(ctx, phone, pathLogin, jsonBody("phone", phone))
	userID = v.out.UserID
	switch {
	case errors.Is(a.err, errAbandoned):
		return "", "", errAbandoned
	case a.status == http.StatusOK && userID == "":
		return "", "", v.expect(stepLogin, a, false, "bad body")
	case a.status == http.StatusOK && !sent:
		return "", "", v.expect(stepLogin, a, false, "no SMS")
	}
	return userID, code, v.expect(stepLogin, a, a.status == http.StatusOK, "")
}

func (v *vu) loginVerify(ctx context.Context, userID, code string) error {
	a := v.send(ctx, http.MethodPost, pathLoginVerify, "", jsonBody("code", code, "user_id", userID))
	if a.status == http.StatusOK && (v.out.AccessToken == "" || v.out.RefreshToken == "") {
		return v.expect(stepLoginVerify, a, false, "bad body")
	}
	v.access, v.refresh = v.out.AccessToken, v.out.RefreshToken
	return v.expect(stepLoginVerify, a, a.status == http.StatusOK, "")
}

// fullFlow signs a fresh number up and in.
func (v *vu) fullFlow(ctx context.Context) error {
	phone, ok := v.b.freshNumber()
	if !ok {
		return fmt.Errorf("the %d numbers of block %s are spent", blockSize, v.b.fresh)
	}
	token, code, err := v.register(ctx, phone)
	if err != nil {
		return err
	}
	if err := v.more(ctx); err != nil {
		return err
	}
	if err := v.verify(ctx, phone, token, code); err != nil {
		return err
	}
	if err := v.more(ctx); err != nil {
		return err
	}
	return v.loginPhone(ctx, phone)
}

// loginNext signs the user's account in: its own, or its next seeded one.
func (v *vu) loginNext(ctx context.Context) error {
	phone := v.phone
	if v.b.c.seeded != "" {
		i := v.id + v.k*v.b.c.concurrency
		if i >= v.b.c.seededUsers {
			v.k, i = 0, v.id
		}
		v.k++
		phone = v.b.c.seeded.number(i)
	}
	return v.loginPhone(ctx, phone)
}

// loginPhone signs phone in: login, then login/verify with its code.
func (v *vu) loginPhone(ctx context.Context, phone string) error {
	userID, code, err := v.login(ctx, phone)
	if err != nil {
		return err
	}
	if err := v.more(ctx); err != nil {
		return err
	}
	return v.loginVerify(ctx, userID, code)
}

// newAccount registers and verifies a fresh number as the user's account.
func (v *vu) newAccount(ctx context.Context) error {
	phone, ok := v.b.freshNumber()
	if !ok {
		return fmt.Errorf("the %d numbers of block %s are spent", blockSize, v.b.fresh)
	}
	token, code, err := v.register(ctx, phone)
	if err != nil {
		return err
	}
	if err := v.verify(ctx, phone, token, code); err != nil {
		return err
	}
	v.phone = phone
	return nil
}

// signIn signs the user's account in, unrecorded, for its tokens.
func (v *vu) signIn(ctx context.Context) error {
	was := v.setupMode
	v.setupMode = true
	defer func() { v.setupMode = was }()
	return v.loginPhone(ctx, v.phone)
}

// refreshFlow rotates the user's refresh token and reads /me with the
// new access token. A refused refresh signs the user in again (unrecorded),
// so one failure does not fail every later flow.
func (v *vu) refreshFlow(ctx context.Context) error {
	a := v.send(ctx, http.MethodPost, pathRefresh, v.refresh, nil)
	ok := a.status == http.StatusOK && v.out.AccessToken != "" && v.out.RefreshToken != ""
	if ok {
		v.access, v.refresh = v.out.AccessToken, v.out.RefreshToken
	}
	if err := v.expect(stepRefresh, a, ok, ""); err != nil {
		if v.more(ctx) == nil {
			_ = v.signIn(ctx)
		}
		return err
	}
	if err := v.more(ctx); err != nil {
		return err
	}
	a = v.send(ctx, http.MethodGet, pathMe, v.access, nil)
	return v.expect(stepMe, a, a.status == http.StatusOK, "")
}

// guessFlow asks a login code and sends wrong ones until the server
// refuses with 429 (the code's tries are spent). Before the account's
// failed checks could reach benchLockoutThreshold it signs in with a
// right code, which resets them, so the account is never locked.
func (v *vu) guessFlow(ctx context.Context) error {
	if v.failures+benchMaxGuesses >= benchLockoutThreshold {
		if err := v.loginPhone(ctx, v.phone); err != nil {
			return err
		}
		v.failures = 0
		if err := v.more(ctx); err != nil {
			return err
		}
	}
	userID, code, err := v.login(ctx, v.phone)
	if err != nil {
		return err
	}
	for i := range benchMaxGuesses {
		if err := v.more(ctx); err != nil {
			return err
		}
		a := v.send(ctx, http.MethodPost, pathLoginVerify, "", jsonBody("code", guessCode(code, i), "user_id", userID))
		v.failures++
		switch {
		case a.status == http.StatusTooManyRequests:
			return v.expect(stepGuess, a, true, "")
		case a.status == http.StatusBadRequest && v.out.Error == "Invalid code" && i < benchMaxGuesses-1:
			if err := v.expect(stepGuess, a, true, ""); err != nil {
				return err
			}
		default: // a 200 would be a wrong code accepted
			return v.expect(stepGuess, a, false, "")
		}
	}
	return nil // not reached: the last try is the default case's
}

// guessCode returns a code of code's length that is not code: the i-th
// (from 0) after it, counting round.
func guessCode(code string, i int) string {
	n, err := strconv.ParseUint(code, 10, 64)
	if err != nil || len(code) > 18 {
		return strings.Repeat("0", len(code)) // not a code the server sends
	}
	m := uint64(math.Pow10(len(code)))
	s := strconv.FormatUint((n+uint64(i)+1)%m, 10)
	return strings.Repeat("0", len(code)-len(s)) + s
}

// jsonBody returns the JSON object of the given field, value pairs. The
// values bench sends (numbers, codes, UUIDs, JWTs) need no escaping.
func jsonBody(kv ...string) []byte {
	n := 2
	for _, s := range kv {
		n += len(s) + 4
	}
	b := make([]byte, 0, n)
	b = append(b, '{')
	for i := 0; i < len(kv); i += 2 {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '"')
		b = append(b, kv[i]...)
		b = append(b, `":"`...)
		b = append(b, kv[i+1]...)
		b = append(b, '"')
	}
	return append(b, '}')
}
