package killkrill

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// TestSpoolRewriteHeadCrash: the oldest segment, partly delivered, is
// rewritten without its non-error entries, and the process dies before
// anything else happens — the head file on disk is still the one written
// before the rewrite. A reopened spool replays every undelivered error
// entry exactly once, whole and in order.
func TestSpoolRewriteHeadCrash(t *testing.T) {
	dir := t.TempDir()
	sp, err := openSpool(dir, 1<<30)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Unix(1700000000, 0)
	var want []string
	for i := range 12 {
		urgent := i%2 == 1
		body := fmt.Sprintf(`{"message":"m-%02d"}`, i)
		if _, err := sp.add(kindLog, urgent, at, []byte(body), nil); err != nil {
			t.Fatal(err)
		}
		if urgent && i >= 4 {
			want = append(want, body)
		}
	}
	// Entries 0-3 are delivered.
	delivered := 0
	if _, err := sp.replay(nil, func(entryKind, []byte) bool {
		delivered++
		return delivered <= 4
	}); err != nil {
		t.Fatal(err)
	}
	headPath := filepath.Join(dir, spoolHeadFile)
	head, err := os.ReadFile(headPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := sp.rewrite(0, func(line []byte) bool { return line[1] == 'E' }); err != nil {
		t.Fatal(err)
	}
	// The rewritten segment is still the one written to.
	if _, err := sp.add(kindLog, true, at, []byte(`{"message":"m-12"}`), nil); err != nil {
		t.Fatal(err)
	}
	want = append(want, `{"message":"m-12"}`)
	sp.close()
	for name, before := range map[string]bool{"crash after the rename": true, "no crash": false} {
		t.Run(name, func(t *testing.T) {
			d := t.TempDir()
			copyDir(t, dir, d)
			if before {
				// The head file as it was when the segment was replaced.
				if err := os.WriteFile(filepath.Join(d, spoolHeadFile), head, 0o640); err != nil {
					t.Fatal(err)
				}
			}
			sp2, err := openSpool(d, 1<<30)
			if err != nil {
				t.Fatal(err)
			}
			defer sp2.close()
			if n := sp2.len(); n != len(want) {
				t.Errorf("reopened spool counts %d entries, want %d", n, len(want))
			}
			var got []string
			if _, err := sp2.replay(nil, func(_ entryKind, body []byte) bool {
				got = append(got, string(body))
				return true
			}); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, want) {
				t.Errorf("replayed\n%q\nwant\n%q", got, want)
			}
		})
	}
}

func copyDir(t *testing.T, from, to string) {
	t.Helper()
	des, err := os.ReadDir(from)
	if err != nil {
		t.Fatal(err)
	}
	for _, de := range des {
		b, err := os.ReadFile(filepath.Join(from, de.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(to, de.Name()), b, 0o640); err != nil {
			t.Fatal(err)
		}
	}
}
