package killkrill

import (
	"context"
	"log/slog"
	"slices"
	"time"
)

// HandlerOptions configures NewHandler. A nil *HandlerOptions means the
// defaults.
type HandlerOptions struct {
	// Level is the lowest level shipped to KillKrill (default slog.LevelInfo).
	Level slog.Leveler
	// AddSource adds log.origin.file.name, log.origin.file.line and
	// log.origin.function. The caller's program counter is kept and turned
	// into names on the shipping goroutine.
	AddSource bool
	// Next, when set, also receives every record it is enabled for, for
	// human-readable console output. Attributes with secret-looking keys reach
	// it already masked.
	Next slog.Handler
}

// handlerState is what WithAttrs and WithGroup accumulate. It is immutable
// once built, so queued entries can point at it.
type handlerState struct {
	attrs     []groupedAttr // resolved attributes from WithAttrs, in order
	group     string        // dotted prefix for record attributes: "" or "a.b."
	groupScan secretScan    // whether the open groups already name a secret
	addSource bool
}

type groupedAttr struct {
	prefix string
	scan   secretScan
	attr   slog.Attr
}

type handler struct {
	s     *Shipper
	level slog.Leveler
	next  slog.Handler
	hs    *handlerState
}

// NewHandler returns a slog.Handler that turns records into ECS documents and
// queues them on s. The caller's cost is one copy of the record into the
// buffer; encoding and sending happen on the Shipper's goroutine. A nil s
// gives a handler that only forwards to opts.Next.
func NewHandler(s *Shipper, opts *HandlerOptions) slog.Handler {
	h := &handler{s: s, level: slog.LevelInfo, hs: &handlerState{}}
	if opts != nil {
		if opts.Level != nil {
			h.level = opts.Level
		}
		h.next = opts.Next
		h.hs.addSource = opts.AddSource
	}
	return h
}

func (h *handler) ships(l slog.Level) bool { return h.s != nil && l >= h.level.Level() }

func (h *handler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.ships(l) || (h.next != nil && h.next.Enabled(ctx, l))
}

func (h *handler) Handle(ctx context.Context, r slog.Record) error {
	if h.s != nil {
		if tap := h.s.tap.Load(); tap != nil {
			// A copy declared here, so that only with a tap does the
			// record escape to the heap.
			rc := r
			tctx := ctx
			if len(h.hs.attrs) > 0 || h.hs.group != "" {
				// The logger's own context (With attributes, open
				// groups), for TapAttrs.
				tctx = context.WithValue(ctx, tapStateKey{}, h.hs)
			}
			(*tap)(tctx, &rc)
			r = rc
		}
	}
	if h.ships(r.Level) {
		h.s.enqueueLog(&r, h.hs)
	}
	if h.next != nil && h.next.Enabled(ctx, r.Level) {
		return h.next.Handle(ctx, maskRecord(r, h.hs))
	}
	return nil
}

func (h *handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	if len(attrs) == 0 {
		return h
	}
	hs := *h.hs
	hs.attrs = slices.Clip(hs.attrs)
	for _, a := range attrs {
		hs.attrs = append(hs.attrs, groupedAttr{prefix: hs.group, scan: hs.groupScan, attr: resolveAttr(a)})
	}
	h2 := *h
	h2.hs = &hs
	if h.next != nil {
		masked := make([]slog.Attr, len(attrs))
		for i, a := range attrs {
			masked[i] = maskAttr(h.hs.groupScan, a)
		}
		h2.next = h.next.WithAttrs(masked)
	}
	return &h2
}

func (h *handler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	hs := *h.hs
	hs.group += name + "."
	hs.groupScan = hs.groupScan.feed(name)
	h2 := *h
	h2.hs = &hs
	if h.next != nil {
		h2.next = h.next.WithGroup(name)
	}
	return &h2
}

// enqueueLog is the caller's whole cost: resolve LogValuers (slog requires it
// on the caller's goroutine, and it keeps values that change later from
// changing the entry) and copy the record into the buffer.
func (s *Shipper) enqueueLog(r *slog.Record, hs *handlerState) {
	if r.Time.IsZero() {
		r.Time = time.Now()
	}
	if needsResolve(r) {
		resolved := resolveRecord(r)
		r = &resolved
	}
	// The buffer keeps the record read-only, and Clone is what slog asks of
	// a handler that retains one.
	rec := r.Clone()
	n, ok := s.buf.addLog(&rec, hs)
	s.queued(n, ok, func() *entry { return &entry{kind: kindLog, rec: rec, hs: hs} })
}

func needsResolve(r *slog.Record) bool {
	found := false
	r.Attrs(func(a slog.Attr) bool {
		found = attrNeedsResolve(a)
		return !found
	})
	return found
}

