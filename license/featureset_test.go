package license

import (
	"fmt"
	"strings"
	"testing"
)

func TestFeatureSetMatchesMap(t *testing.T) {
	names := []string{"a", "b", "audit_logs", "basic_auth", "rookery.audit_logs", "x.y", "ai_analysis", "ai_training", "ai_generation"}
	// Many names of one length sharing first, middle and last bytes collide
	// on purpose, to exercise probing.
	for i := range 40 {
		names = append(names, fmt.Sprintf("f%02d_x", i))
	}
	for n := 0; n <= len(names); n++ {
		set := newFeatureSet(names[:n])
		want := make(map[string]bool)
		for _, s := range names[:n] {
			want[s] = true
		}
		for _, probe := range append(names, "", "zz", "audit_log", "audit_logs_", "f99_x", strings.Repeat("q", 300)) {
			if got := set.has(probe); got != want[probe] {
				t.Fatalf("set of %d: has(%q) = %v, want %v", n, probe, got, want[probe])
			}
		}
	}
}

func TestFeatureSetDuplicatesAndEmpty(t *testing.T) {
	set := newFeatureSet([]string{"a", "a", "", "b"})
	stored := 0
	for _, s := range set.slots {
		if s != "" {
			stored++
		}
	}
	if stored != 2 || !set.has("a") || !set.has("b") || set.has("") {
		t.Errorf("stored %d names: %q", stored, set.slots)
	}
	var zero featureSet
	if zero.has("a") {
		t.Error("the zero set has a member")
	}
}

func FuzzFeatureSet(f *testing.F) {
	f.Add("audit_logs,sso,rookery.audit_logs", "audit_logs")
	f.Fuzz(func(t *testing.T, list, probe string) {
		names := strings.Split(list, ",")
		set := newFeatureSet(names)
		want := false
		for _, n := range names {
			want = want || (n == probe && n != "")
		}
		if got := set.has(probe); got != want {
			t.Fatalf("has(%q) in %q = %v, want %v", probe, names, got, want)
		}
	})
}
