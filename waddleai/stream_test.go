package waddleai_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/rookery/rookery/waddleai"
	"github.com/rookery/rookery/waddleai/waddleaitest"
)

// readAll drains a stream and returns its chunks and the final error.
func readAll(s *waddleai.Stream) ([]*waddleai.Chunk, error) {
	var chunks []*waddleai.Chunk
	for {
		c, err := s.Next()
		if err != nil {
			return chunks, err
		}
		chunks = append(chunks, c)
	}
}

func joined(chunks []*waddleai.Chunk) string {
	var b strings.Builder
	for _, c := range chunks {
		b.WriteString(c.Text())
	}
	return b.String()
}

func TestStream(t *testing.T) {
	fake := newFake(t, waddleaitest.WithResponder(waddleaitest.Reply("The quick brown fox")))
	c := newClient(t, fake)
	s, err := c.ChatCompletionStream(t.Context(), hello)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	chunks, err := readAll(s)
	if err != io.EOF {
		t.Fatalf("stream ended with %v, want io.EOF", err)
	}
	if len(chunks) != 6 {
		t.Fatalf("got %d chunks, want role + 4 words + finish", len(chunks))
	}
	if chunks[0].Choices[0].Delta.Role != "assistant" {
		t.Errorf("first delta = %+v, want the role", chunks[0].Choices[0].Delta)
	}
	if got := joined(chunks); got != "The quick brown fox" {
		t.Errorf("text = %q", got)
	}
	if last := chunks[len(chunks)-1]; last.FinishReason() != "stop" {
		t.Errorf("last chunk finish reason = %q", last.FinishReason())
	}
	for _, ch := range chunks[:len(chunks)-1] {
		if ch.FinishReason() != "" {
			t.Errorf("finish reason before the end: %+v", ch)
		}
	}
	if s.Model() != waddleaitest.DefaultModel {
		t.Errorf("model = %q", s.Model())
	}
	if _, ok := s.Usage(); ok {
		t.Error("usage reported although the gateway sent none")
	}
	if _, err := s.Next(); err != io.EOF {
		t.Errorf("Next after the end = %v, want io.EOF again", err)
	}
	req, _ := fake.LastRequest(chatPath)
	if !req.Stream || req.Header.Get("Accept") != "text/event-stream" {
		t.Errorf("request stream=%v accept=%q", req.Stream, req.Header.Get("Accept"))
	}
}

func TestStreamUsageWhenAskedFor(t *testing.T) {
	fake := newFake(t, waddleaitest.WithResponder(waddleaitest.Reply("one two")))
	c := newClient(t, fake)
	req := hello
	req.Extra = map[string]any{"stream_options": map[string]any{"include_usage": true}}
	s, err := c.ChatCompletionStream(t.Context(), req)
	if err != nil {
		t.Fatal(err)
	}
	gen, err := s.Collect()
	if err != nil {
		t.Fatal(err)
	}
	want := waddleai.Usage{PromptTokens: 1, CompletionTokens: 2, TotalTokens: 3, WaddleAITokens: 1}
	if gen.Text != "one two" || gen.FinishReason != "stop" || gen.Usage != want {
		t.Errorf("collected %+v, want usage %+v", gen, want)
	}
}

func TestStreamMidStreamError(t *testing.T) {
	fake := newFake(t, waddleaitest.WithResponder(waddleaitest.Reply("partial answer here")))
	c := newClient(t, fake)
	fake.FailNext(waddleaitest.FaultMidStreamError)
	s, err := c.ChatCompletionStream(t.Context(), hello)
	if err != nil {
		t.Fatalf("the stream should open (status 200): %v", err)
	}
	defer s.Close()
	chunks, err := readAll(s)
	if got := joined(chunks); got != "partial " {
		t.Errorf("delivered %q before the error", got)
	}
	if !errors.Is(err, waddleai.ErrStream) {
		t.Fatalf("err = %v, want ErrStream", err)
	}
	apiErr, ok := errors.AsType[*waddleai.APIError](err)
	if !ok || apiErr.Status != http.StatusOK || apiErr.Type != "error" || apiErr.Message != "provider_error_stream_interrupted" {
		t.Errorf("APIError = %+v", apiErr)
	}
	if _, again := s.Next(); again != err {
		t.Errorf("Next after the error = %v, want the same error", again)
	}
	if n := fake.Calls(chatPath); n != 1 {
		t.Errorf("%d calls: a stream that started must not be retried", n)
	}
}

