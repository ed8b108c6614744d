package waddleai

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strings"
)

// Message roles.
const (
	RoleSystem    = "system"
	RoleUser      = "user"
	RoleAssistant = "assistant"
)

// Message is one chat message.
type Message struct {
	Role    string `json:"role"`
	Content string `json:"content"`
	Name    string `json:"name,omitempty"`
}

// UnmarshalJSON accepts content as a string, as null (tool calls) or as a
// list of parts ([{"type":"text","text":"..."}]), since the gateway relays
// whatever its provider produced; text parts are joined.
func (m *Message) UnmarshalJSON(b []byte) error {
	var w struct {
		Role    string          `json:"role"`
		Content json.RawMessage `json:"content"`
		Name    string          `json:"name"`
	}
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	content, err := decodeContent(w.Content)
	if err != nil {
		return err
	}
	*m = Message{Role: w.Role, Content: content, Name: w.Name}
	return nil
}

func decodeContent(raw json.RawMessage) (string, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return "", nil
	}
	switch raw[0] {
	case '"':
		var s string
		err := json.Unmarshal(raw, &s)
		return s, err
	case '[':
		var parts []struct {
			Type string `json:"type"`
			Text string `json:"text"`
		}
		if err := json.Unmarshal(raw, &parts); err != nil {
			return "", err
		}
		var b strings.Builder
		for _, p := range parts {
			if p.Type == "text" || p.Type == "" {
				b.WriteString(p.Text)
			}
		}
		return b.String(), nil
	default:
		return "", fmt.Errorf("message content is neither text nor a list of parts")
	}
}

// ChatRequest is a request to /v1/chat/completions.
type ChatRequest struct {
	// Model overrides the client's default model; both empty lets the
	// gateway choose.
	Model string
	// Messages must not be empty.
	Messages []Message
	// Temperature between 0 and 2; nil leaves it to the gateway. Write
	// Temperature: new(0.2).
	Temperature *float64
	// MaxTokens limits the answer; 0 leaves it to the gateway.
	MaxTokens int
	// Extra holds further OpenAI parameters (top_p, stop, user, ...), sent
	// as they are. It must not repeat the fields above nor "stream".
	Extra map[string]any
}

// isReservedKey reports whether k is set by a typed field and so may not
// come through Extra.
func isReservedKey(k string) bool {
	switch k {
	case "model", "messages", "temperature", "max_tokens", "stream":
		return true
	}
	return false
}

// wireRequest is the JSON body without Extra.
type wireRequest struct {
	Model       string    `json:"model,omitempty"`
	Messages    []Message `json:"messages"`
	Temperature *float64  `json:"temperature,omitempty"`
	MaxTokens   int       `json:"max_tokens,omitempty"`
	Stream      bool      `json:"stream,omitempty"`
}

// encodeChat validates req and returns the request body.
func encodeChat(req ChatRequest, defaultModel string, stream bool) ([]byte, error) {
	if len(req.Messages) == 0 {
		return nil, fmt.Errorf("%w: messages must not be empty", ErrInvalidInput)
	}
	for i, m := range req.Messages {
		if strings.TrimSpace(m.Role) == "" {
			return nil, fmt.Errorf("%w: message %d has no role (use %q, %q or %q)", ErrInvalidInput, i, RoleSystem, RoleUser, RoleAssistant)
		}
	}
	if t := req.Temperature; t != nil && (math.IsNaN(*t) || *t < 0 || *t > 2) {
		return nil, fmt.Errorf("%w: temperature must be between 0 and 2, got %v", ErrInvalidInput, *t)
	}
	if req.MaxTokens < 0 {
		return nil, fmt.Errorf("%w: max_tokens must not be negative, got %d", ErrInvalidInput, req.MaxTokens)
	}
	for k := range req.Extra {
		if isReservedKey(k) {
			return nil, fmt.Errorf("%w: Extra must not set %q; use the ChatRequest field", ErrInvalidInput, k)
		}
	}
	w := wireRequest{Model: strings.TrimSpace(req.Model), Messages: req.Messages, Temperature: req.Temperature, MaxTokens: req.MaxTokens, Stream: stream}
	if w.Model == "" {
		w.Model = defaultModel
	}
	body, err := json.Marshal(w)
	if err != nil {
		return nil, fmt.Errorf("%w: encode request: %v", ErrInvalidInput, err)
	}
	if len(req.Extra) == 0 {
		return body, nil
	}
	extra, err := json.Marshal(req.Extra)
	if err != nil {
		return nil, fmt.Errorf("%w: Extra cannot be encoded as JSON: %v", ErrInvalidInput, err)
	}
	// Splice {"a":1} into {...}: both are objects and share no key.
	spliced := make([]byte, 0, len(body)+len(extra))
	spliced = append(spliced, body[:len(body)-1]...)
	spliced = append(spliced, ',')
	spliced = append(spliced, extra[1:]...)
	return spliced, nil
}

