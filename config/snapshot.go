package config

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Source says where an effective value came from, in lookup order.
type Source string

// The sources, in the order they are consulted.
const (
	FromDatabase    Source = "database"
	FromEnvironment Source = "environment"
	FromDefault     Source = "default"
)

// Value is the effective value of a key, parsed once when the snapshot is
// built so reads do no work.
type Value struct {
	Key    Key
	Text   string
	Int    int64
	Bool   bool
	Source Source
	// Entry is the stored row, when the value comes from the database, or
	// when the stored value cannot be decrypted (Entry.Unreadable says why;
	// Text and Source are then the fallback's).
	Entry *Entry
	// prov is where the value came from for people (see Provenance).
	prov Provenance
}

// Unreadable reports whether the key has a stored value that cannot be
// decrypted, so the effective value is the fallback.
func (v *Value) Unreadable() bool { return v.Entry != nil && v.Entry.Unreadable != "" }

// Shown is the value as anyone outside the process may see it.
func (v *Value) Shown() string {
	if v.Key.Sensitive && v.Text != "" {
		return Masked
	}
	return v.Text
}

// Snapshot is an immutable view of every key at one revision.
type Snapshot struct {
	Revision int64
	LoadedAt time.Time
	values   map[string]*Value
	// list holds the declared keys' values in registry order, for Handle reads.
	list []*Value
	// extra holds stored rows whose keys are not declared.
	extra []*Value
}

// Get returns the effective value of a declared key.
func (s *Snapshot) Get(key string) (*Value, bool) {
	v, ok := s.values[key]
	return v, ok
}

// All returns the declared keys' values (sorted by key) followed by stored
// rows of undeclared keys.
func (s *Snapshot) All(reg *Registry) []*Value {
	out := make([]*Value, 0, len(s.values)+len(s.extra))
	for _, k := range reg.Keys() {
		out = append(out, s.values[k.Name])
	}
	return append(out, s.extra...)
}

// Handle is a declared key resolved once, for reads on hot paths that
// skip even the map lookup.
type Handle struct{ i int }

// Handle resolves a declared key; ok is false for unknown names.
func (c *Config) Handle(key string) (Handle, bool) {
	i, ok := c.reg.index[key]
	return Handle{i}, ok
}

// Value returns the effective value behind h.
func (c *Config) Value(h Handle) *Value { return c.cur.Load().list[h.i] }

// Config serves typed reads from an atomically swapped snapshot and keeps
// that snapshot in step with the database.
type Config struct {
	reg    *Registry
	store  *Store
	getenv func(string) string
	log    *slog.Logger

	cur      atomic.Pointer[Snapshot]
	reloadMu sync.Mutex // one reload at a time, so subscribers see changes in order

	subMu sync.Mutex
	subs  map[int]subscription
	next  int

	// rec, while Follow runs a function, notes the settings it reads.
	rec   atomic.Pointer[recorder]
	recMu sync.Mutex
}

type subscription struct {
	keys map[string]bool // nil: every key
	fn   func(Change)
}

// Change is delivered to subscribers after a new snapshot is in place.
type Change struct {
	Keys     []string
	Old, New *Snapshot
}

// New builds a Config whose first snapshot holds environment values and
// defaults; call Reload to bring in the database.
func New(store *Store, getenv func(string) string, log *slog.Logger) *Config {
	c := &Config{reg: store.reg, store: store, getenv: getenv, log: log, subs: map[int]subscription{}}
	// The store's rules (secret re-entry) must see the same environment.
	store.SetEnv(getenv)
	c.cur.Store(c.build(nil, nil, 0))
	for name, b := range c.reg.binders {
		b.bind(c, c.reg.index[name])
	}
	return c
}

// Registry returns the declared keys.
func (c *Config) Registry() *Registry { return c.reg }

// Store returns the store behind the snapshot.
func (c *Config) Store() *Store { return c.store }

// Snapshot returns the current snapshot.
func (c *Config) Snapshot() *Snapshot { return c.cur.Load() }

// String returns the effective text of key ("" when unknown).
func (c *Config) String(key string) string {
	if v, ok := c.cur.Load().values[key]; ok {
		return v.Text
	}
	return ""
}

