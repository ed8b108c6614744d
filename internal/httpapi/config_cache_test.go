package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"

	"github.com/rookery/rookery/config"
	"github.com/rookery/rookery/internal/db"
	"github.com/rookery/rookery/internal/dbtest"
)

// configServer is a Server over a real config store, for calling the
// config handlers directly (the role check is tested elsewhere).
func configServer(t *testing.T, s db.Settings) *Server {
	t.Helper()
	d := dbtest.OpenSettings(t, s)
	k, _ := config.NewKey()
	sealer, err := config.NewSealer(k)
	if err != nil {
		t.Fatal(err)
	}
	store := config.NewStore(d.DB, config.Dialect(d.Dialect), config.MustRegistry(config.StandardKeys()...), sealer)
	store.SetWriter(d)
	cfg := config.New(store, func(string) string { return "" }, slog.New(slog.DiscardHandler))
	if err := cfg.Reload(context.Background()); err != nil {
		t.Fatal(err)
	}
	return New(Deps{Config: cfg, License: devLicence(t)})
}

func (s *Server) callList(t testing.TB) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	s.listConfig(rec, httptest.NewRequest(http.MethodGet, "/api/v1/config", nil))
	return rec
}

func (s *Server) callGet(t testing.TB, key string) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	r := httptest.NewRequest(http.MethodGet, "/api/v1/config/"+key, nil)
	r.SetPathValue("key", key)
	s.getConfig(rec, r)
	return rec
}

// uncached is how the answers were built before they were cached: from the
// snapshot, on every request.
func uncachedList(s *Server) (string, []byte) {
	snap := s.cfg.Snapshot()
	var out []configView
	for _, v := range snap.All(s.cfg.Registry()) {
		out = append(out, view(v))
	}
	sortByCategory(out)
	rec := httptest.NewRecorder()
	writeJSON(rec, http.StatusOK, configListAnswer{Configs: out, Total: len(out), Revision: snap.Revision})
	return revisionTag(snap.Revision), rec.Body.Bytes()
}

func uncachedGet(s *Server, key string) (string, []byte) {
	v, _ := s.lookup(key)
	vw := view(v)
	rec := httptest.NewRecorder()
	writeJSON(rec, http.StatusOK, vw)
	return etag(vw.Version), rec.Body.Bytes()
}

func checkSame(t *testing.T, what string, rec *httptest.ResponseRecorder, tag string, body []byte) {
	t.Helper()
	if rec.Code != http.StatusOK {
		t.Fatalf("%s: status %d", what, rec.Code)
	}
	if got := rec.Header().Get("ETag"); got != tag {
		t.Errorf("%s: ETag %s, want %s", what, got, tag)
	}
	if got := rec.Header().Get("Content-Type"); got != "application/json; charset=utf-8" {
		t.Errorf("%s: Content-Type %q", what, got)
	}
	if !bytes.Equal(rec.Body.Bytes(), body) {
		t.Errorf("%s: body differs from the uncached answer:\n got %s\nwant %s", what, rec.Body.Bytes(), body)
	}
}

// The cached answers are byte for byte what the handlers built before, and
// a change (a new snapshot) is seen at once.
func TestConfigReadsCachedPerSnapshot(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dbs db.Settings) {
		s := configServer(t, dbs)
		ctx := context.Background()
		check := func() {
			t.Helper()
			tag, body := uncachedList(s)
			checkSame(t, "list", s.callList(t), tag, body)
			for _, v := range s.cfg.Snapshot().All(s.cfg.Registry()) {
				tag, body := uncachedGet(s, v.Key.Name)
				checkSame(t, v.Key.Name, s.callGet(t, v.Key.Name), tag, body)
			}
		}
		check()
		before := s.callList(t).Body.String()
		if _, err := s.cfg.Store().Set(ctx, "smtp_port", "2525", config.AnyVersion, config.Origin{Actor: "t"}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.cfg.Store().Set(ctx, "smtp_pass", "hunter2hunter2", config.AnyVersion, config.Origin{Actor: "t"}); err != nil {
			t.Fatal(err)
		}
		if err := s.cfg.Reload(ctx); err != nil {
			t.Fatal(err)
		}
		if s.callList(t).Body.String() == before {
			t.Fatal("the list answer did not change after a change")
		}
		check()
		var got configView
		if err := json.Unmarshal(s.callGet(t, "smtp_port").Body.Bytes(), &got); err != nil || got.Value != "2525" {
			t.Fatalf("smtp_port after the change: %+v, %v", got, err)
		}
		if b := s.callGet(t, "smtp_pass").Body.String(); bytes.Contains([]byte(b), []byte("hunter2")) {
			t.Fatalf("a sensitive value leaked into the cached answer: %s", b)
		}
		if rec := s.callGet(t, "no_such_key"); rec.Code != http.StatusNotFound {
			t.Fatalf("unknown key: status %d", rec.Code)
		}
	})
}

