package license

import (
	"sync"
	"sync/atomic"
)

// maxTrackedFeatures bounds the feature usage table; names come from code,
// so a larger number means a bug feeding it request data.
const maxTrackedFeatures = 1024

// usageCounter counts feature uses between keepalives. The middleware keeps
// a pointer to its counter, so counting a request is one atomic add.
type usageCounter struct {
	mu     sync.Mutex
	counts map[string]*atomic.Int64
	sent   map[string]int64 // reported to the server so far, for totals
}

func newUsageCounter() *usageCounter {
	return &usageCounter{counts: make(map[string]*atomic.Int64)}
}

// counter returns the counter for name, or nil when the table is full.
func (u *usageCounter) counter(name string) *atomic.Int64 {
	u.mu.Lock()
	defer u.mu.Unlock()
	c, ok := u.counts[name]
	if !ok {
		if len(u.counts) >= maxTrackedFeatures {
			return nil
		}
		c = new(atomic.Int64)
		u.counts[name] = c
	}
	return c
}

// take returns the non-zero counts.
func (u *usageCounter) take() map[string]int64 {
	u.mu.Lock()
	defer u.mu.Unlock()
	out := make(map[string]int64)
	for name, c := range u.counts {
		if n := c.Load(); n != 0 {
			out[name] = n
		}
	}
	return out
}

// subtract removes counts that reached the server; uses recorded while the
// keepalive was in flight stay for the next one.
func (u *usageCounter) subtract(sent map[string]int64) {
	u.mu.Lock()
	defer u.mu.Unlock()
	for name, n := range sent {
		if c, ok := u.counts[name]; ok {
			c.Add(-n)
			if u.sent == nil {
				u.sent = make(map[string]int64)
			}
			u.sent[name] += n
		}
	}
}

// totals returns every use counted since start, reported or not.
func (u *usageCounter) totals() map[string]int64 {
	u.mu.Lock()
	defer u.mu.Unlock()
	out := make(map[string]int64, len(u.counts))
	for name, c := range u.counts {
		out[name] = u.sent[name] + c.Load()
	}
	return out
}