// Int returns the effective integer of key (0 when unknown or not an integer).
func (c *Config) Int(key string) int64 {
	if v, ok := c.cur.Load().values[key]; ok {
		return v.Int
	}
	return 0
}

// Bool returns the effective boolean of key (false when unknown).
func (c *Config) Bool(key string) bool {
	if v, ok := c.cur.Load().values[key]; ok {
		return v.Bool
	}
	return false
}

// Duration reads an integer key as seconds.
func (c *Config) Duration(key string) time.Duration {
	return time.Duration(c.Int(key)) * time.Second
}

// Secret returns a sensitive key wrapped so it cannot be printed by mistake.
func (c *Config) Secret(key string) Secret { return NewSecret(c.String(key)) }

// DecodeJSON unmarshals a JSON key into dst.
func (c *Config) DecodeJSON(key string, dst any) error {
	v, ok := c.cur.Load().values[key]
	if !ok || v.Text == "" {
		return errors.New(key + ": no value")
	}
	return json.Unmarshal([]byte(v.Text), dst)
}

// Subscribe calls fn after every snapshot change touching one of keys (any
// key when none are given). fn runs on the reloading goroutine, after the
// swap, one change at a time: it must not block for long. The returned
// function cancels the subscription.
func (c *Config) Subscribe(fn func(Change), keys ...string) (cancel func()) {
	s := subscription{fn: fn}
	if len(keys) > 0 {
		s.keys = map[string]bool{}
		for _, k := range keys {
			s.keys[k] = true
		}
	}
	c.subMu.Lock()
	id := c.next
	c.next++
	c.subs[id] = s
	c.subMu.Unlock()
	return func() {
		c.subMu.Lock()
		delete(c.subs, id)
		c.subMu.Unlock()
	}
}

// Reload reads the database and swaps in a new snapshot when anything
// changed. On a database error the current snapshot stays in place.
func (c *Config) Reload(ctx context.Context) error {
	c.reloadMu.Lock()
	defer c.reloadMu.Unlock()
	entries, rev, err := c.store.List(ctx)
	if err != nil {
		return err
	}
	old := c.cur.Load()
	next := c.build(old, entries, rev)
	changed := diff(old, next)
	c.cur.Store(next)
	if len(changed) > 0 {
		c.notify(Change{Keys: changed, Old: old, New: next})
	}
	return nil
}

func (c *Config) notify(ch Change) {
	c.subMu.Lock()
	subs := make([]subscription, 0, len(c.subs))
	for _, s := range c.subs {
		subs = append(subs, s)
	}
	c.subMu.Unlock()
	for _, s := range subs {
		if s.keys != nil {
			hit := false
			for _, k := range ch.Keys {
				if s.keys[k] {
					hit = true
					break
				}
			}
			if !hit {
				continue
			}
		}
		s.fn(ch)
	}
}

