package auth

import (
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// throttleClock is a hand-moved time source for the throttle.
type throttleClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *throttleClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *throttleClock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func TestAccountKey(t *testing.T) {
	tests := []struct {
		name, a, b string
		same       bool
	}{
		{name: "case", a: "View@Example.com", b: "view@example.com", same: true},
		{name: "spaces", a: "  view@example.com\t", b: "view@example.com", same: true},
		{name: "not an address is normalised too", a: " Not An Address ", b: "not an address", same: true},
		{name: "different accounts", a: "view@example.com", b: "view2@example.com", same: false},
		{name: "not an address is not an account's bucket", a: "view@example.com ", b: "<view@example.com>", same: false},
		{name: "long text hashed but distinct", a: strings.Repeat("a", 300), b: strings.Repeat("a", 299) + "b", same: false},
		{name: "long text hashed case-insensitively", a: strings.Repeat("A", 300), b: strings.Repeat("a", 300), same: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ka, kb := AccountKey(tt.a), AccountKey(tt.b)
			if (ka == kb) != tt.same {
				t.Errorf("AccountKey(%q) = %q, AccountKey(%q) = %q; same = %v, want %v", tt.a, ka, tt.b, kb, ka == kb, tt.same)
			}
			if len(ka) > 300 {
				t.Errorf("key of %d bytes kept: %.40q...", len(ka), ka)
			}
		})
	}
}

// TestThrottleReserveConcurrent is the race the old Wait-then-Fail pair
// lost: every concurrent attempt passed Wait before any Fail counted.
func TestThrottleReserveConcurrent(t *testing.T) {
	c := &throttleClock{now: time.Unix(1_000_000, 0)}
	th := NewThrottle(c.Now)
	var allowed, refused atomic.Int64
	var wg sync.WaitGroup
	for range 40 {
		wg.Go(func() {
			if th.Reserve(Limit{Key: "account:a@example.com", Max: 5}, Limit{Key: "ip:192.0.2.1", Max: 20}) == 0 {
				allowed.Add(1)
			} else {
				refused.Add(1)
			}
		})
	}
	wg.Wait()
	if allowed.Load() != 5 || refused.Load() != 35 {
		t.Fatalf("40 concurrent reservations: %d allowed, %d refused; want 5 and 35", allowed.Load(), refused.Load())
	}
}

func TestThrottleLockGrowsAndExpires(t *testing.T) {
	c := &throttleClock{now: time.Unix(1_000_000, 0)}
	th := NewThrottle(c.Now)
	acct := Limit{Key: "account:a@example.com", Max: 3}
	for i := range 3 {
		if d := th.Reserve(acct); d != 0 {
			t.Fatalf("attempt %d refused (%v) before the limit", i+1, d)
		}
	}
	if d := th.Reserve(acct); d != 30*time.Second {
		t.Fatalf("after 3 attempts the wait is %v, want 30s", d)
	}
	c.Add(30 * time.Second)
	if d := th.Reserve(acct); d != 0 {
		t.Fatalf("after the lock: refused for %v", d)
	}
	if d := th.Reserve(acct); d != time.Minute {
		t.Fatalf("the second lock is %v, want twice the first (1m)", d)
	}
	for range 10 {
		c.Add(th.Reserve(acct))
		th.Reserve(acct)
	}
	if d := th.Reserve(acct); d != 15*time.Minute {
		t.Fatalf("the lock grew to %v, want the 15m cap", d)
	}
	// Waiting out the lock gives one attempt, not a fresh set.
	c.Add(15 * time.Minute)
	if d := th.Reserve(acct); d != 0 {
		t.Fatalf("after the lock ran out: refused for %v", d)
	}
	if d := th.Reserve(acct); d != 15*time.Minute {
		t.Fatalf("the attempt after a lock ran out was followed by a %v lock, want 15m", d)
	}
	// A quarter of an hour of quiet after the lock forgets the bucket.
	c.Add(31 * time.Minute)
	for i := range 3 {
		if d := th.Reserve(acct); d != 0 {
			t.Fatalf("after a quiet quarter of an hour, attempt %d refused for %v", i+1, d)
		}
	}
}

func TestThrottleSucceedAndRelease(t *testing.T) {
	c := &throttleClock{now: time.Unix(1_000_000, 0)}
	th := NewThrottle(c.Now)
	acct, addr := Limit{Key: "account:a@example.com", Max: 2}, Limit{Key: "ip:192.0.2.1", Max: 3}

	// A correct password forgets the account's failures.
	th.Reserve(acct, addr)
	th.Reserve(acct, addr)
	th.Succeed(acct.Key)
	th.Release(addr.Key)
	if d := th.Reserve(Limit{Key: acct.Key, Max: 2}); d != 0 {
		t.Fatalf("after a success the account waits %v", d)
	}
	th.Succeed(acct.Key)

	// The address has one guess counted (the successful attempt was given
	// back), so two more are free and then it locks.
	other := Limit{Key: "account:b@example.com", Max: 100}
	for i := range 2 {
		if d := th.Reserve(other, addr); d != 0 {
			t.Fatalf("attempt %d from the address refused for %v", i+2, d)
		}
	}
	if d := th.Reserve(other, addr); d == 0 {
		t.Fatal("fourth attempt from the address allowed; want it locked after 3")
	}
	// Giving back the attempt that set the lock lifts it.
	th.Release(addr.Key)
	if d := th.Reserve(other, addr); d != 0 {
		t.Fatalf("after Release the address still waits %v", d)
	}
	// The refused reservation counted nowhere: account b has 3 attempts,
	// so with a limit of 4 one more is allowed and the next is not.
	if d := th.Reserve(Limit{Key: other.Key, Max: 4}); d != 0 {
		t.Fatalf("account b waits %v after 3 counted attempts of 4", d)
	}
	if d := th.Reserve(Limit{Key: other.Key, Max: 4}); d == 0 {
		t.Fatal("account b allowed a fifth attempt")
	}
}
