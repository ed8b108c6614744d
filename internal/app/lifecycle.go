package app

import (
	"context"
	"sync"
)

// background tracks goroutines that parts start on their own, outside
// Start (a licence re-validation after a settings change), so Shutdown can
// cancel them and wait for them like the loops Start runs. The zero value
// is ready to use: parts may start work while New is still running.
type background struct {
	mu      sync.Mutex
	ctx     context.Context
	cancel  context.CancelFunc
	stopped bool
	wg      sync.WaitGroup
}

// ctxLocked is the context every tracked goroutine runs under; Stop
// cancels it. The caller holds mu.
func (b *background) ctxLocked() context.Context {
	if b.ctx == nil {
		b.ctx, b.cancel = context.WithCancel(context.Background())
	}
	return b.ctx
}

// Go runs f in a tracked goroutine. After Stop it runs nothing and returns
// false: a settings change racing with the shutdown must not start work
// that nobody waits for.
func (b *background) Go(f func(ctx context.Context)) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.stopped {
		return false
	}
	ctx := b.ctxLocked()
	// Added under mu, so Wait after Stop can never miss a goroutine.
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		f(ctx)
	}()
	return true
}

// Stop cancels the running goroutines and refuses new ones. It does not
// wait; see Wait.
func (b *background) Stop() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.stopped = true
	b.ctxLocked()
	b.cancel()
}

// Done is closed once every goroutine started before Stop has returned.
// Call it after Stop, or goroutines started later are not waited for.
func (b *background) Done() <-chan struct{} {
	done := make(chan struct{})
	go func() {
		b.wg.Wait()
		close(done)
	}()
	return done
}
