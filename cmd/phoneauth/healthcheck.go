package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"time"
)

// healthcheckTimeout bounds the whole check: a container runtime's own
// timeout (the Dockerfile's 5 s) should never be what ends it.
const healthcheckTimeout = 3 * time.Second

// healthcheck asks the server that this configuration serves for GET
// /healthz and fails unless it answers 200 in time. It is the image's
// HEALTHCHECK: a distroless image has no curl or shell, so the binary
// checks itself.
func healthcheck(ctx context.Context, getenv func(string) string, stdout io.Writer) error {
	c, err := loadConfig(getenv)
	if err != nil {
		return err
	}
	u, err := healthzURL(c.Addr)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, healthcheckTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	// A transport of its own: no HTTP_PROXY from the environment between
	// the check and the server on the same machine.
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	res, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("healthcheck: GET %s answered %s", u, res.Status)
	}
	fmt.Fprintln(stdout, "healthy")
	return nil
}

// healthzURL returns the URL of /healthz on the server listening on addr,
// PHONEAUTH_ADDR: an address that means every interface is asked on its
// family's loopback.
func healthzURL(addr string) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("PHONEAUTH_ADDR %q is not host:port", addr)
	}
	if port == "" || port == "0" {
		return "", fmt.Errorf("PHONEAUTH_ADDR %q has no fixed port to check", addr)
	}
	if host == "" {
		host = "127.0.0.1"
	} else if ip, err := netip.ParseAddr(host); err == nil && ip.IsUnspecified() {
		host = "127.0.0.1"
		if ip.Is6() && !ip.Is4In6() {
			host = "::1"
		}
	}
	u := url.URL{Scheme: "http", Host: net.JoinHostPort(host, port), Path: "/healthz"}
	return u.String(), nil
}
