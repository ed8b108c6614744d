// Command loadtest measures the configuration API under concurrent load,
// so anyone can reproduce the figures the README quotes:
//
//	go run ./internal/loadtest -c 16 -d 10s
//
// It starts rookery on a temporary SQLite database (or on DATABASE_URL,
// whose users must include -email with -password), signs in, and drives
// each route in turn with -c connections for -d: the full list
// (GET /api/v1/config), one key (GET /api/v1/config/smtp_port) and
// changes to that one key (PUT, every connection writing the same key).
// It prints requests per second, the 50th and 99th percentile and
// maximum latency, and the COMMITs the server ran, per route (on SQLite
// concurrent PUTs share COMMITs). Like wrk, it does not ask for compressed
// answers unless -gzip is given.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/rookery/rookery/internal/app"
	"github.com/rookery/rookery/internal/db"
)

type options struct {
	conns    int
	duration time.Duration
	routes   []string
	key      string
	email    string
	password string
	gzip     bool
}

func main() {
	var o options
	var routes string
	flag.IntVar(&o.conns, "c", 16, "concurrent connections")
	flag.DurationVar(&o.duration, "d", 10*time.Second, "how long to drive each route")
	flag.StringVar(&routes, "routes", "list,get,put", "routes to drive, in order: list, get, put")
	flag.StringVar(&o.key, "key", "smtp_port", "the key get and put use (an integer key: put writes port numbers)")
	flag.StringVar(&o.email, "email", "loadtest@example.com", "admin to sign in as (created on an empty database)")
	flag.StringVar(&o.password, "password", "", "its password (generated for a temporary database)")
	flag.BoolVar(&o.gzip, "gzip", false, "ask for gzip as a browser does")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the whole run (server and client) to this file")
	flag.Parse()
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "loadtest: cpu profile:", err)
			os.Exit(1)
		}
		defer pprof.StopCPUProfile()
	}
	o.routes = strings.Split(routes, ",")
	if err := run(o, os.Stdout); err != nil {
		pprof.StopCPUProfile()
		fmt.Fprintln(os.Stderr, "loadtest:", err)
		os.Exit(1)
	}
}

func run(o options, out io.Writer) error {
	if o.conns < 1 || o.duration <= 0 {
		return errors.New("-c must be at least 1 and -d positive")
	}
	for _, r := range o.routes {
		if r != "list" && r != "get" && r != "put" {
			return fmt.Errorf("unknown route %q: use list, get or put", r)
		}
	}
	dir, err := os.MkdirTemp("", "rookery-loadtest-")
	if err != nil {
		return fmt.Errorf("temporary directory: %w", err)
	}
	defer os.RemoveAll(dir)
	if o.password == "" {
		if os.Getenv("DATABASE_URL") != "" {
			return errors.New("with DATABASE_URL give -email and -password of an admin of that database")
		}
		o.password = "loadtest-" + fmt.Sprint(time.Now().UnixNano())
	}
	// The process environment chooses the database (DATABASE_URL, DB_*,
	// DB_POOL_SIZE); the rest is this run's own.
	own := map[string]string{"DATA_DIR": dir, "ADMIN_EMAIL": o.email, "ADMIN_PASSWORD": o.password,
		"HTTP_HOST": "127.0.0.1", "HTTP_PORT": "0", "BCRYPT_COST": "4"}
	getenv := func(k string) string {
		if v, ok := own[k]; ok {
			return v
		}
		return os.Getenv(k)
	}
	settings, err := app.SettingsFromEnv(getenv)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	ctx := context.Background()
	a, err := app.New(ctx, settings, log, app.Options{Version: "loadtest"})
	if err != nil {
		return fmt.Errorf("start rookery: %w", err)
	}
	if err := a.Listen(); err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	a.Start(ctx)
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = a.Shutdown(sctx)
	}()
	base := "http://" + a.Addr()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: o.conns, MaxConnsPerHost: o.conns,
		DisableCompression: true}, Timeout: 30 * time.Second}
	token, err := signIn(client, base, o.email, o.password)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "rookery on %s, %d connections, %s per route, GOMAXPROCS %d\n\n", a.Core.DB.Dialect, o.conns, o.duration, runtime.GOMAXPROCS(0))
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	// COMMITs per route show how many writes share one (SQLite's group
	// commit); the count is every transaction the server commits meanwhile.
	var commits atomic.Int64
	db.ObserveQueries(func(op string, _ time.Duration) {
		if op == "commit" {
			commits.Add(1)
		}
	})
	defer db.ObserveQueries(nil)
	fmt.Fprintln(tw, "route\trequests\treq/s\tp50\tp99\tmax\terrors\tcommits\t")
	for _, route := range o.routes {
		before := commits.Load()
		res := drive(client, o, func(worker, n int) (*http.Request, error) {
			return request(base, token, o, route, worker, n)
		})
		fmt.Fprintf(tw, "%s\t%d\t%.0f\t%s\t%s\t%s\t%d\t%d\t\n", route, res.count(), float64(res.count())/res.elapsed.Seconds(),
			ms(res.percentile(50)), ms(res.percentile(99)), ms(res.percentile(100)), res.errors, commits.Load()-before)
		if res.firstError != "" {
			fmt.Fprintf(tw, "\t\t\t\t\t\t%s\t\t\n", res.firstError)
		}
	}
	return tw.Flush()
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2fms", float64(d.Microseconds())/1000) }

