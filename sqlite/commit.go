package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/phoneauth/phoneauth"
)

// maxGroup caps how many calls one transaction gathers, so that a call
// waits for at most that many others' statements before its commit.
const maxGroup = 64

// write is one call's transaction body, waiting for the committer.
type write struct {
	ctx  context.Context // the call's, bounded by the call timeout
	op   string
	f    func(context.Context, tx) error
	err  error
	done chan struct{}
	// panicked is what the body panicked with, if it did: the call
	// panics with it again, on its own goroutine.
	panicked any
	// state is queued until the committer starts the body (running) or
	// the call gives up before it does (withdrawn), whichever is first.
	state atomic.Int32
}

const (
	queued int32 = iota
	running
	withdrawn
)

// committer runs the store's write transactions on its one write
// connection, gathering the calls that wait while a commit runs into the
// next transaction: one commit, and so one fsync, for all of them (group
// commit). Each call's statements run inside a savepoint of their own, so a
// call that fails takes back its own statements only. Every call is
// answered after the commit: none is told its write is done before it is
// durable, and when the commit fails every call whose body ran fails with
// it, so none answers on another's write that did not commit.
//
// A call's own deadline holds until its body starts (it leaves the queue
// when its context ends); from then on the group's bound holds, one call
// timeout from the group's BEGIN, so a call takes at most about twice the
// call timeout.
type committer struct {
	s         *Store
	writes    chan *write
	quit      chan struct{}
	closeOnce sync.Once
	wg        sync.WaitGroup
}

func newCommitter(s *Store) *committer {
	c := &committer{s: s, writes: make(chan *write), quit: make(chan struct{})}
	c.wg.Add(1)
	go c.run()
	return c
}

// errClosed is the error of a write after Close.
var errClosed = errors.New("store closed")

// do runs f in a write transaction, perhaps shared with other calls, and
// returns its error, or the commit's. ctx is bounded by the call timeout.
func (c *committer) do(ctx context.Context, op string, f func(context.Context, tx) error) error {
	w := &write{ctx: ctx, op: op, f: f, done: make(chan struct{})}
	select {
	case c.writes <- w:
	case <-ctx.Done():
		return wrapErr(ctx, op, ctx.Err())
	case <-c.quit:
		return wrapErr(ctx, op, errClosed)
	}
	select {
	case <-w.done:
		if w.panicked != nil {
			panic(w.panicked)
		}
		return w.err
	case <-ctx.Done():
		// Until its body runs (the committer may be waiting for the
		// file's lock), the call may leave: nothing of it is written.
		if w.state.CompareAndSwap(queued, withdrawn) {
			return wrapErr(ctx, op, ctx.Err())
		}
	}
	// Once its body runs, a write is answered after its commit or
	// rollback: leaving earlier would answer before the outcome is known.
	<-w.done
	if w.panicked != nil {
		panic(w.panicked)
	}
	return w.err
}

// close stops the committer once the transaction running, if any, ends.
// Closing again does nothing.
func (c *committer) close() {
	c.closeOnce.Do(func() { close(c.quit) })
	c.wg.Wait()
}

func (c *committer) run() {
	defer c.wg.Done()
	group := make([]*write, 0, maxGroup)
	for {
		select {
		case w := <-c.writes:
			group = append(group[:0], w)
		case <-c.quit:
			return
		}
		// Gather the calls already waiting; none is waited for.
	gather:
		for len(group) < maxGroup {
			select {
			case w := <-c.writes:
				group = append(group, w)
			default:
				break gather
			}
		}
		c.commit(group)
		clear(group)
	}
}

// commit runs group in one transaction and answers each call.
func (c *committer) commit(group []*write) {
	s := c.s
	defer func() {
		for _, w := range group {
			close(w.done)
		}
	}()
	// The transaction's own bound: the calls' contexts end at different
	// times, and one call's end must not roll back the others' writes.
	ctx, cancel := s.bound(context.Background())
	defer cancel()
	s.ws.prepare(ctx)
	sqlTx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		for _, w := range group {
			w.err = wrapErr(ctx, w.op, err)
		}
		return
	}
	t := tx{sqlTx, s.ws}
	alone := len(group) == 1
	var ok []*write
	for _, w := range group {
		if !w.state.CompareAndSwap(queued, running) {
			continue // the call has left
		}
		if alone {
			if w.err = run(ctx, t, w); w.err == nil {
				ok = append(ok, w)
			}
			continue
		}
		if _, err := sqlTx.ExecContext(ctx, "SAVEPOINT call"); err != nil {
			c.fail(ctx, sqlTx, group, err)
			return
		}
		w.err = run(ctx, t, w)
		undo := "RELEASE call"
		if w.err != nil {
			undo = "ROLLBACK TO call; RELEASE call"
		} else {
			ok = append(ok, w)
		}
		if _, err := sqlTx.ExecContext(ctx, undo); err != nil {
			// A failure that ended the transaction (I/O, disk full)
			// leaves no savepoint to return to.
			c.fail(ctx, sqlTx, group, err)
			return
		}
	}
	if len(ok) == 0 {
		_ = sqlTx.Rollback()
		return
	}
	if err := sqlTx.Commit(); err != nil {
		// Every call whose body ran gets the failure, a refusal too: it
		// may rest on another call's write, which did not commit either.
		for _, w := range group {
			if w.state.Load() == running {
				w.err = wrapErr(ctx, w.op+": commit", err)
			}
		}
	}
}

// run runs w's body on t and returns its error: a phoneauth error kind as
// it is, any other wrapped with w's operation. A body that panics fails
// (its statements are taken back like any failure's) and its call panics
// again on its own goroutine, where the server's recovery answers it:
// one call's panic must not stop the committer every write goes through.
func run(ctx context.Context, t tx, w *write) (err error) {
	defer func() {
		if p := recover(); p != nil {
			w.panicked = p
			err = fmt.Errorf("sqlite: %s: panic: %v", w.op, p)
		}
	}()
	err = w.f(ctx, t)
	if err == nil || phoneauth.IsKind(err) {
		return err
	}
	return wrapErr(ctx, w.op, err)
}

// fail rolls back a transaction that cannot go on, and gives err to every
// call of group whose body ran, a refusal too (it may rest on another
// call's write, now rolled back), and to those still queued.
func (c *committer) fail(ctx context.Context, sqlTx *sql.Tx, group []*write, err error) {
	_ = sqlTx.Rollback()
	for _, w := range group {
		if w.state.CompareAndSwap(queued, running) || w.state.Load() == running {
			w.err = wrapErr(ctx, w.op, err)
		}
	}
}
