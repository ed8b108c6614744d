package backoff_test

import (
	"context"
	"errors"
	"math"
	"testing"
	"testing/synctest"
	"time"

	"github.com/rookery/rookery/backoff"
)

const ms = time.Millisecond

func TestDelay(t *testing.T) {
	tests := []struct {
		name       string
		first, max time.Duration
		attempt    int
		want       time.Duration
	}{
		{"first", 250 * ms, 2 * time.Second, 0, 250 * ms},
		{"doubles", 250 * ms, 2 * time.Second, 1, 500 * ms},
		{"doubles again", 250 * ms, 2 * time.Second, 2, time.Second},
		{"reaches the cap", 250 * ms, 2 * time.Second, 3, 2 * time.Second},
		{"stays at the cap", 250 * ms, 2 * time.Second, 1000, 2 * time.Second},
		{"cap not a power of two", 100 * ms, 5 * time.Second, 6, 5 * time.Second},
		{"listen before the cap", 100 * ms, 5 * time.Second, 5, 3200 * ms},
		{"first above the cap", 10 * time.Second, 5 * time.Second, 0, 5 * time.Second},
		{"constant", 5 * time.Second, 5 * time.Second, 7, 5 * time.Second},
		{"no cap keeps doubling", time.Second, 0, 10, 1024 * time.Second},
		{"no cap never overflows", time.Hour, 0, 1000, math.MaxInt64},
		{"largest cap never overflows", time.Hour, math.MaxInt64, 1000, math.MaxInt64},
		{"zero first never waits", 0, 0, 5, 0},
		{"negative first never waits", -time.Second, time.Second, 2, 0},
		{"negative attempt is the first", time.Second, 0, -3, time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := backoff.Policy{First: tt.first, Max: tt.max}
			if got := p.Delay(tt.attempt); got != tt.want {
				t.Errorf("Delay(%d) = %s, want %s", tt.attempt, got, tt.want)
			}
		})
	}
}

func TestWaitJitterBounds(t *testing.T) {
	tests := []struct {
		jitter   backoff.Jitter
		delay    time.Duration
		min, max time.Duration
	}{
		{backoff.NoJitter, time.Second, time.Second, time.Second},
		{backoff.EqualJitter, time.Second, 500 * ms, time.Second},
		{backoff.FullJitter, time.Second, 0, time.Second},
		{backoff.EqualJitter, math.MaxInt64, math.MaxInt64 / 2, math.MaxInt64},
		{backoff.FullJitter, math.MaxInt64, 0, math.MaxInt64},
		{backoff.EqualJitter, 0, 0, 0},
		{backoff.FullJitter, 0, 0, 0},
	}
	for _, tt := range tests {
		p := backoff.Policy{First: tt.delay, Jitter: tt.jitter}
		spread := map[time.Duration]bool{}
		for range 200 {
			got := p.Wait(0)
			if got < tt.min || got > tt.max {
				t.Fatalf("jitter %d of %s: wait %s outside [%s, %s]", tt.jitter, tt.delay, got, tt.min, tt.max)
			}
			spread[got] = true
		}
		// 200 draws from a second's worth of nanoseconds: a jitter that
		// always gave the same wait would not spread anything.
		if tt.min != tt.max && len(spread) < 2 {
			t.Errorf("jitter %d of %s never varies", tt.jitter, tt.delay)
		}
	}
}

func TestSleep(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		if err := backoff.Sleep(t.Context(), 3*time.Second); err != nil {
			t.Fatalf("Sleep = %v", err)
		}
		if got := time.Since(start); got != 3*time.Second {
			t.Errorf("slept %s, want 3s", got)
		}
		ctx, cancel := context.WithCancel(t.Context())
		go func() {
			time.Sleep(time.Second)
			cancel()
		}()
		start = time.Now()
		if err := backoff.Sleep(ctx, time.Hour); !errors.Is(err, context.Canceled) {
			t.Fatalf("Sleep on a canceled context = %v", err)
		}
		if got := time.Since(start); got != time.Second {
			t.Errorf("a canceled Sleep took %s, want 1s", got)
		}
		if err := backoff.Sleep(ctx, 0); !errors.Is(err, context.Canceled) {
			t.Errorf("a zero Sleep on an ended context = %v", err)
		}
		if err := backoff.Sleep(t.Context(), 0); err != nil {
			t.Errorf("a zero Sleep = %v", err)
		}
	})
}

func TestRetry(t *testing.T) {
	errDown := errors.New("down")
	errBad := errors.New("bad request")
	tests := []struct {
		name      string
		retries   int
		fail      int   // attempts that fail before one succeeds
		permanent int   // attempt that fails for good (-1: none)
		wantErr   error // nil: success
		wantCalls int
		wantWait  time.Duration // total fake time spent waiting
	}{
		{"first try", 3, 0, -1, nil, 1, 0},
		{"third try", 3, 2, -1, nil, 3, 1*time.Second + 2*time.Second},
		{"runs out", 3, 10, -1, errDown, 4, 1*time.Second + 2*time.Second + 4*time.Second},
		{"no retries", 0, 10, -1, errDown, 1, 0},
		{"permanent stops", 5, 10, 1, errBad, 2, time.Second},
		{"unlimited until success", -1, 9, -1, nil, 10, 1*time.Second + 2*time.Second + 4*time.Second + 6*5*time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var retried []int
				p := backoff.Policy{First: time.Second, Max: 5 * time.Second, Retries: tt.retries,
					OnRetry: func(attempt int, err error, wait time.Duration) {
						if !errors.Is(err, errDown) || wait != (backoff.Policy{First: time.Second, Max: 5 * time.Second}).Delay(attempt) {
							t.Errorf("OnRetry(%d, %v, %s)", attempt, err, wait)
						}
						retried = append(retried, attempt)
					}}
				calls := 0
				start := time.Now()
				err := backoff.Retry(t.Context(), p, func(attempt int) error {
					if attempt != calls {
						t.Errorf("attempt %d on call %d", attempt, calls)
					}
					calls++
					switch {
					case attempt == tt.permanent:
						return backoff.Permanent(errBad)
					case attempt < tt.fail:
						return errDown
					}
					return nil
				})
				if err != tt.wantErr {
					t.Errorf("Retry = %v, want %v", err, tt.wantErr)
				}
				if calls != tt.wantCalls || len(retried) != max(calls-1, 0) {
					t.Errorf("%d calls, %d retries logged; want %d calls", calls, len(retried), tt.wantCalls)
				}
				if got := time.Since(start); got != tt.wantWait {
					t.Errorf("waited %s, want %s", got, tt.wantWait)
				}
			})
		})
	}
}

func TestRetryStopsWhenTheContextEnds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		errDown := errors.New("down")
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		defer cancel()
		calls := 0
		err := backoff.Retry(ctx, backoff.Policy{First: time.Second, Max: 4 * time.Second, Retries: -1}, func(int) error {
			calls++
			return errDown
		})
		// Waits of 1, 2, 4, 4 s: the fifth call at 11 s never comes.
		if calls != 4 {
			t.Errorf("%d calls before the deadline, want 4", calls)
		}
		if !errors.Is(err, errDown) || !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Retry = %v, want the last error and the deadline", err)
		}
	})
}

func TestPermanentNil(t *testing.T) {
	if backoff.Permanent(nil) != nil {
		t.Error("Permanent(nil) must be nil, or a success would look like a failure")
	}
}
