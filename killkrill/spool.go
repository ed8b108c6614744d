package killkrill

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// The spool keeps entries that could not be delivered on disk, so that a
// receiver outage (or a restart during one) leaves no hole in the central
// log: they are sent again, oldest first, once the receiver answers.
//
// Layout: numbered segment files (00000000000000000001.spool, ...) of one
// line per entry, and a "head" file naming how far the oldest segment has
// been delivered. A line is
//
//	<kind><urgency><unix nanoseconds> <JSON body>\n
//
// kind is 'L' (log) or 'M' (metric), urgency 'E' for error-and-above logs
// and '-' otherwise, and the body is what the receiver is sent in entry
// mode. Only the shipping goroutine touches the files; Stats reads the
// counters under mu.
const (
	spoolSegmentBytes = 4 << 20
	spoolSuffix       = ".spool"
	spoolHeadFile     = "head"
	// spoolLineLimit bounds one line read back, so a damaged file cannot
	// make the reader hold an unbounded line in memory.
	spoolLineLimit = 4 << 20
)

type spool struct {
	dir      string
	maxBytes atomic.Int64 // changed by Reconfigure

	segs []uint64 // segment numbers, oldest first
	w    *os.File // the newest segment, open for appending
	wn   int64    // its size

	headOff int64 // bytes of segs[0] already delivered

	mu      sync.Mutex // guards the fields below, read by Stats
	entries int
	bytes   int64 // undelivered bytes on disk
	oldest  time.Time
	dropped [numBuckets]uint64
	errs    uint64
	lastErr string
}

// openSpool opens (or creates) the spool in dir and counts what an earlier
// process left there.
func openSpool(dir string, maxBytes int64) (*spool, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("create killkrill spool directory: %w", err)
	}
	sp := &spool{dir: dir}
	sp.maxBytes.Store(maxBytes)
	names, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("read killkrill spool directory: %w", err)
	}
	for _, de := range names {
		n, ok := strings.CutSuffix(de.Name(), spoolSuffix)
		if !ok {
			continue
		}
		if v, err := strconv.ParseUint(n, 10, 64); err == nil {
			sp.segs = append(sp.segs, v)
		}
	}
	slices.Sort(sp.segs)
	if raw, err := os.ReadFile(filepath.Join(dir, spoolHeadFile)); err == nil {
		var seg uint64
		var off int64
		if _, err := fmt.Sscanf(string(raw), "%d %d", &seg, &off); err == nil && len(sp.segs) > 0 && sp.segs[0] == seg {
			sp.headOff = off
		}
	}
	if err := sp.recount(); err != nil {
		return nil, err
	}
	return sp, nil
}

func (sp *spool) segPath(n uint64) string {
	return filepath.Join(sp.dir, fmt.Sprintf("%020d%s", n, spoolSuffix))
}

// recount scans the undelivered part of every segment for the counters.
func (sp *spool) recount() error {
	entries, size := 0, int64(0)
	var oldest time.Time
	for i, n := range sp.segs {
		off := int64(0)
		if i == 0 {
			off = sp.headOff
		}
		err := sp.scan(n, off, func(line []byte, _ int64) bool {
			entries++
			size += int64(len(line)) + 1
			if oldest.IsZero() {
				oldest = lineTime(line)
			}
			return true
		})
		if err != nil {
			return err
		}
	}
	sp.mu.Lock()
	sp.entries, sp.bytes, sp.oldest = entries, size, oldest
	sp.mu.Unlock()
	return nil
}

// scan calls fn for each line of segment n from byte off, with the offset
// just past the line, until fn returns false.
func (sp *spool) scan(n uint64, off int64, fn func(line []byte, end int64) bool) error {
	f, err := os.Open(sp.segPath(n))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		return fmt.Errorf("open killkrill spool segment: %w", err)
	}
	defer f.Close()
	if _, err := f.Seek(off, io.SeekStart); err != nil {
		return fmt.Errorf("seek killkrill spool segment: %w", err)
	}
	r := bufio.NewReaderSize(f, 64<<10)
	pos := off
	var long []byte
	for {
		chunk, err := r.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			if len(long)+len(chunk) <= spoolLineLimit {
				long = append(long, chunk...)
			}
			pos += int64(len(chunk))
			continue
		}
		if err != nil {
			// A torn last line (a crash mid-write) is not an entry.
			return nil
		}
		pos += int64(len(chunk))
		line := chunk[:len(chunk)-1]
		if long != nil {
			line = append(long, line...)
			long = nil
		}
		if len(line) < 3 {
			continue
		}
		if !fn(line, pos) {
			return nil
		}
	}
}

