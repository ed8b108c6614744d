// Package waddleaitest runs an in-process fake of the WaddleAI gateway for
// tests, in the spirit of net/http/httptest.
//
// The fake follows the gateway's real wire contract: the OpenAI chat API on
// /v1/chat/completions (plain and Server-Sent Events), /v1/models,
// /v1/messages (Anthropic format), /api/quota, /api/usage, /healthz (plain
// text "healthy") and /readyz (JSON, 200 or 503). It checks the key
// (Authorization: Bearer or X-API-Key) and answers 401 with the gateway's
// string error body. Its switches make it misbehave the ways the real gateway
// does: security blocks, overload, provider errors, slow answers, an error
// event in the middle of a stream, a cut-off stream, and the older releases'
// habit of ignoring "stream".
//
// It records every request and counts calls per path, so tests can assert on
// what a client sent.
package waddleaitest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"time"
)

// Defaults of a new Server.
const (
	DefaultAPIKey = "wa-testkey01-notarealsecret0123456789"
	DefaultModel  = "gpt-4o-mini"
)

// Fault makes the fake misbehave on /v1/chat/completions.
type Fault int

// The faults. The bodies are the gateway's own.
const (
	FaultNone           Fault = iota
	FaultBlocked              // 400 {"error":{"message":"prompt_injection_detected","type":"invalid_request_error"}}
	FaultPII                  // 400 pii_detected
	FaultUnauthorized         // 401 {"error":"API key verification failed"}, even for the right key
	FaultOverloaded           // 429 {"error":{"message":"Too many concurrent requests; retry shortly","type":"overloaded_error"}}
	FaultQuotaExceeded        // 429, the token budget variant
	FaultBadGateway           // 502 provider_error_...
	FaultGatewayTimeout       // 504 provider_error_timeout
	FaultServerError          // 500 server_error
	FaultUnavailable          // 503 with a plain-text body, as a proxy in front or a starting gateway answers
	FaultMidStreamError       // streams: role, one piece of content, then an error event and no [DONE]; plain requests are answered normally
	FaultTruncated            // streams: role, one piece of content, then the body ends; plain requests get half a JSON body
	FaultHangUp               // the connection is closed without an answer
)

func (f Fault) String() string {
	switch f {
	case FaultNone:
		return "none"
	case FaultBlocked:
		return "blocked"
	case FaultPII:
		return "pii"
	case FaultUnauthorized:
		return "unauthorized"
	case FaultOverloaded:
		return "overloaded"
	case FaultQuotaExceeded:
		return "quota-exceeded"
	case FaultBadGateway:
		return "bad-gateway"
	case FaultGatewayTimeout:
		return "gateway-timeout"
	case FaultServerError:
		return "server-error"
	case FaultUnavailable:
		return "unavailable"
	case FaultMidStreamError:
		return "mid-stream-error"
	case FaultTruncated:
		return "truncated"
	case FaultHangUp:
		return "hang-up"
	}
	return fmt.Sprintf("fault(%d)", int(f))
}

// Message is a chat message as the fake received it.
type Message struct {
	Role    string
	Content string
}

// Request is one request as the fake received it.
type Request struct {
	Method   string
	Path     string
	Header   http.Header
	Body     []byte
	JSON     map[string]any // the body decoded, when it is a JSON object
	Messages []Message      // from a chat body
	Model    string         // from a chat body
	Stream   bool           // from a chat body
}

// System returns the content of the first system message, or "".
func (r Request) System() string {
	for _, m := range r.Messages {
		if m.Role == "system" {
			return m.Content
		}
	}
	return ""
}

// LastUser returns the content of the last user message, or "".
func (r Request) LastUser() string {
	for i := len(r.Messages) - 1; i >= 0; i-- {
		if r.Messages[i].Role == "user" {
			return r.Messages[i].Content
		}
	}
	return ""
}

// Responder decides the assistant's answer to a chat request.
type Responder func(Request) string

// Reply answers every request with content.
func Reply(content string) Responder { return func(Request) string { return content } }

// Replies answers with the given contents in turn; the last one repeats.
func Replies(contents ...string) Responder {
	var (
		mu sync.Mutex
		i  int
	)
	return func(Request) string {
		mu.Lock()
		defer mu.Unlock()
		if len(contents) == 0 {
			return ""
		}
		c := contents[min(i, len(contents)-1)]
		i++
		return c
	}
}

// Echo answers "You said: " and the last user message. It is the default.
func Echo() Responder {
	return func(r Request) string { return "You said: " + r.LastUser() }
}

