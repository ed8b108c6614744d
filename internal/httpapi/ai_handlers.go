package httpapi

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/rookery/rookery/internal/auth"
	"github.com/rookery/rookery/waddleai"
)

// MaxAIInput bounds the text of an analysis and the prompt plus context
// of a generation, in characters.
const MaxAIInput = 32000

// aiFeatures are the licence features of the standards' AI table.
var aiFeatures = []string{"ai_analysis", "ai_generation", "ai_training", "ai_custom_models"}

type aiMetrics struct {
	calls    *prometheus.CounterVec
	duration *prometheus.HistogramVec
	tokens   *prometheus.CounterVec
}

func newAIMetrics(reg prometheus.Registerer) *aiMetrics {
	m := &aiMetrics{
		calls: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ai_requests_total", Help: "Calls to WaddleAI by operation and outcome."},
			[]string{"operation", "outcome"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "ai_request_duration_seconds", Help: "Duration of WaddleAI calls in seconds.",
			Buckets: []float64{.05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300}}, []string{"operation"}),
		tokens: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ai_tokens_total", Help: "Tokens used through WaddleAI."},
			[]string{"operation", "kind"}),
	}
	reg.MustRegister(m.calls, m.duration, m.tokens)
	return m
}

func (s *Server) aiRoutes() {
	s.mux.Handle("GET /api/v1/ai/features", s.require(auth.Viewer, s.aiFeatureMap))
	s.mux.Handle("POST /api/v1/ai/analyze", s.require(auth.Viewer, s.aiEnabled(s.feature("ai_analysis", s.aiAnalyze))))
	s.mux.Handle("POST /api/v1/ai/generate", s.require(auth.Viewer, s.aiEnabled(s.feature("ai_generation", s.aiGenerate))))
}

// aiFeatureMap is the standards' check_ai_features.
func (s *Server) aiFeatureMap(w http.ResponseWriter, r *http.Request) {
	on := s.keys.WaddleAI.FeaturesEnabled.Get()
	out := make(map[string]bool, len(aiFeatures))
	for _, f := range aiFeatures {
		out[f] = on && s.license.HasFeature(f)
	}
	writeJSON(w, http.StatusOK, aiFeaturesAnswer{Features: out, AIFeaturesEnabled: on})
}

func (s *Server) aiEnabled(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if s.ai == nil || !s.keys.WaddleAI.FeaturesEnabled.Get() {
			writeError(w, http.StatusForbidden, "AI features are switched off (ai_features_enabled is false)",
				map[string]any{"code": "ai_features_disabled"})
			return
		}
		h(w, r)
	}
}

// aiError maps the client's typed errors to statuses; messages never carry
// the API key (the client redacts it) and name what to fix.
func (s *Server) aiError(w http.ResponseWriter, r *http.Request, err error) {
	status, msg := http.StatusBadGateway, "the AI gateway failed; try again later"
	switch {
	case errors.Is(err, waddleai.ErrInvalidInput):
		status, msg = http.StatusBadRequest, err.Error()
	case errors.Is(err, waddleai.ErrBlocked):
		reason, _ := waddleai.BlockReason(err)
		writeError(w, http.StatusUnprocessableEntity, "the AI gateway refused the input: "+reason, map[string]any{"reason": reason})
		s.logger(r).Warn("AI request blocked by the gateway", "reason", reason)
		return
	case errors.Is(err, waddleai.ErrUnauthorized):
		msg = "the AI gateway refused rookery's API key; an administrator must check waddleai_api_key"
	case errors.Is(err, waddleai.ErrOverloaded):
		status, msg = http.StatusTooManyRequests, "the AI gateway is busy or its token budget is spent; retry shortly"
		w.Header().Set("Retry-After", "5")
	case errors.Is(err, waddleai.ErrUnavailable):
		status, msg = http.StatusServiceUnavailable, "the AI gateway cannot be reached; check waddleai_url or retry later"
	case errors.Is(err, waddleai.ErrTimeout):
		status, msg = http.StatusGatewayTimeout, "the AI gateway did not answer within waddleai_timeout"
	case errors.Is(err, waddleai.ErrBadModelOutput):
		msg = "the model's answer was not the requested JSON; try again"
	case errors.Is(err, waddleai.ErrUpstream):
		msg = "the AI provider behind the gateway failed; try again later"
	}
	s.logger(r).Warn("AI request failed", "status", status, "error", err.Error())
	writeError(w, status, msg, nil)
}

func checkLength(name, v string, required bool) error {
	if required && v == "" {
		return errorf(http.StatusBadRequest, "%s is required", name)
	}
	if !utf8.ValidString(v) {
		return errorf(http.StatusBadRequest, "%s must be UTF-8 text", name)
	}
	if n := utf8.RuneCountInString(v); n > MaxAIInput {
		return errorf(http.StatusRequestEntityTooLarge, "%s is %d characters; the limit is %d", name, n, MaxAIInput)
	}
	return nil
}

