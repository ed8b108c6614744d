package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"strconv"
	"testing"
	"time"
)

// TestHello starts the application as `hello serve` would, on a fresh
// SQLite database, and checks that its route answers its setting, that the
// route is guarded, and that a change through rookery's config API
// changes the answer without a restart.
func TestHello(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	t.Setenv("DATA_DIR", t.TempDir())
	t.Setenv("HTTP_HOST", "127.0.0.1")
	t.Setenv("HTTP_PORT", strconv.Itoa(port))
	t.Setenv("ADMIN_EMAIL", "admin@example.com")
	t.Setenv("ADMIN_PASSWORD", "correct-horse-battery")
	t.Setenv("BCRYPT_COST", "4")
	t.Setenv("LOG_LEVEL", "warn")
	base := "http://127.0.0.1:" + strconv.Itoa(port)

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- newApp().Start(ctx) }()
	defer func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Start returned %v", err)
			}
		case <-time.After(20 * time.Second):
			t.Error("the app did not stop")
		}
	}()
	deadline := time.Now().Add(15 * time.Second)
	for {
		if r, err := http.Get(base + "/readyz"); err == nil {
			r.Body.Close()
			if r.StatusCode == http.StatusOK {
				break
			}
		}
		select {
		case err := <-done:
			t.Fatalf("the app stopped while starting: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("the app did not become ready")
		}
		time.Sleep(20 * time.Millisecond)
	}

	call := func(method, path, token string, body any) (int, map[string]any) {
		t.Helper()
		var buf bytes.Buffer
		if body != nil {
			_ = json.NewEncoder(&buf).Encode(body)
		}
		req, _ := http.NewRequest(method, base+path, &buf)
		req.Header.Set("Content-Type", "application/json")
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var m map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&m)
		return resp.StatusCode, m
	}

	if status, _ := call("GET", "/api/v1/hello", "", nil); status != http.StatusUnauthorized {
		t.Fatalf("anonymous GET /api/v1/hello = %d, want 401", status)
	}
	status, m := call("POST", "/api/v1/auth/login", "", map[string]string{"email": "admin@example.com", "password": "correct-horse-battery"})
	if status != http.StatusOK {
		t.Fatalf("sign in: %d %v", status, m)
	}
	token := m["access_token"].(string)
	if status, m := call("GET", "/api/v1/hello", token, nil); status != 200 || m["greeting"] != "hello" {
		t.Fatalf("GET /api/v1/hello = %d %v, want the default greeting", status, m)
	}
	// The application's setting is managed like rookery's own.
	if status, m := call("GET", "/api/v1/config/hello_greeting", token, nil); status != 200 || m["category"] != "system" || m["source"] != "default" {
		t.Fatalf("GET /api/v1/config/hello_greeting = %d %v", status, m)
	}
	if status, m := call("PUT", "/api/v1/config/hello_greeting", token, map[string]string{"value": "bonjour"}); status != 200 {
		t.Fatalf("PUT hello_greeting = %d %v", status, m)
	}
	if status, m := call("GET", "/api/v1/hello", token, nil); status != 200 || m["greeting"] != "bonjour" {
		t.Fatalf("GET /api/v1/hello after the change = %d %v, want bonjour", status, m)
	}
}
