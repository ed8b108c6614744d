package waddleai_test

import (
	"errors"
	"testing"

	"github.com/rookery/rookery/waddleai"
	"github.com/rookery/rookery/waddleai/waddleaitest"
)

func TestGenerateResponse(t *testing.T) {
	fake := newFake(t, waddleaitest.WithResponder(waddleaitest.Reply("Waddle on.")))
	c := newClient(t, fake)

	t.Run("with context", func(t *testing.T) {
		gen, err := c.GenerateResponse(t.Context(), "Write a motto", "You write penguin mottos.")
		if err != nil {
			t.Fatal(err)
		}
		if gen.Text != "Waddle on." || gen.FinishReason != "stop" || gen.Model != waddleaitest.DefaultModel || gen.Usage.CompletionTokens != 2 {
			t.Errorf("generation = %+v", gen)
		}
		req, _ := fake.LastRequest(chatPath)
		want := []waddleaitest.Message{{Role: "system", Content: "You write penguin mottos."}, {Role: "user", Content: "Write a motto"}}
		if len(req.Messages) != 2 || req.Messages[0] != want[0] || req.Messages[1] != want[1] {
			t.Errorf("messages = %+v, want %+v", req.Messages, want)
		}
	})
	t.Run("without context", func(t *testing.T) {
		if _, err := c.GenerateResponse(t.Context(), "Write a motto", "  "); err != nil {
			t.Fatal(err)
		}
		req, _ := fake.LastRequest(chatPath)
		if len(req.Messages) != 1 || req.Messages[0].Role != "user" || req.System() != "" {
			t.Errorf("messages = %+v, want the user message alone", req.Messages)
		}
	})
	t.Run("empty prompt", func(t *testing.T) {
		before := fake.Calls(chatPath)
		if _, err := c.GenerateResponse(t.Context(), "", "ctx"); !errors.Is(err, waddleai.ErrInvalidInput) {
			t.Errorf("err = %v", err)
		}
		if _, err := c.GenerateStream(t.Context(), " ", "ctx"); !errors.Is(err, waddleai.ErrInvalidInput) {
			t.Errorf("stream err = %v", err)
		}
		if fake.Calls(chatPath) != before {
			t.Error("a request was sent for an empty prompt")
		}
	})
}

func TestGenerateStream(t *testing.T) {
	fake := newFake(t, waddleaitest.WithResponder(waddleaitest.Reply("Ice is nice")))
	c := newClient(t, fake)
	s, err := c.GenerateStream(t.Context(), "Say something", "Be cold.")
	if err != nil {
		t.Fatal(err)
	}
	gen, err := s.Collect()
	if err != nil {
		t.Fatal(err)
	}
	if gen.Text != "Ice is nice" || gen.FinishReason != "stop" {
		t.Errorf("generation = %+v", gen)
	}
	req, _ := fake.LastRequest(chatPath)
	if !req.Stream || req.System() != "Be cold." || req.LastUser() != "Say something" {
		t.Errorf("request stream=%v messages=%+v", req.Stream, req.Messages)
	}
}