// lineTime reads the timestamp a spool line starts with.
func lineTime(line []byte) time.Time {
	if len(line) < 3 {
		return time.Time{}
	}
	end := bytes.IndexByte(line[2:], ' ')
	if end < 0 {
		return time.Time{}
	}
	ns, err := strconv.ParseInt(string(line[2:2+end]), 10, 64)
	if err != nil {
		return time.Time{}
	}
	return time.Unix(0, ns)
}

// lineBody is the JSON a spool line carries.
func lineBody(line []byte) []byte {
	if i := bytes.IndexByte(line, ' '); i >= 0 {
		return line[i+1:]
	}
	return nil
}

func lineBucket(line []byte) int {
	switch {
	case line[0] == 'M':
		return bucketMetric
	case line[1] == 'E':
		return bucketError
	}
	// Below error the level class is not kept; such drops count as info.
	return bucketInfo
}

func (sp *spool) len() int {
	sp.mu.Lock()
	defer sp.mu.Unlock()
	return sp.entries
}

// add appends one entry's body, building the line in scratch (returned for
// reuse). An error means the entry is not spooled and must go to the local
// fallback.
func (sp *spool) add(kind entryKind, urgent bool, at time.Time, body []byte, scratch []byte) ([]byte, error) {
	line := scratch[:0]
	if kind == kindMetric {
		line = append(line, 'M')
	} else {
		line = append(line, 'L')
	}
	if urgent {
		line = append(line, 'E')
	} else {
		line = append(line, '-')
	}
	line = strconv.AppendInt(line, at.UnixNano(), 10)
	line = append(line, ' ')
	line = append(line, body...)
	line = append(line, '\n')
	if err := sp.write(line); err != nil {
		sp.noteErr(err)
		return line, err
	}
	sp.mu.Lock()
	if sp.entries == 0 {
		sp.oldest = at
	}
	sp.entries++
	sp.bytes += int64(len(line))
	over := sp.bytes > sp.maxBytes.Load()
	sp.mu.Unlock()
	if over {
		if err := sp.shrink(); err != nil {
			sp.noteErr(err)
		}
	}
	return line, nil
}

func (sp *spool) noteErr(err error) {
	sp.mu.Lock()
	sp.errs++
	sp.lastErr = err.Error()
	sp.mu.Unlock()
}

func (sp *spool) write(line []byte) error {
	if sp.w == nil || sp.wn+int64(len(line)) > spoolSegmentBytes {
		if err := sp.rotate(); err != nil {
			return err
		}
	}
	n, err := sp.w.Write(line)
	sp.wn += int64(n)
	if err != nil {
		return fmt.Errorf("write killkrill spool: %w", err)
	}
	return nil
}

// rotate starts a new segment.
func (sp *spool) rotate() error {
	if sp.w != nil {
		_ = sp.w.Close()
		sp.w = nil
	}
	next := uint64(1)
	if len(sp.segs) > 0 {
		next = sp.segs[len(sp.segs)-1] + 1
	}
	f, err := os.OpenFile(sp.segPath(next), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o640)
	if err != nil {
		return fmt.Errorf("create killkrill spool segment: %w", err)
	}
	sp.segs = append(sp.segs, next)
	sp.w, sp.wn = f, 0
	return nil
}

