package main

import (
	"errors"
	"fmt"
	"io"
	"math"
	"math/bits"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"
)

// Latencies are counted in log-linear buckets, as HDR histograms do:
// histSub buckets for each power of two of nanoseconds, so a percentile
// is read to within 1/histSub (about 3%) at any scale, in a fixed array
// that the virtual users add to without a lock. Durations beyond
// histLimit (18 minutes) count as histLimit.
const (
	histSub     = 32
	histLimit   = 1<<40 - 1
	histBuckets = histSub * 36 // bucket(histLimit) + 1
)

// latencies counts durations. Its methods are safe for concurrent use.
type latencies struct {
	counts [histBuckets]atomic.Uint64
	n      atomic.Uint64
	max    atomic.Int64
}

// bucket returns the bucket of v nanoseconds: v itself below 2*histSub,
// then histSub buckets per power of two.
func bucket(v uint64) int {
	if v < 2*histSub {
		return int(v)
	}
	shift := bits.Len64(v) - 6 // v>>shift is in [histSub, 2*histSub)
	return histSub*shift + int(v>>shift)
}

// bucketMax returns the largest value of bucket i.
func bucketMax(i int) uint64 {
	if i < 2*histSub {
		return uint64(i)
	}
	shift := i/histSub - 1
	m := uint64(i - histSub*shift)
	return (m+1)<<shift - 1
}

func (h *latencies) add(d time.Duration) {
	v := uint64(max(d, 0))
	v = min(v, histLimit)
	h.counts[bucket(v)].Add(1)
	h.n.Add(1)
	for {
		old := h.max.Load()
		if int64(v) <= old || h.max.CompareAndSwap(old, int64(v)) {
			return
		}
	}
}

// quantile returns the duration below which fraction q of the counted
// ones lie (the largest value of its bucket, at most the maximum), or 0
// when none was counted.
func (h *latencies) quantile(q float64) time.Duration {
	n := h.n.Load()
	if n == 0 {
		return 0
	}
	rank := max(uint64(math.Ceil(q*float64(n))), 1)
	var seen uint64
	for i := range h.counts {
		seen += h.counts[i].Load()
		if seen >= rank {
			return min(time.Duration(bucketMax(i)), time.Duration(h.max.Load()))
		}
	}
	return time.Duration(h.max.Load())
}

// benchStep is one request kind of a flow.
type benchStep int

const (
	stepRegister benchStep = iota
	stepVerify
	stepLogin
	stepLoginVerify
	stepRefresh
	stepMe
	stepGuess
	numSteps
)

var stepNames = [numSteps]string{"register", "verify", "login", "login/verify", "refresh", "me", "guess"}

func (s benchStep) String() string { return stepNames[s] }

// stepStats are the measured requests of one step: the latencies of
// those answered as expected, and the others by their status.
type stepStats struct {
	ok       latencies
	mu       sync.Mutex
	problems map[string]uint64 // "500", "network", "no SMS", ...
}

func (s *stepStats) fail(problem string) {
	s.mu.Lock()
	if s.problems == nil {
		s.problems = map[string]uint64{}
	}
	s.problems[problem]++
	s.mu.Unlock()
}

// benchReport is what phoneauth bench prints, as a table or as JSON.
type benchReport struct {
	Mix         string  `json:"mix"`
	Target      string  `json:"target"`
	Concurrency int     `json:"concurrency"`
	Warmup      float64 `json:"warmup_s"`
	// Duration is how long the flows were measured: the -d asked for,
	// or less if interrupted.
	Duration    float64       `json:"duration_s"`
	Interrupted bool          `json:"interrupted"`
	Flows       int64         `json:"flows"`
	FailedFlows int64         `json:"failed_flows"`
	FlowsPerSec float64       `json:"flows_per_s"`
	Steps       []stepReport  `json:"steps"`
	Errors      []errorReport `json:"errors"`
	// WarmupErrors counts the errors during the warmup, which the rest
	// of the report leaves out.
	WarmupErrors int64     `json:"warmup_errors"`
	SMS          smsReport `json:"sms"`
}

type stepReport struct {
	Step      string  `json:"step"`
	Requests  uint64  `json:"requests"`
	Errors    uint64  `json:"errors"`
	PerSecond float64 `json:"per_s"`
	P50       float64 `json:"p50_ms"`
	P90       float64 `json:"p90_ms"`
	P99       float64 `json:"p99_ms"`
	Max       float64 `json:"max_ms"`
}

type errorReport struct {
	Step   string `json:"step"`
	Status string `json:"status"` // an HTTP status, or "network", "no SMS", "bad body"
	Count  uint64 `json:"count"`
}

