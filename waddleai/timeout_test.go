package waddleai_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/rookery/rookery/waddleai"
	"github.com/rookery/rookery/waddleai/waddleaitest"
)

func TestClientTimeout(t *testing.T) {
	fake := newFake(t)
	fake.SetDelay(time.Minute)
	c := newClient(t, fake, waddleai.WithTimeout(100*time.Millisecond))
	start := time.Now()
	_, err := c.ChatCompletion(t.Context(), hello)
	if !errors.Is(err, waddleai.ErrTimeout) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want ErrTimeout and DeadlineExceeded", err)
	}
	if !strings.Contains(err.Error(), "100ms (waddleai_timeout)") {
		t.Errorf("err %q does not name the setting", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("gave up after %s", d)
	}
	if n := fake.Calls(chatPath); n != 1 {
		t.Errorf("%d calls: a timeout must not be retried", n)
	}
}

func TestCallerDeadlineAndCancel(t *testing.T) {
	fake := newFake(t)
	fake.SetDelay(time.Minute)
	c := newClient(t, fake)

	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	_, err := c.ChatCompletion(ctx, hello)
	if !errors.Is(err, waddleai.ErrTimeout) || !strings.Contains(err.Error(), "caller's deadline") {
		t.Errorf("caller deadline: err = %v", err)
	}

	ctx, cancel = context.WithCancel(t.Context())
	time.AfterFunc(50*time.Millisecond, cancel)
	_, err = c.ChatCompletion(ctx, hello)
	if !errors.Is(err, context.Canceled) || errors.Is(err, waddleai.ErrTimeout) {
		t.Errorf("caller cancel: err = %v, want context.Canceled only", err)
	}
}

func TestStreamTimeouts(t *testing.T) {
	t.Run("no answer", func(t *testing.T) {
		fake := newFake(t)
		fake.SetDelay(time.Minute)
		c := newClient(t, fake, waddleai.WithTimeout(100*time.Millisecond))
		if _, err := c.ChatCompletionStream(t.Context(), hello); !errors.Is(err, waddleai.ErrTimeout) {
			t.Errorf("err = %v, want ErrTimeout", err)
		}
	})
	t.Run("silent mid-stream", func(t *testing.T) {
		fake := newFake(t, waddleaitest.WithResponder(waddleaitest.Reply("slow words")))
		fake.SetChunkDelay(time.Minute)
		c := newClient(t, fake, waddleai.WithTimeout(100*time.Millisecond))
		s, err := c.ChatCompletionStream(t.Context(), hello)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		if _, err := s.Next(); err != nil {
			t.Fatalf("role chunk: %v", err)
		}
		_, err = s.Next()
		if !errors.Is(err, waddleai.ErrTimeout) || !strings.Contains(err.Error(), "silent") {
			t.Errorf("err = %v, want ErrTimeout for silence", err)
		}
	})
	t.Run("long but lively", func(t *testing.T) {
		// Ten chunks 30 ms apart outlast a 150 ms timeout; the stream must
		// survive because the timeout bounds silence, not the whole answer.
		fake := newFake(t, waddleaitest.WithResponder(waddleaitest.Reply("a b c d e f g h i j")))
		fake.SetChunkDelay(30 * time.Millisecond)
		c := newClient(t, fake, waddleai.WithTimeout(150*time.Millisecond))
		start := time.Now()
		s, err := c.ChatCompletionStream(t.Context(), hello)
		if err != nil {
			t.Fatal(err)
		}
		gen, err := s.Collect()
		if err != nil {
			t.Fatalf("after %s: %v", time.Since(start), err)
		}
		if gen.Text != "a b c d e f g h i j" {
			t.Errorf("text = %q", gen.Text)
		}
		if d := time.Since(start); d < 150*time.Millisecond {
			t.Errorf("stream took only %s; the test proves nothing", d)
		}
	})
}
