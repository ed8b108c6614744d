package licensetest

import (
	"sync"
	"time"

	"github.com/rookery/rookery/license"
)

// Clock is a fake license.Clock. Time moves only when Advance or Set is
// called, and Advance delivers the ticks that fall due, one per ticker, each
// send waiting until the ticker's owner receives it (or stops the ticker).
// That wait is the synchronisation: when Advance returns, every due tick has
// been taken by its loop, and a second Advance returns only after the loop
// finished handling the first tick.
type Clock struct {
	mu      sync.Mutex
	now     time.Time
	tickers []*ticker
}

// NewClock returns a fake clock showing start.
func NewClock(start time.Time) *Clock { return &Clock{now: start} }

// Now returns the fake time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// NewTicker returns a ticker that fires every d of fake time.
func (c *Clock) NewTicker(d time.Duration) license.Ticker {
	if d <= 0 {
		panic("licensetest: non-positive ticker interval") // mirrors time.NewTicker
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &ticker{clock: c, period: d, next: c.now.Add(d), ch: make(chan time.Time), stop: make(chan struct{})}
	c.tickers = append(c.tickers, t)
	return t
}

// Tickers returns the number of tickers not yet stopped.
func (c *Clock) Tickers() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.tickers)
}

// Set moves the clock to t without firing tickers.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
	for _, tk := range c.tickers {
		tk.next = t.Add(tk.period)
	}
}

// Advance moves the clock forward by d and delivers one tick to every ticker
// whose time came, blocking until each tick is received or its ticker stops.
// Like time.Ticker, a ticker that fell several periods behind gets one tick.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	now := c.now
	var due []*ticker
	for _, tk := range c.tickers {
		if !now.Before(tk.next) {
			due = append(due, tk)
			for !now.Before(tk.next) {
				tk.next = tk.next.Add(tk.period)
			}
		}
	}
	c.mu.Unlock()
	for _, tk := range due {
		select {
		case tk.ch <- now:
		case <-tk.stop:
		}
	}
}

type ticker struct {
	clock    *Clock
	period   time.Duration
	next     time.Time
	ch       chan time.Time
	stop     chan struct{}
	stopOnce sync.Once
}

func (t *ticker) C() <-chan time.Time { return t.ch }

func (t *ticker) Stop() {
	t.stopOnce.Do(func() {
		close(t.stop)
		c := t.clock
		c.mu.Lock()
		defer c.mu.Unlock()
		for i, tk := range c.tickers {
			if tk == t {
				c.tickers = append(c.tickers[:i], c.tickers[i+1:]...)
				break
			}
		}
	})
}
