package waddleai

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// maxEventBytes bounds one server-sent event.
const maxEventBytes = 4 << 20

// Chunk is one chat.completion.chunk of a stream.
type Chunk struct {
	ID      string        `json:"id"`
	Object  string        `json:"object"`
	Created int64         `json:"created"`
	Model   string        `json:"model"`
	Choices []ChunkChoice `json:"choices"`
	Usage   *Usage        `json:"usage,omitempty"`
}

// ChunkChoice is the part of one choice carried by a chunk.
type ChunkChoice struct {
	Index        int    `json:"index"`
	Delta        Delta  `json:"delta"`
	FinishReason string `json:"finish_reason"`
}

// Delta is what a chunk adds to a message. The first delta of a stream
// carries the role.
type Delta struct {
	Role    string `json:"role,omitempty"`
	Content string `json:"content,omitempty"`
}

// Text returns the content the chunk adds to the first choice.
func (c *Chunk) Text() string {
	if c == nil || len(c.Choices) == 0 {
		return ""
	}
	return c.Choices[0].Delta.Content
}

// FinishReason returns the first choice's finish reason, set on the last
// chunk only.
func (c *Chunk) FinishReason() string {
	if c == nil || len(c.Choices) == 0 {
		return ""
	}
	return c.Choices[0].FinishReason
}

// Stream reads a streamed chat completion chunk by chunk. Next and the
// accessors belong to one goroutine; Close may be called from any goroutine,
// also to abort a Next that is waiting. Always Close a stream.
type Stream struct {
	op      string
	key     Secret
	timeout time.Duration
	ctype   string

	ctx     context.Context
	cancel  context.CancelCauseFunc
	timer   *time.Timer
	body    io.ReadCloser
	r       *bufio.Reader
	data    []byte
	pending *Chunk // the whole answer of a gateway that ignored "stream"

	events   int
	finished bool  // a finish_reason was seen
	err      error // sticky once set: io.EOF or the failure
	usage    Usage
	hasUsage bool
	model    string

	closed      atomic.Bool
	releaseOnce sync.Once
}

// ChatCompletionStream sends req with "stream": true and returns the stream
// once the gateway has answered 200. Retries happen only before that point.
func (c *Client) ChatCompletionStream(ctx context.Context, req ChatRequest) (*Stream, error) {
	return c.stream(ctx, "chat completion stream", req)
}

func (c *Client) stream(ctx context.Context, op string, req ChatRequest) (*Stream, error) {
	st := c.st.Load()
	body, err := encodeChat(req, st.cfg.Model, true)
	if err != nil {
		return nil, fmt.Errorf("waddleai: %s: %w", op, err)
	}
	// The timeout is an idle timeout here: it bounds the wait for the answer
	// and then each silence between events, never the whole generation.
	sctx, cancel := context.WithCancelCause(ctx)
	timer := time.AfterFunc(st.cfg.Timeout, func() { cancel(errClientTimeout) })
	s := &Stream{op: op, key: st.cfg.APIKey, timeout: st.cfg.Timeout, ctx: sctx, cancel: cancel, timer: timer}

	resp, err := c.send(sctx, st, call{op: op, method: http.MethodPost, url: st.chatURL, body: body, auth: true, accept: "text/event-stream", retry: true})
	if err != nil {
		s.release()
		return nil, err
	}
	s.body = resp.Body
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		err := statusError(st, op, resp)
		s.release()
		return nil, err
	}
	s.ctype = resp.Header.Get("Content-Type")
	if mt, _, _ := mime.ParseMediaType(s.ctype); mt == "application/json" {
		// An older gateway ignored "stream" and sent the whole answer.
		err := s.readWhole(resp)
		s.release()
		if err != nil {
			return nil, fmt.Errorf("waddleai: %s: %w", op, err)
		}
		return s, nil
	}
	s.timer.Reset(s.timeout)
	s.r = bufio.NewReaderSize(resp.Body, 16<<10)
	return s, nil
}