// Option configures a Server.
type Option func(*Server)

// WithAPIKey sets the key the fake accepts.
func WithAPIKey(key string) Option { return func(s *Server) { s.apiKey = key } }

// WithModel sets the model named in answers when a request names none.
func WithModel(model string) Option { return func(s *Server) { s.model = model } }

// WithResponder sets the first responder.
func WithResponder(r Responder) Option { return func(s *Server) { s.responder = r } }

// WithoutSecurityScan turns off the fake's imitation of the gateway's
// prompt-injection and PII scan.
func WithoutSecurityScan() Option { return func(s *Server) { s.scan = false } }

// Server is a running fake gateway. Its methods are safe for concurrent use.
type Server struct {
	// URL is the base URL, e.g. http://127.0.0.1:41234.
	URL string
	srv *httptest.Server

	mu           sync.Mutex
	apiKey       string
	model        string
	scan         bool
	responder    Responder
	fault        Fault
	queue        []Fault
	ignoreStream bool
	delay        time.Duration
	chunkDelay   time.Duration
	notReady     bool
	requests     []Request
	calls        map[string]int
	tokensUsed   int
}

// NewServer starts a fake gateway. Close it when done.
func NewServer(opts ...Option) *Server {
	s := &Server{
		apiKey:    DefaultAPIKey,
		model:     DefaultModel,
		scan:      true,
		responder: Echo(),
		calls:     make(map[string]int),
	}
	for _, opt := range opts {
		opt(s)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/chat/completions", s.handleChat)
	mux.HandleFunc("GET /v1/models", s.handleModels)
	mux.HandleFunc("POST /v1/messages", s.handleMessages)
	mux.HandleFunc("GET /api/quota", s.handleQuota)
	mux.HandleFunc("GET /api/usage", s.handleUsage)
	mux.HandleFunc("GET /healthz", s.handleHealth)
	mux.HandleFunc("GET /readyz", s.handleReady)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusNotFound, map[string]any{"detail": "Not Found"})
	})
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req := s.record(r)
		mux.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), requestKey{}, req)))
	}))
	s.URL = s.srv.URL
	return s
}

// Close shuts the fake down, cutting open connections.
func (s *Server) Close() {
	s.srv.CloseClientConnections()
	s.srv.Close()
}

// Client returns an http.Client wired to the fake.
func (s *Server) Client() *http.Client { return s.srv.Client() }

// APIKey returns the key the fake accepts.
func (s *Server) APIKey() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.apiKey
}

// SetResponder replaces the responder.
func (s *Server) SetResponder(r Responder) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.responder = r
}

// SetFault makes every chat request fail with f until changed (FaultNone
// restores normal service). Faults queued with FailNext go first.
func (s *Server) SetFault(f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fault = f
}

// FailNext queues faults for the next chat requests, one per request.
func (s *Server) FailNext(faults ...Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.queue = append(s.queue, faults...)
}

// SetIgnoreStream makes the fake behave like an older gateway that ignores
// "stream": true and answers one JSON body.
func (s *Server) SetIgnoreStream(ignore bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ignoreStream = ignore
}

// SetDelay makes chat requests wait d before any answer (a slow provider).
// The wait ends early when the client goes away.
func (s *Server) SetDelay(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.delay = d
}

// SetChunkDelay makes streams wait d before each content chunk.
func (s *Server) SetChunkDelay(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.chunkDelay = d
}

// SetReady sets what /readyz reports.
func (s *Server) SetReady(ready bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.notReady = !ready
}

// Requests returns a copy of the recorded requests, oldest first.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Request, len(s.requests))
	copy(out, s.requests)
	return out
}

// LastRequest returns the latest request to path.
func (s *Server) LastRequest(path string) (Request, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := len(s.requests) - 1; i >= 0; i-- {
		if s.requests[i].Path == path {
			return s.requests[i], true
		}
	}
	return Request{}, false
}

// Calls returns how many requests reached path.
func (s *Server) Calls(path string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[path]
}

// Reset forgets recorded requests and counts, queued faults and the fault.
func (s *Server) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests, s.queue, s.fault = nil, nil, FaultNone
	s.calls = make(map[string]int)
}

// requestKey carries the recorded Request to the handlers.
type requestKey struct{}

func recorded(r *http.Request) Request {
	req, _ := r.Context().Value(requestKey{}).(Request)
	return req
}

