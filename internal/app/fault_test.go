package app

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rookery/rookery/internal/db"
	"github.com/rookery/rookery/internal/dbtest"
)

// send is call without a testing.TB, for goroutines and for servers that
// are not a testApp: it returns transport errors instead of failing.
func send(c *http.Client, base, method, path, token string, body any, headers ...string) (reply, error) {
	var rd io.Reader
	if body != nil {
		buf, err := json.Marshal(body)
		if err != nil {
			return reply{}, err
		}
		rd = bytes.NewReader(buf)
	}
	req, err := http.NewRequest(method, base+path, rd)
	if err != nil {
		return reply{}, err
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		return reply{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return reply{Status: resp.StatusCode, Header: resp.Header, Body: b}, err
}

// putResult is what a 200 answer to PUT /api/v1/config/{key} says.
type putResult struct {
	Config struct {
		Value   string `json:"value"`
		Version int64  `json:"version"`
	} `json:"config"`
}

func decodePut(r reply) (putResult, error) {
	var p putResult
	if err := json.Unmarshal(r.Body, &p); err != nil {
		return p, fmt.Errorf("PUT answer is not JSON: %v: %s", err, trim(r.Body))
	}
	if p.Config.Version <= 0 {
		return p, fmt.Errorf("PUT answer has no config.version: %s", trim(r.Body))
	}
	return p, nil
}

// history reads the audit trail of key through the API, newest first.
func history(t testing.TB, c *http.Client, base, token, key string) []map[string]any {
	t.Helper()
	r, err := send(c, base, "GET", "/api/v1/config/"+key+"/history?limit=1000", token, nil)
	if err != nil || r.Status != 200 {
		t.Fatalf("history of %s: %v %d %s", key, err, r.Status, trim(r.Body))
	}
	var h struct {
		History []map[string]any `json:"history"`
	}
	if err := json.Unmarshal(r.Body, &h); err != nil {
		t.Fatalf("history is not JSON: %v", err)
	}
	return h.History
}

// auditIndex counts audit records by version and new value.
func auditIndex(records []map[string]any) map[string]int {
	out := map[string]int{}
	for _, a := range records {
		v, _ := a["version"].(float64)
		nv, _ := a["new_value"].(string)
		out[auditKey(int64(v), nv)]++
	}
	return out
}

func auditKey(version int64, value string) string {
	return strconv.FormatInt(version, 10) + "=" + value
}

func etag(version int64) string { return `"v` + strconv.FormatInt(version, 10) + `"` }

func etagVersion(tag string) (int64, error) {
	return strconv.ParseInt(strings.TrimPrefix(strings.Trim(tag, `"`), "v"), 10, 64)
}

// logFailures shows the server's own account of the errors it answered.
func logFailures(t testing.TB, ta *testApp) {
	t.Helper()
	n := 0
	for _, line := range strings.Split(ta.logs.String(), "\n") {
		if strings.Contains(line, `"level":"ERROR"`) || strings.Contains(line, "database unavailable") {
			if n++; n <= 10 {
				t.Log(line)
			}
		}
	}
}

// TestConcurrentIfMatchWriters has 16 writers race on one key, each
// reading the ETag and writing with If-Match. Optimistic concurrency must
// hold on every database: every acknowledged write is a version of its
// own with one audit record, nothing acknowledged is lost, the final value
// is the one with the highest version, and contention shows up as 412,
// never as another error.
func TestConcurrentIfMatchWriters(t *testing.T) {
	const (
		writers  = 16
		attempts = 20
		key      = "smtp_user"
	)
	dbtest.Each(t, func(t *testing.T, s db.Settings) {
		ta := startApp(t, s, nil)
		token := ta.admin()
		client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: writers}}
		defer client.CloseIdleConnections()

		start := ta.call("GET", "/api/v1/config/"+key, token, nil)
		startVersion, err := etagVersion(start.Header.Get("ETag"))
		if start.Status != 200 || err != nil {
			t.Fatalf("GET %s: %d ETag %q", key, start.Status, start.Header.Get("ETag"))
		}

		type ack struct {
			version int64
			value   string
		}
		var (
			mu        sync.Mutex
			acks      []ack
			conflicts int
			failures  []string
		)
		fail := func(format string, args ...any) {
			mu.Lock()
			failures = append(failures, fmt.Sprintf(format, args...))
			mu.Unlock()
		}
		var wg sync.WaitGroup
		begin := time.Now()
		for w := 0; w < writers; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < attempts; i++ {
					g, err := send(client, ta.URL, "GET", "/api/v1/config/"+key, token, nil)
					if err != nil || g.Status != 200 {
						fail("writer %d: GET: %v %d %s", w, err, g.Status, trim(g.Body))
						return
					}
					value := fmt.Sprintf("w%02d-%03d", w, i)
					seen, err := etagVersion(g.Header.Get("ETag"))
					if err != nil {
						fail("writer %d: GET ETag %q", w, g.Header.Get("ETag"))
						return
					}
					p, err := send(client, ta.URL, "PUT", "/api/v1/config/"+key, token, map[string]any{"value": value}, "If-Match", etag(seen))
					if err != nil {
						fail("writer %d: PUT: %v", w, err)
						return
					}
					switch p.Status {
					case http.StatusOK:
						res, err := decodePut(p)
						if err != nil {
							fail("writer %d: %v", w, err)
							return
						}
						if res.Config.Value != value {
							fail("writer %d: wrote %q, answer says %q", w, value, res.Config.Value)
						}
						if res.Config.Version != seen+1 {
							fail("writer %d: If-Match %s was accepted as version %d: the precondition was ignored", w, etag(seen), res.Config.Version)
						}
						if tag := p.Header.Get("ETag"); tag != etag(res.Config.Version) {
							fail("writer %d: ETag %s for version %d", w, tag, res.Config.Version)
						}
						mu.Lock()
						acks = append(acks, ack{res.Config.Version, value})
						mu.Unlock()
					case http.StatusPreconditionFailed:
						mu.Lock()
						conflicts++
						mu.Unlock()
					default:
						fail("writer %d: PUT = %d: %s", w, p.Status, trim(p.Body))
						return
					}
				}
			}()
		}
		wg.Wait()
		elapsed := time.Since(begin)
		for _, f := range failures {
			t.Error(f)
		}
		if t.Failed() {
			logFailures(t, ta)
			t.FailNow()
		}
		t.Logf("%s: %d writers x %d attempts in %v: %d acknowledged, %d conflicts (412)", s.URL[:strings.Index(s.URL, ":")], writers, attempts, elapsed.Round(time.Millisecond), len(acks), conflicts)
		if len(acks) == 0 {
			t.Fatal("no write was acknowledged")
		}

		// Every acknowledged write has a version of its own.
		seen := map[int64]string{}
		last := ack{}
		for _, a := range acks {
			if prev, dup := seen[a.version]; dup {
				t.Errorf("version %d acknowledged twice: %q and %q", a.version, prev, a.value)
			}
			seen[a.version] = a.value
			if a.version > last.version {
				last = a
			}
		}

		// No lost update: the version moved by exactly the acknowledged writes.
		final, err := ta.Store.Get(context.Background(), key)
		if err != nil {
			t.Fatal(err)
		}
		if got := final.Version - startVersion; got != int64(len(acks)) {
			t.Errorf("version moved by %d (from %d to %d) but %d writes were acknowledged", got, startVersion, final.Version, len(acks))
		}
		if final.Version != last.version || final.Value != last.value {
			t.Errorf("final row is v%d %q, want the last acknowledged write v%d %q", final.Version, final.Value, last.version, last.value)
		}
		// The API (served from the snapshot) agrees with the row.
		g := ta.call("GET", "/api/v1/config/"+key, token, nil)
		if g.Header.Get("ETag") != etag(last.version) || !strings.Contains(string(g.Body), `"value":"`+last.value+`"`) {
			t.Errorf("GET after the race: ETag %s, body %s; want %s %q", g.Header.Get("ETag"), trim(g.Body), etag(last.version), last.value)
		}

		// Exactly one audit record per acknowledged write, and none for
		// writes that were refused.
		records := history(t, client, ta.URL, token, key)
		idx := auditIndex(records)
		for _, a := range acks {
			if n := idx[auditKey(a.version, a.value)]; n != 1 {
				t.Errorf("write v%d %q has %d audit records, want 1", a.version, a.value, n)
			}
		}
		newer := 0
		for _, r := range records {
			if v, _ := r["version"].(float64); int64(v) > startVersion {
				newer++
			}
		}
		if newer != len(acks) {
			t.Errorf("%d audit records after v%d, want one per acknowledged write (%d)", newer, startVersion, len(acks))
		}
	})
}

