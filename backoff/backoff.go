// Package backoff is the one retry policy of rookery: a wait that starts at
// First and doubles after every failed attempt up to Max, optionally with
// jitter, a sleep that ends early when the context does, and Retry, which
// ties them to a function that may fail.
//
// killkrill (shipping retries), waddleai (gateway retries), the database
// start-up wait and the PostgreSQL LISTEN reconnect all use it, each with its
// own documented numbers. A constant wait is First equal to Max.
package backoff

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"time"
)

// Jitter says how much of a wait is drawn at random. Without jitter, many
// clients that failed together retry together and fail together again.
type Jitter int

const (
	// NoJitter waits exactly the computed delay.
	NoJitter Jitter = iota
	// EqualJitter waits between half the delay and the whole delay: half
	// fixed, half random.
	EqualJitter
	// FullJitter waits between zero and the whole delay.
	FullJitter
)

// Policy describes how long to wait between attempts and how many attempts
// to make. The zero Policy makes one attempt and never waits.
type Policy struct {
	// First is the wait after the first failed attempt; zero or negative
	// means no wait at all.
	First time.Duration
	// Max caps the doubling wait; zero or negative means no cap (the wait
	// then stops growing at the largest time.Duration instead of
	// overflowing). A Max below First caps First too.
	Max time.Duration
	// Jitter spreads the waits; see the constants.
	Jitter Jitter
	// Retries is how many times Retry calls the function again after its
	// first failure; negative means until the context ends.
	Retries int
	// OnRetry, when set, is called by Retry before each wait with the
	// failed attempt (counted from 0), its error and the wait chosen: the
	// place to log a retry.
	OnRetry func(attempt int, err error, wait time.Duration)
}

// Delay returns the wait after failed attempt number attempt (counted from
// 0), before jitter: First doubled attempt times, capped at Max.
func (p Policy) Delay(attempt int) time.Duration {
	d := p.First
	if d <= 0 {
		return 0
	}
	for range max(attempt, 0) {
		if p.Max > 0 && d >= p.Max {
			break
		}
		if d > math.MaxInt64/2 {
			d = math.MaxInt64
			break
		}
		d *= 2
	}
	if p.Max > 0 && d > p.Max {
		d = p.Max
	}
	return d
}

// Wait returns the wait after failed attempt number attempt with the
// policy's jitter applied: never more than Delay(attempt).
func (p Policy) Wait(attempt int) time.Duration {
	return p.Jitter.apply(p.Delay(attempt))
}

func (j Jitter) apply(d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	switch j {
	case EqualJitter:
		return d/2 + rand.N(d/2+1)
	case FullJitter:
		if d == math.MaxInt64 {
			return rand.N(d) // d+1 would overflow
		}
		return rand.N(d + 1)
	default:
		return d
	}
}

// Sleep waits for d or until ctx ends, whichever comes first, and returns
// ctx.Err() in the second case. A zero or negative d does not wait but
// still reports an ended context, so a loop with no wait stops too.
func Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// permanent marks an error that retrying cannot help.
type permanent struct{ err error }

func (p *permanent) Error() string { return p.err.Error() }
func (p *permanent) Unwrap() error { return p.err }

// Permanent marks err as final: Retry returns err at once, unwrapped, without
// waiting or trying again. fn must return the result of Permanent itself,
// not an error wrapping it. Permanent(nil) is nil.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &permanent{err}
}

// Retry calls fn until it returns nil, returns a [Permanent] error, or has
// been called again p.Retries times; between calls it waits as p says.
// attempt counts the calls from 0, so fn can tell the last one
// (attempt == p.Retries) from the others. Retry returns fn's last error. If
// ctx ends during a wait, Retry stops and returns an error that wraps both
// fn's last error and ctx.Err(); fn itself should give up when ctx ends.
func Retry(ctx context.Context, p Policy, fn func(attempt int) error) error {
	for attempt := 0; ; attempt++ {
		err := fn(attempt)
		if err == nil {
			return nil
		}
		if perm, ok := err.(*permanent); ok {
			return perm.err
		}
		if p.Retries >= 0 && attempt >= p.Retries {
			return err
		}
		wait := p.Wait(attempt)
		if p.OnRetry != nil {
			p.OnRetry(attempt, err, wait)
		}
		if serr := Sleep(ctx, wait); serr != nil {
			return fmt.Errorf("%w (stopped retrying: %w)", err, serr)
		}
	}
}
