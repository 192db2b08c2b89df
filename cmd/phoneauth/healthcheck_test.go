package main

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
)

func TestHealthcheck(t *testing.T) {
	t.Parallel()
	in := start(t, map[string]string{"PHONEAUTH_DATABASE_URL": "sqlite:" + filepath.Join(t.TempDir(), "auth.db")})
	unhealthy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	t.Cleanup(unhealthy.Close)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()

	tests := []struct {
		name string
		addr string
		want string // in the error; "" for success
	}{
		{"a serving instance", strings.TrimPrefix(in.url, "http://"), ""},
		{"a server answering 503", strings.TrimPrefix(unhealthy.URL, "http://"), "503"},
		{"nobody listening", closed, "refused"},
		{"no fixed port", "127.0.0.1:0", "no fixed port"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			env := func(k string) string {
				if k == "PHONEAUTH_ADDR" {
					return tt.addr
				}
				return ""
			}
			var out bytes.Buffer
			err := run(context.Background(), []string{"healthcheck"}, env, nil, &out, io.Discard)
			switch {
			case tt.want == "" && (err != nil || out.String() != "healthy\n"):
				t.Errorf("healthcheck = %v, %q; want success", err, out.String())
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("healthcheck = %v, want an error mentioning %q", err, tt.want)
			}
		})
	}
}

func TestHealthzURLAsksLoopbackForEveryInterface(t *testing.T) {
	t.Parallel()
	tests := []struct{ addr, want string }{
		{"0.0.0.0:8080", "http://127.0.0.1:8080/healthz"},
		{":8080", "http://127.0.0.1:8080/healthz"},
		{"[::]:8080", "http://[::1]:8080/healthz"},
		{"127.0.0.1:9000", "http://127.0.0.1:9000/healthz"},
		{"[::1]:9000", "http://[::1]:9000/healthz"},
		{"localhost:9000", "http://localhost:9000/healthz"},
		{"10.0.0.7:9000", "http://10.0.0.7:9000/healthz"},
	}
	for _, tt := range tests {
		if got, err := healthzURL(tt.addr); err != nil || got != tt.want {
			t.Errorf("healthzURL(%q) = %q, %v; want %q", tt.addr, got, err, tt.want)
		}
	}
}
