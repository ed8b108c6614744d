package waddleai

import (
	"context"
	"errors"
	"math"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/rookery/rookery/backoff"
)

// TestRetryPolicy pins WithRetries and WithBackoff on the shared policy:
// the first wait doubled per retry, capped without overflow, equal jitter.
func TestRetryPolicy(t *testing.T) {
	tests := []struct {
		first, limit time.Duration
		attempt      int
		want         time.Duration
	}{
		{250 * time.Millisecond, 2 * time.Second, 0, 250 * time.Millisecond},
		{250 * time.Millisecond, 2 * time.Second, 1, 500 * time.Millisecond},
		{250 * time.Millisecond, 2 * time.Second, 2, time.Second},
		{250 * time.Millisecond, 2 * time.Second, 3, 2 * time.Second},
		{250 * time.Millisecond, 2 * time.Second, 4, 2 * time.Second},
		{250 * time.Millisecond, 2 * time.Second, 1000, 2 * time.Second},
		{time.Hour, math.MaxInt64, 1000, math.MaxInt64}, // no overflow
		{time.Second, 0, 3, time.Second},                // a limit below first is raised
		{0, 0, 5, 0},
	}
	for _, tt := range tests {
		c, err := New("http://waddleai:8080", "", WithBackoff(tt.first, tt.limit), WithRetries(4))
		if err != nil {
			t.Fatal(err)
		}
		if c.retry.Retries != 4 || c.retry.Jitter != backoff.EqualJitter {
			t.Errorf("policy %+v, want 4 retries with equal jitter", c.retry)
		}
		if got := c.retry.Delay(tt.attempt); got != tt.want {
			t.Errorf("backoff(%s, %s) attempt %d = %s, want %s", tt.first, tt.limit, tt.attempt, got, tt.want)
		}
	}
}

// dialFailure fails every request as a refused connection would, and
// cancels the caller's context on the first one.
type dialFailure struct {
	calls  int
	cancel context.CancelFunc
}

func (d *dialFailure) RoundTrip(*http.Request) (*http.Response, error) {
	d.calls++
	if d.calls == 1 && d.cancel != nil {
		d.cancel()
	}
	return nil, &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}
}

func TestSendStopsWaitingOnCancel(t *testing.T) {
	rt := &dialFailure{}
	c, err := New("http://waddleai:8080", "", WithBackoff(time.Hour, time.Hour), WithHTTPClient(&http.Client{Transport: rt}))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	rt.cancel = cancel
	st := c.st.Load()
	_, err = c.send(ctx, st, call{op: "test", method: http.MethodGet, url: st.modelsURL, retry: true})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("send on a canceled context = %v", err)
	}
	if rt.calls != 1 {
		t.Errorf("%d attempts after the caller gave up, want 1", rt.calls)
	}
}

func TestSendRetriesDialErrorsOnly(t *testing.T) {
	for _, tt := range []struct {
		name      string
		retry     bool
		retries   int
		wantCalls int
	}{
		{"retried", true, 3, 4},
		{"no retries", true, 0, 1},
		{"call not retryable", false, 3, 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rt := &dialFailure{}
			c, err := New("http://waddleai:8080", "", WithBackoff(0, 0), WithRetries(tt.retries), WithHTTPClient(&http.Client{Transport: rt}))
			if err != nil {
				t.Fatal(err)
			}
			st := c.st.Load()
			_, err = c.send(t.Context(), st, call{op: "test", method: http.MethodGet, url: st.modelsURL, retry: tt.retry})
			if !errors.Is(err, ErrUnavailable) {
				t.Errorf("send = %v, want ErrUnavailable", err)
			}
			if rt.calls != tt.wantCalls {
				t.Errorf("%d attempts, want %d", rt.calls, tt.wantCalls)
			}
		})
	}
}
