package waddleai_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rookery/rookery/waddleai"
	"github.com/rookery/rookery/waddleai/waddleaitest"
)

func TestNewRejectsBadSettings(t *testing.T) {
	tests := []struct {
		name    string
		url     string
		key     string
		opts    []waddleai.Option
		wantMsg string
	}{
		{"empty URL", "", testKey, nil, "URL is empty"},
		{"no scheme", "waddleai:8080", testKey, nil, "http:// or https://"},
		{"other scheme", "ftp://waddleai:8080", testKey, nil, "http:// or https://"},
		{"no host", "http://", testKey, nil, "no host"},
		{"credentials in URL", "http://admin:hunter2@waddleai:8080", testKey, nil, "credentials"},
		{"query", "http://waddleai:8080?x=1", testKey, nil, "query"},
		{"unparsable", "http://wad dle:80%zz", testKey, nil, "cannot be parsed"},
		{"space in key", "http://waddleai:8080", "wa-abc def", nil, "spaces or control"},
		{"newline in key", "http://waddleai:8080", "wa-abc\r\nX-Evil: 1", nil, "spaces or control"},
		{"negative timeout", "http://waddleai:8080", testKey, []waddleai.Option{waddleai.WithTimeout(-time.Second)}, "timeout"},
		{"negative retries", "http://waddleai:8080", testKey, []waddleai.Option{waddleai.WithRetries(-1)}, "retries"},
		{"negative backoff", "http://waddleai:8080", testKey, []waddleai.Option{waddleai.WithBackoff(-1, 0)}, "backoff"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := waddleai.New(tt.url, tt.key, tt.opts...)
			if err == nil {
				t.Fatalf("New succeeded with %v", c)
			}
			if !errors.Is(err, waddleai.ErrInvalidInput) {
				t.Errorf("error %v is not ErrInvalidInput", err)
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("error %q does not mention %q", err, tt.wantMsg)
			}
			assertNoSecret(t, tt.key, err.Error())
			assertNoSecret(t, "hunter2", err.Error())
		})
	}
}

func TestNewNormalisesSettings(t *testing.T) {
	tests := []struct {
		url, key, wantURL, wantKey string
	}{
		{"http://waddleai:8080", "wa-k", "http://waddleai:8080", "wa-k"},
		{"http://waddleai:8080/", "wa-k", "http://waddleai:8080", "wa-k"},
		{"http://waddleai:8080/v1", "wa-k", "http://waddleai:8080", "wa-k"},
		{"https://gw.example.com/ai/v1/", "wa-k", "https://gw.example.com/ai", "wa-k"},
		{"  http://waddleai:8000  ", " wa-k\n", "http://waddleai:8000", "wa-k"},
		{"http://waddleai:8080", "", "http://waddleai:8080", ""},
	}
	for _, tt := range tests {
		c, err := waddleai.New(tt.url, tt.key)
		if err != nil {
			t.Fatalf("New(%q): %v", tt.url, err)
		}
		cfg := c.Config()
		if cfg.BaseURL != tt.wantURL || cfg.APIKey.Reveal() != tt.wantKey {
			t.Errorf("New(%q, %q) = url %q key %q, want %q %q", tt.url, tt.key, cfg.BaseURL, cfg.APIKey.Reveal(), tt.wantURL, tt.wantKey)
		}
		if cfg.Timeout != waddleai.DefaultTimeout {
			t.Errorf("default timeout = %s, want %s", cfg.Timeout, waddleai.DefaultTimeout)
		}
	}
}

