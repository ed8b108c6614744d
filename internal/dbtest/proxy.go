package dbtest

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/rookery/rookery/internal/db"
)

// Proxy forwards TCP connections from a loopback port to a database server,
// so a test can make the database vanish (Cut) and come back (Restore)
// while the code under test keeps the same address.
type Proxy struct {
	target string
	addr   string

	mu    sync.Mutex
	ln    net.Listener
	conns map[net.Conn]struct{}
	// stalled, when not nil, holds every byte and new connection until it
	// is closed by Restore.
	stalled chan struct{}
	// held, when not nil, holds connections opened after HoldNew until it
	// is closed by Restore; those open before keep flowing.
	held chan struct{}
	wg   sync.WaitGroup
	done bool
}

// NewProxy listens on a free loopback port and forwards to target
// (host:port). It is closed when the test ends.
func NewProxy(t testing.TB, target string) *Proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("proxy listen: %v", err)
	}
	p := &Proxy{target: target, addr: ln.Addr().String(), conns: map[net.Conn]struct{}{}}
	p.serve(ln)
	t.Cleanup(p.Close)
	return p
}

// ViaProxy returns a copy of s (a PostgreSQL or MySQL database from Fresh)
// whose URL points at a new proxy in front of the same server.
func ViaProxy(t testing.TB, s db.Settings) (db.Settings, *Proxy) {
	t.Helper()
	u, err := url.Parse(s.URL)
	if err != nil || u.Host == "" {
		t.Fatalf("proxy: database URL has no host:port")
	}
	target := u.Host
	if u.Port() == "" {
		_, d, _, err := s.Target()
		if err != nil {
			t.Fatalf("proxy: %v", err)
		}
		port := "5432"
		if d == db.MySQL {
			port = "3306"
		}
		target = net.JoinHostPort(u.Hostname(), port)
	}
	p := NewProxy(t, target)
	u.Host = p.Addr()
	s.URL = u.String()
	return s, p
}

// Addr is the proxy's host:port; it stays the same across Cut and Restore.
func (p *Proxy) Addr() string { return p.addr }

// Cut closes the listener and every open connection: clients see their
// connections drop and new ones refused, as when the server is stopped.
func (p *Proxy) Cut() {
	p.mu.Lock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for c := range p.conns {
		c.Close()
	}
	clear(p.conns)
	p.mu.Unlock()
}

// Stall keeps every connection open but passes no more bytes, and holds
// new connections without answering: a network partition or a frozen
// server, which clients only notice through their own timeouts.
func (p *Proxy) Stall() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stalled == nil {
		p.stalled = make(chan struct{})
	}
}

// HoldNew holds every connection opened from now on (accepted, but not
// forwarded) until Restore, while those already open keep flowing: a
// dedicated connection slow to come up while the pool works.
func (p *Proxy) HoldNew() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.held == nil {
		p.held = make(chan struct{})
	}
}

// gate blocks while the proxy is stalled; false means the connection
// should end.
func (p *Proxy) gate(c net.Conn) bool {
	p.mu.Lock()
	g := p.stalled
	p.mu.Unlock()
	if g != nil {
		<-g
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	_, open := p.conns[c]
	return open
}

// Restore ends a Stall, passing on what was held, and listens again on
// the same port after Cut. The port is retried for a short while, since
// the kernel may not hand it back at once.
func (p *Proxy) Restore() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stalled != nil {
		close(p.stalled)
		p.stalled = nil
	}
	if p.held != nil {
		close(p.held)
		p.held = nil
	}
	if p.done {
		return errors.New("proxy is closed")
	}
	if p.ln != nil {
		return nil
	}
	var err error
	for i := 0; i < 50; i++ {
		var ln net.Listener
		if ln, err = net.Listen("tcp", p.addr); err == nil {
			p.serve(ln)
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("proxy: listen again on %s: %w", p.addr, err)
}

// Close cuts everything and waits for the forwarding goroutines.
func (p *Proxy) Close() {
	p.mu.Lock()
	p.done = true
	if p.stalled != nil {
		close(p.stalled)
		p.stalled = nil
	}
	if p.held != nil {
		close(p.held)
		p.held = nil
	}
	p.mu.Unlock()
	p.Cut()
	p.wg.Wait()
}

// serve must be called with the listener not yet shared; it starts the
// accept loop.
func (p *Proxy) serve(ln net.Listener) {
	p.ln = ln
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return // closed by Cut
			}
			p.wg.Add(1)
			go func() {
				defer p.wg.Done()
				p.forward(ln, c)
			}()
		}
	}()
}

// track registers a connection unless the listener that accepted the
// client has been cut meanwhile.
func (p *Proxy) track(ln net.Listener, cs ...net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != ln {
		return false
	}
	for _, c := range cs {
		p.conns[c] = struct{}{}
	}
	return true
}

func (p *Proxy) untrack(cs ...net.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range cs {
		delete(p.conns, c)
	}
}

func (p *Proxy) forward(ln net.Listener, client net.Conn) {
	defer client.Close()
	if !p.track(ln, client) {
		return
	}
	defer p.untrack(client)
	p.mu.Lock()
	h := p.held
	p.mu.Unlock()
	if h != nil {
		<-h
	}
	if !p.gate(client) {
		return
	}
	server, err := net.DialTimeout("tcp", p.target, 5*time.Second)
	if err != nil {
		return
	}
	defer server.Close()
	if !p.track(ln, server) {
		return
	}
	defer p.untrack(server)
	done := make(chan struct{}, 2)
	pipe := func(dst, src net.Conn) {
		defer func() { done <- struct{}{} }()
		buf := make([]byte, 32<<10)
		for {
			n, err := src.Read(buf)
			if n > 0 && (!p.gate(src) || !writeAll(dst, buf[:n])) {
				return
			}
			if err != nil {
				return
			}
		}
	}
	go pipe(server, client)
	go pipe(client, server)
	<-done
	// One side ended: end the other, so neither end waits on a half-open pair.
	client.Close()
	server.Close()
	<-done
}

func writeAll(w io.Writer, b []byte) bool {
	_, err := w.Write(b)
	return err == nil
}