// shrink brings the spool under its cap: segments are rewritten oldest
// first without their non-error entries; only when nothing but errors is
// left do whole segments go, oldest first. Every dropped entry is counted.
func (sp *spool) shrink() error {
	for i := 0; i < len(sp.segs) && sp.size() > sp.maxBytes.Load(); i++ {
		if err := sp.rewrite(i, func(line []byte) bool { return line[1] == 'E' }); err != nil {
			return err
		}
	}
	for len(sp.segs) > 0 && sp.size() > sp.maxBytes.Load() {
		if err := sp.rewrite(0, func([]byte) bool { return false }); err != nil {
			return err
		}
		if !sp.dropHead() {
			break
		}
	}
	return nil
}

func (sp *spool) size() int64 {
	sp.mu.Lock()
	defer sp.mu.Unlock()
	return sp.bytes
}

// rewrite keeps only the undelivered lines of segment i for which keep is
// true, counting the others as dropped.
//
// The oldest segment keeps its delivered part byte for byte, so the new
// file has its undelivered lines from the same offset as the old one: the
// rename that replaces the file is then the only step, and the saved head
// position is right for the file before it and the file after it, whatever
// the point a crash stops at. The delivered part goes with the whole
// segment once it is delivered (dropHead).
func (sp *spool) rewrite(i int, keep func([]byte) bool) error {
	n := sp.segs[i]
	off := int64(0)
	if i == 0 {
		off = sp.headOff
	}
	tmp := sp.segPath(n) + ".tmp"
	out, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o640)
	if err != nil {
		return fmt.Errorf("rewrite killkrill spool segment: %w", err)
	}
	if off > 0 {
		if err := copyPrefix(out, sp.segPath(n), off); err != nil {
			_ = out.Close()
			_ = os.Remove(tmp)
			return fmt.Errorf("rewrite killkrill spool segment: %w", err)
		}
	}
	bw := bufio.NewWriter(out)
	var kept, gone int
	var keptBytes, goneBytes int64
	var dropped [numBuckets]uint64
	scanErr := sp.scan(n, off, func(line []byte, _ int64) bool {
		if keep(line) {
			kept++
			keptBytes += int64(len(line)) + 1
			_, _ = bw.Write(line)
			_ = bw.WriteByte('\n')
			return true
		}
		gone++
		goneBytes += int64(len(line)) + 1
		dropped[lineBucket(line)]++
		return true
	})
	err = errors.Join(scanErr, bw.Flush(), out.Close())
	if err == nil && gone == 0 {
		return os.Remove(tmp)
	}
	if err == nil {
		err = os.Rename(tmp, sp.segPath(n))
	}
	if err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("rewrite killkrill spool segment: %w", err)
	}
	if i == len(sp.segs)-1 && sp.w != nil {
		// The file under the writer was replaced: append to the new one.
		_ = sp.w.Close()
		f, err := os.OpenFile(sp.segPath(n), os.O_WRONLY|os.O_APPEND, 0o640)
		if err != nil {
			sp.w = nil
			return fmt.Errorf("reopen killkrill spool segment: %w", err)
		}
		sp.w, sp.wn = f, off+keptBytes
	}
	sp.mu.Lock()
	sp.entries -= gone
	sp.bytes -= goneBytes
	for b := range dropped {
		sp.dropped[b] += dropped[b]
	}
	sp.mu.Unlock()
	if i == 0 {
		return sp.refreshOldest()
	}
	return nil
}

// copyPrefix copies the first n bytes of the file at path to out.
func copyPrefix(out io.Writer, path string, n int64) error {
	in, err := os.Open(path)
	if err != nil {
		return err
	}
	defer func() { _ = in.Close() }()
	if _, err := io.CopyN(out, in, n); err != nil {
		return err
	}
	return nil
}

// refreshOldest reads the first undelivered line's time.
func (sp *spool) refreshOldest() error {
	var oldest time.Time
	for i, n := range sp.segs {
		off := int64(0)
		if i == 0 {
			off = sp.headOff
		}
		if err := sp.scan(n, off, func(line []byte, _ int64) bool {
			oldest = lineTime(line)
			return false
		}); err != nil {
			return err
		}
		if !oldest.IsZero() {
			break
		}
	}
	sp.mu.Lock()
	sp.oldest = oldest
	sp.mu.Unlock()
	return nil
}

