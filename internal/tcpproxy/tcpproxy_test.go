package tcpproxy_test

import (
	"bufio"
	"errors"
	"io"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/phoneauth/phoneauth/internal/tcpproxy"
)

// echoServer answers each line with the same line, until the test ends.
func echoServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_, _ = io.Copy(c, c)
			}()
		}
	}()
	return ln.Addr().String()
}

func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// echo sends one line on c and returns the line read back, or the error.
func echo(c net.Conn, line string) (string, error) {
	if err := c.SetDeadline(time.Now().Add(2 * time.Second)); err != nil {
		return "", err
	}
	if _, err := io.WriteString(c, line+"\n"); err != nil {
		return "", err
	}
	got, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return "", err
	}
	return got[:len(got)-1], nil
}

// wantClosed checks that c is closed by the proxy: a read ends with EOF
// (or a reset) instead of hanging until the deadline.
func wantClosed(t *testing.T, c net.Conn) {
	t.Helper()
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	_, _ = io.WriteString(c, "anyone there?\n")
	_, err := c.Read(make([]byte, 64))
	var ne net.Error
	if err == nil || errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("read after cut: err = %v, want the connection closed", err)
	}
}

func TestProxyForwardsCutsAndRestores(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name  string
		fault func(*tcpproxy.Proxy)
		// wantNew checks what a new connection to addr meets during the
		// fault.
		wantNew func(t *testing.T, addr string)
	}{
		{"Cut closes new connections as soon as accepted", (*tcpproxy.Proxy).Cut, func(t *testing.T, addr string) {
			wantClosed(t, dial(t, addr))
		}},
		{"Refuse refuses new connections", (*tcpproxy.Proxy).Refuse, func(t *testing.T, addr string) {
			if c, err := net.DialTimeout("tcp", addr, 2*time.Second); !errors.Is(err, syscall.ECONNREFUSED) {
				if err == nil {
					c.Close()
				}
				t.Fatalf("dial while refusing: err = %v, want connection refused", err)
			}
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := tcpproxy.ForTest(t, echoServer(t))

			before := dial(t, p.Addr())
			if got, err := echo(before, "hello"); err != nil || got != "hello" {
				t.Fatalf("echo through proxy = %q, %v; want hello", got, err)
			}

			tt.fault(p)
			tt.fault(p) // twice is harmless
			wantClosed(t, before)
			tt.wantNew(t, p.Addr())

			p.Restore()
			after := dial(t, p.Addr())
			if got, err := echo(after, "again"); err != nil || got != "again" {
				t.Fatalf("echo after restore = %q, %v; want again", got, err)
			}
		})
	}
}

func TestStallHoldsBytesUntilRestore(t *testing.T) {
	t.Parallel()
	p := tcpproxy.ForTest(t, echoServer(t))
	before := dial(t, p.Addr())
	if got, err := echo(before, "hello"); err != nil || got != "hello" {
		t.Fatalf("echo through proxy = %q, %v; want hello", got, err)
	}

	p.Stall()
	during := dial(t, p.Addr()) // accepted, but nothing gets through
	r1, r2 := bufio.NewReader(before), bufio.NewReader(during)
	for _, c := range []struct {
		conn net.Conn
		r    *bufio.Reader
	}{{before, r1}, {during, r2}} {
		if _, err := io.WriteString(c.conn, "held\n"); err != nil {
			t.Fatal(err)
		}
		// Silence can only be shown by waiting for it a little.
		_ = c.conn.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
		var ne net.Error
		if got, err := c.r.ReadString('\n'); !errors.As(err, &ne) || !ne.Timeout() {
			t.Fatalf("read while stalled = %q, %v; want a timeout", got, err)
		}
	}

	p.Restore()
	for _, r := range []*bufio.Reader{r1, r2} {
		_ = before.SetReadDeadline(time.Now().Add(2 * time.Second))
		_ = during.SetReadDeadline(time.Now().Add(2 * time.Second))
		if got, err := r.ReadString('\n'); err != nil || got != "held\n" {
			t.Fatalf("read after restore = %q, %v; want the held line", got, err)
		}
	}
}

func TestCutEndsAStall(t *testing.T) {
	t.Parallel()
	p := tcpproxy.ForTest(t, echoServer(t))
	c := dial(t, p.Addr())
	p.Stall()
	if _, err := io.WriteString(c, "held\n"); err != nil {
		t.Fatal(err)
	}
	p.Cut()
	wantClosed(t, c)
}

func TestProxyToDeadTargetClosesClients(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().String()
	ln.Close()
	p := tcpproxy.ForTest(t, dead)
	wantClosed(t, dial(t, p.Addr()))
}

func TestCloseEndsLiveConnections(t *testing.T) {
	t.Parallel()
	p, err := tcpproxy.Start(echoServer(t))
	if err != nil {
		t.Fatal(err)
	}
	c := dial(t, p.Addr())
	if got, err := echo(c, "x"); err != nil || got != "x" {
		t.Fatalf("echo = %q, %v", got, err)
	}
	done := make(chan error, 1)
	go func() { done <- p.Close() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not return with a connection open")
	}
	wantClosed(t, c)
	if c, err := net.DialTimeout("tcp", p.Addr(), time.Second); err == nil {
		c.Close()
		t.Fatal("proxy still accepts after Close")
	}
}