// build makes the snapshot of entries at rev; prev is the snapshot in
// place (nil at first).
func (c *Config) build(prev *Snapshot, entries []Entry, rev int64) *Snapshot {
	snap := &Snapshot{Revision: rev, LoadedAt: time.Now(), values: make(map[string]*Value, len(c.reg.keys)),
		list: make([]*Value, len(c.reg.order))}
	stored := make(map[string]*Entry, len(entries))
	for i := range entries {
		stored[entries[i].Key] = &entries[i]
	}
	for _, k := range c.reg.Keys() {
		v := &Value{Key: k, Text: k.Default, Source: FromDefault}
		if e, ok := stored[k.Name]; ok && e.Unreadable != "" {
			if p := prev.loaded(k.Name, e.Version); p != nil {
				// The row this process already read, at the same version,
				// no longer opens: a rotation run elsewhere (it keeps
				// versions) sealed it with a key this process gets at its
				// restart. Keep serving the value read before.
				c.log.Error("stored config value cannot be decrypted with this process's keys; keeping the value loaded before, restart with the current CONFIG_ENCRYPTION_KEY",
					"key", k.Name, "reason", e.Unreadable)
				v.Text, v.Source, v.Entry = p.Text, FromDatabase, p.Entry
			} else {
				// Keep running on the fallback and say so once per load,
				// with the key and the reason (never the value).
				c.log.Error("stored config value cannot be decrypted; using the fallback until it is replaced or deleted (rookery config delete KEY --force)",
					"key", k.Name, "reason", e.Unreadable)
				v.Entry = e
			}
		} else if ok {
			if canon, err := k.Parse(e.Value); err == nil {
				v.Text, v.Source, v.Entry = canon, FromDatabase, e
			} else {
				// A row that no longer passes the rules (edited by hand, or
				// the rule tightened): keep running on the fallback, say so.
				c.log.Warn("stored config value is invalid; using the fallback", "key", k.Name, "reason", err.Error())
			}
		}
		if v.Source == FromDefault {
			if raw := c.getenv(k.Env()); raw != "" {
				if canon, err := k.Parse(raw); err == nil {
					v.Text, v.Source = canon, FromEnvironment
				}
			}
		}
		fill(v)
		v.prov = c.provenance(v)
		snap.values[k.Name] = v
		snap.list[c.reg.index[k.Name]] = v
		delete(stored, k.Name)
	}
	for _, e := range entries {
		if _, ok := stored[e.Key]; ok {
			if e.Unreadable != "" {
				c.log.Error("stored config value cannot be decrypted; using the fallback until it is replaced or deleted (rookery config delete KEY --force)",
					"key", e.Key, "reason", e.Unreadable)
			}
			v := &Value{Key: Key{Name: e.Key, Type: e.Type, Category: e.Category, Description: e.Description, Sensitive: e.Sensitive},
				Text: e.Value, Source: FromDatabase, Entry: stored[e.Key]}
			fill(v)
			snap.extra = append(snap.extra, v)
		}
	}
	return snap
}

// loaded returns the value of key in s when it was read from the database
// at version and could be decrypted; nil otherwise (and for a nil s).
func (s *Snapshot) loaded(key string, version int64) *Value {
	if s == nil {
		return nil
	}
	v, ok := s.values[key]
	if !ok || v.Source != FromDatabase || v.Entry == nil || v.Entry.Unreadable != "" || v.Entry.Version != version {
		return nil
	}
	return v
}

func fill(v *Value) {
	switch v.Key.Type {
	case TypeInteger:
		v.Int, _ = strconv.ParseInt(v.Text, 10, 64)
	case TypeBoolean:
		v.Bool, _ = ParseBool(v.Text)
	}
}

// diff lists the keys whose effective value, source or stored version
// differ between two snapshots.
func diff(a, b *Snapshot) []string {
	var out []string
	for k, nv := range b.values {
		ov := a.values[k]
		if ov == nil || ov.Text != nv.Text || ov.Source != nv.Source || version(ov) != version(nv) {
			out = append(out, k)
		}
	}
	return out
}

func version(v *Value) int64 {
	if v.Entry == nil {
		return 0
	}
	return v.Entry.Version
}

// Watch keeps the snapshot in step with the database until ctx ends: it
// polls the revision counter every poll interval and reloads when it moved,
// and reloads at once on every signal from notify (PostgreSQL
// LISTEN/NOTIFY; nil elsewhere). Database errors are logged and retried;
// the last good snapshot keeps serving.
func (c *Config) Watch(ctx context.Context, poll time.Duration, notify <-chan struct{}) {
	t := time.NewTicker(poll)
	defer t.Stop()
	failing := false
	for {
		select {
		case <-ctx.Done():
			return
		case _, ok := <-notify:
			if !ok {
				notify = nil
				continue
			}
			failing = c.report(c.Reload(ctx), failing)
		case <-t.C:
			rctx, cancel := context.WithTimeout(ctx, poll+2*time.Second)
			rev, err := c.store.Revision(rctx)
			if err == nil && rev != c.cur.Load().Revision {
				err = c.Reload(rctx)
			}
			cancel()
			failing = c.report(err, failing)
		}
	}
}

// report logs the first failure of a run and the recovery, not every tick.
func (c *Config) report(err error, failing bool) bool {
	switch {
	case err != nil && !failing && !errors.Is(err, context.Canceled):
		c.log.Warn("config reload failed; serving the last loaded values", "error", err.Error())
		return true
	case err == nil && failing:
		c.log.Info("config reload recovered")
		return false
	}
	return failing && err != nil
}