func (s *Stream) readWhole(resp *http.Response) error {
	raw, err := readBody(resp)
	if err != nil {
		if errors.Is(err, errTooLarge) {
			return &kindError{kind: ErrUnexpected, msg: "the answer is too large", err: err}
		}
		return transportError(s.ctx, s.timeout.String(), err)
	}
	cr, err := decodeChat(raw, s.key)
	if err != nil {
		return err
	}
	chunk := &Chunk{ID: cr.ID, Object: cr.Object, Created: cr.Created, Model: cr.Model, Usage: &cr.Usage}
	for _, ch := range cr.Choices {
		chunk.Choices = append(chunk.Choices, ChunkChoice{
			Index:        ch.Index,
			Delta:        Delta{Role: ch.Message.Role, Content: ch.Message.Content},
			FinishReason: ch.FinishReason,
		})
	}
	s.pending = chunk
	s.note(chunk)
	s.finished = true // a whole answer is complete by definition
	return nil
}

// Next returns the next chunk, io.EOF after the last one, or the error that
// ended the stream: an *APIError with Kind ErrStream for an error event,
// ErrTruncated, ErrTimeout, ErrClosed. Once it has returned an error it
// returns the same error again.
func (s *Stream) Next() (*Chunk, error) {
	if s.err != nil {
		return nil, s.err
	}
	if s.closed.Load() {
		return nil, s.fail(fmt.Errorf("waddleai: %s: %w", s.op, ErrClosed))
	}
	if s.pending != nil {
		c := s.pending
		s.pending = nil
		s.err = io.EOF
		return c, nil
	}
	data, err := s.readEvent()
	if err != nil {
		return nil, s.fail(s.readError(err))
	}
	s.events++
	if string(bytes.TrimSpace(data)) == "[DONE]" {
		return nil, s.fail(io.EOF)
	}
	chunk, err := s.decode(data)
	if err != nil {
		return nil, s.fail(fmt.Errorf("waddleai: %s: %w", s.op, err))
	}
	return chunk, nil
}

// Close ends the stream and releases its connection. It is safe to call more
// than once and from another goroutine.
func (s *Stream) Close() error {
	s.closed.Store(true)
	s.release()
	return nil
}

// Usage returns the token usage if the gateway sent it (in a final chunk, or
// in the whole answer of a gateway that ignored "stream").
func (s *Stream) Usage() (Usage, bool) { return s.usage, s.hasUsage }

// Model returns the model named by the chunks seen so far.
func (s *Stream) Model() string { return s.model }

// Collect reads the rest of the stream and returns the joined text of the
// first choice. It closes the stream.
func (s *Stream) Collect() (*Generation, error) {
	defer s.Close()
	var (
		text   strings.Builder
		finish string
	)
	for {
		c, err := s.Next()
		if err == io.EOF {
			u, _ := s.Usage()
			return &Generation{Text: text.String(), Model: s.model, FinishReason: finish, Usage: u}, nil
		}
		if err != nil {
			return nil, err
		}
		text.WriteString(c.Text())
		if r := c.FinishReason(); r != "" {
			finish = r
		}
	}
}

func (s *Stream) fail(err error) error {
	s.err = err
	s.release()
	return err
}

func (s *Stream) release() {
	s.releaseOnce.Do(func() {
		s.timer.Stop()
		s.cancel(context.Canceled)
		if s.body != nil {
			s.body.Close()
		}
	})
}

// note records what a chunk tells about the stream as a whole.
func (s *Stream) note(c *Chunk) {
	if c.Model != "" {
		s.model = c.Model
	}
	if c.Usage != nil {
		s.usage, s.hasUsage = *c.Usage, true
	}
	for _, ch := range c.Choices {
		if ch.FinishReason != "" {
			s.finished = true
		}
	}
}

