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

func TestChatCompletion(t *testing.T) {
	fake := newFake(t, waddleaitest.WithResponder(waddleaitest.Reply("Hi there, penguin.")))
	c := newClient(t, fake, waddleai.WithModel("default-model"))
	resp, err := c.ChatCompletion(t.Context(), waddleai.ChatRequest{
		Messages:    []waddleai.Message{{Role: "system", Content: "Be brief."}, {Role: "user", Content: "Say hi"}},
		Temperature: new(0.0),
		MaxTokens:   64,
		Extra:       map[string]any{"top_p": 0.5, "user": "u-1", "stop": []string{"\n\n"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if resp.Content() != "Hi there, penguin." || resp.Model != "default-model" || resp.Object != "chat.completion" ||
		!strings.HasPrefix(resp.ID, "chatcmpl-") || resp.Choices[0].FinishReason != "stop" || resp.Choices[0].Message.Role != "assistant" {
		t.Errorf("response = %+v", resp)
	}
	// 3 + 2 prompt words, 3 answer words; the fake bills (total+7)/8.
	if want := (waddleai.Usage{PromptTokens: 4, CompletionTokens: 3, TotalTokens: 7, WaddleAITokens: 1}); resp.Usage != want {
		t.Errorf("usage = %+v, want %+v", resp.Usage, want)
	}

	req, _ := fake.LastRequest(chatPath)
	body := req.JSON
	if body["model"] != "default-model" || body["temperature"] != 0.0 || body["max_tokens"] != 64.0 ||
		body["top_p"] != 0.5 || body["user"] != "u-1" || body["stream"] != nil {
		t.Errorf("request body = %v", body)
	}
	if stop, _ := body["stop"].([]any); len(stop) != 1 || stop[0] != "\n\n" {
		t.Errorf("stop = %v", body["stop"])
	}
	if len(req.Messages) != 2 || req.Messages[0] != (waddleaitest.Message{Role: "system", Content: "Be brief."}) {
		t.Errorf("messages = %+v", req.Messages)
	}
}

func TestChatCompletionModelChoice(t *testing.T) {
	fake := newFake(t)
	plain := newClient(t, fake)
	if _, err := plain.ChatCompletion(t.Context(), hello); err != nil {
		t.Fatal(err)
	}
	if req, _ := fake.LastRequest(chatPath); req.JSON["model"] != nil || req.JSON["temperature"] != nil || req.JSON["max_tokens"] != nil {
		t.Errorf("unset fields were sent: %v", req.JSON)
	}
	withDefault := newClient(t, fake, waddleai.WithModel("claude-3-5-sonnet-latest"))
	req := hello
	req.Model = "gpt-4o"
	if _, err := withDefault.ChatCompletion(t.Context(), req); err != nil {
		t.Fatal(err)
	}
	if r, _ := fake.LastRequest(chatPath); r.Model != "gpt-4o" {
		t.Errorf("request model = %q, want the request's own", r.Model)
	}
}

func TestChatCompletionRejectsBadRequestsWithoutSending(t *testing.T) {
	fake := newFake(t)
	c := newClient(t, fake)
	user := []waddleai.Message{{Role: "user", Content: "x"}}
	tests := []struct {
		name string
		req  waddleai.ChatRequest
		want string
	}{
		{"no messages", waddleai.ChatRequest{}, "messages must not be empty"},
		{"no role", waddleai.ChatRequest{Messages: []waddleai.Message{{Content: "x"}}}, "has no role"},
		{"temperature too high", waddleai.ChatRequest{Messages: user, Temperature: new(2.5)}, "temperature"},
		{"temperature negative", waddleai.ChatRequest{Messages: user, Temperature: new(-0.1)}, "temperature"},
		{"max tokens negative", waddleai.ChatRequest{Messages: user, MaxTokens: -1}, "max_tokens"},
		{"extra repeats model", waddleai.ChatRequest{Messages: user, Extra: map[string]any{"model": "x"}}, `"model"`},
		{"extra sets stream", waddleai.ChatRequest{Messages: user, Extra: map[string]any{"stream": true}}, `"stream"`},
		{"extra not JSON", waddleai.ChatRequest{Messages: user, Extra: map[string]any{"f": func() {}}}, "cannot be encoded"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := c.ChatCompletion(t.Context(), tt.req)
			if !errors.Is(err, waddleai.ErrInvalidInput) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want ErrInvalidInput mentioning %q", err, tt.want)
			}
			if _, err := c.ChatCompletionStream(t.Context(), tt.req); !errors.Is(err, waddleai.ErrInvalidInput) {
				t.Errorf("stream: err = %v, want ErrInvalidInput", err)
			}
		})
	}
	if n := fake.Calls(chatPath); n != 0 {
		t.Errorf("%d requests were sent for invalid input", n)
	}
}

func TestChatCompletionToleratesShapes(t *testing.T) {
	tests := []struct {
		name, body, want string
		wantUsage        waddleai.Usage
	}{
		{"unknown fields and usage.waddleai",
			`{"id":"c","object":"chat.completion","created":1,"model":"m","system_fingerprint":"x","choices":[{"index":0,"message":{"role":"assistant","content":"ok","refusal":null},"finish_reason":"stop","logprobs":null}],"usage":{"prompt_tokens":1,"completion_tokens":2,"total_tokens":3,"waddleai_tokens":4,"waddleai":{"cached":true}}}`,
			"ok", waddleai.Usage{PromptTokens: 1, CompletionTokens: 2, TotalTokens: 3, WaddleAITokens: 4}},
		{"content as parts",
			`{"choices":[{"message":{"role":"assistant","content":[{"type":"text","text":"a"},{"type":"image_url"},{"type":"text","text":"b"}]}}]}`,
			"ab", waddleai.Usage{}},
		{"null content", `{"choices":[{"message":{"role":"assistant","content":null}}]}`, "", waddleai.Usage{}},
		{"no usage", `{"choices":[{"message":{"role":"assistant","content":"x"}}]}`, "x", waddleai.Usage{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := handlerClient(t, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				_, _ = io.WriteString(w, tt.body)
			})
			resp, err := c.ChatCompletion(t.Context(), hello)
			if err != nil {
				t.Fatal(err)
			}
			if resp.Content() != tt.want || resp.Usage != tt.wantUsage {
				t.Errorf("content %q usage %+v, want %q %+v", resp.Content(), resp.Usage, tt.want, tt.wantUsage)
			}
		})
	}
}

func TestChatCompletionRejectsOddAnswers(t *testing.T) {
	tests := []struct{ name, body, want string }{
		{"not JSON", `<html>proxy login</html>`, "not chat completion JSON"},
		{"no choices", `{"id":"x","choices":[]}`, "no choices"},
		{"error in a 200", `{"error":{"message":"weird","type":"server_error"}}`, "weird"},
		{"content of a wrong type", `{"choices":[{"message":{"role":"assistant","content":42}}]}`, "not chat completion JSON"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := handlerClient(t, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				_, _ = io.WriteString(w, tt.body)
			})
			_, err := c.ChatCompletion(t.Context(), hello)
			if !errors.Is(err, waddleai.ErrUnexpected) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want ErrUnexpected mentioning %q", err, tt.want)
			}
		})
	}
}