// dropHead removes the oldest segment once it holds nothing undelivered.
// It reports whether one was removed.
func (sp *spool) dropHead() bool {
	if len(sp.segs) == 0 {
		return false
	}
	n := sp.segs[0]
	if len(sp.segs) == 1 && sp.w != nil {
		_ = sp.w.Close()
		sp.w = nil
	}
	_ = os.Remove(sp.segPath(n))
	sp.segs = sp.segs[1:]
	sp.headOff = 0
	_ = sp.saveHead()
	return true
}

// saveHead records the delivery position durably: written to a temporary
// file and renamed, so a crash leaves the old or the new position.
func (sp *spool) saveHead() error {
	var seg uint64
	if len(sp.segs) > 0 {
		seg = sp.segs[0]
	}
	tmp := filepath.Join(sp.dir, spoolHeadFile+".tmp")
	if err := os.WriteFile(tmp, fmt.Appendf(nil, "%d %d\n", seg, sp.headOff), 0o640); err != nil {
		return fmt.Errorf("save killkrill spool position: %w", err)
	}
	if err := os.Rename(tmp, filepath.Join(sp.dir, spoolHeadFile)); err != nil {
		return fmt.Errorf("save killkrill spool position: %w", err)
	}
	return nil
}

// replay hands the undelivered lines to send, oldest first, one at a time,
// until send returns false, stop is closed, or the spool is empty. The
// position is saved after every line send is done with, so a restart
// neither repeats nor loses one. send returns true when the line may go:
// delivered, or refused for good and written locally.
func (sp *spool) replay(stop <-chan struct{}, send func(kind entryKind, body []byte) bool) (done int, err error) {
	for len(sp.segs) > 0 {
		n := sp.segs[0]
		halted := false
		scanErr := sp.scan(n, sp.headOff, func(line []byte, end int64) bool {
			select {
			case <-stop:
				halted = true
				return false
			default:
			}
			kind := kindLog
			if line[0] == 'M' {
				kind = kindMetric
			}
			if !send(kind, lineBody(line)) {
				halted = true
				return false
			}
			done++
			sp.headOff = end
			sp.mu.Lock()
			sp.entries--
			sp.bytes -= int64(len(line)) + 1
			sp.mu.Unlock()
			if err := sp.saveHead(); err != nil {
				sp.noteErr(err)
			}
			return true
		})
		if scanErr != nil {
			return done, scanErr
		}
		if halted {
			return done, sp.refreshOldest()
		}
		// The oldest segment is done. The newest one stays while it is
		// being written, unless it is the only one and fully read.
		if len(sp.segs) == 1 {
			if sp.w != nil {
				_ = sp.w.Close()
				sp.w = nil
			}
		}
		sp.dropHead()
	}
	sp.mu.Lock()
	sp.entries, sp.bytes, sp.oldest = 0, 0, time.Time{}
	sp.mu.Unlock()
	return done, nil
}

// close releases the open segment.
func (sp *spool) close() {
	if sp.w != nil {
		_ = sp.w.Close()
		sp.w = nil
	}
}

// SpoolStats describes the on-disk spool.
type SpoolStats struct {
	Enabled bool   `json:"enabled"`
	Dir     string `json:"dir,omitempty"`
	Entries int    `json:"entries"`
	Bytes   int64  `json:"bytes"`
	// MaxBytes is the cap; when it is reached the oldest non-error entries
	// are dropped first and counted in Dropped (non-error logs as info).
	MaxBytes int64 `json:"max_bytes"`
	// Oldest is the time the oldest spooled entry was logged.
	Oldest          *time.Time `json:"oldest"`
	OldestAgeSecond float64    `json:"oldest_age_seconds"`
	Dropped         Dropped    `json:"dropped"`
	// Errors counts spool writes that failed; those entries went to the
	// local fallback.
	Errors    uint64 `json:"errors"`
	LastError string `json:"last_error"`
}

