package waddleai

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
)

// Health checks the gateway's liveness endpoint (GET /healthz, plain text
// "healthy", no key needed). It does not retry: a health check reports.
func (c *Client) Health(ctx context.Context) error {
	const op = "health"
	st := c.st.Load()
	body, err := c.roundTrip(ctx, st, call{op: op, method: http.MethodGet, url: st.healthURL})
	if err != nil {
		return err
	}
	text := strings.TrimSpace(string(body))
	if strings.EqualFold(text, "healthy") {
		return nil
	}
	// Tolerate a JSON variant rather than failing a healthy gateway.
	var j struct {
		Status string `json:"status"`
	}
	if json.Unmarshal(body, &j) == nil && (strings.EqualFold(j.Status, "healthy") || strings.EqualFold(j.Status, "ok")) {
		return nil
	}
	return fmt.Errorf("waddleai: %s: %w", op, &kindError{kind: ErrUnexpected, msg: fmt.Sprintf("/healthz answered %q instead of \"healthy\"", excerpt(text, 80))})
}

// Ready checks the gateway's readiness endpoint (GET /readyz, 200 or 503 with
// a JSON body, no key needed). A 503 gives an error that wraps
// ErrUnavailable and quotes the body, which names what is not ready.
func (c *Client) Ready(ctx context.Context) error {
	const op = "ready"
	st := c.st.Load()
	_, err := c.roundTrip(ctx, st, call{op: op, method: http.MethodGet, url: st.readyURL, accept: "application/json"})
	return err
}

// Model is one entry of GET /v1/models. The entries' shape depends on the
// provider behind the gateway, so the whole entry is kept in Raw.
type Model struct {
	ID      string          `json:"id"`
	Object  string          `json:"object,omitempty"`
	Created int64           `json:"created,omitempty"`
	OwnedBy string          `json:"owned_by,omitempty"`
	Raw     json.RawMessage `json:"raw,omitempty"`
}

// Models lists the models the gateway offers to this key.
func (c *Client) Models(ctx context.Context) ([]Model, error) {
	const op = "models"
	st := c.st.Load()
	body, err := c.roundTrip(ctx, st, call{op: op, method: http.MethodGet, url: st.modelsURL, auth: true, accept: "application/json", retry: true})
	if err != nil {
		return nil, err
	}
	var list struct {
		Data []json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(body, &list); err != nil {
		return nil, fmt.Errorf("waddleai: %s: %w", op, &kindError{kind: ErrUnexpected, msg: fmt.Sprintf("the answer is not a model list (%v)", err)})
	}
	models := make([]Model, 0, len(list.Data))
	for _, raw := range list.Data {
		var w struct {
			ID      string  `json:"id"`
			Name    string  `json:"name"`
			Model   string  `json:"model"`
			Object  string  `json:"object"`
			Created float64 `json:"created"`
			OwnedBy string  `json:"owned_by"`
		}
		if json.Unmarshal(raw, &w) != nil {
			continue // an entry we cannot read should not hide the others
		}
		id := w.ID
		if id == "" {
			id = w.Name
		}
		if id == "" {
			id = w.Model
		}
		if id == "" {
			continue
		}
		models = append(models, Model{ID: id, Object: w.Object, Created: int64(w.Created), OwnedBy: w.OwnedBy, Raw: raw})
	}
	return models, nil
}