func (s *Stream) decode(data []byte) (*Chunk, error) {
	var ev struct {
		Chunk
		Error json.RawMessage `json:"error"`
	}
	if err := json.Unmarshal(data, &ev); err != nil {
		return nil, &kindError{kind: ErrStream, msg: fmt.Sprintf("an event is not JSON (%v); it began %q", err, s.key.Redact(excerpt(string(data), 80)))}
	}
	if len(ev.Error) > 0 && string(ev.Error) != "null" {
		typ, msg := errorFields(data)
		if msg == "" {
			msg = excerpt(string(ev.Error), 200)
		}
		return nil, &APIError{Status: http.StatusOK, Type: typ, Message: s.key.Redact(msg), Kind: ErrStream}
	}
	c := ev.Chunk
	s.note(&c)
	return &c, nil
}

// readError turns the error that stopped reading into the stream's final
// result.
func (s *Stream) readError(err error) error {
	switch {
	case s.closed.Load():
		return fmt.Errorf("waddleai: %s: %w", s.op, ErrClosed)
	case context.Cause(s.ctx) == errClientTimeout:
		return fmt.Errorf("waddleai: %s: %w", s.op, &kindError{kind: ErrTimeout, msg: "the stream was silent for " + s.timeout.String() + " (waddleai_timeout)", err: context.DeadlineExceeded})
	case s.ctx.Err() != nil:
		return fmt.Errorf("waddleai: %s: %w", s.op, transportError(s.ctx, s.timeout.String(), err))
	case err == io.EOF || errors.Is(err, io.ErrUnexpectedEOF):
		if s.finished {
			// The answer is complete; only the [DONE] marker is missing.
			return io.EOF
		}
		if s.events == 0 {
			return fmt.Errorf("waddleai: %s: %w (no event received; Content-Type %q)", s.op, ErrTruncated, s.ctype)
		}
		return fmt.Errorf("waddleai: %s: %w", s.op, ErrTruncated)
	case errors.Is(err, errEventTooLarge):
		return fmt.Errorf("waddleai: %s: %w", s.op, &kindError{kind: ErrStream, msg: "an event is too large", err: err})
	default:
		return fmt.Errorf("waddleai: %s: %w", s.op, &kindError{kind: ErrStream, msg: "reading the stream failed", err: err})
	}
}

var errEventTooLarge = fmt.Errorf("event larger than %d bytes", maxEventBytes)

// readEvent returns the data of the next server-sent event: its data lines
// joined by newlines. Comments, event names, ids and retry hints are skipped.
// An event cut off by the end of the body is still delivered.
func (s *Stream) readEvent() ([]byte, error) {
	s.data = s.data[:0]
	hasData := false
	for {
		line, err := s.readLine()
		if err != nil {
			if err == io.EOF && hasData {
				return s.data, nil
			}
			return nil, err
		}
		s.timer.Reset(s.timeout)
		if len(line) == 0 {
			if hasData {
				return s.data, nil
			}
			continue
		}
		if line[0] == ':' {
			continue // a comment, often a keep-alive
		}
		field, value, _ := bytes.Cut(line, []byte(":"))
		if string(field) != "data" {
			continue
		}
		value = bytes.TrimPrefix(value, []byte(" "))
		if hasData {
			s.data = append(s.data, '\n')
		}
		if len(s.data)+len(value) > maxEventBytes {
			return nil, errEventTooLarge
		}
		s.data = append(s.data, value...)
		hasData = true
	}
}

// readLine returns one line without its line ending. The slice is only valid
// until the next read.
func (s *Stream) readLine() ([]byte, error) {
	line, err := s.r.ReadSlice('\n')
	if err == bufio.ErrBufferFull {
		long := append([]byte(nil), line...)
		for err == bufio.ErrBufferFull {
			line, err = s.r.ReadSlice('\n')
			long = append(long, line...)
			if len(long) > maxEventBytes {
				return nil, errEventTooLarge
			}
		}
		line = long
	}
	if err != nil && (err != io.EOF || len(line) == 0) {
		return nil, err
	}
	line = bytes.TrimSuffix(line, []byte("\n"))
	line = bytes.TrimSuffix(line, []byte("\r"))
	return line, nil
}
