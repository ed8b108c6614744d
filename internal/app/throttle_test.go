package app

import (
	"bufio"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/rookery/rookery/internal/db"
	"github.com/rookery/rookery/internal/dbtest"
)

// signIn posts credentials; headers are name, value pairs.
func (ta *testApp) signIn(email, password string, headers ...string) reply {
	ta.t.Helper()
	return ta.call("POST", "/api/v1/auth/login", "", map[string]string{"email": email, "password": password}, headers...)
}

// TestLoginConcurrentGuesses: 40 wrong passwords sent at once for one
// account get at most login_max_attempts answers; the rest wait.
func TestLoginConcurrentGuesses(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, s db.Settings) {
		ta := startApp(t, s, nil) // login_max_attempts defaults to 5
		const guesses, limit = 40, 5
		statuses := make([]int, guesses)
		retry := make([]string, guesses)
		var wg sync.WaitGroup
		for i := range guesses {
			wg.Go(func() {
				r := ta.signIn(adminEmail, fmt.Sprintf("wrong-guess-%02d", i))
				statuses[i], retry[i] = r.Status, r.Header.Get("Retry-After")
			})
		}
		wg.Wait()
		count := map[int]int{}
		for i, st := range statuses {
			count[st]++
			if st == http.StatusTooManyRequests && retry[i] == "" {
				t.Errorf("a 429 without Retry-After")
			}
		}
		if count[401] > limit || count[401] == 0 || count[401]+count[429] != guesses {
			t.Fatalf("40 concurrent wrong sign-ins answered %v; want at most %d 401s and the rest 429", count, limit)
		}
		// The lock holds against the right password too: the guesser
		// cannot tell a right guess from a wrong one while it runs.
		if r := ta.signIn(adminEmail, adminPassword); r.Status != http.StatusTooManyRequests {
			t.Errorf("the right password during the lock = %d, want 429", r.Status)
		}
	})
}

// TestLoginThrottleIgnoresCase: the account bucket is the normalised
// email, so changing case or adding spaces is the same account.
func TestLoginThrottleIgnoresCase(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, s db.Settings) {
		ta := startApp(t, s, map[string]string{"LOGIN_MAX_ATTEMPTS": "3"})
		viewer := "view@example.com"
		ta.userWithRole(ta.admin(), viewer, "viewer")
		for i, email := range []string{"view@example.com", "VIEW@example.com", " view@EXAMPLE.com "} {
			if r := ta.signIn(email, "wrong-password-x"); r.Status != http.StatusUnauthorized {
				t.Fatalf("wrong sign-in %d as %q = %d, want 401", i+1, email, r.Status)
			}
		}
		r := ta.signIn("View@example.com", "a-long-enough-password")
		if r.Status != http.StatusTooManyRequests || r.Header.Get("Retry-After") == "" {
			t.Fatalf("View@example.com after 3 failures of view@example.com = %d (Retry-After %q), want 429", r.Status, r.Header.Get("Retry-After"))
		}
		if !strings.Contains(string(r.Body), "too many failed sign-ins") {
			t.Errorf("429 body: %s", r.Body)
		}
		// Another account from the same address is not locked (3*4 = 12
		// attempts per address; 4 so far).
		if r := ta.signIn(adminEmail, adminPassword); r.Status != http.StatusOK {
			t.Errorf("another account's sign-in = %d, want 200", r.Status)
		}
	})
}

// TestLoginSuccessForgetsFailures: a correct password resets the count.
func TestLoginSuccessForgetsFailures(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, s db.Settings) {
		ta := startApp(t, s, map[string]string{"LOGIN_MAX_ATTEMPTS": "3"})
		for range 3 {
			for range 2 {
				if r := ta.signIn(adminEmail, "wrong-password-x"); r.Status != http.StatusUnauthorized {
					t.Fatalf("wrong sign-in = %d, want 401", r.Status)
				}
			}
			ta.admin() // fails the test unless it is a 200
		}
	})
}

// sourceIP finds the request log line of the request with this id and
// returns the client address it names.
func sourceIP(t *testing.T, ta *testApp, requestID string) string {
	t.Helper()
	sc := bufio.NewScanner(strings.NewReader(ta.logs.String()))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		var line map[string]any
		if json.Unmarshal(sc.Bytes(), &line) != nil || line["msg"] != "HTTP request" || line["http.request.id"] != requestID {
			continue
		}
		ip, _ := line["source.ip"].(string)
		return ip
	}
	t.Fatalf("no request log line for %s", requestID)
	return ""
}