func TestStreamTruncated(t *testing.T) {
	fake := newFake(t, waddleaitest.WithResponder(waddleaitest.Reply("cut off here")))
	c := newClient(t, fake)
	fake.FailNext(waddleaitest.FaultTruncated)
	s, err := c.ChatCompletionStream(t.Context(), hello)
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.Collect()
	if !errors.Is(err, waddleai.ErrTruncated) || !errors.Is(err, waddleai.ErrStream) {
		t.Errorf("err = %v, want ErrTruncated (an ErrStream)", err)
	}
}

func TestStreamFromGatewayIgnoringStream(t *testing.T) {
	fake := newFake(t, waddleaitest.WithResponder(waddleaitest.Reply("whole answer at once")))
	fake.SetIgnoreStream(true)
	c := newClient(t, fake)
	s, err := c.GenerateStream(t.Context(), "tell me", "")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	chunks, err := readAll(s)
	if err != io.EOF || len(chunks) != 1 {
		t.Fatalf("got %d chunks and %v, want one chunk then io.EOF", len(chunks), err)
	}
	ch := chunks[0]
	if ch.Text() != "whole answer at once" || ch.Choices[0].Delta.Role != "assistant" || ch.FinishReason() != "stop" {
		t.Errorf("chunk = %+v", ch)
	}
	if u, ok := s.Usage(); !ok || u.CompletionTokens != 4 {
		t.Errorf("usage = %+v, %v", u, ok)
	}
}

// TestStreamWireQuirks feeds raw event streams the fake cannot produce.
func TestStreamWireQuirks(t *testing.T) {
	const (
		role   = `data: {"choices":[{"index":0,"delta":{"role":"assistant"},"finish_reason":null}]}` + "\n\n"
		hi     = `data: {"choices":[{"index":0,"delta":{"content":"hi"},"finish_reason":null}]}` + "\n\n"
		finish = `data: {"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}` + "\n\n"
		done   = "data: [DONE]\n\n"
	)
	tests := []struct {
		name    string
		ctype   string
		body    string
		want    string
		wantErr error // nil means io.EOF
		errText string
	}{
		{"standard", "text/event-stream", role + hi + finish + done, "hi", nil, ""},
		{"CRLF line ends", "text/event-stream", strings.ReplaceAll(role+hi+finish+done, "\n", "\r\n"), "hi", nil, ""},
		{"no space after colon", "text/event-stream", strings.ReplaceAll(role+hi+finish+done, "data: ", "data:"), "hi", nil, ""},
		{"comments, event names, ids", "text/event-stream", ": keep-alive\n\nevent: message\nid: 7\nretry: 100\n" + role + ": ping\n\n" + hi + finish + done, "hi", nil, ""},
		{"data split over lines", "text/event-stream", "data: {\"choices\":[{\"delta\":\ndata: {\"content\":\"hi\"}}]}\n\n" + finish + done, "hi", nil, ""},
		{"no content type", "", role + hi + finish + done, "hi", nil, ""},
		{"finish but no [DONE]", "text/event-stream", role + hi + finish, "hi", nil, ""},
		{"last event without blank line", "text/event-stream", role + hi + strings.TrimSuffix(finish, "\n\n"), "hi", nil, ""},
		{"nothing after [DONE] matters", "text/event-stream", role + hi + finish + done + "data: {garbage\n\n", "hi", nil, ""},
		{"no [DONE], no finish", "text/event-stream", role + hi, "hi", waddleai.ErrTruncated, ""},
		{"empty body", "text/event-stream", "", "", waddleai.ErrTruncated, "no event received"},
		{"html instead of events", "text/html", "<html><body>login</body></html>", "", waddleai.ErrTruncated, `"text/html"`},
		{"error with a string", "text/event-stream", role + `data: {"error":"upstream went away"}` + "\n\n", "", waddleai.ErrStream, "upstream went away"},
		{"event not JSON", "text/event-stream", role + "data: {oops\n\n", "", waddleai.ErrStream, "not JSON"},
		{"key in an error event is removed", "text/event-stream", `data: {"error":{"message":"bad key ` + testKey + `","type":"auth"}}` + "\n\n", "", waddleai.ErrStream, "***SENSITIVE***"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := handlerClient(t, func(w http.ResponseWriter, r *http.Request) {
				if tt.ctype != "" {
					w.Header().Set("Content-Type", tt.ctype)
				} else {
					w.Header()["Content-Type"] = nil
				}
				_, _ = io.WriteString(w, tt.body)
			})
			s, err := c.ChatCompletionStream(t.Context(), hello)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			chunks, err := readAll(s)
			if got := joined(chunks); got != tt.want {
				t.Errorf("text = %q, want %q", got, tt.want)
			}
			switch {
			case tt.wantErr == nil && err != io.EOF:
				t.Errorf("err = %v, want io.EOF", err)
			case tt.wantErr != nil && !errors.Is(err, tt.wantErr):
				t.Errorf("err = %v, want %v", err, tt.wantErr)
			case tt.errText != "" && !strings.Contains(err.Error(), tt.errText):
				t.Errorf("err %q does not mention %q", err, tt.errText)
			}
			if err != nil {
				assertNoSecret(t, testKey, err.Error())
			}
		})
	}
}

