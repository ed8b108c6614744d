package killkrill

import (
	"log/slog"
	"sync"
)

type entryKind uint8

const (
	kindLog entryKind = iota
	kindMetric
)

// entry is one queued log record or metric. A log entry keeps the slog
// record itself (its first five attributes live inline, so copying it costs
// no allocation) and the handler state it came through; JSON is produced
// later on the shipping goroutine.
type entry struct {
	seq  uint64
	kind entryKind
	rec  slog.Record
	hs   *handlerState
	m    *Metric
	// spool marks an entry whose delivery failed in a way worth retrying;
	// the shipping goroutine moves it to the spool after the batch.
	spool bool
}

// urgent entries (error and above) are dropped only when nothing else is left.
func (e *entry) urgent() bool { return e.kind == kindLog && e.rec.Level >= slog.LevelError }

// Drop buckets, one per level class plus one for metrics.
const (
	bucketDebug = iota
	bucketInfo
	bucketWarn
	bucketError
	bucketMetric
	numBuckets
)

func (e *entry) bucket() int {
	if e.kind == kindMetric {
		return bucketMetric
	}
	switch l := e.rec.Level; {
	case l < slog.LevelInfo:
		return bucketDebug
	case l < slog.LevelWarn:
		return bucketInfo
	case l < slog.LevelError:
		return bucketWarn
	}
	return bucketError
}

// ring is a FIFO of entries that grows by doubling up to a limit, so an idle
// shipper does not hold a full-size buffer.
type ring struct {
	buf  []entry
	head int
	n    int
}

// slot grows the ring if needed and returns the new tail slot, counted in n.
func (r *ring) slot(limit int) *entry {
	if r.n == len(r.buf) {
		size := max(2*len(r.buf), 64)
		size = min(size, max(limit, r.n+1))
		nb := make([]entry, size)
		for i := 0; i < r.n; i++ {
			nb[i] = r.buf[r.index(i)]
		}
		r.buf, r.head = nb, 0
	}
	e := &r.buf[r.index(r.n)]
	r.n++
	return e
}

// index maps a position from the head to a slot without a division.
func (r *ring) index(i int) int {
	i += r.head
	if i >= len(r.buf) {
		i -= len(r.buf)
	}
	return i
}

func (r *ring) front() *entry { return &r.buf[r.head] }

// pop removes the oldest entry, clearing its slot so the buffer does not keep
// the entry's strings and values alive.
func (r *ring) pop(dst *entry) {
	slot := &r.buf[r.head]
	if dst != nil {
		*dst = *slot
	}
	*slot = entry{}
	r.head = r.index(1)
	r.n--
	if r.n == 0 {
		// Start again at the front: in steady operation the same few
		// hundred slots stay in cache instead of the whole grown ring.
		r.head = 0
	}
}

// buffer is the Shipper's one bounded queue. Entries below error level and
// metrics sit in low, error-and-above logs in high; a sequence number keeps
// the original order across the two. When full, the oldest low entry goes
// first; a high entry is dropped only when low is empty.
type buffer struct {
	mu      sync.Mutex
	low     ring
	high    ring
	limit   int
	seq     uint64
	closed  bool
	dropped [numBuckets]uint64
}

func newBuffer(limit int) *buffer { return &buffer{limit: max(limit, 1)} }

// add queues a copy of e and returns the queue length, or ok=false once the
// buffer is closed. It never blocks beyond the mutex.
func (b *buffer) add(e *entry) (n int, ok bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	slot := b.reserve(e.urgent(), e.bucket())
	if slot != nil {
		*slot = *e
		slot.seq = b.seq
	}
	return b.low.n + b.high.n, !b.closed
}

// addLog is add for a log record, writing the record straight into its slot:
// this is the caller's hot path, and a record is a few hundred bytes.
func (b *buffer) addLog(r *slog.Record, hs *handlerState) (n int, ok bool) {
	urgent := r.Level >= slog.LevelError
	bucket := bucketError
	if !urgent {
		bucket = (&entry{rec: slog.Record{Level: r.Level}}).bucket()
	}
	b.mu.Lock()
	slot := b.reserve(urgent, bucket)
	if slot != nil {
		slot.seq, slot.kind, slot.rec, slot.hs, slot.m = b.seq, kindLog, *r, hs, nil
	}
	n, ok = b.low.n+b.high.n, !b.closed
	b.mu.Unlock()
	return n, ok
}

// reserve makes room for one entry, dropping by the buffer's rule, and
// returns the slot to fill, or nil when the newcomer itself is dropped or
// the buffer is closed. Called with b.mu held.
func (b *buffer) reserve(urgent bool, bucket int) *entry {
	if b.closed {
		return nil
	}
	if b.low.n+b.high.n >= b.limit {
		switch {
		case b.low.n > 0:
			b.dropFront(&b.low)
		case urgent:
			b.dropFront(&b.high)
		default:
			// Everything queued is an error: the newcomer is the oldest
			// non-error entry there is.
			b.dropped[bucket]++
			return nil
		}
	}
	b.seq++
	if urgent {
		return b.high.slot(b.limit)
	}
	return b.low.slot(b.limit)
}

func (b *buffer) dropFront(r *ring) {
	b.dropped[r.front().bucket()]++
	r.pop(nil)
}

// take moves up to max entries, oldest first, onto dst.
func (b *buffer) take(dst []entry, max int) []entry {
	b.mu.Lock()
	defer b.mu.Unlock()
	for len(dst) < max && b.low.n+b.high.n > 0 {
		src := &b.low
		if b.low.n == 0 || (b.high.n > 0 && b.high.front().seq < b.low.front().seq) {
			src = &b.high
		}
		dst = append(dst, entry{})
		src.pop(&dst[len(dst)-1])
	}
	return dst
}

func (b *buffer) len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.low.n + b.high.n
}

// setLimit changes the bound, dropping by the usual rule if the buffer now
// holds too much.
func (b *buffer) setLimit(limit int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.limit = max(limit, 1)
	for b.low.n+b.high.n > b.limit {
		if b.low.n > 0 {
			b.dropFront(&b.low)
		} else {
			b.dropFront(&b.high)
		}
	}
}

// close makes further adds fail, so the final drain cannot miss an entry.
func (b *buffer) close() {
	b.mu.Lock()
	b.closed = true
	b.mu.Unlock()
}

func (b *buffer) droppedCounts() (d [numBuckets]uint64, queued int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.dropped, b.low.n + b.high.n
}