// TestLoginThrottleByAddress: with TRUSTED_PROXIES naming the proxy in
// front (here the loopback the test client uses), X-Forwarded-For names
// the client; an IPv6 client is bucketed by its /64; the request log names
// the same client.
func TestLoginThrottleByAddress(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, s db.Settings) {
		// 2 attempts per account, 8 per address.
		ta := startApp(t, s, map[string]string{"LOGIN_MAX_ATTEMPTS": "2", "TRUSTED_PROXIES": "127.0.0.0/8, ::1/128"})
		for i := range 8 {
			// Each guess from another address of one /64, at another account.
			xff := fmt.Sprintf("203.0.113.66, 2001:db8:1:1::%x", i+1)
			if r := ta.signIn(fmt.Sprintf("nobody%d@example.com", i), "wrong-password-x", "X-Forwarded-For", xff); r.Status != http.StatusUnauthorized {
				t.Fatalf("guess %d from %s = %d, want 401", i+1, xff, r.Status)
			}
		}
		r := ta.signIn("fresh@example.com", "wrong-password-x", "X-Forwarded-For", "2001:db8:1:1:ffff::9", "X-Request-ID", "same-64")
		if r.Status != http.StatusTooManyRequests {
			t.Fatalf("a ninth guess from the same /64 = %d, want 429", r.Status)
		}
		if ip := sourceIP(t, ta, "same-64"); ip != "2001:db8:1:1:ffff::9" {
			t.Errorf("request log source.ip = %q, want the forwarded client 2001:db8:1:1:ffff::9", ip)
		}
		for _, other := range []string{"2001:db8:1:2::1", "198.51.100.7"} {
			if r := ta.signIn("fresh@example.com", "wrong-password-x", "X-Forwarded-For", other); r.Status != http.StatusUnauthorized {
				t.Errorf("a guess from %s (another bucket) = %d, want 401", other, r.Status)
			}
		}
	})
}

// TestLoginThrottleIgnoresUntrustedForwarding: without TRUSTED_PROXIES a
// client cannot pick its own bucket by sending X-Forwarded-For.
func TestLoginThrottleIgnoresUntrustedForwarding(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, s db.Settings) {
		ta := startApp(t, s, map[string]string{"LOGIN_MAX_ATTEMPTS": "2"})
		for i := range 8 {
			xff := fmt.Sprintf("198.51.100.%d", i+1)
			if r := ta.signIn(fmt.Sprintf("nobody%d@example.com", i), "wrong-password-x", "X-Forwarded-For", xff); r.Status != http.StatusUnauthorized {
				t.Fatalf("guess %d = %d, want 401", i+1, r.Status)
			}
		}
		r := ta.signIn("fresh@example.com", "wrong-password-x", "X-Forwarded-For", "192.0.2.200", "X-Request-ID", "spoofed")
		if r.Status != http.StatusTooManyRequests {
			t.Fatalf("a ninth guess with a made-up X-Forwarded-For = %d, want 429", r.Status)
		}
		if ip := sourceIP(t, ta, "spoofed"); ip != "127.0.0.1" {
			t.Errorf("request log source.ip = %q, want the real peer 127.0.0.1", ip)
		}
	})
}

func TestTrustedProxiesSetting(t *testing.T) {
	for _, bad := range []string{"10.0.0.0/33", "proxy.internal", "10.0.0.0/8,,nonsense"} {
		_, err := SettingsFromEnv(func(k string) string {
			if k == "TRUSTED_PROXIES" {
				return bad
			}
			return ""
		})
		if err == nil || !strings.Contains(err.Error(), "TRUSTED_PROXIES") {
			t.Errorf("TRUSTED_PROXIES=%q: err = %v, want an error naming TRUSTED_PROXIES", bad, err)
		}
	}
	s, err := SettingsFromEnv(func(k string) string {
		if k == "TRUSTED_PROXIES" {
			return " 10.1.2.3/8, 192.0.2.1 ,fd00::/8,::ffff:172.16.0.0/108"
		}
		return ""
	})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range s.TrustedProxies {
		got = append(got, p.String())
	}
	if want := "10.0.0.0/8 192.0.2.1/32 fd00::/8 172.16.0.0/12"; strings.Join(got, " ") != want {
		t.Errorf("TrustedProxies = %v, want %s", got, want)
	}
	if _, err := tryStartApp(t, dbtest.Fresh(t, db.SQLite), map[string]string{"TRUSTED_PROXIES": "10.0.0.0/8;10.1.0.0/16"}); err == nil ||
		!strings.Contains(err.Error(), "TRUSTED_PROXIES") {
		t.Errorf("start with a bad TRUSTED_PROXIES: err = %v, want it to name the variable", err)
	}
}