func TestStreamOpenErrors(t *testing.T) {
	fake := newFake(t)
	c := newClient(t, fake, waddleai.WithRetries(0))
	fake.FailNext(waddleaitest.FaultBlocked)
	if _, err := c.ChatCompletionStream(t.Context(), hello); !errors.Is(err, waddleai.ErrBlocked) {
		t.Errorf("blocked stream: %v", err)
	}
	fake.FailNext(waddleaitest.FaultOverloaded)
	if _, err := c.ChatCompletionStream(t.Context(), hello); !errors.Is(err, waddleai.ErrOverloaded) {
		t.Errorf("overloaded stream: %v", err)
	}
}

func TestStreamCloseAbortsNext(t *testing.T) {
	fake := newFake(t, waddleaitest.WithResponder(waddleaitest.Reply("a b c")))
	fake.SetChunkDelay(time.Minute) // the first content chunk never comes
	c := newClient(t, fake)
	s, err := c.ChatCompletionStream(t.Context(), hello)
	if err != nil {
		t.Fatal(err)
	}
	if ch, err := s.Next(); err != nil || ch.Choices[0].Delta.Role != "assistant" {
		t.Fatalf("first chunk: %v, %v", ch, err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := s.Next()
		done <- err
	}()
	s.Close()
	select {
	case err := <-done:
		if !errors.Is(err, waddleai.ErrClosed) {
			t.Errorf("Next after Close = %v, want ErrClosed", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not abort a waiting Next")
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestStreamCallerCancel(t *testing.T) {
	fake := newFake(t, waddleaitest.WithResponder(waddleaitest.Reply("a b c")))
	fake.SetChunkDelay(time.Minute)
	c := newClient(t, fake)
	ctx, cancel := context.WithCancel(t.Context())
	s, err := c.ChatCompletionStream(ctx, hello)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Next(); err != nil {
		t.Fatal(err)
	}
	cancel()
	_, err = s.Next()
	if !errors.Is(err, context.Canceled) || errors.Is(err, waddleai.ErrTimeout) {
		t.Errorf("err = %v, want context.Canceled and not ErrTimeout", err)
	}
}

func TestStreamLongEvents(t *testing.T) {
	big := strings.Repeat("x", 100_000) // far beyond the reader's buffer
	event := func(content string) string {
		return `data: {"choices":[{"index":0,"delta":{"content":"` + content + `"},"finish_reason":null}]}` + "\n\n"
	}
	finish := `data: {"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}` + "\n\ndata: [DONE]\n\n"

	c := handlerClient(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		_, _ = io.WriteString(w, event(big)+event("!")+finish)
	})
	s, err := c.ChatCompletionStream(t.Context(), hello)
	if err != nil {
		t.Fatal(err)
	}
	gen, err := s.Collect()
	if err != nil || gen.Text != big+"!" {
		t.Fatalf("long event: %d bytes, %v", len(gen.Text), err)
	}

	huge := strings.Repeat("y", 5<<20) // beyond the 4 MiB bound on one event
	c = handlerClient(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		_, _ = io.WriteString(w, event(huge)+finish)
	})
	s, err = c.ChatCompletionStream(t.Context(), hello)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Collect(); !errors.Is(err, waddleai.ErrStream) || !strings.Contains(err.Error(), "too large") {
		t.Errorf("huge event: err = %v, want ErrStream 'too large'", err)
	}
}

func TestStreamConnectionDropped(t *testing.T) {
	c := handlerClient(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		_, _ = io.WriteString(w, `data: {"choices":[{"index":0,"delta":{"content":"hal"},"finish_reason":null}]}`+"\n\n")
		http.NewResponseController(w).Flush()
		// Drop the connection in the middle of the chunked body.
		if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
			conn.Close()
		}
	})
	s, err := c.ChatCompletionStream(t.Context(), hello)
	if err != nil {
		t.Fatal(err)
	}
	gen, err := s.Collect()
	if !errors.Is(err, waddleai.ErrTruncated) {
		t.Errorf("collected %+v, err = %v; want ErrTruncated", gen, err)
	}
}
