package waddleai_test

import (
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rookery/rookery/waddleai"
)

const cannedChat = `{"id":"chatcmpl-1700000000","object":"chat.completion","created":1700000000,"model":"gpt-4o-mini",` +
	`"choices":[{"index":0,"message":{"role":"assistant","content":"Penguins are flightless birds that live mostly in the Southern Hemisphere."},"finish_reason":"stop"}],` +
	`"usage":{"prompt_tokens":12,"completion_tokens":11,"total_tokens":23,"waddleai_tokens":3,"waddleai":{"cache_hit":false}}}`

// cannedStream is an event stream of n content chunks.
func cannedStream(n int) string {
	var b strings.Builder
	b.WriteString(`data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}` + "\n\n")
	for i := range n {
		fmt.Fprintf(&b, `data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"word%d "},"finish_reason":null}]}`+"\n\n", i)
	}
	b.WriteString(`data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}` + "\n\n")
	b.WriteString("data: [DONE]\n\n")
	return b.String()
}

func inMemoryClient(tb testing.TB, ctype, body string) *waddleai.Client {
	tb.Helper()
	c, err := waddleai.New("http://waddleai:8080", testKey, waddleai.WithHTTPClient(&http.Client{
		Transport: cannedTransport{status: 200, ctype: ctype, body: []byte(body)},
	}))
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

var benchRequest = waddleai.ChatRequest{Messages: []waddleai.Message{
	{Role: "system", Content: "You are a helpful assistant."},
	{Role: "user", Content: "Tell me one fact about penguins."},
}}

// median runs f n times and returns the median duration.
func median(n int, f func()) time.Duration {
	ds := make([]time.Duration, n)
	for i := range ds {
		start := time.Now()
		f()
		ds[i] = time.Since(start)
	}
	slices.Sort(ds)
	return ds[n/2]
}

// BenchmarkChatCompletionInMemory is the client's own cost per call: encode,
// headers, decode, with a transport that answers from memory.
func BenchmarkChatCompletionInMemory(b *testing.B) {
	c := inMemoryClient(b, "application/json", cannedChat)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.ChatCompletion(b.Context(), benchRequest); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkChatCompletionLoopback adds the HTTP stack and the fake gateway on
// the loopback interface.
func BenchmarkChatCompletionLoopback(b *testing.B) {
	fake := newFake(b)
	c := newClient(b, fake)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.ChatCompletion(b.Context(), benchRequest); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkStreamInMemory reads a 50-chunk stream; ns/chunk is the parsing
// cost per event.
func BenchmarkStreamInMemory(b *testing.B) {
	const chunks = 50
	c := inMemoryClient(b, "text/event-stream", cannedStream(chunks))
	b.ReportAllocs()
	for b.Loop() {
		s, err := c.ChatCompletionStream(b.Context(), benchRequest)
		if err != nil {
			b.Fatal(err)
		}
		for {
			_, err := s.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
		}
		s.Close()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(chunks+2), "ns/chunk")
}

// BenchmarkAnalyzeInMemory includes building the instruction and checking
// the model's JSON.
func BenchmarkAnalyzeInMemory(b *testing.B) {
	body := strings.Replace(cannedChat, `Penguins are flightless birds that live mostly in the Southern Hemisphere.`,
		"```json\\n{\\\"entities\\\":[{\\\"text\\\":\\\"Ada\\\",\\\"type\\\":\\\"PERSON\\\"},{\\\"text\\\":\\\"London\\\",\\\"type\\\":\\\"LOCATION\\\"}]}\\n```", 1)
	c := inMemoryClient(b, "application/json", body)
	b.ReportAllocs()
	for b.Loop() {
		a, err := c.AnalyzeText(b.Context(), "Ada met Charles in London.", "entities")
		if err != nil || len(a.Entities) != 2 {
			b.Fatal(a, err)
		}
	}
}

// TestClientOverhead reports the median cost of one call, in memory and
// against the fake over loopback, and fails if the client's own part grows
// absurd.
func TestClientOverhead(t *testing.T) {
	mem := inMemoryClient(t, "application/json", cannedChat)
	fake := newFake(t)
	loop := newClient(t, fake)
	call := func(c *waddleai.Client) func() {
		return func() {
			if _, err := c.ChatCompletion(t.Context(), benchRequest); err != nil {
				t.Fatal(err)
			}
		}
	}
	call(mem)()
	call(loop)() // warm the connection
	memMedian := median(500, call(mem))
	loopMedian := median(200, call(loop))
	t.Logf("client overhead per call (median): in memory %s, loopback with fake gateway %s", memMedian, loopMedian)
	if memMedian > 5*time.Millisecond {
		t.Errorf("median in-memory call took %s; the client's own overhead should be far below a millisecond", memMedian)
	}
}
