package httpapi

import (
	"bufio"
	"compress/gzip"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
)

// compressMin is the smallest body worth compressing: below it gzip's
// header and the CPU cost outweigh the bytes saved.
const compressMin = 1024

// gzipWriters are reused: a gzip.Writer holds some 800 KB of state.
var gzipWriters = sync.Pool{New: func() any {
	w, _ := gzip.NewWriterLevel(io.Discard, gzip.BestSpeed)
	return w
}}

// compress gzips JSON, text and script answers of at least compressMin
// bytes for clients that accept gzip, and marks every such answer
// Vary: Accept-Encoding so caches keep the two forms apart. Answers that
// already carry a Content-Encoding (the pre-compressed web assets), event
// streams (which must reach the client as written), HEAD and Range requests
// pass through untouched.
func compress(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodHead || r.Header.Get("Range") != "" {
			next.ServeHTTP(w, r)
			return
		}
		cw := &compressWriter{ResponseWriter: w, accepts: acceptsGzip(r.Header.Get("Accept-Encoding"))}
		defer cw.finish()
		next.ServeHTTP(cw, r)
	})
}

// acceptsGzip reads Accept-Encoding: gzip (or *) with a q-value above zero.
func acceptsGzip(header string) bool {
	for part := range strings.SplitSeq(header, ",") {
		name, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		name = strings.ToLower(strings.TrimSpace(name))
		if name != "gzip" && name != "*" {
			continue
		}
		q := 1.0
		if k, v, ok := strings.Cut(strings.TrimSpace(params), "="); ok && strings.TrimSpace(k) == "q" {
			if f, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil {
				q = f
			}
		}
		if q > 0 {
			return true
		}
	}
	return false
}

// compressible reports a content type worth compressing.
func compressible(contentType string) bool {
	ct, _, _ := strings.Cut(contentType, ";")
	ct = strings.ToLower(strings.TrimSpace(ct))
	switch {
	case ct == "text/event-stream":
		return false
	case strings.HasPrefix(ct, "text/"), ct == "application/json", ct == "application/javascript",
		ct == "image/svg+xml", ct == "application/manifest+json", strings.HasSuffix(ct, "+json"):
		return true
	}
	return false
}

// addVary adds Accept-Encoding to Vary unless the handler already did.
func addVary(h http.Header) {
	for _, v := range h.Values("Vary") {
		for name := range strings.SplitSeq(v, ",") {
			if n := strings.TrimSpace(name); strings.EqualFold(n, "Accept-Encoding") || n == "*" {
				return
			}
		}
	}
	h.Add("Vary", "Accept-Encoding")
}

// compressWriter decides at the first byte whether the answer is a
// candidate, holds back up to compressMin bytes to learn whether it is big
// enough, and then writes either the held bytes as they are or a gzip stream.
type compressWriter struct {
	http.ResponseWriter
	accepts bool
	status  int
	decided bool // the headers are settled: candidate or passing through
	pass    bool // not compressing: writes go straight through
	held    []byte
	gz      *gzip.Writer
}

func (c *compressWriter) WriteHeader(status int) {
	if c.decided || c.status != 0 {
		c.ResponseWriter.WriteHeader(status)
		return
	}
	if status < 200 { // informational answers go out at once
		c.ResponseWriter.WriteHeader(status)
		return
	}
	c.status = status
	c.decide()
}

// decide looks at the headers the handler set.
func (c *compressWriter) decide() {
	c.decided = true
	h := c.Header()
	if c.status == 0 {
		c.status = http.StatusOK
	}
	candidate := compressible(h.Get("Content-Type")) && h.Get("Content-Encoding") == "" &&
		c.status != http.StatusNoContent && c.status != http.StatusNotModified && c.status != http.StatusPartialContent
	if candidate {
		addVary(h)
	}
	if !candidate || !c.accepts {
		c.pass = true
		c.ResponseWriter.WriteHeader(c.status)
		return
	}
	if n, err := strconv.Atoi(h.Get("Content-Length")); err == nil && n < compressMin {
		c.pass = true
		c.ResponseWriter.WriteHeader(c.status)
	}
}

func (c *compressWriter) Write(p []byte) (int, error) {
	if !c.decided {
		if c.Header().Get("Content-Type") == "" {
			c.Header().Set("Content-Type", http.DetectContentType(p))
		}
		c.decide()
	}
	if c.pass {
		return c.ResponseWriter.Write(p)
	}
	if c.gz != nil {
		return c.gz.Write(p)
	}
	c.held = append(c.held, p...)
	if len(c.held) >= compressMin {
		if err := c.startGzip(); err != nil {
			return 0, err
		}
	}
	return len(p), nil
}

// startGzip commits to compressing and sends what was held back.
func (c *compressWriter) startGzip() error {
	h := c.Header()
	h.Del("Content-Length")
	h.Set("Content-Encoding", "gzip")
	c.ResponseWriter.WriteHeader(c.status)
	c.gz = gzipWriters.Get().(*gzip.Writer)
	c.gz.Reset(c.ResponseWriter)
	held := c.held
	c.held = nil
	_, err := c.gz.Write(held)
	return err
}

// finish ends the answer: a small body goes out as it is, a gzip stream
// is closed.
func (c *compressWriter) finish() {
	switch {
	case !c.decided:
		// The handler wrote nothing; net/http sends its own 200.
	case c.gz != nil:
		_ = c.gz.Close()
		c.gz.Reset(io.Discard)
		gzipWriters.Put(c.gz)
		c.gz = nil
	case !c.pass:
		c.pass = true
		c.ResponseWriter.WriteHeader(c.status)
		_, _ = c.ResponseWriter.Write(c.held)
		c.held = nil
	}
}

// Flush sends what is written so far: a stream flushed by its handler
// cannot wait for compressMin bytes.
func (c *compressWriter) Flush() {
	if !c.decided {
		c.decide()
	}
	if !c.pass && c.gz == nil {
		if len(c.held) == 0 {
			c.pass = true
			c.ResponseWriter.WriteHeader(c.status)
		} else if err := c.startGzip(); err != nil {
			return
		}
	}
	if c.gz != nil {
		_ = c.gz.Flush()
	}
	http.NewResponseController(c.ResponseWriter).Flush()
}

// Hijack lets a protocol upgrade take the connection as it is.
func (c *compressWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	return http.NewResponseController(c.ResponseWriter).Hijack()
}

// Unwrap lets http.ResponseController reach the writer underneath.
func (c *compressWriter) Unwrap() http.ResponseWriter { return c.ResponseWriter }