// ChatResponse is the answer of /v1/chat/completions.
type ChatResponse struct {
	ID      string   `json:"id"`
	Object  string   `json:"object"`
	Created int64    `json:"created"`
	Model   string   `json:"model"`
	Choices []Choice `json:"choices"`
	Usage   Usage    `json:"usage"`
}

// Content returns the text of the first choice.
func (r *ChatResponse) Content() string {
	if r == nil || len(r.Choices) == 0 {
		return ""
	}
	return r.Choices[0].Message.Content
}

// Choice is one answer of a chat completion.
type Choice struct {
	Index        int     `json:"index"`
	Message      Message `json:"message"`
	FinishReason string  `json:"finish_reason"`
}

// Usage counts tokens. WaddleAITokens is the gateway's own billing unit.
type Usage struct {
	PromptTokens     int `json:"prompt_tokens"`
	CompletionTokens int `json:"completion_tokens"`
	TotalTokens      int `json:"total_tokens"`
	WaddleAITokens   int `json:"waddleai_tokens"`
}

// ChatCompletion sends req and returns the whole answer.
func (c *Client) ChatCompletion(ctx context.Context, req ChatRequest) (*ChatResponse, error) {
	return c.chat(ctx, "chat completion", req)
}

func (c *Client) chat(ctx context.Context, op string, req ChatRequest) (*ChatResponse, error) {
	st := c.st.Load()
	body, err := encodeChat(req, st.cfg.Model, false)
	if err != nil {
		return nil, fmt.Errorf("waddleai: %s: %w", op, err)
	}
	raw, err := c.roundTrip(ctx, st, call{op: op, method: http.MethodPost, url: st.chatURL, body: body, auth: true, accept: "application/json", retry: true})
	if err != nil {
		return nil, err
	}
	resp, err := decodeChat(raw, st.cfg.APIKey)
	if err != nil {
		return nil, fmt.Errorf("waddleai: %s: %w", op, err)
	}
	return resp, nil
}

// decodeChat reads a 2xx chat answer, which must carry at least one choice.
func decodeChat(raw []byte, key Secret) (*ChatResponse, error) {
	var env struct {
		ChatResponse
		Error json.RawMessage `json:"error"`
	}
	if err := json.Unmarshal(raw, &env); err != nil {
		return nil, &kindError{kind: ErrUnexpected, msg: fmt.Sprintf("the answer is not chat completion JSON (%v); it began %q", err, key.Redact(excerpt(string(raw), 80)))}
	}
	if len(env.Choices) == 0 {
		if len(env.Error) > 0 {
			apiErr := parseErrorBody(http.StatusOK, raw, key)
			apiErr.Kind = ErrUnexpected
			return nil, apiErr
		}
		return nil, &kindError{kind: ErrUnexpected, msg: "the answer has no choices"}
	}
	resp := env.ChatResponse
	return &resp, nil
}