// timedCall is send with a measured duration; a transport error fails the
// test, since the server itself must keep answering.
func timedCall(t *testing.T, c *http.Client, base, method, path, token string, body any, headers ...string) (reply, time.Duration) {
	t.Helper()
	start := time.Now()
	r, err := send(c, base, method, path, token, body, headers...)
	took := time.Since(start)
	if err != nil {
		t.Fatalf("%s %s after %v: %v", method, path, took.Round(time.Millisecond), err)
	}
	return r, took
}

// TestDatabaseOutage stops the database under a running server (a proxy in
// between drops every connection and refuses new ones) and brings it back.
// During the outage reads are served from the snapshot with a token issued
// before, writes answer 503 quickly and change nothing, and /readyz says
// 503; afterwards the server recovers by itself.
func TestDatabaseOutage(t *testing.T) {
	const key = "smtp_user"
	const quick = 3 * time.Second // "answers at once", not after a driver timeout
	for _, tg := range dbtest.Targets {
		if tg.Dialect == db.SQLite {
			continue // embedded: it cannot go away on its own
		}
		t.Run(string(tg.Dialect), func(t *testing.T) {
			s, proxy := dbtest.ViaProxy(t, dbtest.Fresh(t, tg.Dialect))
			ta := startApp(t, s, nil)
			client := &http.Client{Timeout: 60 * time.Second}
			defer client.CloseIdleConnections()
			token := ta.admin()
			r := ta.call("PUT", "/api/v1/config/"+key, token, map[string]any{"value": "before"})
			if r.Status != 200 {
				t.Fatalf("PUT before the outage: %d %s", r.Status, trim(r.Body))
			}
			before, err := etagVersion(r.Header.Get("ETag"))
			if err != nil {
				t.Fatalf("ETag %q", r.Header.Get("ETag"))
			}

			proxy.Cut()
			var figures []string
			for round := 1; round <= 2; round++ { // fresh dead connections, then a pool that knows
				steps := []struct {
					name, method, path string
					body               any
					status             int
					contains           string
				}{
					{"list", "GET", "/api/v1/config", nil, 200, `"value":"before"`},
					{"get", "GET", "/api/v1/config/" + key, nil, 200, `"value":"before"`},
					{"put", "PUT", "/api/v1/config/" + key, map[string]any{"value": "during"}, 503, `"error":"the database is unavailable`},
					{"readyz", "GET", "/readyz", nil, 503, `"database":"unreachable"`},
				}
				for _, st := range steps {
					r, took := timedCall(t, client, ta.URL, st.method, st.path, token, st.body)
					figures = append(figures, fmt.Sprintf("%s=%d in %v", st.name, r.Status, took.Round(100*time.Microsecond)))
					if r.Status != st.status || !strings.Contains(string(r.Body), st.contains) {
						t.Errorf("round %d: %s %s during the outage = %d %s; want %d with %s", round, st.method, st.path, r.Status, trim(r.Body), st.status, st.contains)
					}
					if took > quick {
						t.Errorf("round %d: %s %s took %v during the outage; want under %v", round, st.method, st.path, took, quick)
					}
				}
				if ta.Config.String(key) != "before" {
					t.Fatalf("the snapshot changed to %q during the outage", ta.Config.String(key))
				}
				if round == 1 {
					t.Logf("outage %s, first requests: %s", tg.Dialect, strings.Join(figures, ", "))
					figures = nil
				}
			}
			if t.Failed() {
				logFailures(t, ta)
			}

			if err := proxy.Restore(); err != nil {
				t.Fatal(err)
			}
			restored := time.Now()
			for {
				r, _ := timedCall(t, client, ta.URL, "GET", "/readyz", "", nil)
				if r.Status == 200 {
					break
				}
				if time.Since(restored) > 15*time.Second {
					t.Fatalf("/readyz still %d 15s after the database came back: %s", r.Status, trim(r.Body))
				}
				time.Sleep(50 * time.Millisecond)
			}
			ready := time.Since(restored)
			// The first write after recovery succeeds, and If-Match on the
			// version from before proves the refused write changed nothing.
			r, took := timedCall(t, client, ta.URL, "PUT", "/api/v1/config/"+key, token, map[string]any{"value": "after"}, "If-Match", etag(before))
			if r.Status != 200 {
				logFailures(t, ta)
				t.Fatalf("first PUT after recovery = %d %s", r.Status, trim(r.Body))
			}
			if ta.Config.String(key) != "after" {
				t.Errorf("snapshot after recovery holds %q", ta.Config.String(key))
			}
			for _, a := range history(t, client, ta.URL, token, key) {
				if nv, _ := a["new_value"].(string); nv == "during" {
					t.Errorf("the write refused during the outage left an audit record: %v", a)
				}
			}
			line := fmt.Sprintf("outage %s: ready %v after the database came back; first PUT after it took %v", tg.Dialect, ready.Round(time.Millisecond), took.Round(100*time.Microsecond))
			t.Log(line)
			fmt.Println(line)
		})
	}
}

