package db

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestListenPolicy pins the documented LISTEN reconnect waits on the shared
// backoff policy: 100 ms doubling to 5 s, without jitter.
func TestListenPolicy(t *testing.T) {
	want := []time.Duration{100, 200, 400, 800, 1600, 3200, 5000, 5000, 5000}
	for i, w := range want {
		w *= time.Millisecond
		if got := listenPolicy.Delay(i); got != w {
			t.Errorf("Delay(%d) = %s, want %s", i, got, w)
		}
		if got := listenPolicy.Wait(i); got != w {
			t.Errorf("Wait(%d) = %s, want %s: the reconnect has no jitter", i, got, w)
		}
	}
}

// TestStartPolicy pins DB_MAX_RETRIES and DB_RETRY_DELAY: that many
// retries, all the same wait apart.
func TestStartPolicy(t *testing.T) {
	tests := []struct {
		retries     int
		delay       time.Duration
		wantRetries int
	}{
		{5, 5 * time.Second, 5},
		{0, time.Second, 0},
		{-1, time.Second, 0},
	}
	for _, tt := range tests {
		p := startPolicy(Settings{MaxRetries: tt.retries, RetryDelay: tt.delay}, Postgres, discard())
		if p.Retries != tt.wantRetries {
			t.Errorf("MaxRetries %d: Retries = %d, want %d", tt.retries, p.Retries, tt.wantRetries)
		}
		for i := range 8 {
			if got := p.Wait(i); got != tt.delay {
				t.Errorf("MaxRetries %d: Wait(%d) = %s, want the constant %s", tt.retries, i, got, tt.delay)
			}
		}
	}
}

// cancelOnRetry is a slog handler that ends the start-up wait the moment
// Open logs its first retry, and records what was logged.
type cancelOnRetry struct {
	mu     sync.Mutex
	cancel context.CancelFunc
	logged []string
}

func (h *cancelOnRetry) Enabled(context.Context, slog.Level) bool { return true }
func (h *cancelOnRetry) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h *cancelOnRetry) WithGroup(string) slog.Handler            { return h }
func (h *cancelOnRetry) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	line := r.Message
	r.Attrs(func(a slog.Attr) bool {
		line += " " + a.String()
		return true
	})
	h.logged = append(h.logged, line)
	h.cancel()
	return nil
}

// TestOpenStopsWaitingWhenCanceled: a shutdown during the start-up wait of
// an hour ends Open at once, with an error that says both why it stopped
// and what the database answered, and no password.
func TestOpenStopsWaitingWhenCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	h := &cancelOnRetry{cancel: cancel}
	s := Settings{URL: "postgres://nobody:pw-secret-1@127.0.0.1:1/none?sslmode=disable&connect_timeout=1", Pass: "pw-secret-1", MaxRetries: 5, RetryDelay: time.Hour}
	_, err := Open(ctx, s, slog.New(h))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Open = %v, want it canceled", err)
	}
	if !strings.Contains(err.Error(), "not reachable after 1 attempt(s)") || strings.Contains(err.Error(), "pw-secret-1") {
		t.Errorf("Open = %v", err)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.logged) != 1 || !strings.Contains(h.logged[0], "attempt=1") || !strings.Contains(h.logged[0], "of=6") || !strings.Contains(h.logged[0], "delay=1h0m0s") {
		t.Errorf("logged %q, want one retry: attempt 1 of 6, delay 1h", h.logged)
	}
}