func attrNeedsResolve(a slog.Attr) bool {
	switch a.Value.Kind() {
	case slog.KindLogValuer:
		return true
	case slog.KindGroup:
		return slices.ContainsFunc(a.Value.Group(), attrNeedsResolve)
	}
	return false
}

func resolveRecord(r *slog.Record) slog.Record {
	out := slog.NewRecord(r.Time, r.Level, r.Message, r.PC)
	r.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(resolveAttr(a))
		return true
	})
	return out
}

// resolveAttr resolves a, and the members of a group, down to plain values.
func resolveAttr(a slog.Attr) slog.Attr {
	a.Value = a.Value.Resolve()
	if a.Value.Kind() == slog.KindGroup && slices.ContainsFunc(a.Value.Group(), attrNeedsResolve) {
		members := a.Value.Group()
		resolved := make([]slog.Attr, len(members))
		for i, m := range members {
			resolved[i] = resolveAttr(m)
		}
		a.Value = slog.GroupValue(resolved...)
	}
	return a
}

// maskRecord returns r with every secret-keyed attribute masked, or r itself
// (no allocation) when there is nothing to mask.
func maskRecord(r slog.Record, hs *handlerState) slog.Record {
	if hs.groupScan.hit {
		out := slog.NewRecord(r.Time, r.Level, r.Message, r.PC)
		r.Attrs(func(a slog.Attr) bool {
			out.AddAttrs(slog.String(a.Key, Masked))
			return true
		})
		return out
	}
	found := false
	r.Attrs(func(a slog.Attr) bool {
		found = hasSecret(hs.groupScan, a)
		return !found
	})
	if !found {
		return r
	}
	out := slog.NewRecord(r.Time, r.Level, r.Message, r.PC)
	r.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(maskAttr(hs.groupScan, a))
		return true
	})
	return out
}

func hasSecret(scan secretScan, a slog.Attr) bool {
	s := scan.feed(a.Key)
	if s.hit {
		return true
	}
	if a.Value.Kind() == slog.KindGroup {
		for _, m := range a.Value.Group() {
			if hasSecret(s, m) {
				return true
			}
		}
	}
	return false
}

func maskAttr(scan secretScan, a slog.Attr) slog.Attr {
	s := scan.feed(a.Key)
	if s.hit {
		return slog.String(a.Key, Masked)
	}
	if a.Value.Kind() == slog.KindGroup && hasSecret(scan, a) {
		members := a.Value.Group()
		masked := make([]slog.Attr, len(members))
		for i, m := range members {
			masked[i] = maskAttr(s, m)
		}
		return slog.Attr{Key: a.Key, Value: slog.GroupValue(masked...)}
	}
	return a
}

// tapStateKey carries a handler's state in the context a log tap is given.
type tapStateKey struct{}

// TapAttrs calls fn for each attribute of a record given to a log tap (see
// Shipper.SetLogTap) as KillKrill ships it: the logger's With attributes
// first, then the record's own, groups flattened into dotted keys with the
// logger's WithGroup names in front, and every value KillKrill masks
// already replaced by Masked. ctx must be the context the tap was given;
// attributes the tap itself adds to r come last, under the same groups.
// It stops when fn returns false.
func TapAttrs(ctx context.Context, r *slog.Record, fn func(slog.Attr) bool) {
	prefix, scan := "", secretScan{}
	if hs, _ := ctx.Value(tapStateKey{}).(*handlerState); hs != nil {
		for _, ga := range hs.attrs {
			if !tapAttr(ga.prefix, ga.scan, ga.attr, fn) {
				return
			}
		}
		prefix, scan = hs.group, hs.groupScan
	}
	r.Attrs(func(a slog.Attr) bool { return tapAttr(prefix, scan, a, fn) })
}

// tapAttr is encoder.collect's walk (same keys, same masking) handing each
// field to fn; it reports whether to go on.
func tapAttr(prefix string, scan secretScan, a slog.Attr, fn func(slog.Attr) bool) bool {
	a.Value = a.Value.Resolve()
	if a.Equal(slog.Attr{}) {
		return true
	}
	s := scan.feed(a.Key)
	if a.Value.Kind() == slog.KindGroup {
		members := a.Value.Group()
		if len(members) == 0 {
			return true
		}
		if s.hit && a.Key != "" {
			return fn(slog.String(prefix+a.Key, Masked))
		}
		p := prefix
		if a.Key != "" {
			p = prefix + a.Key + "."
		}
		for _, m := range members {
			if !tapAttr(p, s, m, fn) {
				return false
			}
		}
		return true
	}
	if s.hit {
		return fn(slog.String(prefix+a.Key, Masked))
	}
	a.Key = prefix + a.Key
	return fn(a)
}
