package app

import (
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/rookery/rookery/internal/db"
	"github.com/rookery/rookery/internal/dbtest"
)

// buildRookery compiles the rookery command into dir.
func buildRookery(t *testing.T, dir string) string {
	t.Helper()
	goBin, err := exec.LookPath("go") // go test puts its own toolchain first on PATH
	if err != nil {
		t.Skipf("no go command to build the server with: %v", err)
	}
	bin := filepath.Join(dir, "rookery")
	cmd := exec.Command(goBin, "build", "-o", bin, "github.com/rookery/rookery/cmd/rookery")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
}

// child is a rookery serve process.
type child struct {
	cmd    *exec.Cmd
	out    *syncBuffer
	exited chan struct{}
	base   string
}

// startChild runs `rookery serve` with env and waits until it is ready.
func startChild(t *testing.T, bin string, env []string) *child {
	t.Helper()
	port := freePort(t)
	c := &child{out: &syncBuffer{}, exited: make(chan struct{}), base: "http://127.0.0.1:" + port}
	c.cmd = exec.Command(bin, "serve")
	c.cmd.Env = append(env, "HTTP_HOST=127.0.0.1", "HTTP_PORT="+port)
	c.cmd.Stdout, c.cmd.Stderr = c.out, c.out
	if err := c.cmd.Start(); err != nil {
		t.Fatalf("start rookery serve: %v", err)
	}
	go func() {
		_ = c.cmd.Wait()
		close(c.exited)
	}()
	t.Cleanup(func() {
		select {
		case <-c.exited:
		default:
			_ = c.cmd.Process.Kill()
			<-c.exited
		}
		if t.Failed() {
			t.Logf("output of rookery serve on %s:\n%s", c.base, c.out.String())
		}
	})
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(30 * time.Second)
	for {
		select {
		case <-c.exited:
			t.Fatalf("rookery serve exited before it was ready: %v", c.cmd.ProcessState)
		default:
		}
		if r, err := send(client, c.base, "GET", "/readyz", "", nil); err == nil && r.Status == 200 {
			return c
		}
		if time.Now().After(deadline) {
			t.Fatal("rookery serve not ready after 30s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// kill sends SIGKILL and waits for the process to be gone.
func (c *child) kill(t *testing.T) {
	t.Helper()
	if err := c.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatalf("kill: %v", err)
	}
	select {
	case <-c.exited:
	case <-time.After(10 * time.Second):
		t.Fatal("process still there 10s after SIGKILL")
	}
	if ws, ok := c.cmd.ProcessState.Sys().(syscall.WaitStatus); ok && (!ws.Signaled() || ws.Signal() != syscall.SIGKILL) {
		t.Fatalf("process ended by %v, not by SIGKILL", c.cmd.ProcessState)
	}
}

func (c *child) login(t *testing.T, client *http.Client) string {
	t.Helper()
	r, err := send(client, c.base, "POST", "/api/v1/auth/login", "", map[string]string{"email": adminEmail, "password": adminPassword})
	if err != nil || r.Status != 200 {
		t.Fatalf("login: %v %d %s", err, r.Status, trim(r.Body))
	}
	tok, _ := r.JSON(t)["access_token"].(string)
	return tok
}

// TestKilledMidStream kills the server with SIGKILL while one client
// streams writes to a key, restarts it on the same data, and checks that
// every acknowledged write survived with its audit record, and that the
// value is the last acknowledged one or the one in flight at the kill.
func TestKilledMidStream(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the server binary")
	}
	const (
		key       = "smtp_user"
		killAfter = 100
	)
	bin := buildRookery(t, t.TempDir())
	dbtest.Each(t, func(t *testing.T, s db.Settings) {
		dataDir := s.DataDir
		if dataDir == "" {
			dataDir = t.TempDir()
		}
		env := []string{"DATABASE_URL=" + s.URL, "DATA_DIR=" + dataDir, "ADMIN_EMAIL=" + adminEmail,
			"ADMIN_PASSWORD=" + adminPassword, "BCRYPT_COST=4", "DB_MAX_RETRIES=0", "TMPDIR=" + os.TempDir()}
		client := &http.Client{Timeout: 10 * time.Second}
		defer client.CloseIdleConnections()

		srv := startChild(t, bin, env)
		token := srv.login(t, client)

		type ack struct {
			version int64
			value   string
		}
		var (
			acks     []ack
			inflight string // the write whose answer never came
			failure  error
			reached  = make(chan struct{})
			done     = make(chan struct{})
		)
		go func() {
			defer close(done)
			for i := 1; ; i++ {
				value := fmt.Sprintf("seq-%06d", i)
				r, err := send(client, srv.base, "PUT", "/api/v1/config/"+key, token, map[string]any{"value": value})
				if err != nil {
					inflight = value
					return
				}
				if r.Status != 200 {
					failure = fmt.Errorf("PUT %s = %d: %s", value, r.Status, trim(r.Body))
					return
				}
				res, err := decodePut(r)
				if err != nil {
					failure = err
					return
				}
				if res.Config.Value != value {
					failure = fmt.Errorf("PUT %s answered with value %q", value, res.Config.Value)
					return
				}
				acks = append(acks, ack{res.Config.Version, value})
				if len(acks) == killAfter {
					close(reached)
				}
			}
		}()
		select {
		case <-reached:
		case <-done:
			t.Fatalf("the stream stopped after %d writes: %v", len(acks), failure)
		case <-time.After(30 * time.Second):
			t.Fatal("100 writes took more than 30s")
		}
		// A write takes a few milliseconds: a random pause lands the kill
		// anywhere in the next one, before, during or after its commit.
		time.Sleep(time.Duration(rand.Int64N(int64(4 * time.Millisecond))))
		srv.kill(t) // while the writer keeps going
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			t.Fatal("the writer did not notice the server was gone")
		}
		if failure != nil {
			t.Fatal(failure)
		}
		if inflight == "" {
			t.Fatal("the writer stopped without an error")
		}
		last := acks[len(acks)-1]
		for i, a := range acks {
			if a.version != acks[0].version+int64(i) {
				t.Fatalf("write %d acknowledged as version %d after version %d", i, a.version, acks[0].version)
			}
		}

		srv = startChild(t, bin, env)
		token = srv.login(t, client)
		g, err := send(client, srv.base, "GET", "/api/v1/config/"+key, token, nil)
		if err != nil || g.Status != 200 {
			t.Fatalf("GET after restart: %v %d", err, g.Status)
		}
		version, err := etagVersion(g.Header.Get("ETag"))
		if err != nil {
			t.Fatalf("ETag %q", g.Header.Get("ETag"))
		}
		value, _ := g.JSON(t)["value"].(string)
		switch {
		case version == last.version && value == last.value:
			t.Logf("%d writes acknowledged before SIGKILL; %s was in flight and was lost", len(acks), inflight)
		case version == last.version+1 && value == inflight:
			t.Logf("%d writes acknowledged before SIGKILL; %s was in flight and was committed", len(acks), inflight)
		default:
			t.Errorf("after restart the key is v%d %q; want the last acknowledged v%d %q or the in-flight v%d %q",
				version, value, last.version, last.value, last.version+1, inflight)
		}

		records := history(t, client, srv.base, token, key)
		idx := auditIndex(records)
		for _, a := range acks {
			if n := idx[auditKey(a.version, a.value)]; n != 1 {
				t.Errorf("acknowledged write v%d %q has %d audit records after the restart, want 1", a.version, a.value, n)
			}
		}
		// The audit trail and the row agree: nothing half-written.
		if len(records) == 0 {
			t.Fatal("no audit records")
		}
		if top, _ := records[0]["version"].(float64); int64(top) != version {
			t.Errorf("newest audit record is v%v, the row is v%d", top, version)
		}
		if n := len(records); n != int(version) {
			t.Errorf("%d audit records for a key at v%d", n, version)
		}

		// The restarted server takes writes again.
		r, err := send(client, srv.base, "PUT", "/api/v1/config/"+key, token, map[string]any{"value": "after-restart"}, "If-Match", etag(version))
		if err != nil || r.Status != 200 {
			t.Fatalf("PUT after restart: %v %d %s", err, r.Status, trim(r.Body))
		}
	})
}
