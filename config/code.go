package config

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// DocumentKind and SchemaVersion head every exported document, so a file
// says what it is and which shape of document it follows.
const (
	DocumentKind  = "rookery/config"
	SchemaVersion = 1
)

// Document is the configuration as code: a set of stored values, in YAML
// or JSON. A null value removes the key's stored value.
type Document struct {
	Kind          string `json:"kind" yaml:"kind"`
	SchemaVersion int    `json:"schema_version" yaml:"schema_version"`
	// Category, when set, limits the document (and a prune) to one
	// category: a file exported with --category does not prune the rest.
	Category Category       `json:"category,omitempty" yaml:"category,omitempty"`
	Values   map[string]any `json:"values" yaml:"values"`
}

// ExportOptions choose what Export writes.
type ExportOptions struct {
	// Category limits the export to one category; "" exports all.
	Category Category
	// All adds the declared keys that are not stored, with the value they
	// have (environment, then default).
	All bool
	// IncludeSecrets writes sensitive values sealed with the store's key
	// (enc:v1:...), usable only where that key is configured. Without it
	// they are left out.
	IncludeSecrets bool
}

// Export returns the stored configuration as a Document. Values are typed
// (integers as numbers, booleans as booleans, json keys as their JSON
// text), so the file reads naturally. Rows that cannot be decrypted are
// left out and named in skipped.
func (s *Store) Export(ctx context.Context, o ExportOptions) (doc Document, skipped []string, err error) {
	if o.Category != "" && !ValidCategory(o.Category) {
		return Document{}, nil, fmt.Errorf("%w: unknown category %q", ErrInvalid, o.Category)
	}
	entries, _, err := s.List(ctx)
	if err != nil {
		return Document{}, nil, fmt.Errorf("export config: %w", err)
	}
	doc = Document{Kind: DocumentKind, SchemaVersion: SchemaVersion, Category: o.Category, Values: map[string]any{}}
	stored := map[string]bool{}
	put := func(k Key, value string) error {
		if k.Sensitive {
			if !o.IncludeSecrets {
				return nil
			}
			sealed, err := s.Sealer().Seal(k.Name, value)
			if err != nil {
				return fmt.Errorf("export config %s: %w", k.Name, err)
			}
			doc.Values[k.Name] = sealed
			return nil
		}
		doc.Values[k.Name] = typed(k.Type, value)
		return nil
	}
	for _, e := range entries {
		stored[e.Key] = true
		if o.Category != "" && e.Category != o.Category {
			continue
		}
		if e.Unreadable != "" {
			skipped = append(skipped, e.Key)
			continue
		}
		k, ok := s.reg.Lookup(e.Key)
		if !ok {
			k = rowKey(e)
		}
		if err := put(k, e.Value); err != nil {
			return Document{}, nil, err
		}
	}
	if o.All {
		for _, k := range s.reg.Keys() {
			if stored[k.Name] || o.Category != "" && k.Category != o.Category {
				continue
			}
			if err := put(k, s.fallback(k)); err != nil {
				return Document{}, nil, err
			}
		}
	}
	return doc, skipped, nil
}

// typed turns a canonical value into the document's typed form.
func typed(t Type, canon string) any {
	switch t {
	case TypeInteger:
		if n, err := strconv.ParseInt(canon, 10, 64); err == nil {
			return n
		}
	case TypeBoolean:
		if b, ok := ParseBool(canon); ok {
			return b
		}
	}
	return canon
}

// Format is the encoding of a Document.
type Format string

// The formats of a Document.
const (
	FormatYAML Format = "yaml"
	FormatJSON Format = "json"
)