// smsReport counts the SMS of the whole run, setup and warmup included:
// every code the server answered 200 for was sent to the receiver before
// that answer, so received equals codes_requested in a clean run.
type smsReport struct {
	CodesRequested int64 `json:"codes_requested"`
	Received       int64 `json:"received"`
	BadSignatures  int64 `json:"bad_signatures"`
	Unexpected     int64 `json:"unexpected"`
}

// errorCount is how many measured requests went wrong.
func (r benchReport) errorCount() uint64 {
	var n uint64
	for _, e := range r.Errors {
		n += e.Count
	}
	return n
}

// clean returns an error saying what went wrong in the run, or nil.
func (r benchReport) clean() error {
	var problems []string
	if n := r.errorCount(); n > 0 {
		problems = append(problems, fmt.Sprintf("%d requests went wrong", n))
	}
	if r.WarmupErrors > 0 {
		problems = append(problems, fmt.Sprintf("%d requests went wrong during the warmup", r.WarmupErrors))
	}
	if r.SMS.BadSignatures > 0 {
		problems = append(problems, fmt.Sprintf("%d SMS had a bad signature (is the server's PHONEAUTH_SMS_WEBHOOK_SECRET --webhook-secret?)", r.SMS.BadSignatures))
	}
	if !r.Interrupted && r.SMS.Received != r.SMS.CodesRequested {
		problems = append(problems, fmt.Sprintf("%d SMS received for %d codes requested", r.SMS.Received, r.SMS.CodesRequested))
	}
	if len(problems) == 0 {
		return nil
	}
	return errors.New("bench: " + strings.Join(problems, "; "))
}

func millis(d time.Duration) float64 { return math.Round(float64(d)/1e4) / 100 }

// newStepReport reports on s over elapsed.
func newStepReport(name string, s *stepStats, elapsed time.Duration) (stepReport, []errorReport) {
	r := stepReport{
		Step: name,
		P50:  millis(s.ok.quantile(0.50)), P90: millis(s.ok.quantile(0.90)), P99: millis(s.ok.quantile(0.99)),
		Max: millis(time.Duration(s.ok.max.Load())),
	}
	var errs []errorReport
	s.mu.Lock()
	for problem, n := range s.problems {
		r.Errors += n
		errs = append(errs, errorReport{Step: name, Status: problem, Count: n})
	}
	s.mu.Unlock()
	r.Requests = s.ok.n.Load() + r.Errors
	if elapsed > 0 {
		r.PerSecond = math.Round(float64(r.Requests)/elapsed.Seconds()*10) / 10
	}
	slices.SortFunc(errs, func(a, b errorReport) int {
		if a.Status < b.Status {
			return -1
		}
		if a.Status > b.Status {
			return 1
		}
		return 0
	})
	return r, errs
}

// print writes r as an aligned table, or as JSON.
func (r benchReport) print(w io.Writer, asJSON bool) error {
	if asJSON {
		return printJSON(w, r)
	}
	interrupted := ""
	if r.Interrupted {
		interrupted = ", interrupted"
	}
	fmt.Fprintf(w, "mix %s: %d virtual users for %s (warmup %s%s) against %s\n",
		r.Mix, r.Concurrency, fmtSeconds(r.Duration), fmtSeconds(r.Warmup), interrupted, r.Target)
	fmt.Fprintf(w, "flows: %d in %s = %.1f flows/s (%d failed)\n\n", r.Flows, fmtSeconds(r.Duration), r.FlowsPerSec, r.FailedFlows)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "STEP\tREQUESTS\tREQ/S\tERRORS\tP50 ms\tP90 ms\tP99 ms\tMAX ms")
	for _, s := range r.Steps {
		fmt.Fprintf(tw, "%s\t%d\t%.1f\t%d\t%.2f\t%.2f\t%.2f\t%.2f\n", s.Step, s.Requests, s.PerSecond, s.Errors, s.P50, s.P90, s.P99, s.Max)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(r.Errors) > 0 {
		fmt.Fprintln(w)
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "ERRORS\tSTATUS\tCOUNT")
		for _, e := range r.Errors {
			fmt.Fprintf(tw, "%s\t%s\t%d\n", e.Step, e.Status, e.Count)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	if r.WarmupErrors > 0 {
		fmt.Fprintf(w, "\nwarmup: %d errors (not in the tables above)\n", r.WarmupErrors)
	}
	_, err := fmt.Fprintf(w, "\nsms: %d codes requested, %d received, %d bad signatures, %d unexpected\n",
		r.SMS.CodesRequested, r.SMS.Received, r.SMS.BadSignatures, r.SMS.Unexpected)
	return err
}

// seconds formats a number of seconds as a duration, as "10s" or "1.5s".
func fmtSeconds(s float64) string {
	return strconv.FormatFloat(math.Round(s*100)/100, 'f', -1, 64) + "s"
}
