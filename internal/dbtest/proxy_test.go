package dbtest

import (
	"bufio"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/rookery/rookery/internal/db"
)

// echoServer answers every line with the same line.
func echoServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_, _ = io.Copy(c, c)
			}()
		}
	}()
	return ln.Addr().String()
}

func roundTrip(t *testing.T, c net.Conn, r *bufio.Reader, msg string) {
	t.Helper()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write([]byte(msg + "\n")); err != nil {
		t.Fatalf("write: %v", err)
	}
	got, err := r.ReadString('\n')
	if err != nil || got != msg+"\n" {
		t.Fatalf("read %q, %v; want %q", got, err, msg)
	}
}

func TestProxyCutAndRestore(t *testing.T) {
	p := NewProxy(t, echoServer(t))
	c, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r := bufio.NewReader(c)
	roundTrip(t, c, r, "hello")

	p.Cut()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := r.ReadString('\n'); err == nil {
		t.Fatal("an open connection survived Cut")
	}
	if c2, err := net.DialTimeout("tcp", p.Addr(), time.Second); err == nil {
		c2.Close()
		t.Fatal("a new connection was accepted after Cut")
	}

	if err := p.Restore(); err != nil {
		t.Fatal(err)
	}
	c3, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatalf("dial after Restore: %v", err)
	}
	defer c3.Close()
	roundTrip(t, c3, bufio.NewReader(c3), "again")
}

func TestProxyTargetDown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().String()
	ln.Close()
	p := NewProxy(t, dead)
	c, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Read(make([]byte, 1)); err == nil {
		t.Fatal("read through a proxy to a dead server succeeded")
	}
}

func TestViaProxyRewritesURL(t *testing.T) {
	for _, raw := range []string{
		"postgres://u:p@db.example:5432/rk_1?sslmode=disable",
		"mysql://root@db.example/rk_2",
	} {
		s, p := ViaProxy(t, db.Settings{URL: raw})
		if !strings.Contains(s.URL, "@"+p.Addr()+"/rk_") {
			t.Errorf("%s -> %s, want host %s", raw, s.URL, p.Addr())
		}
		if strings.HasPrefix(raw, "postgres") && !strings.HasSuffix(s.URL, "?sslmode=disable") {
			t.Errorf("query lost: %s", s.URL)
		}
		if want := map[bool]string{true: "db.example:5432", false: "db.example:3306"}[strings.HasPrefix(raw, "postgres")]; p.target != want {
			t.Errorf("%s: target %s, want %s", raw, p.target, want)
		}
	}
}

func TestProxyStall(t *testing.T) {
	p := NewProxy(t, echoServer(t))
	c, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r := bufio.NewReader(c)
	roundTrip(t, c, r, "hello")

	p.Stall()
	if _, err := c.Write([]byte("held\n")); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	if got, err := r.ReadString('\n'); err == nil {
		t.Fatalf("a stalled proxy passed %q", got)
	}
	// New connections are taken but not answered.
	c2, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatalf("dial while stalled: %v", err)
	}
	defer c2.Close()
	r2 := bufio.NewReader(c2)
	c2.Write([]byte("queued\n"))
	c2.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	if got, err := r2.ReadString('\n'); err == nil {
		t.Fatalf("a stalled proxy answered a new connection with %q", got)
	}

	if err := p.Restore(); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if got, err := r.ReadString('\n'); err != nil || got != "held\n" {
		t.Fatalf("after Restore read %q, %v; want the held line", got, err)
	}
	c2.SetReadDeadline(time.Now().Add(5 * time.Second))
	if got, err := r2.ReadString('\n'); err != nil || got != "queued\n" {
		t.Fatalf("after Restore the new connection read %q, %v", got, err)
	}
}