func signIn(c *http.Client, base, email, password string) (string, error) {
	body, _ := json.Marshal(map[string]string{"email": email, "password": password})
	resp, err := c.Post(base+"/api/v1/auth/login", "application/json", bytes.NewReader(body))
	if err != nil {
		return "", fmt.Errorf("sign in: %w", err)
	}
	defer resp.Body.Close()
	var out struct {
		Token string `json:"access_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != http.StatusOK || out.Token == "" {
		return "", fmt.Errorf("sign in as %s: status %d", email, resp.StatusCode)
	}
	return out.Token, nil
}

// request builds the n-th request of one worker on a route.
func request(base, token string, o options, route string, worker, n int) (*http.Request, error) {
	var r *http.Request
	var err error
	switch route {
	case "list":
		r, err = http.NewRequest(http.MethodGet, base+"/api/v1/config", nil)
	case "get":
		r, err = http.NewRequest(http.MethodGet, base+"/api/v1/config/"+o.key, nil)
	default:
		// Every connection writes the same key: the contended case.
		port := 1025 + (worker*7919+n)%60000
		r, err = http.NewRequest(http.MethodPut, base+"/api/v1/config/"+o.key, strings.NewReader(fmt.Sprintf(`{"value": %d}`, port)))
		if r != nil {
			r.Header.Set("Content-Type", "application/json")
		}
	}
	if err != nil {
		return nil, err
	}
	r.Header.Set("Authorization", "Bearer "+token)
	if o.gzip {
		r.Header.Set("Accept-Encoding", "gzip")
	}
	return r, nil
}

type result struct {
	latencies  []time.Duration
	errors     int64
	firstError string
	elapsed    time.Duration
}

func (r *result) count() int { return len(r.latencies) }

// percentile is the p-th percentile latency (100: the maximum).
func (r *result) percentile(p float64) time.Duration {
	if len(r.latencies) == 0 {
		return 0
	}
	i := int(p/100*float64(len(r.latencies))+0.5) - 1
	return r.latencies[min(max(i, 0), len(r.latencies)-1)]
}

// drive runs o.conns workers that send requests back to back for
// o.duration and gathers every latency.
func drive(c *http.Client, o options, build func(worker, n int) (*http.Request, error)) *result {
	var (
		mu       sync.Mutex
		res      result
		errCount atomic.Int64
		wg       sync.WaitGroup
	)
	start := time.Now()
	deadline := start.Add(o.duration)
	for w := range o.conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			lat := make([]time.Duration, 0, 4096)
			var first string
			for n := 0; time.Now().Before(deadline); n++ {
				req, err := build(w, n)
				if err != nil {
					first = err.Error()
					errCount.Add(1)
					break
				}
				t0 := time.Now()
				resp, err := c.Do(req)
				if err == nil {
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode >= 300 {
						err = fmt.Errorf("%s %s: status %d", req.Method, req.URL.Path, resp.StatusCode)
					}
				}
				lat = append(lat, time.Since(t0))
				if err != nil {
					errCount.Add(1)
					if first == "" {
						first = err.Error()
					}
				}
			}
			mu.Lock()
			res.latencies = append(res.latencies, lat...)
			if res.firstError == "" {
				res.firstError = first
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	res.elapsed = time.Since(start)
	res.errors = errCount.Load()
	slices.Sort(res.latencies)
	return &res
}