// record reads the body (leaving a copy for the handler), stores the request
// and returns it.
func (s *Server) record(r *http.Request) Request {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 10<<20))
	r.Body = io.NopCloser(bytes.NewReader(body))
	req := Request{Method: r.Method, Path: r.URL.Path, Header: r.Header.Clone(), Body: body}
	var obj map[string]any
	if json.Unmarshal(body, &obj) == nil {
		req.JSON = obj
		req.Messages, _ = messagesOf(obj)
		req.Model, _ = obj["model"].(string)
		req.Stream, _ = obj["stream"].(bool)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests = append(s.requests, req)
	s.calls[req.Path]++
	return req
}

// messagesOf reads "messages"; ok is false when it is missing, not a list or
// empty.
func messagesOf(obj map[string]any) ([]Message, bool) {
	list, _ := obj["messages"].([]any)
	if len(list) == 0 {
		return nil, false
	}
	out := make([]Message, 0, len(list))
	for _, item := range list {
		m, _ := item.(map[string]any)
		role, _ := m["role"].(string)
		out = append(out, Message{Role: role, Content: contentText(m["content"])})
	}
	return out, true
}

func contentText(v any) string {
	switch c := v.(type) {
	case string:
		return c
	case []any:
		var b strings.Builder
		for _, p := range c {
			if part, ok := p.(map[string]any); ok {
				t, _ := part["text"].(string)
				b.WriteString(t)
			}
		}
		return b.String()
	}
	return ""
}

// authorize answers 401 the way the gateway does and reports whether the
// request may go on.
func (s *Server) authorize(w http.ResponseWriter, r *http.Request) bool {
	key := ""
	if h := r.Header.Get("Authorization"); h != "" {
		token, ok := strings.CutPrefix(h, "Bearer ")
		if !ok || strings.TrimSpace(token) == "" {
			writeJSON(w, http.StatusUnauthorized, map[string]any{"error": "Missing or invalid Bearer token"})
			return false
		}
		key = strings.TrimSpace(token)
	} else {
		key = r.Header.Get("X-API-Key")
	}
	if key == "" {
		writeJSON(w, http.StatusUnauthorized, map[string]any{"error": "Missing or invalid Bearer token"})
		return false
	}
	if key != s.APIKey() {
		writeJSON(w, http.StatusUnauthorized, map[string]any{"error": "API key verification failed"})
		return false
	}
	return true
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	body, _ := json.Marshal(v)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

func writeError(w http.ResponseWriter, status int, message, typ string) {
	writeJSON(w, status, map[string]any{"error": map[string]any{"message": message, "type": typ}})
}

// faultAnswer writes the HTTP answer of an error fault and reports whether
// it did.
func faultAnswer(w http.ResponseWriter, f Fault) bool {
	switch f {
	case FaultBlocked:
		writeError(w, http.StatusBadRequest, "prompt_injection_detected", "invalid_request_error")
	case FaultPII:
		writeError(w, http.StatusBadRequest, "pii_detected", "invalid_request_error")
	case FaultUnauthorized:
		writeJSON(w, http.StatusUnauthorized, map[string]any{"error": "API key verification failed"})
	case FaultOverloaded:
		writeError(w, http.StatusTooManyRequests, "Too many concurrent requests; retry shortly", "overloaded_error")
	case FaultQuotaExceeded:
		writeError(w, http.StatusTooManyRequests, "Daily token quota exceeded", "overloaded_error")
	case FaultBadGateway:
		writeError(w, http.StatusBadGateway, "provider_error_upstream_unavailable", "error")
	case FaultGatewayTimeout:
		writeError(w, http.StatusGatewayTimeout, "provider_error_timeout", "error")
	case FaultServerError:
		writeError(w, http.StatusInternalServerError, "Internal server error", "server_error")
	case FaultUnavailable:
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = io.WriteString(w, "Service Unavailable")
	case FaultHangUp:
		if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
			conn.Close()
		}
	default:
		return false
	}
	return true
}

// nextFault takes the next queued fault, else the standing one.
func (s *Server) nextFault() Fault {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.queue) > 0 {
		f := s.queue[0]
		s.queue = s.queue[1:]
		return f
	}
	return s.fault
}

// sleep waits d or until ctx ends; it reports whether the wait completed.
func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

var (
	injectionPattern = regexp.MustCompile(`(?i)\b(ignore|disregard)\s+(all\s+)?(the\s+)?(previous|prior|above)\s+instructions\b`)
	pIIPattern       = regexp.MustCompile(`\b\d{3}-\d{2}-\d{4}\b`) // a US social security number
)