// Readers racing writers always get an answer whose ETag matches its body:
// never the list of one snapshot with the tag of another.
func TestConfigReadsConsistentUnderWrites(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dbs db.Settings) {
		s := configServer(t, dbs)
		ctx := context.Background()
		stop := make(chan struct{})
		var wg sync.WaitGroup
		errs := make(chan error, 16)
		for range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					select {
					case <-stop:
						return
					default:
					}
					var list struct {
						Revision int64 `json:"revision"`
						Total    int   `json:"total"`
					}
					rec := s.callList(t)
					if err := json.Unmarshal(rec.Body.Bytes(), &list); err != nil || rec.Header().Get("ETag") != revisionTag(list.Revision) || list.Total == 0 {
						errs <- fmt.Errorf("list: ETag %s with revision %d (%v)", rec.Header().Get("ETag"), list.Revision, err)
						return
					}
					var one configView
					rec = s.callGet(t, "smtp_port")
					if err := json.Unmarshal(rec.Body.Bytes(), &one); err != nil || rec.Header().Get("ETag") != `"v`+strconv.FormatInt(one.Version, 10)+`"` {
						errs <- fmt.Errorf("get: ETag %s with version %d (%v)", rec.Header().Get("ETag"), one.Version, err)
						return
					}
				}
			}()
		}
		for i := range 20 {
			if _, err := s.cfg.Store().Set(ctx, "smtp_port", strconv.Itoa(2000+i), config.AnyVersion, config.Origin{Actor: "t"}); err != nil {
				t.Fatal(err)
			}
			if err := s.cfg.Reload(ctx); err != nil {
				t.Fatal(err)
			}
		}
		close(stop)
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		var one configView
		_ = json.Unmarshal(s.callGet(t, "smtp_port").Body.Bytes(), &one)
		if one.Value != "2019" {
			t.Fatalf("smtp_port after the writes: %q, want 2019", one.Value)
		}
	})
}

// A read of an unchanged snapshot does no work that grows with the number
// of keys: the encoded answer is looked up and written.
func TestConfigReadsDoNotAllocatePerKey(t *testing.T) {
	s := configServer(t, dbtest.Fresh(t, db.SQLite))
	keys := len(s.cfg.Snapshot().All(s.cfg.Registry()))
	s.callList(t) // build the cache
	// The recorder and the request take a fixed number of allocations,
	// measured here; building the answers took several per key.
	base := testing.AllocsPerRun(50, func() {
		rec := httptest.NewRecorder()
		r := httptest.NewRequest(http.MethodGet, "/api/v1/config/smtp_port", nil)
		r.SetPathValue("key", "smtp_port")
		writeEncoded(rec, `"v1"`, []byte("{}\n"))
	})
	list := testing.AllocsPerRun(50, func() { s.callList(t) }) - base
	get := testing.AllocsPerRun(50, func() { s.callGet(t, "smtp_port") }) - base
	if list > 4 || get > 4 {
		t.Fatalf("allocations per read beyond the recorder's: list %.0f, get %.0f; want at most 4 with %d keys", list, get, keys)
	}
}

// The cached answers carry their length, so they go out in one piece
// rather than chunked.
func TestConfigReadsCarryTheirLength(t *testing.T) {
	s := configServer(t, dbtest.Fresh(t, db.SQLite))
	for name, rec := range map[string]*httptest.ResponseRecorder{"list": s.callList(t), "one key": s.callGet(t, "smtp_port")} {
		if got, want := rec.Header().Get("Content-Length"), strconv.Itoa(rec.Body.Len()); got != want || rec.Body.Len() == 0 {
			t.Errorf("%s: Content-Length %q, body %s bytes", name, got, want)
		}
	}
}