func TestParseTimeout(t *testing.T) {
	tests := []struct {
		in      string
		want    time.Duration
		wantErr bool
	}{
		{"", waddleai.DefaultTimeout, false},
		{"30", 30 * time.Second, false},
		{" 2.5 ", 2500 * time.Millisecond, false},
		{"45s", 45 * time.Second, false},
		{"2m", 2 * time.Minute, false},
		{"0", 0, true},
		{"-5", 0, true},
		{"soon", 0, true},
		{"1e300", 0, true},
		{"NaN", 0, true},
	}
	for _, tt := range tests {
		got, err := waddleai.ParseTimeout(tt.in)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("ParseTimeout(%q) = %s, %v; want %s, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
		if err != nil && !errors.Is(err, waddleai.ErrInvalidInput) {
			t.Errorf("ParseTimeout(%q) error %v is not ErrInvalidInput", tt.in, err)
		}
	}
}

func TestKeyNeverPrinted(t *testing.T) {
	c, err := waddleai.New("http://waddleai:8080", testKey, waddleai.WithModel("m"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := c.Config()
	js, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var logged bytes.Buffer
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("client", "client", c, "config", cfg, "key", cfg.APIKey)
	slog.New(slog.NewTextHandler(&logged, nil)).Info("client", "client", c, "config", cfg, "key", cfg.APIKey)
	texts := []string{
		fmt.Sprint(c), fmt.Sprintf("%v %+v %#v %s %q", c, c, c, c, c),
		fmt.Sprintf("%v %+v %#v %s %q %x", cfg, cfg, cfg, cfg, cfg, cfg),
		fmt.Sprintf("%v %s %q %#v %x", cfg.APIKey, cfg.APIKey, cfg.APIKey, cfg.APIKey, cfg.APIKey),
		string(js), logged.String(),
	}
	assertNoSecret(t, testKey, texts...)
	for _, text := range texts[:2] {
		if !strings.Contains(text, "***SENSITIVE***") {
			t.Errorf("%q does not show the mask", text)
		}
	}
	if !strings.Contains(string(js), `"APIKey":"***SENSITIVE***"`) {
		t.Errorf("JSON %s does not mask the key", js)
	}
}

func TestRequestsCarryTheKey(t *testing.T) {
	fake := newFake(t)
	c := newClient(t, fake)
	if _, err := c.ChatCompletion(t.Context(), waddleai.ChatRequest{Messages: []waddleai.Message{{Role: "user", Content: "hi"}}}); err != nil {
		t.Fatal(err)
	}
	req, _ := fake.LastRequest(chatPath)
	// Compare without printing: a wrong header could still hold the key.
	if req.Header.Get("Authorization") != "Bearer "+fake.APIKey() {
		t.Errorf("Authorization is not \"Bearer <key>\" (%d bytes)", len(req.Header.Get("Authorization")))
	}
	if ct := req.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q", ct)
	}
	if ua := req.Header.Get("User-Agent"); ua != "rookery-waddleai/1" {
		t.Errorf("User-Agent = %q", ua)
	}
	custom := newClient(t, fake, waddleai.WithUserAgent("myapp/2"))
	if err := custom.Health(t.Context()); err != nil {
		t.Fatal(err)
	}
	if req, _ := fake.LastRequest("/healthz"); req.Header.Get("User-Agent") != "myapp/2" {
		t.Errorf("custom User-Agent not sent: %q", req.Header.Get("User-Agent"))
	}
	if err := c.Health(t.Context()); err != nil {
		t.Fatal(err)
	}
	if req, _ := fake.LastRequest("/healthz"); req.Header.Get("Authorization") != "" {
		t.Error("the health check sent the key; /healthz needs none")
	}
}

func TestWrongKeyIsUnauthorizedWithoutLeaking(t *testing.T) {
	fake := newFake(t)
	const wrong = "wa-wrong000-thisisnotthekey"
	c, err := waddleai.New(fake.URL, wrong)
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.ChatCompletion(t.Context(), waddleai.ChatRequest{Messages: []waddleai.Message{{Role: "user", Content: "hi"}}})
	if !errors.Is(err, waddleai.ErrUnauthorized) {
		t.Fatalf("err = %v, want ErrUnauthorized", err)
	}
	if !strings.Contains(err.Error(), "API key verification failed") {
		t.Errorf("err %q lacks the gateway's message", err)
	}
	assertNoSecret(t, wrong, err.Error())
	assertNoSecret(t, fake.APIKey(), err.Error())

	noKey, err := waddleai.New(fake.URL, "")
	if err != nil {
		t.Fatal(err)
	}
	_, err = noKey.ChatCompletion(t.Context(), waddleai.ChatRequest{Messages: []waddleai.Message{{Role: "user", Content: "hi"}}})
	if !errors.Is(err, waddleai.ErrUnauthorized) || !strings.Contains(err.Error(), "Missing or invalid Bearer token") {
		t.Errorf("without a key: err = %v", err)
	}
}

func TestUpdateSwitchesGatewayWhileInUse(t *testing.T) {
	a := newFake(t, waddleaitest.WithResponder(waddleaitest.Reply("from a")))
	b := newFake(t, waddleaitest.WithAPIKey("wa-bbbb-otherkey"), waddleaitest.WithResponder(waddleaitest.Reply("from b")))
	c := newClient(t, a)
	msgs := []waddleai.Message{{Role: "user", Content: "hi"}}

	// Requests keep running while the settings flip back and forth: every
	// answer must come from a gateway whose key matched, never a 401 from a
	// URL paired with the other gateway's key.
	ctx, cancel := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 4 {
		wg.Go(func() {
			for ctx.Err() == nil {
				resp, err := c.ChatCompletion(ctx, waddleai.ChatRequest{Messages: msgs})
				if ctx.Err() != nil {
					return
				}
				if err != nil {
					errs <- err
					return
				}
				if got := resp.Content(); got != "from a" && got != "from b" {
					errs <- fmt.Errorf("answer %q", got)
					return
				}
			}
		})
	}
	for i := range 50 {
		fake := a
		if i%2 == 0 {
			fake = b
		}
		if err := c.Update(waddleai.Config{BaseURL: fake.URL, APIKey: waddleai.NewSecret(fake.APIKey()), Timeout: 5 * time.Second, Model: "m"}); err != nil {
			t.Fatal(err)
		}
	}
	cancel()
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("request during updates: %v", err)
	}

	if err := c.Update(waddleai.Config{BaseURL: b.URL, APIKey: waddleai.NewSecret(b.APIKey()), Model: "custom-model"}); err != nil {
		t.Fatal(err)
	}
	resp, err := c.ChatCompletion(t.Context(), waddleai.ChatRequest{Messages: msgs})
	if err != nil || resp.Content() != "from b" {
		t.Fatalf("after Update: %v, %v", resp, err)
	}
	if req, _ := b.LastRequest(chatPath); req.Model != "custom-model" {
		t.Errorf("model after Update = %q, want custom-model", req.Model)
	}
	if got := c.Config().Timeout; got != waddleai.DefaultTimeout {
		t.Errorf("zero timeout in Update gave %s, want the default", got)
	}
}

func TestUpdateRejectsBadConfigAndKeepsTheOld(t *testing.T) {
	fake := newFake(t)
	c := newClient(t, fake)
	before := c.Config()
	err := c.Update(waddleai.Config{BaseURL: "not a url", APIKey: waddleai.NewSecret("wa-x")})
	if !errors.Is(err, waddleai.ErrInvalidInput) {
		t.Fatalf("Update with a bad URL: %v", err)
	}
	if c.Config() != before {
		t.Errorf("config changed to %+v after a failed Update", c.Config())
	}
	if _, err := c.ChatCompletion(t.Context(), waddleai.ChatRequest{Messages: []waddleai.Message{{Role: "user", Content: "hi"}}}); err != nil {
		t.Errorf("client broken after a failed Update: %v", err)
	}
}
