package killkrill

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is a goroutine-safe fallback writer for tests.
type syncBuffer struct {
	mu      sync.Mutex
	b       bytes.Buffer
	changed chan struct{} // closed and replaced on every write
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.changed != nil {
		close(s.changed)
	}
	s.changed = make(chan struct{})
	return s.b.Write(p)
}

// waitLines waits until the buffer holds n lines or ctx ends.
func (s *syncBuffer) waitLines(ctx context.Context, n int) error {
	for {
		s.mu.Lock()
		if s.changed == nil {
			s.changed = make(chan struct{})
		}
		got, ch := bytes.Count(s.b.Bytes(), []byte("\n")), s.changed
		s.mu.Unlock()
		if got >= n {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("waiting for %d lines, have %d: %w", n, got, ctx.Err())
		}
	}
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func (s *syncBuffer) Reset() {
	s.mu.Lock()
	s.b.Reset()
	s.mu.Unlock()
}

// docs parses the buffer as JSON lines, failing the test on any line that
// is not one JSON object.
func (s *syncBuffer) docs(t *testing.T) []map[string]any {
	t.Helper()
	var out []map[string]any
	sc := bufio.NewScanner(strings.NewReader(s.String()))
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		var d map[string]any
		if err := json.Unmarshal(sc.Bytes(), &d); err != nil {
			t.Fatalf("fallback line is not JSON: %v\n%s", err, sc.Text())
		}
		out = append(out, d)
	}
	return out
}

func ctxT(t *testing.T, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func newShipper(t *testing.T, cfg Config) *Shipper {
	t.Helper()
	s, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Shutdown(context.Background()); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	})
	return s
}

// localShipper writes everything to a buffer: the simplest way to see the
// documents the handler produces.
func localShipper(t *testing.T) (*Shipper, *syncBuffer) {
	t.Helper()
	buf := &syncBuffer{}
	s := newShipper(t, Config{ServiceName: "svc", Fallback: buf, FlushInterval: time.Hour})
	return s, buf
}

// oneDoc runs log and returns the single document it produced.
func oneDoc(t *testing.T, s *Shipper, buf *syncBuffer, log func()) (map[string]any, string) {
	t.Helper()
	buf.Reset()
	log()
	if err := s.Flush(ctxT(t, 5*time.Second)); err != nil {
		t.Fatalf("Flush: %v", err)
	}
	docs := buf.docs(t)
	if len(docs) != 1 {
		t.Fatalf("got %d documents, want 1:\n%s", len(docs), buf.String())
	}
	return docs[0], buf.String()
}

func sprintf(format string, v any) string { return fmt.Sprintf(format, v) }

func marshal(v any) ([]byte, error) { return json.Marshal(v) }

func nan() float64 { return math.NaN() }
func inf() float64 { return math.Inf(1) }
