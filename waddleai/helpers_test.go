package waddleai_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/rookery/rookery/waddleai"
	"github.com/rookery/rookery/waddleai/waddleaitest"
)

const chatPath = "/v1/chat/completions"

// newFake starts a fake gateway closed at the end of the test.
func newFake(t testing.TB, opts ...waddleaitest.Option) *waddleaitest.Server {
	t.Helper()
	fake := waddleaitest.NewServer(opts...)
	t.Cleanup(fake.Close)
	return fake
}

// newClient returns a client for fake with test-sized backoff and timeout;
// opts come last and win.
func newClient(t testing.TB, fake *waddleaitest.Server, opts ...waddleai.Option) *waddleai.Client {
	t.Helper()
	base := []waddleai.Option{
		waddleai.WithBackoff(time.Millisecond, 2*time.Millisecond),
		waddleai.WithTimeout(5 * time.Second),
	}
	c, err := waddleai.New(fake.URL, fake.APIKey(), append(base, opts...)...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// assertNoSecret fails when any text contains the secret.
func assertNoSecret(t testing.TB, secret string, texts ...string) {
	t.Helper()
	for _, text := range texts {
		if secret != "" && strings.Contains(text, secret) {
			t.Errorf("the secret leaked into %q", text)
		}
	}
}

// cannedTransport answers every request with the same response, without a
// network, to measure the client's own cost.
type cannedTransport struct {
	status int
	ctype  string
	body   []byte
}

func (c cannedTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body != nil {
		_, _ = io.Copy(io.Discard, r.Body)
		r.Body.Close()
	}
	return &http.Response{
		StatusCode:    c.status,
		Status:        http.StatusText(c.status),
		Header:        http.Header{"Content-Type": {c.ctype}},
		Body:          io.NopCloser(bytes.NewReader(c.body)),
		ContentLength: int64(len(c.body)),
		Request:       r,
	}, nil
}

// handlerClient returns a client for an ad-hoc handler, for wire quirks the
// fake has no switch for.
func handlerClient(t testing.TB, h http.HandlerFunc, opts ...waddleai.Option) *waddleai.Client {
	t.Helper()
	srv := newHTTPServer(t, h)
	base := []waddleai.Option{waddleai.WithBackoff(time.Millisecond, 2*time.Millisecond), waddleai.WithTimeout(5 * time.Second)}
	c, err := waddleai.New(srv, testKey, append(base, opts...)...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

const testKey = "wa-abc123-topsecretvalue987"

// newHTTPServer serves h for the length of the test and returns its URL.
func newHTTPServer(t testing.TB, h http.HandlerFunc) string {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}

// jsonString quotes s as a JSON string.
func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
