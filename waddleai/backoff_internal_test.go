package waddleai

import (
	"context"
	"math"
	"testing"
	"time"
)

func TestBackoffFor(t *testing.T) {
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
		{0, 0, 5, 0},
	}
	for _, tt := range tests {
		c, err := New("http://waddleai:8080", "", WithBackoff(tt.first, tt.limit))
		if err != nil {
			t.Fatal(err)
		}
		if got := c.backoffFor(tt.attempt); got != tt.want {
			t.Errorf("backoff(%s, %s) attempt %d = %s, want %s", tt.first, tt.limit, tt.attempt, got, tt.want)
		}
	}
}

func TestPauseStopsOnCancel(t *testing.T) {
	c, err := New("http://waddleai:8080", "", WithBackoff(time.Hour, time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := c.pause(ctx, "test", 3, "x"); err != context.Canceled {
		t.Errorf("pause on a canceled context = %v", err)
	}
}