// Encode writes doc in format f, keys in order, so the same configuration
// always gives the same bytes (a Git diff shows only real changes).
func (d Document) Encode(f Format) ([]byte, error) {
	switch f {
	case FormatJSON:
		b, err := json.MarshalIndent(d, "", "  ")
		if err != nil {
			return nil, fmt.Errorf("encode config document: %w", err)
		}
		return append(b, '\n'), nil
	case FormatYAML, "":
		var buf bytes.Buffer
		enc := yaml.NewEncoder(&buf)
		enc.SetIndent(2)
		if err := enc.Encode(d); err != nil {
			return nil, fmt.Errorf("encode config document: %w", err)
		}
		if err := enc.Close(); err != nil {
			return nil, fmt.Errorf("encode config document: %w", err)
		}
		return buf.Bytes(), nil
	}
	return nil, fmt.Errorf("%w: unknown format %q; use yaml or json", ErrInvalid, f)
}

// maxDocumentBytes bounds a document: every key at its largest value.
const maxDocumentBytes = 8 << 20

// ParseDocument reads a document in YAML or JSON (JSON is YAML too). It
// refuses fields it does not know, another kind, and a schema version it
// does not speak; every refusal is an ErrInvalid with a sentence.
func ParseDocument(data []byte) (Document, error) {
	if len(data) > maxDocumentBytes {
		return Document{}, fmt.Errorf("%w: the document is larger than %d bytes", ErrInvalid, maxDocumentBytes)
	}
	var d Document
	if t := bytes.TrimSpace(data); len(t) > 0 && t[0] == '{' {
		// JSON is read as JSON: YAML refuses some valid JSON (tabs
		// before a key), and numbers stay exact.
		dec := json.NewDecoder(bytes.NewReader(t))
		dec.DisallowUnknownFields()
		dec.UseNumber()
		if err := dec.Decode(&d); err != nil {
			return Document{}, fmt.Errorf("%w: the document is not valid JSON of the expected shape: %s", ErrInvalid, yamlReason(err))
		}
		if dec.More() {
			return Document{}, fmt.Errorf("%w: the document must be a single JSON object", ErrInvalid)
		}
		return d, d.check()
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&d); err != nil {
		return Document{}, fmt.Errorf("%w: the document is not valid YAML or JSON of the expected shape: %s", ErrInvalid, yamlReason(err))
	}
	return d, d.check()
}

// yamlReason keeps the parser's line-numbered reason but never more than
// a line of it.
func yamlReason(err error) string {
	var te *yaml.TypeError
	if errors.As(err, &te) && len(te.Errors) > 0 {
		// The type errors follow a first line that says only "unmarshal
		// errors:".
		return shorten(strings.Join(te.Errors, "; "))
	}
	return shorten(strings.TrimPrefix(err.Error(), "yaml: "))
}

// shorten keeps the first line of msg, at most 200 bytes of it.
func shorten(msg string) string {
	if i := strings.IndexByte(msg, '\n'); i >= 0 {
		msg = msg[:i]
	}
	if len(msg) > 200 {
		msg = msg[:200]
	}
	return msg
}

func (d Document) check() error {
	switch {
	case d.Kind != "" && d.Kind != DocumentKind:
		return fmt.Errorf("%w: the document's kind is %q; expected %q", ErrInvalid, d.Kind, DocumentKind)
	case d.SchemaVersion != 0 && d.SchemaVersion != SchemaVersion:
		return fmt.Errorf("%w: the document's schema_version is %d; this rookery reads version %d", ErrInvalid, d.SchemaVersion, SchemaVersion)
	case d.Category != "" && !ValidCategory(d.Category):
		return fmt.Errorf("%w: the document's category %q is not one of integration, email, security, database, system, license", ErrInvalid, d.Category)
	case d.Values == nil:
		return fmt.Errorf("%w: the document has no values (expected a \"values\" map of key: value)", ErrInvalid)
	}
	return nil
}

// Action is what a planned change does to a key.
type Action string

// The actions of a plan.
const (
	PlanCreate Action = "create"
	PlanUpdate Action = "update"
	PlanRemove Action = "remove"
)

