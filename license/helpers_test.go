package license_test

import (
	"bytes"
	"context"
	"log/slog"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rookery/rookery/license"
	"github.com/rookery/rookery/license/licensetest"
)

// syncBuffer collects log output from several goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

var allTestKeys = []string{
	licensetest.KeyProfessional, licensetest.KeyEnterprise, licensetest.KeyCommunity,
	licensetest.KeyExpired, licensetest.KeyUnknown,
}

// env is one test's world: a fake licence server, a fake clock, a cache
// directory and a log buffer that is checked for leaked keys at the end.
type env struct {
	t     *testing.T
	srv   *licensetest.Server
	clock *licensetest.Clock
	logs  *syncBuffer
	cache string
}

func newEnv(t *testing.T, licences ...license.Key) *env {
	t.Helper()
	var ls []licensetest.Licence
	for _, k := range licences {
		switch k {
		case licensetest.KeyProfessional:
			ls = append(ls, licensetest.Professional(string(k)))
		case licensetest.KeyEnterprise:
			ls = append(ls, licensetest.Enterprise(string(k)))
		case licensetest.KeyCommunity:
			ls = append(ls, licensetest.Community(string(k)))
		case licensetest.KeyExpired:
			ls = append(ls, licensetest.Expired(string(k)))
		}
	}
	e := &env{
		t:     t,
		srv:   licensetest.NewServer(ls...),
		clock: licensetest.NewClock(time.Now().UTC().Truncate(time.Second)),
		logs:  &syncBuffer{},
		cache: filepath.Join(t.TempDir(), license.DefaultCacheFileName),
	}
	t.Cleanup(func() {
		e.srv.Close()
		logs := e.logs.String()
		for _, k := range allTestKeys {
			if strings.Contains(logs, k) {
				t.Errorf("the log contains a clear licence key (%s)", license.MaskKey(k))
			}
		}
	})
	return e
}

func (e *env) settings(key license.Key, release bool) license.Settings {
	return license.Settings{Key: key, ServerURL: e.srv.URL, Product: licensetest.Product, ReleaseMode: release}
}

func (e *env) options(mods ...func(*license.Options)) license.Options {
	o := license.Options{
		CacheFile: e.cache,
		Clock:     e.clock,
		Logger:    slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Timeout:   2 * time.Second,
		Hostname:  "test-host",
		Version:   "9.9.9",
	}
	for _, m := range mods {
		m(&o)
	}
	return o
}

// manager builds a Manager that is shut down when the test ends.
func (e *env) manager(s license.Settings, mods ...func(*license.Options)) *license.Manager {
	e.t.Helper()
	m, err := license.New(s, e.options(mods...))
	if err != nil {
		e.t.Fatalf("New: %v", err)
	}
	e.t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := m.Shutdown(ctx); err != nil {
			e.t.Errorf("Shutdown: %v", err)
		}
	})
	return m
}

// started builds a Manager and starts it, failing the test on error.
func (e *env) started(s license.Settings, mods ...func(*license.Options)) *license.Manager {
	e.t.Helper()
	m := e.manager(s, mods...)
	if err := m.Start(context.Background()); err != nil {
		e.t.Fatalf("Start: %v", err)
	}
	return m
}

// waitStatus waits, without polling, until the manager's status satisfies
// cond, and returns that status.
func waitStatus(t *testing.T, m *license.Manager, what string, cond func(license.Status) bool) license.Status {
	t.Helper()
	ctx := waitCtx(t)
	for {
		changed := m.Changed()
		if st := m.Status(); cond(st) {
			return st
		}
		select {
		case <-changed:
		case <-ctx.Done():
			t.Fatalf("timed out waiting for %s; status: %+v", what, m.Status())
		}
	}
}

func waitCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// loopGoroutines counts running background loops of any Manager.
func loopGoroutines() int {
	buf := make([]byte, 1<<20)
	n := runtime.Stack(buf, true)
	return strings.Count(string(buf[:n]), "license.(*Manager).run(")
}

// settledLoops returns the number of loops once it reaches want, or whatever
// it is after a second. A loop that has signalled its end may still need a
// moment to return, so this retries the way goroutine leak checkers do.
func settledLoops(want int) int {
	deadline := time.Now().Add(time.Second)
	for {
		n := loopGoroutines()
		if n == want || time.Now().After(deadline) {
			return n
		}
		runtime.Gosched()
		time.Sleep(time.Millisecond)
	}
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }
