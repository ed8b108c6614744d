package config

import (
	"encoding/json"
	"maps"
	"reflect"
	"sync"
	"sync/atomic"
	"time"
)

// Decl is a declaration of a key: a plain Key, or a typed Setting made
// from one. A Registry is built from declarations.
type Decl interface {
	Decl() Key
}

// Decl returns k itself, so a plain Key can be registered too.
func (k Key) Decl() Key { return k }

// binder is a declaration that reads through the Config it is registered
// in (a Setting).
type binder interface {
	bind(c *Config, i int)
}

// Option sets one property of a key being declared. A Category is an
// Option too: config.String("x", config.Category("system")).
type Option interface {
	apply(k *Key)
}

type optionFunc func(k *Key)

func (f optionFunc) apply(k *Key) { f(k) }

func (c Category) apply(k *Key) { k.Category = c }

// Default is the value used when neither the database nor the environment
// has one.
func Default(v string) Option { return optionFunc(func(k *Key) { k.Default = v }) }

// Describe is the description shown in listings and the settings page.
func Describe(s string) Option { return optionFunc(func(k *Key) { k.Description = s }) }

// Validate adds a check beyond the type (a URL, a range, a choice...).
func Validate(r Rule) Option { return optionFunc(func(k *Key) { k.Rule = r }) }

// Sensitive marks the value secret: encrypted at rest, masked everywhere.
func Sensitive() Option { return optionFunc(func(k *Key) { k.Sensitive = true }) }

// Carries names the sensitive keys whose values are sent to where this
// key points (see Key.Carries).
func Carries(names ...string) Option {
	return optionFunc(func(k *Key) { k.Carries = append(k.Carries, names...) })
}

// Setting is a key declared once with its Go type. Get reads the current
// snapshot of the Config the setting is registered in, with no lookup and
// no allocation; OnChange subscribes to it. A setting serves one Config
// at a time: registering it in another (a second app in the same process)
// moves it there. Before it is registered, Get returns the default.
type Setting[T any] struct {
	key  Key
	read func(*Value) T
	at   atomic.Pointer[binding]

	defOnce sync.Once
	def     T
}

type binding struct {
	c *Config
	i int
}

func declare[T any](name string, t Type, read func(*Value) T, opts []Option) *Setting[T] {
	k := Key{Name: name, Type: t, Category: System}
	for _, o := range opts {
		o.apply(&k)
	}
	return &Setting[T]{key: k, read: read}
}

// String declares a string setting.
func String(name string, opts ...Option) *Setting[string] {
	return declare(name, TypeString, func(v *Value) string { return v.Text }, opts)
}

// Int declares an integer setting.
func Int(name string, opts ...Option) *Setting[int64] {
	return declare(name, TypeInteger, func(v *Value) int64 { return v.Int }, opts)
}

// Bool declares a boolean setting.
func Bool(name string, opts ...Option) *Setting[bool] {
	return declare(name, TypeBoolean, func(v *Value) bool { return v.Bool }, opts)
}

// Seconds declares an integer setting read as a number of seconds.
func Seconds(name string, opts ...Option) *Setting[time.Duration] {
	return declare(name, TypeInteger, func(v *Value) time.Duration { return time.Duration(v.Int) * time.Second }, opts)
}

// SecretString declares a sensitive string setting, read as a Secret so it
// cannot be printed by mistake.
func SecretString(name string, opts ...Option) *Setting[Secret] {
	return declare(name, TypeString, func(v *Value) Secret { return NewSecret(v.Text) }, append(opts, Sensitive()))
}

// JSON declares a JSON setting, read as its compact text ("" when unset).
// Decode it with encoding/json where it is used.
func JSON(name string, opts ...Option) *Setting[json.RawMessage] {
	return declare(name, TypeJSON, func(v *Value) json.RawMessage {
		if v.Text == "" {
			return nil
		}
		return json.RawMessage(v.Text)
	}, opts)
}

// Decl returns the key the setting declares.
func (s *Setting[T]) Decl() Key { return s.key }

// Name is the key's name.
func (s *Setting[T]) Name() string { return s.key.Name }

