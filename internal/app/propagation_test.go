package app

import (
	"context"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rookery/rookery/config"
	"github.com/rookery/rookery/internal/db"
	"github.com/rookery/rookery/internal/dbtest"
)

// percentile is the nearest-rank percentile of sorted samples.
func percentile(sorted []time.Duration, p float64) time.Duration {
	i := int(math.Ceil(p*float64(len(sorted)))) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

// TestChangePropagation runs two instances on one database and measures
// how long a change written through instance A takes to show in instance
// B's snapshot: PostgreSQL carries it by LISTEN/NOTIFY, the others by
// polling the revision counter (every second here, as in production).
// B's subscribers must see every change, in order.
func TestChangePropagation(t *testing.T) {
	const key = "smtp_user"
	dbtest.Each(t, func(t *testing.T, s db.Settings) {
		writes, bound, env := 15, 3*time.Second, map[string]string{"CONFIG_POLL_INTERVAL": "1s"}
		_, dialect, _, err := s.Target()
		if err != nil {
			t.Fatal(err)
		}
		if dialect == db.Postgres {
			writes, bound, env = 50, time.Second, nil
		} else {
			// Polling instances spend most of the time waiting for a tick:
			// let them wait side by side.
			t.Parallel()
		}
		// Both instances share the data directory, hence the encryption key
		// file: replicas must seal with the same key.
		if s.DataDir == "" {
			s.DataDir = t.TempDir()
		}
		a := startApp(t, s, env)
		b := startApp(t, s, env)
		// Ready is the real signal that a replica misses nothing from here
		// on (on PostgreSQL: it listens, and re-read the configuration
		// after). Writing before it would test luck.
		for name, x := range map[string]*testApp{"A": a, "B": b} {
			select {
			case <-x.Ready():
			case <-time.After(30 * time.Second):
				t.Fatalf("instance %s is not in step with the database 30s after it started", name)
			}
			if r := x.call("GET", "/readyz", "", nil); r.Status != 200 {
				t.Fatalf("instance %s is ready but /readyz says %d %s", name, r.Status, trim(r.Body))
			}
		}

		var (
			mu   sync.Mutex
			seen []string
		)
		got := make(chan struct{}, 1)
		cancel := b.Config.Subscribe(func(ch config.Change) {
			if !slices.Contains(ch.Keys, key) {
				return
			}
			v, _ := ch.New.Get(key)
			mu.Lock()
			seen = append(seen, v.Text)
			mu.Unlock()
			select {
			case got <- struct{}{}:
			default:
			}
		}, key)
		defer cancel()

		token := a.admin()
		delays := make([]time.Duration, 0, writes)
		puts := make([]time.Duration, 0, writes)
		var want []string
		for i := 0; i < writes; i++ {
			if env != nil {
				// Writes paced by the wait would all land just after a tick
				// and wait a full interval; real writes come at any moment.
				time.Sleep(time.Duration(rand.Int64N(int64(time.Second))))
			}
			value := fmt.Sprintf("propagated-%03d", i)
			// Watch B from before the write is sent: with NOTIFY, B may
			// have the value before A's answer is back.
			visible := make(chan time.Time, 1)
			go func() {
				limit := time.Now().Add(2 * bound)
				for b.Config.String(key) != value && time.Now().Before(limit) {
					time.Sleep(time.Millisecond)
				}
				visible <- time.Now()
			}()
			sent := time.Now()
			r := a.call("PUT", "/api/v1/config/"+key, token, map[string]any{"value": value})
			puts = append(puts, time.Since(sent))
			if r.Status != 200 {
				t.Fatalf("PUT %d on A: %d %s", i, r.Status, trim(r.Body))
			}
			if a.Config.String(key) != value {
				t.Fatalf("A's own snapshot does not hold %q right after the write", value)
			}
			want = append(want, value)
			at := <-visible
			if b.Config.String(key) != value {
				t.Fatalf("write %d (%q) not visible on B after %v; B has %q", i, value, 2*bound, b.Config.String(key))
			}
			delays = append(delays, at.Sub(sent))
		}

		// The subscriber runs after the swap: wait for it to catch up.
		deadline := time.After(5 * time.Second)
		for {
			mu.Lock()
			n := len(seen)
			mu.Unlock()
			if n >= writes {
				break
			}
			select {
			case <-got:
			case <-deadline:
				t.Fatalf("B's subscriber saw %d of %d changes", n, writes)
			}
		}
		mu.Lock()
		if !slices.Equal(seen, want) {
			t.Errorf("B's subscriber saw %d changes %v..., want %d in order %v...", len(seen), head(seen), len(want), head(want))
		}
		mu.Unlock()

		slices.Sort(delays)
		slices.Sort(puts)
		median, p99 := percentile(delays, 0.5), percentile(delays, 0.99)
		r := func(d time.Duration) time.Duration { return d.Round(100 * time.Microsecond) }
		line := fmt.Sprintf("propagation %s: n=%d median=%v p99=%v max=%v (from PUT sent on A to visible on B; the PUT itself: median=%v)",
			dialect, len(delays), r(median), r(p99), r(delays[len(delays)-1]), r(percentile(puts, 0.5)))
		t.Log(line)
		fmt.Println(line)
		if p99 >= bound {
			t.Errorf("p99 propagation delay %v, want under %v", p99, bound)
		}
		if dialect == db.Postgres && p99 > 250*time.Millisecond {
			t.Logf("note: p99 %v is above the 250ms target for LISTEN/NOTIFY", p99)
		}
	})
}

func head(v []string) string {
	if len(v) > 3 {
		v = v[:3]
	}
	return strings.Join(v, ",")
}

// TestReadyOnlyAfterListening pins down the start-up gap of LISTEN/NOTIFY:
// B has loaded its snapshot, its LISTEN connection is held back (a proxy
// in front of PostgreSQL holds new connections while the pool's flow),
// and A commits a change. Its NOTIFY reaches nobody. B must not report
// ready while it could have missed that change, and once ready it must
// hold it at once, not at the next safety poll seconds later.
func TestReadyOnlyAfterListening(t *testing.T) {
	const key = "smtp_user"
	s := dbtest.Fresh(t, db.Postgres)
	s.DataDir = t.TempDir() // shared key file: replicas seal with the same key
	a := startApp(t, s, nil)
	token := a.admin()

	sb, proxy := dbtest.ViaProxy(t, s)
	b := buildApp(t, sb)
	proxy.HoldNew()
	started := make(chan struct{})
	go func() {
		defer close(started)
		b.Start(context.Background())
	}()
	bURL := "http://" + b.Addr()

	if r := a.call("PUT", "/api/v1/config/"+key, token, map[string]any{"value": "committed-before-listen"}); r.Status != 200 {
		t.Fatalf("PUT on A: %d %s", r.Status, trim(r.Body))
	}
	// B answers (its listener is bound) but is not in step yet.
	r := get(t, bURL+"/readyz")
	if r.Status != 503 || !strings.Contains(string(r.Body), `"status":"starting"`) {
		t.Fatalf("B's /readyz while its LISTEN is held = %d %s; want 503 starting", r.Status, trim(r.Body))
	}
	select {
	case <-b.Ready():
		t.Fatal("B says it is ready while its LISTEN connection is held")
	default:
	}

	if err := proxy.Restore(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-b.Ready():
	case <-time.After(30 * time.Second):
		t.Fatal("B not ready 30s after its LISTEN connection was let through")
	}
	<-started
	if got := b.Config.String(key); got != "committed-before-listen" {
		t.Fatalf("B is ready but holds %q, not the change committed before it listened", got)
	}
	if r := get(t, bURL+"/readyz"); r.Status != 200 {
		t.Fatalf("B's /readyz once in step = %d %s", r.Status, trim(r.Body))
	}
}

// buildApp is New and Listen without Start, for tests that start it
// themselves.
func buildApp(t *testing.T, s db.Settings) *App {
	t.Helper()
	settings := testSettings(t, s)
	settings.HTTPAddr = "127.0.0.1:0"
	settings.AdminEmail, settings.AdminPassword = adminEmail, adminPassword
	a, err := New(context.Background(), settings, quietLog(), Options{Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Listen(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := a.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	return a
}

func get(t *testing.T, url string) reply {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return reply{Status: resp.StatusCode, Header: resp.Header, Body: b}
}