// PlannedChange is one key of a plan. Old and New are the values as
// anyone may see them: for sensitive keys they are left out and Sensitive
// says the value changes (no secret, masked or not, is compared in a plan
// that leaves the process).
type PlannedChange struct {
	Key       string  `json:"key"`
	Action    Action  `json:"action"`
	Old       *string `json:"old,omitempty"`
	New       *string `json:"new,omitempty"`
	Sensitive bool    `json:"sensitive,omitempty"`
	// text is the canonical value to store (not for PlanRemove).
	text string
}

// Plan is the difference between the stored configuration and a wanted
// one, key by key, at one revision.
type Plan struct {
	Changes []PlannedChange `json:"changes"`
	// Skipped names keys the plan leaves alone, with why (a restore of a
	// sensitive value the history does not keep).
	Skipped map[string]string `json:"skipped,omitempty"`
	// Revision is the configuration revision the plan was made at; Commit
	// refuses to run when the configuration moved since.
	Revision int64 `json:"revision"`
}

// String renders the plan for a terminal, one key a line.
func (p Plan) String() string {
	if len(p.Changes) == 0 {
		return "no changes\n"
	}
	var b strings.Builder
	for _, c := range p.Changes {
		switch {
		case c.Sensitive && c.Action == PlanRemove:
			fmt.Fprintf(&b, "- %s (sensitive): removed\n", c.Key)
		case c.Sensitive:
			fmt.Fprintf(&b, "~ %s (sensitive): changed\n", c.Key)
		case c.Action == PlanCreate:
			fmt.Fprintf(&b, "+ %s: %s\n", c.Key, quote(c.New))
		case c.Action == PlanUpdate:
			fmt.Fprintf(&b, "~ %s: %s -> %s\n", c.Key, quote(c.Old), quote(c.New))
		default:
			fmt.Fprintf(&b, "- %s: %s (removed)\n", c.Key, quote(c.Old))
		}
	}
	return b.String()
}

func quote(s *string) string {
	if s == nil {
		return "(none)"
	}
	return strconv.Quote(*s)
}

// PlanDocument compares doc with the stored configuration: every value is
// checked first and every refusal reported at once in a BatchError.
// prune removes the stored values doc does not name (within doc's
// category when it has one). A key stored with the very value doc gives
// is no change, so planning a document just applied finds nothing to do.
func (s *Store) PlanDocument(ctx context.Context, doc Document, prune bool) (Plan, error) {
	if err := doc.check(); err != nil {
		return Plan{}, err
	}
	entries, rev, err := s.List(ctx)
	if err != nil {
		return Plan{}, fmt.Errorf("plan config: %w", err)
	}
	stored := make(map[string]*Entry, len(entries))
	for i := range entries {
		stored[entries[i].Key] = &entries[i]
	}
	plan := Plan{Revision: rev, Changes: []PlannedChange{}}
	problems := map[string]string{}
	for name, raw := range doc.Values {
		cur := stored[name]
		k, declared := s.reg.Lookup(name)
		switch {
		case !declared && cur == nil:
			problems[name] = "is not a known setting"
			continue
		case !declared:
			k = rowKey(*cur)
		}
		if doc.Category != "" && k.Category != doc.Category {
			problems[name] = "is not in the document's category " + string(doc.Category)
			continue
		}
		if raw == nil {
			if cur != nil {
				plan.Changes = append(plan.Changes, removal(*cur))
			}
			continue
		}
		text, err := s.documentText(k, raw)
		if err != nil {
			problems[name] = err.Error()
			continue
		}
		canon, err := k.Parse(text)
		if err != nil {
			var ve *ValidationError
			if !errors.As(err, &ve) {
				return Plan{}, err
			}
			problems[name] = ve.Reason
			continue
		}
		if cur != nil && cur.Unreadable == "" && cur.Value == canon {
			continue
		}
		plan.Changes = append(plan.Changes, setting(k, cur, canon))
	}
	if len(problems) > 0 {
		return Plan{}, &BatchError{Problems: problems}
	}
	if prune {
		for _, e := range entries {
			if _, named := doc.Values[e.Key]; named || doc.Category != "" && e.Category != doc.Category {
				continue
			}
			// Secrets are never pruned: an export leaves them out by
			// default, so pruning with one would delete every stored
			// secret. They go with an explicit delete (or null in the
			// file, or the batch API).
			if e.Sensitive {
				continue
			}
			plan.Changes = append(plan.Changes, removal(e))
		}
	}
	sort.Slice(plan.Changes, func(i, j int) bool { return plan.Changes[i].Key < plan.Changes[j].Key })
	return plan, nil
}