func (s *Setting[T]) bind(c *Config, i int) { s.at.Store(&binding{c: c, i: i}) }

// Get returns the current effective value.
func (s *Setting[T]) Get() T {
	b := s.at.Load()
	if b == nil {
		s.defOnce.Do(func() {
			v := &Value{Key: s.key, Text: s.key.Default, Source: FromDefault}
			fill(v)
			s.def = s.read(v)
		})
		return s.def
	}
	if r := b.c.rec.Load(); r != nil {
		r.note(s.key.Name)
	}
	return s.read(b.c.cur.Load().list[b.i])
}

// Value returns the effective value with where it came from; nil before
// the setting is registered.
func (s *Setting[T]) Value() *Value {
	b := s.at.Load()
	if b == nil {
		return nil
	}
	return b.c.cur.Load().list[b.i]
}

// OnChange calls fn with the old and the new value after every snapshot
// change of this key, on the reloading goroutine. The returned function
// cancels it. Before the setting is registered it does nothing.
func (s *Setting[T]) OnChange(fn func(old, new T)) (cancel func()) {
	b := s.at.Load()
	if b == nil {
		return func() {}
	}
	name := s.key.Name
	return b.c.Subscribe(func(ch Change) {
		fn(s.read(ch.Old.values[name]), s.read(ch.New.values[name]))
	}, name)
}

// DeclsOf lists the declarations held in the fields of a struct (or a
// pointer to one), nested structs included, in field order. It lets a
// group of settings be declared as a struct and registered as a whole.
func DeclsOf(v any) []Decl {
	var out []Decl
	var walk func(rv reflect.Value)
	walk = func(rv reflect.Value) {
		for rv.Kind() == reflect.Pointer {
			if rv.IsNil() {
				return
			}
			if d, ok := rv.Interface().(Decl); ok {
				out = append(out, d)
				return
			}
			rv = rv.Elem()
		}
		if rv.Kind() != reflect.Struct {
			return
		}
		for i := range rv.NumField() {
			if f := rv.Field(i); rv.Type().Field(i).IsExported() {
				walk(f)
			}
		}
	}
	walk(reflect.ValueOf(v))
	return out
}

// recorder notes the keys read while a followed function runs.
type recorder struct {
	mu    sync.Mutex
	names map[string]bool
}

func (r *recorder) note(name string) {
	r.mu.Lock()
	r.names[name] = true
	r.mu.Unlock()
}

// Follow runs fn now and again after every change of a key it read
// through a Setting the last time it ran, so the keys a part reacts to are
// the keys it reads, never a list kept by hand. fn runs on the reloading
// goroutine after the new snapshot is in place: it must not block for
// long. Reads made by other goroutines while fn runs may be counted too,
// which only makes fn run more often than needed. The returned function
// stops following.
func (c *Config) Follow(fn func()) (cancel func()) {
	var mu sync.Mutex
	var id int
	run := func() {
		keys := c.record(fn)
		mu.Lock()
		defer mu.Unlock()
		c.subMu.Lock()
		if s, ok := c.subs[id]; ok {
			s.keys = keys
			c.subs[id] = s
		}
		c.subMu.Unlock()
	}
	keys := c.record(fn)
	c.subMu.Lock()
	id = c.next
	c.next++
	c.subs[id] = subscription{keys: keys, fn: func(Change) { run() }}
	c.subMu.Unlock()
	return func() {
		c.subMu.Lock()
		delete(c.subs, id)
		c.subMu.Unlock()
	}
}

// record runs fn while noting the settings it reads. One recording runs
// at a time.
func (c *Config) record(fn func()) map[string]bool {
	c.recMu.Lock()
	defer c.recMu.Unlock()
	r := &recorder{names: map[string]bool{}}
	c.rec.Store(r)
	defer c.rec.Store(nil)
	fn()
	// Other goroutines' reads may still be noting names (see Follow):
	// the set is read under its lock.
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.names) == 0 {
		// A function that reads nothing must not become a subscriber to
		// every key (a nil key set means all keys).
		r.names[""] = true
	}
	return maps.Clone(r.names) // a late note must not write what callers read
}
