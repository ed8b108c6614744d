package auth

import (
	"sync"
	"time"
)

// Throttle slows down repeated failed sign-ins per account and per client
// address. After max failures inside the window, each further attempt must
// wait twice as long as the last (capped), whether or not the password is
// right, which makes guessing slow without locking the owner out for long.
type Throttle struct {
	mu     sync.Mutex
	now    func() time.Time
	window time.Duration
	cap    time.Duration
	state  map[string]*failures
}

type failures struct {
	count int
	first time.Time
	until time.Time
}

// NewThrottle returns a throttle with a 15-minute window and a 15-minute cap.
func NewThrottle(now func() time.Time) *Throttle {
	if now == nil {
		now = time.Now
	}
	return &Throttle{now: now, window: 15 * time.Minute, cap: 15 * time.Minute, state: map[string]*failures{}}
}

// Wait returns how long the caller identified by key must still wait.
func (t *Throttle) Wait(key string) time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	f := t.state[key]
	if f == nil {
		return 0
	}
	now := t.now()
	if now.Sub(f.first) > t.window && now.After(f.until) {
		delete(t.state, key)
		return 0
	}
	if d := f.until.Sub(now); d > 0 {
		return d
	}
	return 0
}

// Fail records a failure; max is how many are free.
func (t *Throttle) Fail(key string, max int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	f := t.state[key]
	if f == nil || (now.Sub(f.first) > t.window && now.After(f.until)) {
		f = &failures{first: now}
		t.state[key] = f
	}
	f.count++
	if over := f.count - max; over > 0 {
		d := time.Second << min(over-1, 20)
		f.until = now.Add(min(d, t.cap))
	}
	if len(t.state) > 100000 { // bound memory under a spray of addresses
		for k, v := range t.state {
			if now.Sub(v.first) > t.window && now.After(v.until) {
				delete(t.state, k)
			}
		}
	}
}

// Succeed forgets the failures of key.
func (t *Throttle) Succeed(key string) {
	t.mu.Lock()
	delete(t.state, key)
	t.mu.Unlock()
}