// observe logs and counts one AI call.
func (s *Server) observeAI(r *http.Request, op, task, model string, u waddleai.Usage, start time.Time, err error) {
	outcome := "success"
	if err != nil {
		outcome = "failure"
	}
	elapsed := time.Since(start)
	s.ai.metrics.calls.WithLabelValues(op, outcome).Inc()
	s.ai.metrics.duration.WithLabelValues(op).Observe(elapsed.Seconds())
	s.ai.metrics.tokens.WithLabelValues(op, "prompt").Add(float64(u.PromptTokens))
	s.ai.metrics.tokens.WithLabelValues(op, "completion").Add(float64(u.CompletionTokens))
	p, _ := principal(r.Context())
	s.logger(r).Info("AI call", "event.action", "ai_"+op, "event.outcome", outcome, "ai.task", task, "ai.model", model,
		"ai.tokens.prompt", u.PromptTokens, "ai.tokens.completion", u.CompletionTokens, "ai.tokens.waddleai", u.WaddleAITokens,
		"duration_ms", float64(elapsed.Microseconds())/1000, "user.email", p.Email)
}

func (s *Server) aiAnalyze(w http.ResponseWriter, r *http.Request) {
	var body aiAnalyzeRequest
	if err := decode(w, r, &body); err != nil {
		s.fail(w, r, err)
		return
	}
	if err := checkLength("text", body.Text, true); err != nil {
		s.fail(w, r, err)
		return
	}
	if body.Task == "" {
		body.Task = "sentiment"
	}
	start := time.Now()
	a, err := s.ai.client.AnalyzeText(r.Context(), body.Text, body.Task)
	var u waddleai.Usage
	model := ""
	if a != nil {
		u, model = a.Usage, a.Model
	}
	s.observeAI(r, "analyze", body.Task, model, u, start, err)
	if err != nil {
		s.aiError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, aiAnalyzeAnswer{Response: a, Usage: a.Usage, Model: a.Model})
}

func (s *Server) aiGenerate(w http.ResponseWriter, r *http.Request) {
	var body aiGenerateRequest
	if err := decode(w, r, &body); err != nil {
		s.fail(w, r, err)
		return
	}
	ctxText := ""
	if body.Context != nil {
		ctxText = *body.Context
	}
	if err := checkLength("prompt", body.Prompt, true); err != nil {
		s.fail(w, r, err)
		return
	}
	if err := checkLength("context", ctxText, false); err != nil {
		s.fail(w, r, err)
		return
	}
	stream, _ := strconv.ParseBool(r.URL.Query().Get("stream"))
	start := time.Now()
	if !stream {
		g, err := s.ai.client.GenerateResponse(r.Context(), body.Prompt, ctxText)
		var u waddleai.Usage
		model := ""
		if g != nil {
			u, model = g.Usage, g.Model
		}
		s.observeAI(r, "generate", "", model, u, start, err)
		if err != nil {
			s.aiError(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, aiGenerateAnswer{Response: g.Text, Usage: g.Usage, Model: g.Model, FinishReason: g.FinishReason})
		return
	}
	st, err := s.ai.client.GenerateStream(r.Context(), body.Prompt, ctxText)
	if err != nil {
		s.observeAI(r, "generate", "stream", "", waddleai.Usage{}, start, err)
		s.aiError(w, r, err)
		return
	}
	defer st.Close()
	s.streamSSE(w, r, st, start)
}

// The events of a streamed generation.
type (
	streamDelta struct {
		Text string `json:"text"`
	}
	streamDone struct {
		FinishReason string         `json:"finish_reason"`
		Usage        waddleai.Usage `json:"usage"`
		Model        string         `json:"model"`
	}
	streamError struct {
		Error string `json:"error"`
	}
)

// streamSSE relays the gateway's stream to the browser as Server-Sent
// Events: "delta" events with text, then "done" with usage, or "error".
func (s *Server) streamSSE(w http.ResponseWriter, r *http.Request, st *waddleai.Stream, start time.Time) {
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	send := func(event string, v any) {
		b, _ := json.Marshal(v)
		_, _ = io.WriteString(w, "event: "+event+"\ndata: "+string(b)+"\n\n")
		_ = rc.Flush()
	}
	finish := ""
	for {
		c, err := st.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			u, _ := st.Usage()
			s.observeAI(r, "generate", "stream", st.Model(), u, start, err)
			msg := "the AI answer was interrupted; try again"
			if errors.Is(err, waddleai.ErrTimeout) {
				msg = "the AI gateway stopped answering within waddleai_timeout"
			}
			send("error", streamError{Error: msg})
			return
		}
		if t := c.Text(); t != "" {
			send("delta", streamDelta{Text: t})
		}
		if f := c.FinishReason(); f != "" {
			finish = f
		}
	}
	u, _ := st.Usage()
	s.observeAI(r, "generate", "stream", st.Model(), u, start, nil)
	send("done", streamDone{FinishReason: finish, Usage: u, Model: st.Model()})
}
