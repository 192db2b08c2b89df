// Package tcpproxy is a TCP proxy for fault tests: it sits between the
// service and a dependency (PostgreSQL, Redis) so a test can cut the link,
// stall it as a network partition would, or refuse connections as a host
// whose service is down does, and restore it while the service runs.
package tcpproxy

import (
	"errors"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"
)

// dialTimeout bounds the dial to the target, so a dead target fails a
// client connection quickly instead of holding it.
const dialTimeout = 3 * time.Second

// Proxy forwards every connection accepted on Addr to its target. Build it
// with Start and Close it when done; its methods are safe for concurrent
// use.
type Proxy struct {
	addr   string
	target string

	mu        sync.Mutex
	ln        net.Listener // nil while refusing and once closed
	flowing   *sync.Cond   // broadcast when forwarding may resume or must stop
	cut       bool
	stalled   bool
	closed    bool
	listenErr error                 // why Restore could not listen again after Refuse
	conns     map[net.Conn]struct{} // client and target sides of live links
	wg        sync.WaitGroup        // the accept loops and every link
}

// Start listens on 127.0.0.1 at a free port and forwards each connection to
// target (host:port), dialled when the connection arrives (or, during a
// Stall, when it ends). Errors: the listener cannot be opened.
func Start(target string) (*Proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("tcpproxy: listen: %w", err)
	}
	p := &Proxy{addr: ln.Addr().String(), ln: ln, target: target, conns: map[net.Conn]struct{}{}}
	p.flowing = sync.NewCond(&p.mu)
	p.wg.Add(1)
	go p.accept(ln)
	return p, nil
}

// ForTest starts a proxy to target for the test t and closes it when t
// ends, failing t if it cannot start or close.
func ForTest(t testing.TB, target string) *Proxy {
	t.Helper()
	p, err := Start(target)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := p.Close(); err != nil {
			t.Error(err)
		}
	})
	return p
}

// Addr is the host:port clients connect to instead of the target.
func (p *Proxy) Addr() string { return p.addr }

// Cut closes every live connection, both sides, and until Restore closes
// each new connection as soon as it is accepted: to a client the target
// seems to have gone away. Cutting twice is harmless.
func (p *Proxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = true
	p.closeAll()
	p.flowing.Broadcast()
}

// Stall stops forwarding without closing anything, as a network partition
// does: bytes in flight wait, and new connections are accepted but get no
// answer, so a client learns of the trouble only from its own timeouts.
// Restore resumes forwarding; Cut closes the stalled connections.
func (p *Proxy) Stall() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.stalled = true
}

// Refuse is a Cut that also stops listening: until Restore, connecting to
// Addr is refused at the TCP level, as by a host whose service is down.
// Refusing twice is harmless.
func (p *Proxy) Refuse() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = true
	p.closeAll()
	p.flowing.Broadcast()
	if p.ln != nil {
		_ = p.ln.Close()
		p.ln = nil
	}
}

// Restore ends a Cut, a Stall or a Refuse. After a Stall, the bytes held
// are delivered; connections closed by Cut or Refuse stay closed and
// clients must reconnect. After a Refuse it listens on Addr again; should
// the port have been taken meanwhile, the proxy goes on refusing and Close
// reports why.
func (p *Proxy) Restore() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = false
	p.stalled = false
	p.flowing.Broadcast()
	if p.ln != nil || p.closed {
		return
	}
	ln, err := net.Listen("tcp", p.addr)
	if err != nil {
		p.listenErr = fmt.Errorf("tcpproxy: listen again on %s: %w", p.addr, err)
		return
	}
	p.ln = ln
	p.wg.Add(1)
	go p.accept(ln)
}

// Close stops listening, closes every live connection and waits for the
// proxy's goroutines to end. Errors: those of closing the listener, and
// a Restore that could not listen again after Refuse.
func (p *Proxy) Close() error {
	p.mu.Lock()
	p.closed = true
	p.closeAll()
	p.flowing.Broadcast()
	ln := p.ln
	p.ln = nil
	listenErr := p.listenErr
	p.mu.Unlock()
	var closeErr error
	if ln != nil {
		if err := ln.Close(); err != nil {
			closeErr = fmt.Errorf("tcpproxy: close: %w", err)
		}
	}
	p.wg.Wait()
	return errors.Join(listenErr, closeErr)
}

// closeAll closes every live connection. p.mu must be held.
func (p *Proxy) closeAll() {
	for c := range p.conns {
		_ = c.Close()
	}
	clear(p.conns)
}

// track registers c as live and reports true, unless the proxy is cut or
// closed: then it closes c and reports false. Checking and registering
// under one lock means a connection is either closed by Cut or never gets
// past here, whatever the interleaving.
func (p *Proxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cut || p.closed {
		_ = c.Close()
		return false
	}
	p.conns[c] = struct{}{}
	return true
}

func (p *Proxy) untrack(c net.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.conns, c)
	_ = c.Close()
}

// accept serves ln until it is closed, by Refuse or Close.
func (p *Proxy) accept(ln net.Listener) {
	defer p.wg.Done()
	for {
		c, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// A transient failure such as too many open files: back off
			// rather than spin.
			time.Sleep(10 * time.Millisecond)
			continue
		}
		if !p.track(c) {
			continue
		}
		p.wg.Add(1)
		go p.link(c)
	}
}

// wait blocks while the proxy is stalled and reports whether forwarding
// may go on: false once it is cut or closed.
func (p *Proxy) wait() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	for p.stalled && !p.cut && !p.closed {
		p.flowing.Wait()
	}
	return !p.cut && !p.closed
}

// link forwards between client and a new connection to the target until
// either side closes or the proxy cuts them.
func (p *Proxy) link(client net.Conn) {
	defer p.wg.Done()
	defer p.untrack(client)
	if !p.wait() {
		return
	}
	target, err := net.DialTimeout("tcp", p.target, dialTimeout)
	if err != nil {
		return
	}
	if !p.track(target) {
		return
	}
	defer p.untrack(target)
	done := make(chan struct{}, 2)
	pipe := func(dst, src net.Conn) {
		copyFlowing(dst, src, p.wait)
		// Pass the half-close on, so a client that ends its writes still
		// reads the target's answer.
		if tc, ok := dst.(*net.TCPConn); ok {
			_ = tc.CloseWrite()
		}
		done <- struct{}{}
	}
	go pipe(target, client)
	go pipe(client, target)
	<-done
	<-done
}

// copyFlowing copies src to dst until either fails, holding each chunk
// until wait allows it through.
func copyFlowing(dst, src net.Conn, wait func() bool) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if !wait() {
				return
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}