// TestDatabaseStalled freezes the database instead of stopping it: the
// proxy keeps every connection open but passes nothing, as in a network
// partition, where no error ever comes back and only timeouts help. Reads
// must still be served from the snapshot (a session the server has not
// checked yet included), writes must fail with 503 within seconds, and the
// server must recover when the database answers again.
func TestDatabaseStalled(t *testing.T) {
	const key = "smtp_user"
	const bound = 10 * time.Second // the server's own database deadlines are 2 s and 5 s
	for _, tg := range dbtest.Targets {
		if tg.Dialect == db.SQLite {
			continue
		}
		t.Run(string(tg.Dialect), func(t *testing.T) {
			s, proxy := dbtest.ViaProxy(t, dbtest.Fresh(t, tg.Dialect))
			t.Parallel() // most of the time is spent waiting on timeouts
			ta := startApp(t, s, nil)
			client := &http.Client{Timeout: 60 * time.Second}
			defer client.CloseIdleConnections()
			if r := ta.call("PUT", "/api/v1/config/"+key, ta.admin(), map[string]any{"value": "before"}); r.Status != 200 {
				t.Fatalf("PUT before the stall: %d %s", r.Status, trim(r.Body))
			}
			// A token never used yet: its session must be checked against
			// the database, which will not answer.
			token := ta.admin()

			proxy.Stall()
			var figures []string
			steps := []struct {
				name, method, path string
				body               any
				status             int
				contains           string
			}{
				{"get", "GET", "/api/v1/config/" + key, nil, 200, `"value":"before"`},
				{"put", "PUT", "/api/v1/config/" + key, map[string]any{"value": "during"}, 503, `"error":"the database is unavailable`},
				{"readyz", "GET", "/readyz", nil, 503, `"database":"unreachable"`},
			}
			for _, st := range steps {
				r, took := timedCall(t, client, ta.URL, st.method, st.path, token, st.body)
				figures = append(figures, fmt.Sprintf("%s=%d in %v", st.name, r.Status, took.Round(time.Millisecond)))
				if r.Status != st.status || !strings.Contains(string(r.Body), st.contains) {
					t.Errorf("%s %s while stalled = %d %s; want %d with %s", st.method, st.path, r.Status, trim(r.Body), st.status, st.contains)
				}
				if took > bound {
					t.Errorf("%s %s took %v while stalled; want under %v", st.method, st.path, took, bound)
				}
			}
			if ta.Config.String(key) != "before" {
				t.Errorf("the snapshot changed to %q while stalled", ta.Config.String(key))
			}

			if err := proxy.Restore(); err != nil {
				t.Fatal(err)
			}
			restored := time.Now()
			for {
				r, _ := timedCall(t, client, ta.URL, "GET", "/readyz", "", nil)
				if r.Status == 200 {
					break
				}
				if time.Since(restored) > 15*time.Second {
					t.Fatalf("/readyz still %d 15s after the database answered again", r.Status)
				}
				time.Sleep(50 * time.Millisecond)
			}
			r, took := timedCall(t, client, ta.URL, "PUT", "/api/v1/config/"+key, token, map[string]any{"value": "after"})
			if r.Status != 200 {
				logFailures(t, ta)
				t.Fatalf("first PUT after the stall = %d %s", r.Status, trim(r.Body))
			}
			// The write refused for its deadline may still have reached the
			// database once the held bytes flowed: then it is a committed,
			// audited version like any other, never a half-write.
			res, err := decodePut(r)
			if err != nil {
				t.Fatal(err)
			}
			records := history(t, client, ta.URL, token, key)
			if len(records) != int(res.Config.Version) {
				t.Errorf("%d audit records for a key at v%d", len(records), res.Config.Version)
			}
			line := fmt.Sprintf("stall %s: %s; ready %v after the database answered again; first PUT took %v",
				tg.Dialect, strings.Join(figures, ", "), time.Since(restored).Round(time.Millisecond), took.Round(time.Millisecond))
			t.Log(line)
			fmt.Println(line)
		})
	}
}