func (sp *spool) stats() SpoolStats {
	if sp == nil {
		return SpoolStats{}
	}
	sp.mu.Lock()
	defer sp.mu.Unlock()
	out := SpoolStats{
		Enabled: true, Dir: sp.dir, Entries: sp.entries, Bytes: sp.bytes, MaxBytes: sp.maxBytes.Load(),
		Dropped: Dropped{
			Debug: sp.dropped[bucketDebug], Info: sp.dropped[bucketInfo], Warn: sp.dropped[bucketWarn],
			Error: sp.dropped[bucketError], Metric: sp.dropped[bucketMetric],
		},
		Errors: sp.errs, LastError: sp.lastErr,
	}
	if sp.entries > 0 && !sp.oldest.IsZero() {
		t := sp.oldest
		out.Oldest = &t
		out.OldestAgeSecond = time.Since(t).Seconds()
	}
	return out
}

// spoolFailed moves the entries of batch marked for the spool onto it, in
// batch order. An entry the spool cannot take goes to the local fallback,
// the last resort.
func (s *Shipper) spoolFailed(st *settings, sp *spool, batch []entry) {
	w := &s.spoolW
	for i := range batch {
		e := &batch[i]
		if !e.spool {
			continue
		}
		w.body = w.body[:0]
		var at time.Time
		if e.kind == kindMetric {
			w.body = appendMetricBody(w.body, e.m, st.cfg.ServiceName, true)
			at = e.m.Time
		} else {
			w.body = w.enc.appendLog(w.body, e, st.cfg.ServiceName, flavorEntry)
			at = e.rec.Time
		}
		if at.IsZero() {
			at = time.Now() // a record may carry no time; the age needs one
		}
		var err error
		s.spoolLn, err = sp.add(e.kind, e.urgent(), at, w.body, s.spoolLn)
		if err != nil {
			s.writeFallbackWith(w, st, e)
		}
	}
}

// replaySpool sends spooled entries one at a time, oldest first, until the
// spool is empty or a receiver fails; one at a time so that they arrive in
// the order they were logged.
func (s *Shipper) replaySpool(st *settings, sp *spool) {
	_, err := sp.replay(s.stop, func(kind entryKind, body []byte) bool {
		c, name, url := &s.logCircuit, "log receiver", st.logsURL
		if kind == kindMetric {
			c, name, url = &s.metricCircuit, "metrics receiver", st.metricsURL
		}
		payload := body
		if st.cfg.Mode == ModeBatch {
			c, name, url = &s.logCircuit, "batch receiver", st.batchURL
			s.spoolW.line = spoolBatchBody(s.spoolW.line[:0], kind, body)
			payload = s.spoolW.line
		}
		if !c.allow() {
			return false
		}
		err := s.send(st, c, name, url, payload)
		switch {
		case err == nil:
			s.stats.success(1)
			return true
		case retryable(err):
			s.stats.failure(err)
			return false
		}
		// Refused for good: keep it locally rather than block the spool.
		s.stats.failed.Add(1)
		s.stats.failure(err)
		s.stats.fallback.Add(1)
		line := append(append([]byte{}, body...), '\n')
		if werr := s.fb.write(line); werr != nil {
			s.stats.fallbackErrors.Add(1)
		}
		return true
	})
	if err != nil {
		sp.noteErr(err)
	}
}

// spoolBatchBody wraps one spooled entry in the standards' batch body.
func spoolBatchBody(dst []byte, kind entryKind, body []byte) []byte {
	if kind == kindMetric {
		dst = append(dst, `{"logs":[],"metrics":[`...)
	} else {
		dst = append(dst, `{"logs":[`...)
	}
	dst = append(dst, body...)
	if kind == kindMetric {
		return append(dst, "]}"...)
	}
	return append(dst, `],"metrics":[]}`...)
}

// openSpool opens the spool the first time a Config names SpoolDir, and
// afterwards only follows the size cap: entries already on disk stay where
// they are, so the directory is not moved at run time.
func (s *Shipper) openSpool(cfg Config) error {
	if sp := s.spool.Load(); sp != nil {
		sp.maxBytes.Store(cfg.SpoolMaxBytes)
		return nil
	}
	if cfg.SpoolDir == "" {
		return nil
	}
	sp, err := openSpool(cfg.SpoolDir, cfg.SpoolMaxBytes)
	if err != nil {
		return err
	}
	s.spool.Store(sp)
	return nil
}
