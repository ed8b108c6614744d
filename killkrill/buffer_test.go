package killkrill

import (
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

func logEntry(level slog.Level, msg string) *entry {
	return &entry{kind: kindLog, rec: slog.NewRecord(time.Time{}, level, msg, 0)}
}

// TestBufferDropRule: when full, the oldest non-error entry goes; an error
// goes only when nothing else is left; every drop is counted by level.
func TestBufferDropRule(t *testing.T) {
	I, E, W, M := slog.LevelInfo, slog.LevelError, slog.LevelWarn, slog.Level(99)
	tests := []struct {
		name        string
		limit       int
		in          []slog.Level // M means a metric
		wantKept    string       // messages, oldest first
		wantDropped Dropped
	}{
		{"room for all", 4, []slog.Level{I, E, I}, "0 1 2", Dropped{}},
		{"oldest info dropped first", 3, []slog.Level{I, I, E, I}, "1 2 3", Dropped{Info: 1}},
		{"errors outlive infos", 3, []slog.Level{E, I, E, I, I, I}, "0 2 5", Dropped{Info: 3}},
		{"warn and metric are not urgent", 2, []slog.Level{W, M, E, E}, "2 3", Dropped{Warn: 1, Metric: 1}},
		{"all errors: a new info is dropped itself", 2, []slog.Level{E, E, I}, "0 1", Dropped{Info: 1}},
		{"all errors: a new error drops the oldest error", 2, []slog.Level{E, E, E}, "1 2", Dropped{Error: 1}},
		{"debug counted apart", 1, []slog.Level{slog.LevelDebug, I}, "1", Dropped{Debug: 1}},
	}
	for _, tc := range tests {
		// add (metrics) and addLog (the handler's path) share the rule; run
		// each row through both where the row allows it.
		for _, viaLog := range []bool{false, true} {
			if viaLog && slices.Contains(tc.in, M) {
				continue
			}
			t.Run(fmt.Sprintf("%s/addLog=%v", tc.name, viaLog), func(t *testing.T) {
				b := newBuffer(tc.limit)
				for i, l := range tc.in {
					switch {
					case l == M:
						b.add(&entry{kind: kindMetric, m: &Metric{Name: strconv.Itoa(i)}})
					case viaLog:
						b.addLog(&logEntry(l, strconv.Itoa(i)).rec, nil)
					default:
						b.add(logEntry(l, strconv.Itoa(i)))
					}
				}
				if got := names(b.take(nil, 100)); got != tc.wantKept {
					t.Errorf("kept %q, want %q", got, tc.wantKept)
				}
				d, _ := b.droppedCounts()
				got := Dropped{Debug: d[bucketDebug], Info: d[bucketInfo], Warn: d[bucketWarn], Error: d[bucketError], Metric: d[bucketMetric]}
				if got != tc.wantDropped {
					t.Errorf("dropped %+v, want %+v", got, tc.wantDropped)
				}
			})
		}
	}
}

func names(es []entry) string {
	var parts []string
	for _, e := range es {
		if e.kind == kindMetric {
			parts = append(parts, e.m.Name)
		} else {
			parts = append(parts, e.rec.Message)
		}
	}
	return strings.Join(parts, " ")
}

func TestBufferOrderGrowthAndClose(t *testing.T) {
	b := newBuffer(1000)
	for i := range 300 {
		l := slog.LevelInfo
		if i%3 == 0 {
			l = slog.LevelError
		}
		b.addLog(&slog.Record{Level: l, Message: string(rune('a' + i%26))}, nil)
	}
	got := b.take(nil, 1000)
	if len(got) != 300 {
		t.Fatalf("took %d, want 300", len(got))
	}
	for i := 1; i < len(got); i++ {
		if got[i].seq <= got[i-1].seq {
			t.Fatalf("order broken at %d: seq %d after %d", i, got[i].seq, got[i-1].seq)
		}
	}
	// take honours its limit and leaves the rest.
	for range 10 {
		b.add(logEntry(slog.LevelInfo, "x"))
	}
	if got := b.take(nil, 4); len(got) != 4 || b.len() != 6 {
		t.Errorf("take(4) gave %d, left %d", len(got), b.len())
	}
	b.setLimit(2)
	if d, q := b.droppedCounts(); q != 2 || d[bucketInfo] != 4 {
		t.Errorf("after shrinking: queued %d dropped %v", q, d)
	}
	b.close()
	if _, ok := b.add(logEntry(slog.LevelInfo, "late")); ok {
		t.Error("add succeeded on a closed buffer")
	}
	if _, ok := b.addLog(&slog.Record{}, nil); ok {
		t.Error("addLog succeeded on a closed buffer")
	}
}
