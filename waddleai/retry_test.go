package waddleai_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/rookery/rookery/waddleai"
	"github.com/rookery/rookery/waddleai/waddleaitest"
)

func TestRetryThenSuccess(t *testing.T) {
	for _, fault := range []waddleaitest.Fault{waddleaitest.FaultUnavailable, waddleaitest.FaultBadGateway, waddleaitest.FaultGatewayTimeout} {
		t.Run(fault.String(), func(t *testing.T) {
			fake := newFake(t)
			var logs bytes.Buffer
			c := newClient(t, fake, waddleai.WithRetries(2), waddleai.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
			fake.FailNext(fault, fault)
			resp, err := c.ChatCompletion(t.Context(), hello)
			if err != nil {
				t.Fatalf("after two %s: %v", fault, err)
			}
			if resp.Content() != "You said: hello" {
				t.Errorf("content = %q", resp.Content())
			}
			if n := fake.Calls(chatPath); n != 3 {
				t.Errorf("%d calls, want 3", n)
			}
			if n := strings.Count(logs.String(), "waddleai: retrying"); n != 2 {
				t.Errorf("%d retries logged, want 2:\n%s", n, logs.String())
			}
			assertNoSecret(t, fake.APIKey(), logs.String())
		})
	}
}

func TestRetriesRunOut(t *testing.T) {
	fake := newFake(t)
	fake.SetFault(waddleaitest.FaultBadGateway)
	c := newClient(t, fake, waddleai.WithRetries(2))
	_, err := c.ChatCompletion(t.Context(), hello)
	if !errors.Is(err, waddleai.ErrUpstream) {
		t.Fatalf("err = %v, want ErrUpstream", err)
	}
	if n := fake.Calls(chatPath); n != 3 {
		t.Errorf("%d calls, want 1 + 2 retries", n)
	}
}

func TestNoRetryWhereUnsafe(t *testing.T) {
	tests := []struct {
		fault waddleaitest.Fault
		kind  error
	}{
		{waddleaitest.FaultBlocked, waddleai.ErrBlocked},
		{waddleaitest.FaultUnauthorized, waddleai.ErrUnauthorized},
		{waddleaitest.FaultOverloaded, waddleai.ErrOverloaded},
		{waddleaitest.FaultQuotaExceeded, waddleai.ErrOverloaded},
		{waddleaitest.FaultServerError, waddleai.ErrServer},
		// The request may have reached the provider: repeating could bill twice.
		{waddleaitest.FaultHangUp, waddleai.ErrUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.fault.String(), func(t *testing.T) {
			fake := newFake(t)
			fake.SetFault(tt.fault)
			c := newClient(t, fake, waddleai.WithRetries(3))
			_, err := c.ChatCompletion(t.Context(), hello)
			if !errors.Is(err, tt.kind) {
				t.Fatalf("err = %v, want %v", err, tt.kind)
			}
			if n := fake.Calls(chatPath); n != 1 {
				t.Errorf("%d calls, want exactly 1", n)
			}
		})
	}
}

func TestRetriesDisabled(t *testing.T) {
	fake := newFake(t)
	fake.FailNext(waddleaitest.FaultUnavailable)
	c := newClient(t, fake, waddleai.WithRetries(0))
	if _, err := c.ChatCompletion(t.Context(), hello); !errors.Is(err, waddleai.ErrUnavailable) {
		t.Fatalf("err = %v", err)
	}
	if n := fake.Calls(chatPath); n != 1 {
		t.Errorf("%d calls with retries off", n)
	}
}

func TestStreamRetriedOnlyBeforeItStarts(t *testing.T) {
	fake := newFake(t, waddleaitest.WithResponder(waddleaitest.Reply("fine now")))
	c := newClient(t, fake, waddleai.WithRetries(2))
	fake.FailNext(waddleaitest.FaultUnavailable)
	s, err := c.ChatCompletionStream(t.Context(), hello)
	if err != nil {
		t.Fatal(err)
	}
	gen, err := s.Collect()
	if err != nil || gen.Text != "fine now" {
		t.Fatalf("collected %+v, %v", gen, err)
	}
	if n := fake.Calls(chatPath); n != 2 {
		t.Errorf("%d calls, want the 503 and the retry", n)
	}

	fake.Reset()
	fake.FailNext(waddleaitest.FaultMidStreamError)
	s, err = c.ChatCompletionStream(t.Context(), hello)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Collect(); !errors.Is(err, waddleai.ErrStream) {
		t.Fatalf("err = %v, want ErrStream", err)
	}
	if n := fake.Calls(chatPath); n != 1 {
		t.Errorf("%d calls: a started stream was retried", n)
	}
}

// TestRetryOnDialError refuses the first two connections.
func TestRetryOnDialError(t *testing.T) {
	fake := newFake(t)
	var dials atomic.Int32
	tr := &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		if dials.Add(1) <= 2 {
			return nil, &net.OpError{Op: "dial", Net: network, Err: syscall.ECONNREFUSED}
		}
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	}}
	t.Cleanup(tr.CloseIdleConnections)
	c := newClient(t, fake, waddleai.WithRetries(2), waddleai.WithHTTPClient(&http.Client{Transport: tr}))
	if _, err := c.ChatCompletion(t.Context(), hello); err != nil {
		t.Fatalf("after two refused dials: %v", err)
	}
	if n := dials.Load(); n != 3 {
		t.Errorf("%d dials, want 3", n)
	}
	if n := fake.Calls(chatPath); n != 1 {
		t.Errorf("%d calls reached the gateway, want 1", n)
	}
}

func TestUnreachableGateway(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	var logs bytes.Buffer
	c, err := waddleai.New("http://"+addr, testKey, waddleai.WithRetries(2), waddleai.WithBackoff(time.Millisecond, time.Millisecond),
		waddleai.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.ChatCompletion(t.Context(), hello)
	if !errors.Is(err, waddleai.ErrUnavailable) || !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("err = %v, want ErrUnavailable wrapping ECONNREFUSED", err)
	}
	if !strings.Contains(err.Error(), "waddleai_url") {
		t.Errorf("err %q does not say what to check", err)
	}
	if n := strings.Count(logs.String(), "waddleai: retrying"); n != 2 {
		t.Errorf("%d retries, want 2", n)
	}
	assertNoSecret(t, testKey, err.Error(), logs.String())
}

func TestBackoffHonoursContext(t *testing.T) {
	fake := newFake(t)
	fake.SetFault(waddleaitest.FaultUnavailable)
	c := newClient(t, fake, waddleai.WithRetries(5), waddleai.WithBackoff(time.Hour, time.Hour), waddleai.WithTimeout(100*time.Millisecond))
	start := time.Now()
	_, err := c.ChatCompletion(t.Context(), hello)
	if !errors.Is(err, waddleai.ErrTimeout) {
		t.Fatalf("err = %v, want ErrTimeout", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %s: the backoff ignored the timeout", d)
	}
	if n := fake.Calls(chatPath); n != 1 {
		t.Errorf("%d calls", n)
	}
}