// TestMetricsAfterJunkMethods: 2000 requests with random 1000-letter
// methods must not grow /metrics (each label value is a series kept for
// the life of the process).
func TestMetricsAfterJunkMethods(t *testing.T) {
	ta := newSQLiteApp(t, nil)
	letters := "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	var wg sync.WaitGroup
	work := make(chan int)
	for range 4 {
		wg.Go(func() {
			for i := range work {
				b := make([]byte, 1000)
				for j := range b {
					b[j] = letters[rand.IntN(len(letters))]
				}
				path := []string{"/healthz", "/api/v1/config", "/no/such/page", "/api/nothing"}[i%4]
				req, err := http.NewRequest(string(b), ta.URL+path, nil)
				if err != nil {
					t.Error(err)
					return
				}
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Error(err)
					return
				}
				resp.Body.Close()
			}
		})
	}
	for i := range 2000 {
		work <- i
	}
	close(work)
	wg.Wait()
	r := ta.call("GET", "/metrics", "", nil)
	if len(r.Body) > 200<<10 {
		t.Fatalf("/metrics is %d bytes after 2000 junk methods, want under 200 KB", len(r.Body))
	}
	if !strings.Contains(string(r.Body), `method="OTHER"`) {
		t.Errorf("/metrics does not count the junk methods as OTHER")
	}
	sc := bufio.NewScanner(strings.NewReader(ta.logs.String()))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		var line map[string]any
		if json.Unmarshal(sc.Bytes(), &line) != nil || line["msg"] != "HTTP request" {
			continue
		}
		if m, _ := line["http.request.method"].(string); len(m) > len("OPTIONS") {
			t.Fatalf("a junk method reached the request log: %.40q...", m)
		}
	}
}

func TestHSTSWithSecureCookies(t *testing.T) {
	ta := newSQLiteApp(t, map[string]string{"SECURE_COOKIES": "true"})
	for _, path := range []string{"/healthz", "/api/v1/auth/me", "/"} {
		if got := ta.call("GET", path, "", nil).Header.Get("Strict-Transport-Security"); got != "max-age=31536000" {
			t.Errorf("GET %s with SECURE_COOKIES=true: Strict-Transport-Security = %q, want max-age=31536000", path, got)
		}
	}
	plain := newSQLiteApp(t, nil)
	if got := plain.call("GET", "/healthz", "", nil).Header.Get("Strict-Transport-Security"); got != "" {
		t.Errorf("plain HTTP without SECURE_COOKIES sent Strict-Transport-Security %q", got)
	}
}

// TestPasswordRuleThroughTheAPI: weak passwords are refused with a
// sentence and no user is created.
func TestPasswordRuleThroughTheAPI(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, s db.Settings) {
		ta := startApp(t, s, nil)
		admin := ta.admin()
		for _, tt := range []struct{ password, want string }{
			{"kq8-zv3-mwp", "password must be at least 12 characters"},
			{"aaaaaaaaaaaa", "password is one character repeated"},
			{strings.Repeat(" ", 12), "password is one character repeated"},
			{"Qwerty123456", "password is too common: it is in a list of leaked passwords"},
		} {
			r := ta.call("POST", "/api/v1/users", admin, map[string]string{"email": "weak@example.com", "password": tt.password, "role": "viewer"})
			if r.Status != http.StatusBadRequest || !strings.Contains(string(r.Body), tt.want) {
				t.Errorf("create with %q = %d %s, want 400 %q", tt.password, r.Status, r.Body, tt.want)
			}
		}
		r := ta.call("GET", "/api/v1/users", admin, nil)
		if strings.Contains(string(r.Body), "weak@example.com") {
			t.Errorf("a refused user was created: %s", r.Body)
		}
	})
}
