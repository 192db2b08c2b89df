package sms_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/phoneauth/phoneauth"
	"github.com/phoneauth/phoneauth/sms"
)

// within returns what ch delivers, failing t if nothing comes within 10 s.
func within[T any](t *testing.T, what string, ch <-chan T) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(10 * time.Second):
		t.Fatalf("%s: nothing within 10 s", what)
		panic("unreachable")
	}
}

// blockingGateway is a loopback SMS gateway that holds every request until
// released, then answers 200. arrived receives once per request.
type blockingGateway struct {
	url      string
	arrived  chan struct{}
	received atomic.Int64
	release  func()
}

func newBlockingGateway(t *testing.T) *blockingGateway {
	t.Helper()
	g := &blockingGateway{arrived: make(chan struct{}, 100)}
	released := make(chan struct{})
	var once sync.Once
	g.release = func() { once.Do(func() { close(released) }) }
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g.received.Add(1)
		g.arrived <- struct{}{}
		select {
		case <-released:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(g.release) // runs first, so Close does not wait
	g.url = srv.URL
	return g
}

func TestCappedRefusesSendsBeyondItsSlotsAtOnce(t *testing.T) {
	t.Parallel()
	for _, slots := range []int{1, 3} {
		t.Run(strconv.Itoa(slots)+" slots", func(t *testing.T) {
			t.Parallel()
			g := newBlockingGateway(t)
			c, err := sms.NewCapped(newWebhook(t, sms.WebhookConfig{URL: g.url}), slots)
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			done := make(chan error, slots)
			for range slots {
				go func() { done <- c.Send(ctx, loginMessage()) }()
			}
			for range slots {
				within(t, "a send reaching the gateway", g.arrived)
			}

			// Every slot is taken: the next send is refused without
			// waiting for one, so it returns while the gateway still
			// holds the others.
			refused := make(chan error, 1)
			go func() { refused <- c.Send(ctx, loginMessage()) }()
			err = within(t, "the send beyond the slots", refused)

			if !errors.Is(err, sms.ErrBusy) || !errors.Is(err, phoneauth.ErrUnavailable) {
				t.Errorf("Send beyond the slots = %v, want sms.ErrBusy and phoneauth.ErrUnavailable", err)
			}
			if n := g.received.Load(); n != int64(slots) {
				t.Errorf("gateway got %d requests, want %d: the refused one must not be sent", n, slots)
			}
			g.release()
			for range slots {
				if err := within(t, "a held send", done); err != nil {
					t.Errorf("held send: %v", err)
				}
			}
			if err := c.Send(ctx, loginMessage()); err != nil {
				t.Errorf("Send once the slots are free: %v", err)
			}
		})
	}
}

func TestCappedSlotIsFreedWhenTheSendFails(t *testing.T) {
	t.Parallel()
	g := newGateway(t, http.StatusInternalServerError)
	c, err := sms.NewCapped(newWebhook(t, sms.WebhookConfig{URL: g.url}), 1)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if err := c.Send(context.Background(), loginMessage()); err == nil || errors.Is(err, sms.ErrBusy) {
			t.Fatalf("send %d: %v, want the gateway's failure", i+1, err)
		}
	}
}

func TestCheckConcurrency(t *testing.T) {
	t.Parallel()
	tests := []struct {
		n  int
		ok bool
	}{
		{-1, false},
		{0, false},
		{1, true},
		{sms.DefaultConcurrency, true},
		{sms.MaxConcurrency, true},
		{sms.MaxConcurrency + 1, false},
	}
	for _, tt := range tests {
		t.Run(strconv.Itoa(tt.n), func(t *testing.T) {
			t.Parallel()
			if err := sms.CheckConcurrency(tt.n); (err == nil) != tt.ok {
				t.Errorf("CheckConcurrency(%d) = %v, want ok: %v", tt.n, err, tt.ok)
			}
			c, err := sms.NewCapped(sms.NewConsole(nil), tt.n)
			if (err == nil) != tt.ok || (c == nil) == tt.ok {
				t.Errorf("NewCapped(%d) = %v, %v, want ok: %v", tt.n, c, err, tt.ok)
			}
		})
	}
}
