package httpapi

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"time"
)

type ctxKey int

const (
	keyClientIP ctxKey = iota
	keyRequestID
)

// clientIP returns the client address that withClientIP found.
func clientIP(r *http.Request) string {
	ip, _ := r.Context().Value(keyClientIP).(string)
	return ip
}

// withClientIP finds the client address: the peer's, unless the peer is a
// trusted proxy, in which case X-Forwarded-For is read right to left and
// the first address that is not a trusted proxy is the client.
func withClientIP(trusted []netip.Prefix) func(http.Handler) http.Handler {
	isTrusted := func(a netip.Addr) bool {
		for _, p := range trusted {
			if p.Contains(a) {
				return true
			}
		}
		return false
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			ip := peerAddr(r.RemoteAddr)
			if ip.IsValid() && isTrusted(ip) {
				ip = forwardedClient(r.Header.Values("X-Forwarded-For"), ip, isTrusted)
			}
			s := ""
			if ip.IsValid() {
				s = ip.String()
			}
			next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), keyClientIP, s)))
		})
	}
}

func peerAddr(remote string) netip.Addr {
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		host = remote
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}
	}
	return a.Unmap()
}

// forwardedClient walks X-Forwarded-For from the right: every hop a trusted
// proxy appended is skipped; the first untrusted one is the client. If
// every hop is trusted the leftmost is taken; if a hop is garbage, the last
// good address seen is.
func forwardedClient(headers []string, peer netip.Addr, isTrusted func(netip.Addr) bool) netip.Addr {
	var hops []string
	for _, h := range headers {
		hops = append(hops, strings.Split(h, ",")...)
	}
	client := peer
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			return client
		}
		client = a.Unmap()
		if !isTrusted(client) {
			return client
		}
	}
	return client
}

// withNosniff tells browsers to take every answer for the JSON it says it
// is: never to sniff it into HTML or script, whatever a client managed to
// get echoed in it.
func withNosniff(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Content-Type-Options", "nosniff")
		next.ServeHTTP(w, r)
	})
}

// withRequestID gives every request an ID, returned in X-Request-ID and
// attached to its log lines.
func withRequestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var b [8]byte
		_, _ = rand.Read(b[:])
		id := hex.EncodeToString(b[:])
		w.Header().Set("X-Request-ID", id)
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), keyRequestID, id)))
	})
}

// requestID returns the ID withRequestID gave the request.
func requestID(ctx context.Context) string {
	id, _ := ctx.Value(keyRequestID).(string)
	return id
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// withLogging logs one line per request (never bodies or headers, which
// carry codes and tokens) and turns a panic into a JSON 500.
func withLogging(log *slog.Logger) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			start := time.Now()
			sw := &statusWriter{ResponseWriter: w}
			defer func() {
				if v := recover(); v != nil {
					if v == http.ErrAbortHandler {
						panic(v)
					}
					log.ErrorContext(r.Context(), "panic", "request_id", requestID(r.Context()), "panic", v)
					if sw.status == 0 {
						encode(sw, http.StatusInternalServerError, errorBody("Internal error"))
					}
				}
				log.InfoContext(r.Context(), "request",
					"request_id", requestID(r.Context()),
					"method", r.Method,
					"path", r.URL.Path,
					"status", sw.status,
					"client_ip", clientIP(r),
					"duration_ms", float64(time.Since(start).Microseconds())/1000)
			}()
			next.ServeHTTP(sw, r)
		})
	}
}

// withMetrics tells m of every request: its route, from the pattern the
// mux matched (r.Pattern, set by the mux on the very request next is
// given) through routeNames, or "unmatched"; its method, or "other" for
// one no route has; its status; its duration. A panic is counted as the
// 500 withLogging answers.
func withMetrics(m Metrics, routeNames map[string]string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			start := time.Now()
			sw := &statusWriter{ResponseWriter: w}
			defer func() {
				v := recover()
				route, ok := routeNames[r.Pattern]
				if !ok {
					route = "unmatched"
				}
				status := sw.status
				switch {
				case status != 0:
				case v != nil:
					status = http.StatusInternalServerError
				default:
					status = http.StatusOK // a handler that wrote nothing
				}
				m.Request(route, metricMethod(r.Method), status, time.Since(start))
				if v != nil {
					panic(v) // for withLogging to answer
				}
			}()
			next.ServeHTTP(sw, r)
		})
	}
}

// metricMethod is method if it is a standard one, else "other": a client
// picks the method, and must not add series at will.
func metricMethod(method string) string {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions, http.MethodConnect, http.MethodTrace:
		return method
	}
	return "other"
}
