package waddleai_test

import (
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/rookery/rookery/waddleai"
	"github.com/rookery/rookery/waddleai/waddleaitest"
)

func TestHealthAndReady(t *testing.T) {
	fake := newFake(t)
	c, err := waddleai.New(fake.URL, "") // neither endpoint needs a key
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Health(t.Context()); err != nil {
		t.Errorf("Health: %v", err)
	}
	if err := c.Ready(t.Context()); err != nil {
		t.Errorf("Ready: %v", err)
	}
	fake.SetReady(false)
	err = c.Ready(t.Context())
	if !errors.Is(err, waddleai.ErrUnavailable) || !strings.Contains(err.Error(), "database") {
		t.Errorf("not ready: err = %v, want ErrUnavailable naming the failing check", err)
	}
	if n := fake.Calls("/readyz"); n != 2 {
		t.Errorf("%d readiness calls: health checks must not retry", n)
	}
}

func TestHealthOddAnswers(t *testing.T) {
	tests := []struct {
		name   string
		status int
		body   string
		kind   error // nil: healthy
	}{
		{"plain", 200, "healthy", nil},
		{"newline", 200, "healthy\n", nil},
		{"json variant", 200, `{"status":"healthy"}`, nil},
		{"something else", 200, "starting", waddleai.ErrUnexpected},
		{"down", 503, "unhealthy", waddleai.ErrUnavailable},
		{"wrong service", 404, `{"detail":"Not Found"}`, waddleai.ErrBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := handlerClient(t, func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(tt.status)
				_, _ = io.WriteString(w, tt.body)
			})
			err := c.Health(t.Context())
			if tt.kind == nil && err != nil || tt.kind != nil && !errors.Is(err, tt.kind) {
				t.Errorf("Health = %v, want %v", err, tt.kind)
			}
		})
	}
}

func TestModels(t *testing.T) {
	fake := newFake(t)
	c := newClient(t, fake)
	models, err := c.Models(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, m := range models {
		ids = append(ids, m.ID)
		if len(m.Raw) == 0 {
			t.Errorf("model %q lost its raw entry", m.ID)
		}
	}
	if got := strings.Join(ids, ","); got != waddleaitest.DefaultModel+",claude-3-5-sonnet-latest,llama3.2:latest" {
		t.Errorf("model ids = %s", got)
	}
	if models[0].OwnedBy != "openai" || models[0].Created != 1700000000 {
		t.Errorf("first model = %+v", models[0])
	}
	if req, _ := fake.LastRequest("/v1/models"); req.Header.Get("Authorization") == "" {
		t.Error("models sent without the key")
	}

	bad, err := waddleai.New(fake.URL, "wa-nope")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bad.Models(t.Context()); !errors.Is(err, waddleai.ErrUnauthorized) {
		t.Errorf("models with a wrong key: %v", err)
	}
}