// setting is the planned change that stores canon for k; cur is the
// stored row, nil when absent.
func setting(k Key, cur *Entry, canon string) PlannedChange {
	c := PlannedChange{Key: k.Name, Action: PlanCreate, Sensitive: k.Sensitive, text: canon}
	if cur != nil {
		c.Action = PlanUpdate
	}
	if !k.Sensitive {
		c.New = strPtr(canon)
		if cur != nil {
			c.Old = strPtr(cur.Shown())
		}
	}
	return c
}

func removal(e Entry) PlannedChange {
	c := PlannedChange{Key: e.Key, Action: PlanRemove, Sensitive: e.Sensitive}
	if !e.Sensitive {
		c.Old = strPtr(e.Shown())
	}
	return c
}

// documentText turns a document value into the text the key's rules
// check. Sealed values (enc:v1:...) are opened: they are what an export
// with secrets writes, and they open only with the same encryption key.
func (s *Store) documentText(k Key, raw any) (string, error) {
	switch v := raw.(type) {
	case string:
		if IsSealed(v) {
			if !k.Sensitive {
				return "", errors.New("is a sealed value, but the setting is not sensitive")
			}
			open, err := s.Sealer().Open(k.Name, v)
			if err != nil {
				return "", errors.New("is sealed with an encryption key this server does not have (export and apply need the same CONFIG_ENCRYPTION_KEY)")
			}
			return open, nil
		}
		return v, nil
	case json.Number:
		return v.String(), nil
	case bool:
		return strconv.FormatBool(v), nil
	case int:
		return strconv.Itoa(v), nil
	case int64:
		return strconv.FormatInt(v, 10), nil
	case uint64:
		return strconv.FormatUint(v, 10), nil
	case float64:
		if v == math.Trunc(v) && math.Abs(v) < 1<<53 {
			return strconv.FormatInt(int64(v), 10), nil
		}
		return strconv.FormatFloat(v, 'g', -1, 64), nil
	case map[string]any, []any:
		if k.Type != TypeJSON {
			return "", fmt.Errorf("must be a %s, not a list or map", k.Type)
		}
		b, err := json.Marshal(v)
		if err != nil {
			return "", errors.New("is a list or map that cannot be written as JSON")
		}
		return string(b), nil
	}
	return "", fmt.Errorf("must be a %s", k.Type)
}

// Commit writes a plan in one transaction (Apply): one audit record per
// key, all carrying the change id. It refuses with a RevisionConflictError
// when the configuration moved since the plan was made, so what was shown
// is what is written. An empty plan writes nothing.
func (s *Store) Commit(ctx context.Context, p Plan, o Origin) (BatchResult, error) {
	if len(p.Changes) == 0 {
		return BatchResult{Revision: p.Revision}, nil
	}
	edits := make([]Edit, 0, len(p.Changes))
	for _, c := range p.Changes {
		edits = append(edits, Edit{Key: c.Key, Value: c.text, Remove: c.Action == PlanRemove})
	}
	return s.Apply(ctx, edits, p.Revision, o)
}

// NewChangeID returns a fresh id for a change set, for changes that do not
// come with a request id (the command line).
func NewChangeID() string {
	var b [8]byte
	_, _ = rand.Read(b[:]) // crypto/rand does not fail on supported systems
	return "chg-" + hex.EncodeToString(b[:])
}
