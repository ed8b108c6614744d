package app

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/rookery/rookery/killkrill/killkrilltest"
)

// TestKillKrillSpoolUnderDataDir: with the receiver down, the server's
// entries wait in DATA_DIR/killkrill-spool, GET /api/v1/integrations shows
// how many and how old, and they are delivered once the receiver is back.
func TestKillKrillSpoolUnderDataDir(t *testing.T) {
	pair := killkrilltest.NewPair()
	defer pair.Close()
	pair.SetDown(true)
	ta, sh := shipped(t, map[string]string{"KILLKRILL_ENABLED": "true", "KILLKRILL_API_URL": pair.Logs.URL(),
		"KILLKRILL_METRICS_URL": pair.Metrics.URL(), "KILLKRILL_FLUSH_INTERVAL": "1", "KILLKRILL_SPOOL_MAX_MB": "8"})
	admin := ta.admin()
	for range 5 {
		ta.call("GET", "/api/v1/config/smtp_port", admin, nil)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_ = sh.Flush(ctx)

	var report struct {
		KillKrill struct {
			Stats struct {
				Spool struct {
					Entries  int     `json:"entries"`
					MaxBytes int64   `json:"max_bytes"`
					Oldest   *string `json:"oldest"`
					Dir      string  `json:"dir"`
				} `json:"spool"`
			} `json:"stats"`
		} `json:"killkrill"`
	}
	r := ta.call("GET", "/api/v1/integrations", admin, nil)
	if err := json.Unmarshal(r.Body, &report); err != nil {
		t.Fatalf("integrations: %v %s", err, r.Body)
	}
	sp := report.KillKrill.Stats.Spool
	if sp.Entries == 0 || sp.Oldest == nil || sp.MaxBytes != 8<<20 {
		t.Fatalf("spool in the integrations report = %+v, want entries, an oldest time and the 8 MiB cap", sp)
	}
	if filepath.Dir(sp.Dir) != ta.Settings.DataDir {
		t.Errorf("spool at %s, want it under DATA_DIR %s", sp.Dir, ta.Settings.DataDir)
	}
	if _, err := os.Stat(sp.Dir); err != nil {
		t.Errorf("spool directory: %v", err)
	}

	pair.SetDown(false)
	deadline := time.Now().Add(30 * time.Second)
	for sh.Stats().Spool.Entries > 0 && time.Now().Before(deadline) {
		_ = sh.Flush(ctx)
	}
	if n := sh.Stats().Spool.Entries; n != 0 {
		t.Fatalf("%d entries still spooled after the receiver came back", n)
	}
	if got := len(pair.Logs.Logs()) + len(pair.Metrics.Metrics()); got < sp.Entries {
		t.Errorf("receivers got %d entries after the replay; %d were spooled", got, sp.Entries)
	}
}