// scanMessages imitates the gateway's security scan.
func scanMessages(msgs []Message) string {
	for _, m := range msgs {
		if injectionPattern.MatchString(m.Content) {
			return "prompt_injection_detected"
		}
		if pIIPattern.MatchString(m.Content) {
			return "pii_detected"
		}
	}
	return ""
}

func countWords(s string) int { return len(strings.Fields(s)) }

func (s *Server) usage(msgs []Message, answer string) map[string]any {
	prompt := 0
	for _, m := range msgs {
		prompt += countWords(m.Content)
	}
	completion := countWords(answer)
	total := prompt + completion
	wt := (total + 7) / 8
	s.mu.Lock()
	s.tokensUsed += wt
	s.mu.Unlock()
	return map[string]any{
		"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": total, "waddleai_tokens": wt,
		// Cache details appear on the real gateway; clients must ignore them.
		"waddleai": map[string]any{"cache_hit": false},
	}
}

// chatRequest checks what both chat endpoints check first: the key, a JSON
// body and a non-empty messages list. ok is false when it has answered.
func (s *Server) chatRequest(w http.ResponseWriter, r *http.Request) (req Request, ok bool) {
	if !s.authorize(w, r) {
		return req, false
	}
	req = recorded(r)
	if req.JSON == nil {
		writeError(w, http.StatusBadRequest, "Invalid JSON body", "invalid_request_error")
		return req, false
	}
	if _, ok := messagesOf(req.JSON); !ok {
		writeError(w, http.StatusBadRequest, "no_messages", "invalid_request_error")
		return req, false
	}
	return req, true
}

func (s *Server) handleChat(w http.ResponseWriter, r *http.Request) {
	req, ok := s.chatRequest(w, r)
	if !ok {
		return
	}
	if m, present := req.JSON["model"]; present {
		if _, ok := m.(string); !ok {
			writeError(w, http.StatusBadRequest, "model must be a string", "invalid_request_error")
			return
		}
	}
	fault := s.nextFault()
	s.mu.Lock()
	delay, chunkDelay, ignoreStream, scan, respond, defModel := s.delay, s.chunkDelay, s.ignoreStream, s.scan, s.responder, s.model
	s.mu.Unlock()
	if !sleep(r.Context(), delay) {
		return
	}
	if faultAnswer(w, fault) {
		return
	}
	if scan {
		if reason := scanMessages(req.Messages); reason != "" {
			writeError(w, http.StatusBadRequest, reason, "invalid_request_error")
			return
		}
	}
	answer := respond(req)
	model := req.Model
	if model == "" {
		model = defModel
	}
	now := time.Now().Unix()
	id := fmt.Sprintf("chatcmpl-%d", now)
	if req.Stream && !ignoreStream {
		s.writeStream(w, r, req, streamInfo{id: id, created: now, model: model, answer: answer, fault: fault, chunkDelay: chunkDelay})
		return
	}
	body, _ := json.Marshal(map[string]any{
		"id": id, "object": "chat.completion", "created": now, "model": model,
		"choices": []any{map[string]any{
			"index":         0,
			"message":       map[string]any{"role": "assistant", "content": answer},
			"finish_reason": "stop",
		}},
		"usage": s.usage(req.Messages, answer),
	})
	w.Header().Set("Content-Type", "application/json")
	if fault == FaultTruncated {
		body = body[:len(body)/2]
	}
	_, _ = w.Write(body)
}

type streamInfo struct {
	id         string
	created    int64
	model      string
	answer     string
	fault      Fault
	chunkDelay time.Duration
}

