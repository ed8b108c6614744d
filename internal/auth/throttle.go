package auth

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"sync"
	"time"
)

// Throttle limits sign-in attempts per account and per client address.
//
// Every attempt is reserved before the password is checked, in one step
// that both checks and counts, so a burst of concurrent guesses cannot all
// pass the check before any of them is counted. Once a bucket has counted
// its maximum, it is locked for 30 seconds, then twice as long after each
// further attempt (capped at 15 minutes): guessing becomes slow while the
// owner is never locked out for long. A correct password forgets the
// account's attempts.
type Throttle struct {
	mu    sync.Mutex
	now   func() time.Time
	quiet time.Duration
	first time.Duration
	cap   time.Duration
	state map[string]*attempts
}

type attempts struct {
	count int
	max   int
	last  time.Time // the latest attempt counted
	until time.Time // locked before this
}

// Limit is one bucket an attempt is counted in: Key names it (see
// AccountKey) and Max is how many attempts it takes before it locks.
type Limit struct {
	Key string
	Max int
}

// maxBuckets bounds memory under a spray of accounts or addresses: past
// it, expired buckets are swept on the next reservation.
const maxBuckets = 100000

// NewThrottle returns a throttle with locks starting at 30 seconds and
// capped at 15 minutes; a bucket is forgotten after 15 quiet minutes
// (no attempt and no lock).
func NewThrottle(now func() time.Time) *Throttle {
	if now == nil {
		now = time.Now
	}
	return &Throttle{now: now, quiet: 15 * time.Minute, first: 30 * time.Second, cap: 15 * time.Minute,
		state: map[string]*attempts{}}
}

// AccountKey is the bucket of the account an email names: the email
// normalised as NormalizeEmail does, so case and surrounding spaces do not
// make a new bucket. Text that is not an address still gets a bucket of
// its own (normalised the same way); long text is hashed so a flood of
// huge "emails" cannot fill memory.
func AccountKey(email string) string {
	norm, err := NormalizeEmail(email)
	if err != nil {
		norm = strings.ToLower(strings.TrimSpace(email))
	}
	if len(norm) > 255 {
		sum := sha256.Sum256([]byte(norm))
		norm = "sha256:" + hex.EncodeToString(sum[:])
	}
	return "account:" + norm
}

// expired says whether a bucket can be forgotten: it has been quiet (no
// attempt, no lock) long enough. Counting the quiet time from the end of
// the lock keeps a patient guesser from getting a fresh set of attempts
// each time a lock runs out.
func (t *Throttle) expired(a *attempts, now time.Time) bool {
	end := a.last
	if a.until.After(end) {
		end = a.until
	}
	return now.Sub(end) > t.quiet
}

// Reserve counts one attempt in every bucket of limits, or, when any of
// them is locked, in none and returns how long the caller must wait. A
// zero wait means the attempt may go ahead; the caller then reports the
// outcome with Succeed (correct password) or Release (no answer was
// given, or the attempt should not count against that bucket).
func (t *Throttle) Reserve(limits ...Limit) time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	var wait time.Duration
	for _, l := range limits {
		a := t.state[l.Key]
		if a == nil {
			continue
		}
		if t.expired(a, now) {
			delete(t.state, l.Key)
			continue
		}
		wait = max(wait, a.until.Sub(now))
	}
	if wait > 0 {
		return wait
	}
	for _, l := range limits {
		a := t.state[l.Key]
		if a == nil {
			a = &attempts{}
			t.state[l.Key] = a
		}
		a.max = max(l.Max, 1)
		a.count++
		a.last = now
		if over := a.count - a.max; over >= 0 {
			a.until = now.Add(min(t.first<<min(over, 20), t.cap))
		}
	}
	if len(t.state) > maxBuckets {
		for k, a := range t.state {
			if t.expired(a, now) {
				delete(t.state, k)
			}
		}
	}
	return 0
}

// Succeed forgets every attempt counted for key: the account's owner has
// shown the password.
func (t *Throttle) Succeed(key string) {
	t.mu.Lock()
	delete(t.state, key)
	t.mu.Unlock()
}

// Release gives back one attempt reserved in key, lifting the lock it may
// have set. It is for attempts that were not guesses: the check could not
// run, or (for an address) the password was right.
func (t *Throttle) Release(key string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	a := t.state[key]
	if a == nil {
		return
	}
	a.count--
	if a.count <= 0 {
		delete(t.state, key)
		return
	}
	if a.count < a.max {
		a.until = time.Time{}
	}
}
