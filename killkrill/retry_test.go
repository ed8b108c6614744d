package killkrill

import (
	"testing"
	"time"
)

// TestRetryPolicy pins the documented retry numbers on the shared backoff
// policy: MaxRetries retries, RetryBackoff doubling to 5 s, equal jitter.
func TestRetryPolicy(t *testing.T) {
	tests := []struct {
		name        string
		cfg         Config
		wantRetries int
		wantDelays  []time.Duration
	}{
		{"defaults", Config{}, DefaultMaxRetries,
			[]time.Duration{200 * time.Millisecond, 400 * time.Millisecond, 800 * time.Millisecond}},
		{"doubling reaches the cap", Config{MaxRetries: 6, RetryBackoff: time.Second}, 6,
			[]time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 5 * time.Second, 5 * time.Second, 5 * time.Second}},
		{"first wait above the cap", Config{MaxRetries: 2, RetryBackoff: 10 * time.Second}, 2,
			[]time.Duration{5 * time.Second, 5 * time.Second}},
		{"negative means none", Config{MaxRetries: -1}, 0, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := retryPolicy(tt.cfg.withDefaults())
			if p.Retries != tt.wantRetries {
				t.Errorf("Retries = %d, want %d", p.Retries, tt.wantRetries)
			}
			for i, want := range tt.wantDelays {
				if got := p.Delay(i); got != want {
					t.Errorf("Delay(%d) = %s, want %s", i, got, want)
				}
				for range 50 {
					if w := p.Wait(i); w < want/2 || w > want {
						t.Fatalf("Wait(%d) = %s, want between %s and %s", i, w, want/2, want)
					}
				}
			}
		})
	}
}
