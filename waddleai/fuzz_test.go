package waddleai_test

import (
	"errors"
	"io"
	"testing"

	"github.com/rookery/rookery/waddleai"
)

// FuzzStream feeds arbitrary bodies to the stream reader: it must end with
// io.EOF or a package error, never panic or loop.
func FuzzStream(f *testing.F) {
	f.Add(cannedStream(2))
	f.Add("data: {\"error\":{\"message\":\"x\"}}\n\n")
	f.Add("data: [DONE]\r\n\r\n")
	f.Add(":\n\ndata:\ndata\n\n")
	f.Fuzz(func(t *testing.T, body string) {
		c := inMemoryClient(t, "text/event-stream", body)
		s, err := c.ChatCompletionStream(t.Context(), hello)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		for range len(body) + 2 {
			_, err := s.Next()
			if err == io.EOF {
				return
			}
			if err != nil {
				if !errors.Is(err, waddleai.ErrStream) {
					t.Fatalf("error %v is not ErrStream", err)
				}
				return
			}
		}
		t.Fatal("the stream never ended")
	})
}

// FuzzAnalyze feeds arbitrary model answers to every task: the result must
// be a checked analysis or ErrBadModelOutput.
func FuzzAnalyze(f *testing.F) {
	f.Add(`{"label":"positive","score":0.5}`)
	f.Add("```json\n{\"entities\":[{\"text\":\"a\",\"type\":\"b\"}]}\n```")
	f.Add(`{"language":"en","confidence":1}{`)
	f.Add(`}{`)
	f.Fuzz(func(t *testing.T, answer string) {
		for _, task := range waddleai.Tasks() {
			resp := `{"choices":[{"message":{"role":"assistant","content":` + jsonString(answer) + `}}]}`
			c := inMemoryClient(t, "application/json", resp)
			a, err := c.AnalyzeText(t.Context(), "text", string(task))
			if err != nil {
				if !errors.Is(err, waddleai.ErrBadModelOutput) {
					t.Fatalf("%s: error %v is not ErrBadModelOutput", task, err)
				}
				continue
			}
			if a.Task != task || len(a.Raw) == 0 {
				t.Fatalf("%s: analysis %+v", task, a)
			}
		}
	})
}