func (s *Server) writeStream(w http.ResponseWriter, r *http.Request, req Request, in streamInfo) {
	flusher, _ := w.(http.Flusher)
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	send := func(v any) {
		b, _ := json.Marshal(v)
		_, _ = fmt.Fprintf(w, "data: %s\n\n", b)
		if flusher != nil {
			flusher.Flush()
		}
	}
	chunk := func(delta map[string]any, finish any) map[string]any {
		return map[string]any{
			"id": in.id, "object": "chat.completion.chunk", "created": in.created, "model": in.model,
			"choices": []any{map[string]any{"index": 0, "delta": delta, "finish_reason": finish}},
		}
	}
	send(chunk(map[string]any{"role": "assistant", "content": ""}, nil))
	pieces := strings.SplitAfter(in.answer, " ")
	if in.answer == "" {
		pieces = nil
	}
	for i, p := range pieces {
		if !sleep(r.Context(), in.chunkDelay) {
			return
		}
		send(chunk(map[string]any{"content": p}, nil))
		if i == 0 && in.fault == FaultMidStreamError {
			send(map[string]any{"error": map[string]any{"message": "provider_error_stream_interrupted", "type": "error"}})
			return
		}
		if i == 0 && in.fault == FaultTruncated {
			return
		}
	}
	if len(pieces) == 0 && in.fault == FaultMidStreamError {
		send(map[string]any{"error": map[string]any{"message": "provider_error_stream_interrupted", "type": "error"}})
		return
	}
	if len(pieces) == 0 && in.fault == FaultTruncated {
		return
	}
	send(chunk(map[string]any{}, "stop"))
	if opts, _ := req.JSON["stream_options"].(map[string]any); opts["include_usage"] == true {
		send(map[string]any{
			"id": in.id, "object": "chat.completion.chunk", "created": in.created, "model": in.model,
			"choices": []any{}, "usage": s.usage(req.Messages, in.answer),
		})
	}
	_, _ = io.WriteString(w, "data: [DONE]\n\n")
	if flusher != nil {
		flusher.Flush()
	}
}

func (s *Server) handleModels(w http.ResponseWriter, r *http.Request) {
	if !s.authorize(w, r) {
		return
	}
	s.mu.Lock()
	model := s.model
	s.mu.Unlock()
	// The entries' shape varies with the provider behind the gateway.
	writeJSON(w, http.StatusOK, map[string]any{"object": "list", "data": []any{
		map[string]any{"id": model, "object": "model", "created": 1700000000, "owned_by": "openai"},
		map[string]any{"id": "claude-3-5-sonnet-latest", "object": "model", "created": 1700000000, "owned_by": "anthropic"},
		map[string]any{"name": "llama3.2:latest", "model": "llama3.2:latest", "size": 2019393189},
	}})
}

func (s *Server) handleMessages(w http.ResponseWriter, r *http.Request) {
	req, ok := s.chatRequest(w, r)
	if !ok {
		return
	}
	s.mu.Lock()
	respond, defModel, scan := s.responder, s.model, s.scan
	s.mu.Unlock()
	if scan {
		if reason := scanMessages(req.Messages); reason != "" {
			writeError(w, http.StatusBadRequest, reason, "invalid_request_error")
			return
		}
	}
	answer := respond(req)
	model := req.Model
	if model == "" {
		model = defModel
	}
	u := s.usage(req.Messages, answer)
	writeJSON(w, http.StatusOK, map[string]any{
		"id": fmt.Sprintf("msg_%d", time.Now().UnixNano()), "type": "message", "role": "assistant", "model": model,
		"content":     []any{map[string]any{"type": "text", "text": answer}},
		"stop_reason": "end_turn",
		"usage":       map[string]any{"input_tokens": u["prompt_tokens"], "output_tokens": u["completion_tokens"]},
	})
}

// The fake's token budget, in WaddleAI tokens.
const (
	dailyLimit   = 100_000
	monthlyLimit = 3_000_000
)

func (s *Server) handleQuota(w http.ResponseWriter, r *http.Request) {
	if !s.authorize(w, r) {
		return
	}
	s.mu.Lock()
	used := s.tokensUsed
	s.mu.Unlock()
	period := func(limit int) map[string]any {
		return map[string]any{"used": used, "limit": limit, "remaining": max(limit-used, 0), "ok": used < limit}
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"quota_ok": used < dailyLimit,
		"daily":    period(dailyLimit),
		"monthly":  period(monthlyLimit),
	})
}

// handleUsage answers /api/usage. The contract names the endpoint but not its
// body; this shape is the fake's own.
func (s *Server) handleUsage(w http.ResponseWriter, r *http.Request) {
	if !s.authorize(w, r) {
		return
	}
	s.mu.Lock()
	used, chats := s.tokensUsed, s.calls["/v1/chat/completions"]
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"waddleai_tokens": used, "requests": chats})
}

func (s *Server) handleHealth(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = io.WriteString(w, "healthy")
}

func (s *Server) handleReady(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	notReady := s.notReady
	s.mu.Unlock()
	if notReady {
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{"status": "not_ready", "checks": map[string]any{"database": "error: connection refused", "redis": "ok"}})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"status": "ready", "checks": map[string]any{"database": "ok", "redis": "ok"}})
}
